"""Shared fixtures: a fresh workspace per test, and one Spark session per run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def cdnow_path() -> Path:
    """CDNOW's 1/10 sample, committed under tests/data (see tests/data/SOURCES.md)."""
    return shared_file("cdnow", "cdnow_sample.csv")
