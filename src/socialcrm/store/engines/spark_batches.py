"""Per-batch Python work on Spark's executors: :meth:`Engine.map_batches` through
``DataFrame.mapInArrow``.

``fn`` is pickled with the task and runs in the executors' Python workers, so the rows
never pass through the driver; Spark writes the results to Parquet itself. The workers
must import ``socialcrm``: in local mode they run the driver's Python (set here unless
configured), on a one-host cluster ``PYSPARK_PYTHON`` names it; a real cluster gets the
package as a wheel or zip (``spark.submit.pyFiles``, ``SparkContext.addPyFile``) or with
a packed virtual environment (``spark.archives`` plus ``PYSPARK_PYTHON``).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from socialcrm.store.engine import parquet_rows
from socialcrm.store.engines.spark import is_connect_session

if TYPE_CHECKING:
    from ibis.expr import types as ir


def spark_map_batches(
    con: Any,
    expr: ir.Table,
    fn: Callable[[pa.RecordBatch], pa.RecordBatch | pa.Table],
    schema: pa.Schema,
    out_dir: Path,
    batch_rows: int,
) -> int:
    """Run ``fn`` over ``expr``'s rows on the executors; Parquet files into ``out_dir``."""
    from pyspark.sql.pandas.types import from_arrow_schema

    session = con._session
    # A Connect session has no sparkContext: its server's workers run the server's Python.
    if not is_connect_session(session):
        _local_workers_run_this_python(session.sparkContext)
    con._run_pre_execute_hooks(expr)  # registers in-memory tables the query reads
    df = session.sql(con.compile(expr))
    spark_schema = from_arrow_schema(schema)
    mapped = df.mapInArrow(_PerBatch(fn, schema, batch_rows), spark_schema)
    written = out_dir / "spark"
    mapped.write.parquet(str(written))
    for i, part in enumerate(sorted(written.glob("*.parquet"))):
        part.rename(out_dir / f"part-{i:05d}.parquet")
    shutil.rmtree(written)
    return parquet_rows(out_dir)


def _local_workers_run_this_python(sc: Any) -> None:
    """In local mode, Python workers run the driver's interpreter (its virtual
    environment has ``socialcrm``) unless ``spark.pyspark.python``/``PYSPARK_PYTHON``
    names another; Spark's default, ``python3`` on the PATH, may lack the package."""
    if not str(sc.master).startswith("local"):
        return
    if os.environ.get("PYSPARK_PYTHON") or sc.getConf().get("spark.pyspark.python"):
        return
    sc.pythonExec = sys.executable


class _PerBatch:
    """The function ``mapInArrow`` runs: re-batched to ``batch_rows``, outputs cast to the
    declared schema (a picklable class, not a closure, so its pickle stays small)."""

    def __init__(
        self,
        fn: Callable[[pa.RecordBatch], pa.RecordBatch | pa.Table],
        schema: pa.Schema,
        batch_rows: int,
    ) -> None:
        self.fn = fn
        self.schema = schema
        self.batch_rows = batch_rows

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in batches:
            pending.append(batch)
            size += batch.num_rows
            if size >= self.batch_rows:
                yield from self._run(pending)
                pending, size = [], 0
        if size:
            yield from self._run(pending)

    def _run(self, pending: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = pa.Table.from_batches(pending).combine_chunks()
        for batch in table.to_batches(max_chunksize=self.batch_rows):
            out = self.fn(batch)
            result = out if isinstance(out, pa.Table) else pa.Table.from_batches([out])
            yield from result.cast(self.schema).to_batches()
