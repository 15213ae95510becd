"""The Spark driver's heap follows ``spark_driver_memory`` (it was fixed at 2g, too little
for the graph step of a million customers on local[2])."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from socialcrm.config import Settings

SCRIPT = """
import json
from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace
with Workspace.open(Settings()) as ws:
    session = ws.engine.session
    heap = session.sparkContext._jvm.java.lang.Runtime.getRuntime().maxMemory()
    print(json.dumps({"heap": heap, "conf": session.conf.get("spark.driver.memory")}))
"""


@pytest.mark.spark
def test_the_driver_jvm_gets_the_heap_the_setting_names(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOCIALCRM_")}
    env.update(
        SOCIALCRM_HOME=str(tmp_path),
        SOCIALCRM_ENGINE="spark",
        SOCIALCRM_SPARK_DRIVER_MEMORY="768m",
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    found = json.loads(run.stdout.strip().splitlines()[-1])
    assert found["conf"] == "768m"
    # the JVM reports a little less than -Xmx (a survivor space), never the 2g default
    assert 600 * 2**20 < found["heap"] <= 768 * 2**20


def test_a_heap_size_must_read_as_one() -> None:
    assert Settings(spark_driver_memory="8g").spark_driver_memory == "8g"
    with pytest.raises(ValidationError, match="spark_driver_memory"):
        Settings(spark_driver_memory="lots")
