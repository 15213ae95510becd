"""Score the demo brand's files in a workspace of its own, in this process.

``python -m tests.parity.score_on HOME ENGINE`` reads ``table=path`` lines on stdin and
loads and scores them as the parity fixture does (:func:`tests.parity.conftest._score`),
with the settings the environment adds (``SOCIALCRM_SPARK_MASTER`` for a cluster): a
Spark session is one per process, so a second master needs a process of its own (and a
process that made a Connect session is a Connect client for good). The last line of its
output says where the work ran (:func:`_where`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from socialcrm.store.workspace import Workspace
from tests.parity.conftest import _score, _settings


def main(home: str, engine: str) -> None:
    pairs = (line.split("=", 1) for line in sys.stdin.read().splitlines() if line.strip())
    files = {table: Path(path) for table, path in pairs}
    with Workspace.open(_settings(Path(home), engine)) as ws:
        _score(ws, files)
        print(json.dumps(_where(ws)))


def _where(ws: Workspace) -> dict[str, object]:
    """Where the run's work happened, for the test to check: the kind of Spark session
    (classic or Connect), and whether this process started a JVM of its own."""
    if ws.settings.engine != "spark":
        return {"engine": ws.settings.engine}
    from pyspark import SparkContext

    from socialcrm.store.engines.spark import is_connect_session

    return {
        "engine": "spark",
        "connect": is_connect_session(ws.engine.session),
        "jvm_here": SparkContext._gateway is not None,
    }


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
