"""A Spark Connect server on this host, started from pyspark's own launcher.

``bin/spark-class`` runs ``SparkSubmit`` with the server's class
(``org.apache.spark.sql.connect.service.SparkConnectServer``, as
``sbin/start-connect-server.sh`` does in a full Spark distribution), in local mode or
against a standalone cluster's master (its executors then on the cluster's worker), on a
loopback port of its own, with its log and catalog folder in a temporary directory. The
server is the driver; a client process connects to ``sc://127.0.0.1:PORT``. It runs in a
process group of its own, killed (and waited for) on exit, and dies with the process
that started it should that one be killed first: no JVM is left behind.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.parity.standalone import _text, python_env, spark_home, stop
from tests.ports import free_port
from tests.waiting import wait_until

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"


@contextmanager
def connect_server(
    workdir: Path, master: str | None = None, cores: int = 2, memory: str = "2g"
) -> Iterator[str]:
    """Start a Spark Connect server on ``master`` (default ``local[cores]``; a
    ``spark://`` URL runs its executors on that cluster); yield its ``sc://`` URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [
        str(spark_home() / "bin" / "spark-class"),
        "org.apache.spark.deploy.SparkSubmit",
        *("--class", SERVER_CLASS),
        *("--master", master or f"local[{cores}]"),
        *("--driver-memory", memory),
        *("--conf", f"spark.connect.grpc.binding.port={port}"),
        *("--conf", "spark.connect.grpc.binding.address=127.0.0.1"),
        *("--conf", "spark.ui.enabled=false"),
        *("--conf", f"spark.sql.warehouse.dir={workdir / 'spark-warehouse'}"),
        *("--conf", "spark.log.level=WARN"),
        "spark-internal",  # no application jar: the server's class is on Spark's classpath
    ]
    log = workdir / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            command,
            env=python_env(),
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    try:
        wait_until(
            lambda: _listening(port) or server.poll() is not None,
            "the Spark Connect server listens",
            bound=180,
            poll=0.5,
        )
        assert server.poll() is None, _text(log)[-3000:]
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop([server])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the test process dies (Linux's
    ``PR_SET_PDEATHSIG``, kept across ``spark-class``'s exec of the JVM)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
