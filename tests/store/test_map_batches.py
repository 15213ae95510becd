"""Engine.map_batches: per-batch Python work, in process on DuckDB, on Spark's executors
through mapInArrow, with the same rows either way."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from socialcrm.store.workspace import Workspace

OUT = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("words", pa.int64()),
        pa.field("tags", pa.list_(pa.struct([("tag", pa.string()), ("n", pa.int64())]))),
        pa.field("in_task", pa.bool_()),
        pa.field("pid", pa.int64()),
    ]
)


class CountWords:
    """Words per text, a nested column, and where it ran (a Spark task or not, which
    process)."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows

    def __call__(self, batch: pa.RecordBatch) -> pa.Table:
        assert batch.num_rows <= self.max_rows
        try:
            from pyspark import TaskContext

            in_task = TaskContext.get() is not None
        except ImportError:  # pragma: no cover
            in_task = False
        n = batch.num_rows
        words = pc.list_value_length(pc.utf8_split_whitespace(batch.column("text")))
        tags = [[{"tag": t, "n": len(t)} for t in (s or "").split() if t.startswith("#")]
                for s in batch.column("text").to_pylist()]  # fmt: skip
        return pa.table(
            {
                "id": batch.column("id"),
                "words": words.cast(pa.int64()),
                "tags": pa.array(tags, OUT.field("tags").type),
                "in_task": pa.array([in_task] * n),
                "pid": pa.array([os.getpid()] * n, pa.int64()),
            },
            schema=OUT,
        )


def _texts(n: int) -> pa.Table:
    return pa.table(
        {
            "id": [f"r{i:05d}" for i in range(n)],
            "text": [None if i % 17 == 0 else f"post {i} #tag{i % 5}" + " w" * (i % 9)
                     for i in range(n)],
        }
    )  # fmt: skip


def _run(w: Workspace, out: Path, n: int = 2_500, batch_rows: int = 400) -> pa.Table:
    w.warehouse.write("map_input", _texts(n))
    t = w.warehouse.table("map_input")
    rows = w.engine.map_batches(t.filter(t.id != "r00003"), CountWords(batch_rows), OUT, out,
                                batch_rows=batch_rows)  # fmt: skip
    table = pq.read_table(sorted(out.glob("*.parquet")), schema=OUT)
    assert rows == table.num_rows == n - 1
    return table.sort_by("id")


def test_batches_run_in_process_on_duckdb(ws: Workspace, tmp_path: Path) -> None:
    table = _run(ws, tmp_path / "out")
    assert table.column("words").to_pylist()[:3] == [None, 3 + 1, 3 + 2]
    assert table.column("tags")[1].as_py() == [{"tag": "#tag1", "n": 5}]
    assert set(table.column("pid").to_pylist()) == {os.getpid()}
    assert not any(table.column("in_task").to_pylist())
    # nothing to map: no rows, and still a readable (empty) folder
    t = ws.warehouse.table("map_input")
    empty = tmp_path / "empty"
    assert ws.engine.map_batches(t.filter(t.id == "none"), CountWords(10), OUT, empty) == 0
    assert pq.read_table(sorted(empty.glob("*.parquet"))).num_rows == 0


@pytest.mark.spark
def test_batches_run_on_spark_executors(ws: Workspace, spark_ws: Workspace, tmp_path: Path) -> None:
    # the executors import this module's function by value (tests/ is not a package
    # they can import); socialcrm itself they import, as the listening step needs
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        on_spark = _run(spark_ws, tmp_path / "spark")
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert all(on_spark.column("in_task").to_pylist())  # inside mapInArrow's tasks
    assert os.getpid() not in set(on_spark.column("pid").to_pylist())
    local = _run(ws, tmp_path / "local")
    columns = ["id", "words", "tags"]
    assert on_spark.select(columns).to_pylist() == local.select(columns).to_pylist()
