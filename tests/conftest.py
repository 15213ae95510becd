"""Shared fixtures: a fresh workspace per test, one Spark session and one demo per run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace
from tests.shared_data import shared_file


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "ws")


@pytest.fixture
def ws(settings: Settings) -> Iterator[Workspace]:
    with Workspace.open(settings) as w:
        yield w


@pytest.fixture(scope="session")
def spark_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A Spark-engine workspace shared by the whole run (Spark takes seconds to start)."""
    if shutil.which("java") is None:
        pytest.fail("Java is needed for the Spark engine: run `make install`")
    home = tmp_path_factory.mktemp("spark-ws")
    w = Workspace.open(Settings(home=home, engine="spark"))
    yield w
    w.close()


@dataclass(frozen=True)
class Demo:
    """The 300-customer demo brand (seed 0) as ``socialcrm demo`` built it."""

    home: Path
    run: subprocess.CompletedProcess[str]
    """The CLI's run (its exit status and output), for the test of the CLI itself."""


@pytest.fixture(scope="session")
def demo_300(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo brand built once per run through the CLI a newcomer runs (the test of
    the demo and the erasure tests shared it instead of building it twice). Read only:
    a test that changes it works on a copy (``shutil.copytree(demo_300.home, …)``)."""
    home = tmp_path_factory.mktemp("demo-300") / "ws"
    env = {**os.environ, "SOCIALCRM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "socialcrm.cli", "demo", "--customers", "300", "--no-serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return Demo(home, run)


@pytest.fixture(scope="session")
def cdnow_path() -> Path:
    """CDNOW's 1/10 sample, committed under tests/data (see tests/data/SOURCES.md)."""
    return shared_file("cdnow", "cdnow_sample.csv")
