"""One small demo brand, generated, loaded and scored once per test run.

Shared by tests/targeting and the TRInity tests in tests/value: a module-level cache, so
the pipeline runs once however many test modules ask for it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace

CUSTOMERS = 500
SEED = 5
NEEDED = [
    "identities", "rfm", "transaction_scores", "listening", "connecting", "communities",
    "community_listening", "relationship", "trinity", "segments", "actions",
    "community_recommendations",
]  # fmt: skip
"""The steps whose tables these tests read, in pipeline order."""


@dataclass(frozen=True)
class ScoredBrand:
    home: Path
    truth: Path

    def open(self, **settings: object) -> Workspace:
        return Workspace.open(Settings(home=self.home, phone_region="DE", **settings))

    def copy(self, to: Path) -> ScoredBrand:
        """A private copy to change inputs in, leaving the shared one alone."""
        shutil.copytree(self.home, to)
        return ScoredBrand(to, self.truth)

    def person_of(self) -> dict[str, str]:
        p = pd.read_csv(self.truth / "persons.csv", dtype=str)
        return dict(zip(p.customer_id, p.person_id, strict=True))


_CACHE: dict[str, ScoredBrand] = {}


def scored_brand(root: Path) -> ScoredBrand:
    """Generate, ingest and run the whole pipeline (first call only)."""
    if "brand" in _CACHE:
        return _CACHE["brand"]
    from socialcrm.demo import LOAD_ORDER
    from socialcrm.pipeline import run_pipeline
    from socialcrm.store.ingest import ingest_file
    from socialcrm.synth.brand import generate_brand

    files = generate_brand(root / "brand", customers=CUSTOMERS, seed=SEED)
    home = root / "ws"
    with Workspace.open(Settings(home=home, phone_region="DE")) as ws:
        for table in LOAD_ORDER:
            ingest_file(ws, table, files.inputs[table])
        run_pipeline(ws, NEEDED)
    _CACHE["brand"] = ScoredBrand(home, files.truth_dir)
    return _CACHE["brand"]
