"""Ingest N order rows (default 10 million): our validated path vs DuckDB's bare CSV load.

The peer is DuckDB's own ``read_csv`` straight to Parquet — no validation, no
normalisation, no rejects, no idempotent merge — the fastest a load can be on this
machine. The ratio says what validation and losing nothing cost. Peak memory (RSS) shows
that rows are streamed, not held as Python objects.

    python benchmarks/ingest_orders.py            # 10,000,000 rows
    python benchmarks/ingest_orders.py 1000000    # a quicker run
"""

from __future__ import annotations

import resource
import sys
import tempfile
from pathlib import Path
from time import perf_counter

import duckdb

from socialcrm.config import Settings
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace


def make_orders(path: Path, rows: int) -> None:
    """A realistic orders export written by DuckDB (a few bad rows included)."""
    duckdb.sql(
        f"""COPY (
          SELECT 'o' || i AS order_id,
                 'shop:' || lpad((hash(i) % 2000000)::VARCHAR, 7, '0') AS customer_id,
                 CASE WHEN i % 10 = 0 THEN 'Guest' || (i % 500000) || '@Example.com' END AS email,
                 strftime(TIMESTAMP '2024-01-01' + to_seconds((hash(i * 7) % 78000000)::BIGINT),
                          '%Y-%m-%dT%H:%M:%SZ') AS ordered_at,
                 CASE WHEN i % 50 = 0 THEN -(i % 80 + 5) ELSE (i % 190 + 10) END
                   + (i % 100) / 100.0 AS amount,
                 CASE WHEN i % 20 = 0 THEN 'gbp' ELSE 'EUR' END AS currency,
                 CASE WHEN i % 50 = 0 THEN 'returned' WHEN i % 97 = 0 THEN 'cancelled'
                      ELSE 'completed' END AS status,
                 CASE WHEN i % 100000 = 7 THEN -1 ELSE 1 + i % 3 END AS quantity
          FROM range({rows}) t(i)
        ) TO '{path}' (HEADER, DELIMITER ',')"""
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        make_orders(path, rows)
        size_mb = path.stat().st_size / 1e6
        print(f"orders file: {rows:,} rows, {size_mb:,.0f} MB")

        t0 = perf_counter()
        duckdb.sql(
            f"COPY (SELECT * FROM read_csv('{path}', all_varchar=true)) "
            f"TO '{tmp}/peer.parquet' (FORMAT parquet)"
        )
        peer = perf_counter() - t0
        rss_before = peak_rss_mb()

        with Workspace.open(Settings(home=Path(tmp) / "ws")) as ws:
            t0 = perf_counter()
            report = ingest_file(ws, "orders", path)
            ours = perf_counter() - t0
            t0 = perf_counter()
            again = ingest_file(ws, "orders", path)
            rerun = perf_counter() - t0
        print(
            f"socialcrm ingest: {ours:,.1f}s ({rows / ours:,.0f} rows/s); accepted "
            f"{report.accepted:,}, rejected {report.rejected:,}"
        )
        print(f"re-run of the same file: {rerun:,.1f}s; unchanged {again.unchanged:,}")
        print(f"DuckDB bare read_csv -> Parquet (peer, no validation): {peer:,.1f}s")
        print(f"ratio ours / peer: {ours / peer:,.1f}x slower (validation, normalisation, merge)")
        print(f"peak RSS: {peak_rss_mb():,.0f} MB (before our ingest: {rss_before:,.0f} MB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
