"""One demo brand, scored twice: on DuckDB and on Spark (local mode), once per session.

The DuckDB run (``reference``) is the one every Spark run is compared with: local mode
here (``scored``), and a Spark Connect server driving a standalone cluster in a test of
its own (``test_cluster_connect``).
Both workspaces ingest the same generated files and run the whole pipeline
(``run_pipeline``) and then, as the demo does, the loyalty awards and the rewards step
again. The tests of this folder compare the two warehouses table by table.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from socialcrm.config import Settings
from socialcrm.pipeline import run_pipeline
from socialcrm.store.ingest import ingest_file
from socialcrm.store.warehouse import Warehouse
from socialcrm.store.workspace import Workspace

CUSTOMERS = 300
SEED = 0
# Parents before children, as the demo loads them (socialcrm.demo.LOAD_ORDER).
LOAD_ORDER = ("customers", "identities", "consents", "orders", "touches", "posts", "follows")


@dataclass
class Scored:
    """The two scored workspaces."""

    duck: Workspace
    spark: Workspace
    inputs: dict[str, Path]
    """The brand's files, for a run elsewhere (a cluster) to load."""


def _catalogue() -> str:
    return resources.files("socialcrm.synth").joinpath("catalogue.json").read_text()


def _settings(home: Path, engine: str) -> Settings:
    """The demo's settings: its catalogue in the workspace, its home country's phones."""
    home.mkdir(parents=True, exist_ok=True)
    text = _catalogue()
    (home / "catalogue.json").write_text(text)
    cat = json.loads(text)
    region = cat.get("home_country") or cat.get("brand", {}).get("home_country")
    extra = {"phone_region": region} if isinstance(region, str) else {}
    return Settings(home=home, engine=engine, **extra)


def _score(ws: Workspace, inputs: dict[str, Path]) -> None:
    """Load the brand's files and score them as ``socialcrm demo`` does."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.programs import loyalty

    for table in LOAD_ORDER:
        ingest_file(ws, table, inputs[table])
    run_pipeline(ws)
    rules = loyalty.load_rules(ws.settings.loyalty_rules)
    db = AppDB(ws.settings.resolved_database_url)
    try:
        with db.session() as s:
            awards = loyalty.purchase_awards(ws, rules) + loyalty.reshare_awards(ws, rules)[0]
            loyalty.award(s, awards, rules, actor="demo")
    finally:
        db.close()
    run_pipeline(ws, only=["rewards"])  # the tiers after the awards, as the demo has them


@dataclass
class Reference:
    """The brand scored on DuckDB: what every Spark run of it is compared with."""

    duck: Workspace
    inputs: dict[str, Path]
    """The brand's files, for a run elsewhere (a cluster, a Connect server) to load."""


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Reference]:
    """The 300-customer demo brand scored on DuckDB, once per session."""
    from socialcrm.synth.brand import generate_brand

    root = tmp_path_factory.mktemp("parity")
    files = generate_brand(root / "brand", customers=CUSTOMERS, seed=SEED)
    duck = Workspace.open(_settings(root / "duck", "duckdb"))
    try:
        _score(duck, files.inputs)
        yield Reference(duck, files.inputs)
    finally:
        duck.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def scored(
    tmp_path_factory: pytest.TempPathFactory, reference: Reference, spark_ws: Workspace
) -> Scored:
    """The same brand scored on the run's Spark session (local mode) as well."""
    root = tmp_path_factory.mktemp("parity-spark")
    # the session's Spark engine (root conftest), over a warehouse of this brand's own
    on_spark = _settings(root / "spark", "spark")
    spark = Workspace(on_spark, spark_ws.engine, Warehouse(on_spark.warehouse_dir, spark_ws.engine))
    _score(spark, reference.inputs)
    return Scored(reference.duck, spark, reference.inputs)
