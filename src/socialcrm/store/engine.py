"""The engine seam: where relational work runs.

Pipeline steps are written once, as Ibis expressions, and run on whichever engine the
settings name. An engine fills in three small hooks (connect, read Parquet, write
Parquet); everything else is shared and final, in the manner of Splink's ``DatabaseAPI``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, final

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from socialcrm.config import Settings

if TYPE_CHECKING:
    import pandas as pd
    from ibis.backends import BaseBackend
    from ibis.expr import types as ir


class Engine(ABC):
    """A connection to DuckDB or Spark, speaking Ibis."""

    name: ClassVar[str]

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def con(self) -> BaseBackend:
        return self._connect()

    # -- hooks each engine fills in ------------------------------------------------------
    @abstractmethod
    def _connect(self) -> BaseBackend: ...

    @abstractmethod
    def _read_parquet(self, directory: Path) -> ir.Table: ...

    @abstractmethod
    def _write_parquet(self, expr: ir.Table, directory: Path) -> None:
        """Write ``expr`` as Parquet files inside the (not yet existing) ``directory``."""

    # -- shared, final -------------------------------------------------------------------
    @final
    def read_parquet(self, directory: Path) -> ir.Table:
        return self._read_parquet(directory)

    @final
    def write_parquet(self, expr: ir.Table, directory: Path) -> int:
        """Write ``expr`` to ``directory``; returns the number of rows written."""
        self._write_parquet(expr, directory)
        return parquet_rows(directory)

    @final
    def execute(self, expr: ir.Expr) -> pd.DataFrame:
        return self.con.execute(expr)

    @final
    def to_arrow(self, expr: ir.Table) -> pa.Table:
        return self.con.to_pyarrow(expr)

    @final
    def memtable(self, data: pa.Table) -> ir.Table:
        return ibis.memtable(data)

    @final
    def values(self, values: Iterable[str]) -> ir.StringColumn:
        """A column of ``values`` for ``col.isin(...)``: a semi-join on a small table.

        Thousands of literals in an ``isin`` list cost seconds each time (Ibis matches
        every literal node, the engine parses them); a table costs the same for any size.
        """
        return self.memtable(pa.table({"v": pa.array(list(values), pa.string())})).v

    def close(self) -> None:
        """Release the connection (a no-op if it was never opened)."""
        if "con" in self.__dict__:
            self.con.disconnect()
            del self.__dict__["con"]


def parquet_rows(directory: Path) -> int:
    """Row count of a folder of Parquet files, from their footers alone."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(directory.glob("*.parquet")))


def make_engine(settings: Settings) -> Engine:
    """The engine the settings name (``duckdb`` by default, or ``spark``)."""
    if settings.engine == "spark":
        from socialcrm.store.engines.spark import SparkEngine

        return SparkEngine(settings)
    from socialcrm.store.engines.duckdb import DuckDBEngine

    return DuckDBEngine(settings)
