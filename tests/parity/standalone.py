"""A Spark standalone cluster on this host, started from pyspark's own launcher.

One master and one worker (``bin/spark-class``, as ``sbin/start-master.sh`` and
``start-worker.sh`` run them), on loopback ports of their own, with their logs and work
folders in a temporary directory; stopped (and waited for) on exit. The test drives a
``socialcrm`` process against ``spark://…``: the driver in that process, the executors in
the worker's JVM and Python workers, as on a real cluster.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.ports import free_port
from tests.waiting import wait_until


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def python_env() -> dict[str, str]:
    """The environment for the cluster's processes: this Python on both sides."""
    env = dict(os.environ)
    env.update(
        SPARK_HOME=str(spark_home()),
        PYSPARK_PYTHON=sys.executable,
        PYSPARK_DRIVER_PYTHON=sys.executable,
        SPARK_LOCAL_IP="127.0.0.1",
        SPARK_NO_DAEMONIZE="1",
    )
    return env


@contextmanager
def standalone_cluster(workdir: Path, cores: int = 2, memory: str = "2g") -> Iterator[str]:
    """Start a master and a worker; yield the master's ``spark://`` URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = python_env()
    launcher = str(spark_home() / "bin" / "spark-class")
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    common = ["--host", "127.0.0.1", "--webui-port", str(free_port())]
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: workdir / f"{name}.log" for name in ("master", "worker")}
    try:
        with logs["master"].open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [
                        launcher,
                        "org.apache.spark.deploy.master.Master",
                        *("--port", str(port)),
                        *common,
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_until(
            lambda: (
                "I have been elected leader" in _text(logs["master"]) or procs[0].poll() is not None
            ),
            "the Spark master started",
            bound=180,
        )
        assert procs[0].poll() is None, _text(logs["master"])[-3000:]
        with logs["worker"].open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [
                        launcher,
                        "org.apache.spark.deploy.worker.Worker",
                        url,
                        *common,
                        *("--cores", str(cores), "--memory", memory),
                        *("--work-dir", str(workdir / "work")),
                    ],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_until(
            lambda: (
                "Successfully registered with master" in _text(logs["worker"])
                or procs[1].poll() is not None
            ),
            "the Spark worker registered with the master",
            bound=180,
        )
        assert procs[1].poll() is None, _text(logs["worker"])[-3000:]
        yield url
    finally:
        stop(list(reversed(procs)))


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """Stop each process's group (SIGTERM, in the order given), then wait for each,
    killing a group that has not stopped within a minute."""
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=60)


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
