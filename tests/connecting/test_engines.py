"""The relational parts of connecting give the same rows on DuckDB and on Spark."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from socialcrm.connecting.graph import node_edges, reference_time
from socialcrm.connecting.identity import rule_links
from socialcrm.store.warehouse import Warehouse
from socialcrm.store.workspace import Workspace

TABLES = ("customers", "identities", "posts", "follows", "consents", "identity_clusters")


def _rows(ws: Workspace, expr) -> list[tuple]:
    return sorted(tuple(r.values()) for r in ws.engine.to_arrow(expr).to_pylist())


def _same(a: list[tuple], b: list[tuple]) -> bool:
    """Equal rows; floats equal up to summation order and libm (1e-9 relative)."""
    return len(a) == len(b) and all(
        len(x) == len(y)
        and all(
            math.isclose(u, v, rel_tol=1e-9) if isinstance(u, float) else u == v
            for u, v in zip(x, y, strict=True)
        )
        for x, y in zip(a, b, strict=True)
    )


@pytest.mark.spark
def test_consent_gated_graph_and_rules_match_on_spark(
    scored: Workspace, spark_ws: Workspace, tmp_path: Path
) -> None:
    root = tmp_path / "warehouse"
    for t in TABLES:
        shutil.copytree(scored.warehouse.root / t, root / t)
    # the session's Spark engine, over a private warehouse folder of the same tables
    spark = Workspace(scored.settings, spark_ws.engine, Warehouse(root, spark_ws.engine))
    ref = reference_time(scored)
    assert ref == reference_time(spark)
    # node_edges holds the consent gate (granted, handle_owners) and the edge building
    for build in (rule_links, lambda ws: node_edges(ws, 180.0, ref)):
        duck, sp = _rows(scored, build(scored)), _rows(spark, build(spark))
        assert duck and _same(duck, sp)
