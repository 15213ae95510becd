"""The engine seam: where relational work runs.

Pipeline steps are written once, as Ibis expressions, and run on whichever engine the
settings name. An engine fills in three small hooks (connect, read Parquet, write
Parquet); everything else is shared and final, in the manner of Splink's ``DatabaseAPI``.

Where a domain needs more than portable Ibis, it asks the seam, never the engine's type:
:attr:`Engine.capabilities` says what an engine can do beyond Ibis (the calendar bitmaps
of the RFM summary), :meth:`Engine.splink` gives Splink's database API on the engine,
:func:`engine_type_of` finds the engine behind an Ibis table, and :func:`local_sql` is
scratch SQL over Arrow tables in process. Only ``store/`` imports ``duckdb`` or
``pyspark``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, final

import ibis
import pyarrow as pa
import pyarrow.parquet as pq

from socialcrm.config import Settings

if TYPE_CHECKING:
    import pandas as pd
    from ibis.backends import BaseBackend
    from ibis.expr import types as ir

BatchFn = Callable[[pa.RecordBatch], "pa.RecordBatch | pa.Table"]
"""Per-batch work for :meth:`Engine.map_batches`: Arrow batch in, rows of the output out."""


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do beyond portable Ibis; domains branch on these, not on types."""

    calendar_bitmaps: bool = False
    """Per-customer bitmaps of the calendar in one aggregation (DuckDB's
    ``bitstring_agg``): :meth:`Engine.calendar_per_customer` runs."""


@dataclass(frozen=True)
class SplinkBackend:
    """Where Splink runs: a fresh database API per linker, and how an Arrow table gets there."""

    api: Callable[[], Any]
    """A new Splink ``DatabaseAPI`` (``DuckDBAPI`` or ``SparkAPI``), one per linker."""
    table: Callable[[pa.Table], Any]
    """An Arrow table as Splink's input on that API (a pandas or Spark DataFrame)."""


class LocalSQL(Protocol):
    """Scratch SQL (DuckDB's dialect) over Arrow tables, in process: see :func:`local_sql`."""

    def register(self, name: str, table: pa.Table) -> None:
        """Make ``table`` queryable as ``name`` (read in place, not copied)."""

    def run(self, sql: str) -> None:
        """Run a statement for its effect (``CREATE TABLE … AS …``)."""

    def arrow(self, sql: str) -> pa.Table:
        """A query's rows as an Arrow table."""

    def one(self, sql: str) -> tuple[Any, ...] | None:
        """A query's first row (None if it has none)."""

    def columns(self, name: str) -> list[str]:
        """The column names of table or view ``name``."""


