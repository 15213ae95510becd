"""Score the demo brand's files in a workspace of its own, in this process.

``python -m tests.parity.score_on HOME ENGINE`` reads ``table=path`` lines on stdin and
loads and scores them as the parity fixture does (:func:`tests.parity.conftest._score`),
with the settings the environment adds (``SOCIALCRM_SPARK_MASTER`` for a cluster): a
Spark session is one per process, so a second master needs a process of its own.
"""

from __future__ import annotations

import sys
from pathlib import Path

from socialcrm.store.workspace import Workspace
from tests.parity.conftest import _score, _settings


def main(home: str, engine: str) -> None:
    pairs = (line.split("=", 1) for line in sys.stdin.read().splitlines() if line.strip())
    files = {table: Path(path) for table, path in pairs}
    with Workspace.open(_settings(Path(home), engine)) as ws:
        _score(ws, files)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
