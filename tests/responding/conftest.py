"""A workspace whose warehouse knows a few Mastodon authors, and its app database."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.appdb.accounts import create_user
from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace
from tests.web.conftest import postgres_url

NOW = datetime(2026, 11, 20, 12, 0)


@dataclass
class Env:
    settings: Settings
    ws: Workspace
    db: AppDB


def write_context(ws: Workspace) -> None:
    """Amelia: influential, valuable, at risk. Dave: a one-off buyer nobody follows."""
    ws.warehouse.write(
        "handle_influence",
        pa.table(
            {
                "platform": ["mastodon", "mastodon", "mastodon", "mastodon"],
                "handle": [
                    "amelia@fosstodon.org",
                    "dave@mstdn.io",
                    "bob@mastodon.social",
                    "carol@mstdn.io",
                ],
                "customer_id": ["c1", "c2", None, "c3"],
                "influence_score": [88.0, 3.0, 20.0, 35.0],
            }
        ),
    )
    ws.warehouse.write(
        "customer_transaction_scores",
        pa.table(
            {
                "customer_id": ["c1", "c2", "c3"],
                "clv": [2400.0, 35.0, 600.0],
                "risk_band": ["high", "low", "low"],
            }
        ),
    )


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    settings = Settings(home=tmp_path / "ws", inbox_brand_handle="acme")
    ws = Workspace.open(settings)
    write_context(ws)
    db = AppDB(settings.resolved_database_url)
    with db.session() as s:
        for name in ("ann", "ben", "cy"):
            create_user(s, f"{name}@test.io", "a long test password", "agent", actor="test")
        create_user(s, "ana@test.io", "a long test password", "analyst", actor="test")
    yield Env(settings, ws, db)
    db.close()
    ws.close()


__all__ = ["postgres_url"]
