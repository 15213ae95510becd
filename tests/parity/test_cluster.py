"""The same brand, scored by a Spark standalone cluster, equals the DuckDB run.

A master and a worker are started from pyspark's own launcher (``bin/spark-class``);
a separate process (a Spark session is one per process) loads the brand's files and
runs the pipeline against ``spark://…`` with the executors in the worker. Every table
is then compared with the DuckDB workspace of :mod:`tests.parity.conftest` under the
same rules as the local-mode suite: the clock columns aside (``VOLATILE``), and the
columns of the known differences aside (``DIFFERS``, each named and measured there).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from socialcrm.store.workspace import Workspace
from tests.parity.conftest import Reference, _settings
from tests.parity.standalone import python_env, standalone_cluster
from tests.parity.test_pipeline_parity import warehouse_differences

pytestmark = pytest.mark.spark

ROOT = Path(__file__).parents[2]


def test_a_standalone_cluster_scores_the_brand_as_duckdb_does(
    reference: Reference, tmp_path: Path
) -> None:
    home = tmp_path / "on-cluster"
    inputs = {t: str(p) for t, p in reference.inputs.items()}
    with standalone_cluster(tmp_path / "cluster") as master:
        env = {**python_env(), "SOCIALCRM_SPARK_MASTER": master}
        run = subprocess.run(
            [sys.executable, "-m", "tests.parity.score_on", str(home), "spark"],
            input="\n".join(f"{t}={p}" for t, p in inputs.items()),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-5000:]
        # the work ran on the worker's executors, not in a local-mode driver
        apps = list((tmp_path / "cluster" / "work").glob("app-*/*/stderr"))
        assert apps, "no executor ran on the worker"
    with Workspace.open(_settings(home, "duckdb")) as cluster:
        found = {t.name for t in cluster.warehouse.tables()}
        assert found == {t.name for t in reference.duck.warehouse.tables()}
        problems = warehouse_differences(reference.duck, cluster)
    assert problems == {}
