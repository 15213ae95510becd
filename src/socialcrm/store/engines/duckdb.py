"""DuckDB, in process: the default engine, and the in-process DuckDB of scratch work.

Besides the engine, the DuckDB-specific pieces that domains reach through the seam live
here: the calendar-bitmap SQL of the RFM summary, Splink's DuckDB backend, and scratch
SQL over Arrow tables (:class:`DuckDBLocalSQL`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import ibis
import pyarrow as pa

from socialcrm.store.engine import Capabilities, Engine, SplinkBackend

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from ibis.expr import types as ir


class DuckDBEngine(Engine):
    name = "duckdb"
    backend_name = "duckdb"
    capabilities = Capabilities(calendar_bitmaps=True)

    def _connect(self) -> BaseBackend:
        con = ibis.duckdb.connect()
        con.raw_sql("SET TimeZone = 'UTC'")
        if self.settings.duckdb_threads:
            con.raw_sql(f"SET threads = {int(self.settings.duckdb_threads)}")
        if self.settings.duckdb_memory_limit:
            limit = self.settings.duckdb_memory_limit.replace("'", "")
            con.raw_sql(f"SET memory_limit = '{limit}'")
        return con

    def _read_parquet(self, directory: Path) -> ir.Table:
        return self.con.read_parquet(str(directory / "*.parquet"))

    def _write_parquet(self, expr: ir.Table, directory: Path) -> None:
        directory.mkdir(parents=True)
        self.con.to_parquet(expr, directory / "part-0.parquet", compression="zstd")

    @classmethod
    def calendar_per_customer(
        cls,
        live: ir.Table,
        customer_col: str,
        first_day: date,
        days: int,
        *,
        unsure: bool,
        zero_amount_purchases: bool,
    ) -> ir.Table:
        """The per-customer RFM statistics in one aggregation over the orders.

        ``live`` holds the orders that count (``customer_col``, ``day``, ``amount``,
        ``sure``: the order makes its day an occasion whatever else was ordered that
        day, ``sale``: a non-return, non-negative order), all on or after
        ``first_day`` and within ``days`` days of it. The occasions of a customer whose
        every order is sure are the distinct days, counted in a bitmap of the calendar
        (``bitstring_agg``); the first day's spend is the first order's amount, or for
        customers who ordered twice on some day, the sum of their first day's orders.
        With ``unsure``, customers with an order that is not sure have their days netted
        (a day counts at positive net spend, or with ``zero_amount_purchases`` also at
        net 0 with a sale), in the same query.
        """
        c = '"' + customer_col.replace('"', '""') + '"'
        columns = f"{c}, occasions, first_purchase, last_purchase, first_spend, spend"
        sql = f"""
    WITH per AS MATERIALIZED (
        SELECT {c},
            count(*) AS n_orders,
            bit_count(bitstring_agg(CAST(day - DATE '{first_day:%Y-%m-%d}' AS INTEGER),
                                    0, {days - 1})) AS occasions,
            min(day) AS first_purchase,
            max(day) AS last_purchase,
            arg_min(amount, day) AS first_amount,
            sum(amount) AS spend,
            bool_and(sure) AS sure
        FROM live GROUP BY {c}
    ),
    first_day AS (
        SELECT live.{c}, sum(live.amount) AS first_spend
        FROM live JOIN per ON live.{c} = per.{c} AND live.day = per.first_purchase
        WHERE per.occasions < per.n_orders AND per.sure
        GROUP BY live.{c}
    ),
    calendar AS (
        SELECT per.{c},
            per.occasions,
            per.first_purchase,
            per.last_purchase,
            coalesce(first_day.first_spend, per.first_amount) AS first_spend,
            per.spend
        FROM per LEFT JOIN first_day ON per.{c} = first_day.{c}
        WHERE per.sure
    )"""
        if unsure:
            # customers with a return or a zero amount: net their days, as purchase_occasions
            keep = (
                "spend > 0 OR (spend = 0 AND sales > 0)" if zero_amount_purchases else "spend > 0"
            )
            sql += f""",
    daily AS (
        SELECT live.{c}, live.day, sum(live.amount) AS spend,
            sum(CASE WHEN live.sale THEN 1 ELSE 0 END) AS sales
        FROM live JOIN per ON live.{c} = per.{c}
        WHERE NOT per.sure
        GROUP BY live.{c}, live.day
    ),
    by_day AS (
        SELECT {c},
            count(*) AS occasions,
            min(day) AS first_purchase,
            max(day) AS last_purchase,
            arg_min(spend, day) AS first_spend,
            sum(spend) AS spend
        FROM daily WHERE {keep} GROUP BY {c}
    ),
    both_paths AS (
        SELECT {columns} FROM calendar UNION ALL SELECT {columns} FROM by_day
    )"""
        sql += f"""
    SELECT {c},
        CAST(occasions AS BIGINT) AS occasions,
        first_purchase,
        last_purchase,
        CAST(first_spend AS DOUBLE) AS first_spend,
        CAST(spend AS DOUBLE) AS spend
    FROM {"both_paths" if unsure else "calendar"}
    """
        return live.alias("live").sql(sql, dialect="duckdb")


@contextlib.contextmanager
def local_splink() -> Iterator[SplinkBackend]:
    """Splink's DuckDB backend: each linker on a new in-process DuckDB, fed pandas."""
    from splink import DuckDBAPI

    yield SplinkBackend(DuckDBAPI, lambda t: t.to_pandas())


class DuckDBLocalSQL:
    """:class:`~socialcrm.store.engine.LocalSQL` on an in-process DuckDB of its own."""

    def __init__(self) -> None:
        self._con = duckdb.connect()

    def register(self, name: str, table: pa.Table) -> None:
        """Make ``table`` queryable as ``name`` (read in place, not copied)."""
        self._con.register(name, table)

    def run(self, sql: str) -> None:
        """Run a statement for its effect (``CREATE TABLE … AS …``)."""
        self._con.execute(sql)

    def arrow(self, sql: str) -> pa.Table:
        """A query's rows as an Arrow table."""
        return self._con.sql(sql).to_arrow_table()

    def one(self, sql: str) -> tuple[Any, ...] | None:
        """A query's first row (None if it has none)."""
        return self._con.sql(sql).fetchone()

    def columns(self, name: str) -> list[str]:
        """The column names of table or view ``name``."""
        return list(self._con.table(name).columns)

    def close(self) -> None:
        self._con.close()


@contextlib.contextmanager
def local_sql() -> Iterator[DuckDBLocalSQL]:
    """A :class:`DuckDBLocalSQL` for the duration of the context, closed afterwards."""
    db = DuckDBLocalSQL()
    try:
        yield db
    finally:
        db.close()
