"""Digests of every warehouse table, to prove a refactoring changes no derived row.

Rows are sorted, floats written to 6 significant digits (the last bits of a parallel sum
differ from run to run), and columns that hold the run's own clock or a Monte Carlo
estimate are left out. ``python -m tests.digests HOME`` prints the digests of a workspace.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pyarrow.parquet as pq

VOLATILE = {
    "identity_clusters": {"id_since"},  # when the id was first given: the run's clock
    "ingest_log": {"finished_at", "file", "sha256"},
    "rejects": {"rejected_at", "file"},
    # RR sets are sampled on several threads: the seeds' order and spread estimates vary
    # from run to run, so only the row count is compared
    "amplifier_seeds": {"rank", "node", "customer_id", "marginal_gain", "cumulative_spread"},
}


def _cell(value: object) -> object:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return [_cell(v) for v in value]
    if isinstance(value, dict):
        return {k: _cell(v) for k, v in value.items()}
    return value


def table_digests(home: Path) -> dict[str, list[object]]:
    """{table: [rows, digest]} for every table of the workspace at ``home``."""
    out: dict[str, list[object]] = {}
    root = Path(home) / "warehouse"
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        pointer = folder / "_CURRENT"
        if not pointer.exists():
            continue
        table = pq.read_table(sorted((folder / pointer.read_text().strip()).glob("*.parquet")))
        keep = [c for c in table.column_names if c not in VOLATILE.get(folder.name, set())]
        rows = sorted(
            json.dumps({c: _cell(r[c]) for c in keep}, default=str, sort_keys=True)
            for r in table.select(keep).to_pylist()
        )
        digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()[:16]
        out[folder.name] = [table.num_rows, digest]
    return out


if __name__ == "__main__":
    print(json.dumps(table_digests(Path(sys.argv[1])), indent=1, sort_keys=True))
