"""The engine seam's shared helpers behave the same on DuckDB and Spark."""

from __future__ import annotations

import pyarrow as pa
import pytest

from socialcrm.store.workspace import Workspace


def _kept(w: Workspace) -> list[str]:
    ids = [f"p{i}" for i in range(6_000)]
    w.warehouse.write("posts_ids", pa.table({"post_id": ids}))
    t = w.warehouse.table("posts_ids")
    # thousands of ids, some absent and repeated: a semi-join keeps each present row once
    wanted = [f"p{i}" for i in range(0, 12_000, 3)] + ["p3", "p3"]
    out = w.engine.to_arrow(t.filter(t.post_id.isin(w.engine.values(wanted))))
    return sorted(out.column("post_id").to_pylist(), key=lambda s: int(s[1:]))


def test_values_filters_by_thousands_of_ids(ws: Workspace) -> None:
    assert _kept(ws) == [f"p{i}" for i in range(0, 6_000, 3)]
    # an empty list keeps nothing (and is still a valid query)
    t = ws.warehouse.table("posts_ids")
    assert ws.engine.to_arrow(t.filter(t.post_id.isin(ws.engine.values([])))).num_rows == 0


@pytest.mark.spark
def test_values_on_spark_as_on_duckdb(ws: Workspace, spark_ws: Workspace) -> None:
    assert _kept(spark_ws) == _kept(ws)
