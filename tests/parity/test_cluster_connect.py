"""The same brand, scored through Spark Connect on a standalone cluster, equals DuckDB's.

One run proves both ways of running Spark off this process: a master and a worker are
started from pyspark's own launcher (``bin/spark-class``), and a Spark Connect server
(the driver) is started against that master, so its executors are the worker's. A
separate process (one that made a Connect session is a Connect client for good) loads
the brand's files and runs the pipeline against ``sc://…``: the queries and Splink (its
similarity jar uploaded as an artifact of the session) are planned in the server and run
on the worker's executors; the client starts no JVM. Server, workers and client share
this host's folders, as the workspace's Parquet files need. Every table is then compared
with the DuckDB workspace of :mod:`tests.parity.conftest` under the same rules as the
local-mode suite: the clock columns aside (``VOLATILE``), and the columns of the known
differences aside (``DIFFERS``, each named and measured there).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from socialcrm.store.workspace import Workspace
from tests.parity.conftest import Reference, _settings
from tests.parity.connect_server import connect_server
from tests.parity.standalone import python_env, standalone_cluster
from tests.parity.test_pipeline_parity import warehouse_differences

pytestmark = pytest.mark.spark

ROOT = Path(__file__).parents[2]


def test_spark_connect_on_a_standalone_cluster_scores_the_brand_as_duckdb_does(
    reference: Reference, tmp_path: Path
) -> None:
    home = tmp_path / "on-cluster"
    inputs = {t: str(p) for t, p in reference.inputs.items()}
    with (
        standalone_cluster(tmp_path / "cluster") as master,
        connect_server(tmp_path / "connect-server", master=master) as url,
    ):
        run = subprocess.run(
            [sys.executable, "-m", "tests.parity.score_on", str(home), "spark"],
            input="\n".join(f"{t}={p}" for t, p in inputs.items()),
            env={**python_env(), "SOCIALCRM_SPARK_MASTER": url},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr[-5000:]
        # the work ran on the worker's executors, not in a local-mode driver
        apps = list((tmp_path / "cluster" / "work").glob("app-*/*/stderr"))
        assert apps, "no executor ran on the worker"
    # the client's session was a Connect one, with no JVM here
    where = json.loads(run.stdout.strip().splitlines()[-1])
    assert where == {"engine": "spark", "connect": True, "jvm_here": False}
    # Splink's scratch folder (written by the server) was removed after the run
    assert not list(home.glob(".splink-*"))
    with Workspace.open(_settings(home, "duckdb")) as on_cluster:
        found = {t.name for t in on_cluster.warehouse.tables()}
        assert found == {t.name for t in reference.duck.warehouse.tables()}
        problems = warehouse_differences(reference.duck, on_cluster)
    assert problems == {}
