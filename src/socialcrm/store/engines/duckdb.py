"""DuckDB, in process: the default engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import ibis

from socialcrm.store.engine import Engine

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from ibis.expr import types as ir


class DuckDBEngine(Engine):
    name = "duckdb"

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
