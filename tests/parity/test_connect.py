"""The same brand, scored through Spark Connect, equals the DuckDB run.

A Spark Connect server is started from pyspark's own launcher, once per session (it takes
half a minute); a separate process (one that made a Connect session is a Connect client
for good) loads the brand's files and runs the pipeline against ``sc://…``: the driver,
the queries and Splink (its similarity jar uploaded as an artifact of the session) run
in the server, the client starts no JVM. Server and client share this host's folders, as
the workspace's Parquet files need. Every table is then compared with the DuckDB
workspace of :mod:`tests.parity.conftest` under the same rules as the local-mode suite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from socialcrm.store.workspace import Workspace
from tests.parity.conftest import Reference, _settings
from tests.parity.connect_server import connect_server
from tests.parity.standalone import python_env
from tests.parity.test_pipeline_parity import warehouse_differences

pytestmark = pytest.mark.spark

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="session")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Spark Connect server for the session (stopped, with its JVM, at the end)."""
    with connect_server(tmp_path_factory.mktemp("connect-server")) as url:
        yield url


def test_spark_connect_scores_the_brand_as_duckdb_does(
    reference: Reference, connect_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "on-connect"
    run = subprocess.run(
        [sys.executable, "-m", "tests.parity.score_on", str(home), "spark"],
        input="\n".join(f"{t}={p}" for t, p in reference.inputs.items()),
        env={**python_env(), "SOCIALCRM_SPARK_MASTER": connect_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-5000:]
    # the work ran in the server: the client's session was a Connect one, with no JVM
    where = json.loads(run.stdout.strip().splitlines()[-1])
    assert where == {"engine": "spark", "connect": True, "jvm_here": False}
    # Splink's scratch folder (written by the server) was removed after the run
    assert not list(home.glob(".splink-*"))
    with Workspace.open(_settings(home, "duckdb")) as on_connect:
        found = {t.name for t in on_connect.warehouse.tables()}
        assert found == {t.name for t in reference.duck.warehouse.tables()}
        problems = warehouse_differences(reference.duck, on_connect)
    assert problems == {}
