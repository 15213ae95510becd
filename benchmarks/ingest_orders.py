"""Ingest N order rows (default 1 million): our validated path vs DuckDB's bare CSV load.

The peer is DuckDB's own ``read_csv`` straight to Parquet — no validation, no
normalisation, no rejects, no idempotent merge — the fastest a load can be on this
machine (both on all DuckDB threads; the count is recorded). The ratio says what
validation and losing nothing cost. Peak memory (RSS) shows
that rows are streamed, not held as Python objects. The time the table's lock is held
(merge and publish; reading and validating run unlocked) is reported too.

The run checks its results and exits non-zero if any check fails: every row is accepted
or rejected, the rejected ones are exactly the rows with a negative quantity, the table
holds exactly the other rows with their amounts (compared with the peer's load), and a
re-run of the same file leaves every row unchanged.

    python benchmarks/ingest_orders.py             # 1,000,000 rows
    python benchmarks/ingest_orders.py 10000000    # the docs' 10M run
"""

from __future__ import annotations

import contextlib
import resource
import sys
import tempfile
from pathlib import Path
from time import perf_counter

import duckdb
from _check import Run

from socialcrm.config import Settings
from socialcrm.store.ingest import ingest_file
from socialcrm.store.warehouse import Warehouse
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


class LockTimer:
    """Adds up the time ``Warehouse.lock`` blocks are held (where the warehouse has one)."""

    def __init__(self) -> None:
        self.held = 0.0
        self._lock = getattr(Warehouse, "lock", None)

    def __enter__(self) -> LockTimer:
        if self._lock is not None:
            original, timer = self._lock, self

            @contextlib.contextmanager
            def timed(wh, *names):
                with original(wh, *names):
                    t0 = perf_counter()
                    try:
                        yield
                    finally:
                        timer.held += perf_counter() - t0

            Warehouse.lock = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            Warehouse.lock = self._lock  # type: ignore[method-assign]


def main(rows: int) -> int:
    run = Run("ingest_orders")
    run.figure("rows", rows)
    run.figure("duckdb_threads", duckdb.sql("SELECT current_setting('threads')").fetchone()[0])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        make_orders(path, rows)
        size_mb = path.stat().st_size / 1e6
        print(f"orders file: {rows:,} rows, {size_mb:,.0f} MB")

        peer_file = f"{tmp}/peer.parquet"
        t0 = perf_counter()
        duckdb.sql(
            f"COPY (SELECT * FROM read_csv('{path}', all_varchar=true)) "
            f"TO '{peer_file}' (FORMAT parquet)"
        )
        peer = perf_counter() - t0
        rss_before = peak_rss_mb()

        with Workspace.open(Settings(home=Path(tmp) / "ws")) as ws, LockTimer() as lock:
            t0 = perf_counter()
            report = ingest_file(ws, "orders", path)
            ours = perf_counter() - t0
            locked = lock.held
            rss_ours = peak_rss_mb()
            t0 = perf_counter()
            again = ingest_file(ws, "orders", path)
            rerun = perf_counter() - t0
            table = (
                ws.warehouse.root
                / "orders"
                / (ws.warehouse.root / "orders" / "_CURRENT").read_text()
            )
            stored = ws.warehouse.rows("orders")
        print(
            f"socialcrm ingest: {ours:,.1f}s ({rows / ours:,.0f} rows/s); accepted "
            f"{report.accepted:,}, rejected {report.rejected:,}"
        )
        if hasattr(Warehouse, "lock"):
            print(f"  table lock held {locked:,.1f}s of it (merge and publish)")
        print(f"re-run of the same file: {rerun:,.1f}s; unchanged {again.unchanged:,}")
        print(f"DuckDB bare read_csv -> Parquet (peer, no validation): {peer:,.1f}s")
        print(f"ratio ours / peer: {ours / peer:,.1f}x slower (validation, normalisation, merge)")
        print(
            f"peak RSS: {rss_ours:,.0f} MB after the first ingest, {peak_rss_mb():,.0f} MB "
            f"after the re-run (before our ingest: {rss_before:,.0f} MB)"
        )

        run.figure("ratio_ours_over_peer", round(ours / peer, 2))
        run.figure(
            "seconds",
            {
                "ours": round(ours, 2),
                "peer": round(peer, 2),
                "rerun": round(rerun, 2),
                "lock_held": round(locked, 2),
            },
        )
        run.figure(
            "peak_rss_mb",
            {
                "before": round(rss_before),
                "after_ingest": round(rss_ours),
                "after_rerun": round(peak_rss_mb()),
            },
        )
        con = duckdb.connect()
        con.execute(f"CREATE VIEW peer AS SELECT * FROM read_parquet('{peer_file}')")
        con.execute(f"CREATE VIEW ours AS SELECT * FROM read_parquet('{table}/*.parquet')")
        bad = con.execute("SELECT count(*) FROM peer WHERE quantity::BIGINT < 0").fetchone()[0]
        total = report.accepted + report.rejected
        run.check("every row accepted or rejected", total == rows, f"{total:,} of {rows:,}")
        run.check(
            "rejected = the rows with a negative quantity",
            report.rejected == bad,
            f"{report.rejected:,} rejected, {bad:,} negative",
        )
        run.check(
            "the table holds the accepted rows",
            stored == report.accepted == rows - bad,
            f"{stored:,} stored, {report.accepted:,} accepted",
        )
        missing, differing = con.execute(
            """SELECT count(*) FILTER (WHERE ours.order_id IS NULL),
                      count(*) FILTER (WHERE ours.amount <> peer.amount::DOUBLE
                                          OR ours.quantity <> peer.quantity::BIGINT)
               FROM peer LEFT JOIN ours USING (order_id)
               WHERE peer.quantity::BIGINT >= 0"""
        ).fetchone()
        run.check(
            "same rows and amounts as the peer's load",
            missing == 0 and differing == 0,
            f"{missing:,} missing, {differing:,} differ",
        )
        run.check(
            "a re-run leaves every row unchanged",
            (again.accepted, again.updated, again.unchanged) == (0, 0, report.accepted),
            f"accepted {again.accepted:,}, updated {again.updated:,}, "
            f"unchanged {again.unchanged:,}",
        )
        con.close()
    return run.finish()


if __name__ == "__main__":
    if any(a in ("-h", "--help") for a in sys.argv[1:]):  # positional arguments only
        print(__doc__)
        sys.exit(0)
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