class Engine(ABC):
    """A connection to DuckDB or Spark, speaking Ibis."""

    name: ClassVar[str]
    backend_name: ClassVar[str]
    """The name of the engine's Ibis backend (``duckdb``, ``pyspark``)."""
    capabilities: ClassVar[Capabilities] = Capabilities()
    splink_dialect: ClassVar[str] = "duckdb"
    """The SQL dialect of the Splink backend :meth:`splink` gives (Splink's name for it)."""

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
    def values(self, values: Iterable[str] | pa.Array | pa.ChunkedArray) -> ir.StringColumn:
        """A column of ``values`` for ``col.isin(...)``: a semi-join on a small table.

        Thousands of literals in an ``isin`` list cost seconds each time (Ibis matches
        every literal node, the engine parses them); a table costs the same for any size.
        An Arrow array is taken as it is (no Python object per value).
        """
        if isinstance(values, pa.Array | pa.ChunkedArray):
            column = values.cast(pa.string())
        else:
            column = pa.array(list(values), pa.string())
        return self.memtable(pa.table({"v": column})).v

    @final
    def map_batches(
        self,
        expr: ir.Table,
        fn: BatchFn,
        schema: pa.Schema,
        out_dir: Path,
        batch_rows: int = 50_000,
    ) -> int:
        """Apply ``fn`` to every batch of ``expr`` and write its results as Parquet files
        into ``out_dir`` (created, with at least one file, so it can always be read back);
        returns the rows written.

        Per-row Python work (listening's enrichment) runs where the engine runs tasks: on
        Spark's executors through ``mapInArrow`` (``fn`` is pickled to them, so it must be
        picklable, small, and load big state lazily), elsewhere here, batch by batch off a
        Parquet copy of ``expr``, never the whole table in memory. ``fn`` sees at most
        ``batch_rows`` rows at a time, in no particular order, and must return ``schema``.
        """
        out_dir.mkdir(parents=True, exist_ok=True)
        if self.name == "spark":
            from socialcrm.store.engines.spark_batches import spark_map_batches

            rows = spark_map_batches(self.con, expr, fn, schema, out_dir, batch_rows)
        else:
            rows = self._local_map_batches(expr, fn, schema, out_dir, batch_rows)
        if not any(out_dir.glob("*.parquet")):
            pq.write_table(schema.empty_table(), out_dir / "part-empty.parquet")
        return rows

    def _local_map_batches(
        self, expr: ir.Table, fn: BatchFn, schema: pa.Schema, out_dir: Path, batch_rows: int
    ) -> int:
        import tempfile

        rows = 0
        with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".map-") as tmp:
            source = Path(tmp) / "in"
            self.write_parquet(expr, source)
            part = 0
            for path in sorted(source.glob("*.parquet")):
                for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
                    if batch.num_rows == 0:
                        continue
                    out = fn(batch)
                    table = out if isinstance(out, pa.Table) else pa.Table.from_batches([out])
                    pq.write_table(table.cast(schema), out_dir / f"part-{part:05d}.parquet")
                    rows += table.num_rows
                    part += 1
        return rows

    def close(self) -> None:
        """Release the connection (a no-op if it was never opened)."""
        if "con" in self.__dict__:
            self.con.disconnect()
            del self.__dict__["con"]

    # -- capabilities beyond Ibis ----------------------------------------------------------
    def splink(self, workdir: Path | None = None) -> AbstractContextManager[SplinkBackend]:
        """Splink on this engine, for as long as the context lasts.

        The default runs Splink on an in-process DuckDB of its own (as on the DuckDB
        engine); an engine with a Splink backend of its own overrides this. Scratch
        files, if any, go to a temporary folder inside ``workdir`` and are removed.
        """
        from socialcrm.store.engines.duckdb import local_splink

        return local_splink()

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
        """Occasions, first and last day, first day's spend and total spend per customer,
        from calendar bitmaps in one aggregation (only where
        ``capabilities.calendar_bitmaps``; see :func:`socialcrm.value.rfm.per_customer_by_calendar`
        for what ``live`` holds and what comes back)."""
        raise NotImplementedError(f"the {cls.name} engine has no calendar bitmaps")


def parquet_rows(directory: Path) -> int:
    """Row count of a folder of Parquet files, from their footers alone."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in sorted(directory.glob("*.parquet")))


def engine_type_of(table: ir.Table) -> type[Engine] | None:
    """The kind of engine whose backend holds ``table``, to ask for its capabilities.

    None for a table of no backend yet (an in-memory table) or of a backend that is no
    engine's. A connection made outside an engine (``ibis.duckdb.connect()``) counts as
    that engine's kind: capabilities belong to the backend, not to the settings.
    """
    from ibis.common.exceptions import IbisError

    try:
        backend = table._find_backend()
    except IbisError:  # an in-memory table, no engine yet
        return None
    from socialcrm.store.engines.duckdb import DuckDBEngine
    from socialcrm.store.engines.spark import SparkEngine

    kinds: tuple[type[Engine], ...] = (DuckDBEngine, SparkEngine)
    return next((k for k in kinds if k.backend_name == backend.name), None)


def local_splink() -> AbstractContextManager[SplinkBackend]:
    """Splink on an in-process DuckDB of its own, for records outside any workspace."""
    from socialcrm.store.engines.duckdb import local_splink as duckdb_splink

    return duckdb_splink()


def local_sql() -> AbstractContextManager[LocalSQL]:
    """Scratch SQL (DuckDB's dialect) over Arrow tables, in process, whatever the engine.

    For small driver-side work next to a step (records before Splink, merging link
    tables), not for the warehouse: that runs on the engine.
    """
    from socialcrm.store.engines.duckdb import local_sql as duckdb_local_sql

    return duckdb_local_sql()


def make_engine(settings: Settings) -> Engine:
    """The engine the settings name (``duckdb`` by default, or ``spark``)."""
    if settings.engine == "spark":
        from socialcrm.store.engines.spark import SparkEngine

        return SparkEngine(settings)
    from socialcrm.store.engines.duckdb import DuckDBEngine

    return DuckDBEngine(settings)
