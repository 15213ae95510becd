"""A small demo brand, loaded once per session, for the connecting steps."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from socialcrm.config import Settings
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace

TABLES = ("customers", "identities", "orders", "posts", "follows", "consents")


@dataclass(frozen=True)
class Brand:
    inputs: dict[str, Path]
    truth: Path


@pytest.fixture(scope="session")
def brand(tmp_path_factory: pytest.TempPathFactory) -> Brand:
    from socialcrm.synth.brand import generate_brand

    files = generate_brand(tmp_path_factory.mktemp("conn-brand"), customers=600, seed=3)
    return Brand(files.inputs, files.truth_dir)


def load(home: Path, brand: Brand, tables: tuple[str, ...] = TABLES) -> Workspace:
    ws = Workspace.open(Settings(home=home, phone_region="DE"))
    for t in tables:
        ingest_file(ws, t, brand.inputs[t])
    return ws


@pytest.fixture(scope="session")
def scored(tmp_path_factory: pytest.TempPathFactory, brand: Brand) -> Iterator[Workspace]:
    """The brand after identity resolution, transaction scores and the connecting step."""
    from socialcrm.pipeline import run_pipeline

    ws = load(tmp_path_factory.mktemp("conn-ws"), brand)
    run_pipeline(ws, ["identities", "rfm", "transaction_scores", "connecting", "communities"])
    yield ws
    ws.close()
