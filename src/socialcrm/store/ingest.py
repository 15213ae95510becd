"""Ingestion: load a user's file into an input table, losing nothing and adding nothing twice.

The path a file takes:

1. read in chunks (CSV, JSON lines or Parquet), each record keeping its line and text;
2. validate each chunk against the table's schema; good rows go to a staging Parquet
   file, bad ones to the rejects with file, line, field and reason;
3. reject repeated natural keys within the file (the first occurrence wins);
4. merge with the current table by natural key on the engine: new rows are *accepted*,
   identical ones *unchanged*, changed ones *updated*;
5. swap the table in atomically, then record the rejects (replacing those of an earlier
   import of the same file) and a line in ``ingest_log``.

A crash before step 5 leaves the previous table exactly as it was.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from socialcrm.store.readers import Format, ReadError, ReadOptions, detect_format, read_chunks
from socialcrm.store.schemas import REJECTS, TableSchema, input_table
from socialcrm.store.validate import ChunkValidator
from socialcrm.store.workspace import Workspace

REPORTED_REJECTS = 1000
INGEST_LOG = pa.schema(
    [
        pa.field("table_name", pa.string()),
        pa.field("file", pa.string()),
        pa.field("sha256", pa.string()),
        pa.field("finished_at", pa.timestamp("us", tz="UTC")),
        pa.field("rows_read", pa.int64()),
        pa.field("accepted", pa.int64()),
        pa.field("rejected", pa.int64()),
        pa.field("unchanged", pa.int64()),
        pa.field("updated", pa.int64()),
    ]
)


class IngestError(Exception):
    """The file as a whole cannot be loaded; the message says why in one line."""


@dataclass(frozen=True)
class Reject:
    line: int
    field: str | None
    reason: str


@dataclass
class IngestReport:
    table: str
    file: str
    accepted: int = 0
    rejected: int = 0
    unchanged: int = 0
    updated: int = 0
    rows_read: int = 0
    committed: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    """The first rejects (all are in the ``rejects`` table)."""

    def to_json(self) -> dict[str, object]:
        return {
            "table": self.table,
            "file": self.file,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "unchanged": self.unchanged,
            "updated": self.updated,
            "committed": self.committed,
            "ignored_columns": self.ignored_columns,
            "rejects": [asdict(r) for r in self.rejects],
        }


def ingest_file(
    ws: Workspace,
    table: str,
    path: Path,
    fmt: Format | None = None,
    strict: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    *,
    options: ReadOptions | None = None,
    replace: bool = False,
) -> IngestReport:
    """Load ``path`` into input table ``table``; see the module docstring for the steps.

    With ``strict``, any reject leaves the table untouched (``committed`` is false).
    ``options`` says how to read a text file (encoding, delimiter, decimal mark). A file
    that carries only some columns updates only those in existing rows, unless
    ``replace``, which replaces whole rows.
    """
    options = options or ReadOptions()
    try:
        schema = input_table(table)
    except KeyError as e:
        raise IngestError(str(e.args[0])) from None
    path = Path(path)
    fmt = fmt or detect_format(path)
    try:
        names, chunks = read_chunks(path, fmt, on_bytes, options=options)
    except ReadError as e:
        raise IngestError(str(e)) from None
    except OSError as e:
        raise IngestError(f"{path}: cannot read ({e.strerror})") from None
    report = IngestReport(table=table, file=str(path.resolve()))
    if fmt != "jsonl":  # JSON lines name their fields per record
        _check_header(schema, path, names, report)

    scratch = ws.warehouse.scratch_dir()
    try:
        staged, rejects_file = _stage(ws, schema, path, chunks, scratch, report, options)
        if fmt == "jsonl":
            report.ignored_columns = sorted(set(names) - set(schema.column_names))
        deduped = _reject_repeated_keys(schema, staged, rejects_file, scratch, report)
        if strict and report.rejected:
            return report
        _merge(ws, schema, deduped, report)
        _record_rejects(ws, report, rejects_file)
        _log(ws, report, path)
        report.committed = True
        return report
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check_header(schema: TableSchema, path: Path, names: list[str], report: IngestReport) -> None:
    present = set(names)
    in_groups = {c for g in schema.one_of for c in g}
    missing = [
        c.name
        for c in schema.columns
        if c.required
        and c.name not in present
        and not (schema.name == "identities" and c.name == "raw_value")
    ]
    missing += [" or ".join(g) for g in schema.one_of if not present.intersection(g)]
    missing = [m for m in missing if m not in in_groups]
    if missing:
        raise IngestError(
            f"{path}: missing required column(s) for table {schema.name}: {', '.join(missing)}"
            f" (header has: {', '.join(names)})"
        )
    report.ignored_columns = sorted(present - set(schema.column_names))


def _stage(ws, schema, path, chunks, scratch, report, options: ReadOptions):
    """Validate every chunk; write good rows and rejects to scratch Parquet files."""
    accepted_file = scratch / "accepted.parquet"
    rejects_file = scratch / "rejects.parquet"
    accepted_schema = schema.arrow_schema.append(pa.field("_line", pa.int64()))
    settings = ws.settings
    validator = ChunkValidator(
        schema,
        settings.phone_region,
        settings.timezone,
        decimal=options.decimal,
        max_amount=settings.ingest_max_amount,
    )
    now = datetime.now(UTC)
    try:
        with (
            pq.ParquetWriter(accepted_file, accepted_schema, compression="zstd") as good,
            pq.ParquetWriter(rejects_file, REJECTS, compression="zstd") as bad,
        ):
            try:
                for chunk in chunks:
                    result = validator.validate(chunk)
                    report.rows_read += len(chunk) + len(chunk.structural)
                    report.rejected += result.rejected_rows
                    if result.accepted.num_rows:
                        good.write_table(result.accepted.cast(accepted_schema))
                    if result.rejects:
                        bad.write_table(
                            _rejects_table(schema.name, report.file, result.rejects, now)
                        )
                        _remember(report, result.rejects)
            except UnicodeDecodeError as e:
                raise IngestError(f"{path}: not UTF-8 text ({e.reason})") from None
    finally:
        validator.close()
    return accepted_file, rejects_file


def _rejects_table(table: str, file: str, rejects, now: datetime) -> pa.Table:
    lines, fields, reasons, raws = zip(*rejects, strict=True)
    n = len(lines)
    return pa.table(
        {
            "table_name": pa.array([table] * n, pa.string()),
            "file": pa.array([file] * n, pa.string()),
            "line": pa.array(lines, pa.int64()),
            "field": pa.array(fields, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "raw": pa.array(raws, pa.string()),
            "rejected_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
        },
        schema=REJECTS,
    )


def _remember(report: IngestReport, rejects) -> None:
    room = REPORTED_REJECTS - len(report.rejects)
    for line, fld, reason, _ in rejects[: max(room, 0)]:
        report.rejects.append(Reject(line, fld, reason))


def _reject_repeated_keys(schema, staged, rejects_file, scratch, report):
    """Keep the first row of each natural key in the file; reject the repeats."""
    keys = ", ".join(f'"{k}"' for k in schema.key)
    out = scratch / "deduped.parquet"
    extra = scratch / "repeat-rejects.parquet"
    con = duckdb.connect()
    try:
        con.execute(
            f"""CREATE TEMP TABLE ranked AS
            SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY _line) AS _rank,
                   min(_line) OVER (PARTITION BY {keys}) AS _first
            FROM read_parquet('{staged}')"""
        )
        repeats = con.execute(
            "SELECT _line, _first FROM ranked WHERE _rank > 1 ORDER BY _line"
        ).fetchall()
        if not repeats:
            return staged
        con.execute(
            f"COPY (SELECT * EXCLUDE (_rank, _first) FROM ranked WHERE _rank = 1 ORDER BY _line)"
            f" TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
        )
    finally:
        con.close()
    key_label = ", ".join(schema.key)
    rows = [
        (line, key_label, f"repeats the {key_label} of line {first} in this file", "")
        for line, first in repeats
    ]
    report.rejected += len(rows)
    _remember(report, rows)
    now = datetime.now(UTC)
    previous = pq.read_table(rejects_file)
    combined = pa.concat_tables([previous, _rejects_table(schema.name, report.file, rows, now)])
    pq.write_table(combined, extra)
    extra.replace(rejects_file)
    report.rejects.sort(key=lambda r: r.line)
    return out


def _merge(ws: Workspace, schema: TableSchema, staged: Path, report: IngestReport) -> None:
    """Classify rows as new / unchanged / updated and swap in the merged table."""
    wh = ws.warehouse
    folder = staged.parent / "staged"
    folder.mkdir()
    staged.rename(folder / "part-0.parquet")
    incoming = ws.engine.read_parquet(folder).drop("_line")
    if not wh.exists(schema.name):
        report.accepted = wh.write(schema.name, incoming.select(schema.column_names))
        return
    current = wh.table(schema.name)
    others = [c for c in schema.column_names if c not in schema.key]
    old = current.rename({f"old_{c}": c for c in schema.column_names}).mutate(
        _present=ibis.literal(True)
    )
    joined = incoming.left_join(old, [incoming[k] == old[f"old_{k}"] for k in schema.key])
    same = ibis.and_(*[joined[c].identical_to(joined[f"old_{c}"]) for c in others])
    status = ibis.cases((joined._present.isnull(), "new"), (same, "unchanged"), else_="updated")
    counts = ws.engine.execute(
        joined.mutate(status=status).group_by("status").aggregate(n=ibis._.count())
    )
    by_status = dict(zip(counts["status"], counts["n"], strict=True))
    report.accepted = int(by_status.get("new", 0))
    report.unchanged = int(by_status.get("unchanged", 0))
    report.updated = int(by_status.get("updated", 0))
    if report.accepted == 0 and report.updated == 0:
        return  # nothing changes: leave the table (and its version) as it is
    kept = current.anti_join(incoming, list(schema.key))
    merged = kept.select(schema.column_names).union(incoming.select(schema.column_names))
    wh.write(schema.name, merged)


def _record_rejects(ws: Workspace, report: IngestReport, rejects_file: Path) -> None:
    """Replace this file's earlier rejects with this run's, so re-runs add nothing."""
    wh = ws.warehouse
    new = pq.read_table(rejects_file)
    if wh.exists("rejects"):
        old = wh.read_arrow("rejects")
        mask = _from_other_imports(old, report.table, report.file)
        if new.num_rows == 0 and mask.all():
            return
        new = pa.concat_tables([old.filter(pa.array(mask)), new.cast(old.schema)])
    elif new.num_rows == 0:
        return
    wh.write("rejects", new)


def _from_other_imports(rejects: pa.Table, table: str, file: str) -> np.ndarray:
    """Mask of the ``rejects`` rows that do *not* come from (table, file)."""
    t = rejects.column("table_name").to_numpy(zero_copy_only=False)
    f = rejects.column("file").to_numpy(zero_copy_only=False)
    return ~((t == table) & (f == file)) if len(t) else np.ones(0, dtype=bool)


def _log(ws: Workspace, report: IngestReport, path: Path) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    row = pa.table(
        {
            "table_name": [report.table],
            "file": [report.file],
            "sha256": [digest.hexdigest()],
            "finished_at": [datetime.now(UTC)],
            "rows_read": [report.rows_read],
            "accepted": [report.accepted],
            "rejected": [report.rejected],
            "unchanged": [report.unchanged],
            "updated": [report.updated],
        },
        schema=INGEST_LOG,
    )
    wh = ws.warehouse
    if wh.exists("ingest_log"):
        row = pa.concat_tables([wh.read_arrow("ingest_log").cast(INGEST_LOG), row])
    wh.write("ingest_log", row)
