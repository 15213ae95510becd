"""A small, fully known warehouse and app database for the ideas and webhooks tests.

Customers: k1 (email, consent granted), k2 (email, consent withdrawn), k3 (sms, granted),
k4 (social). k1 is a valuable amplifier; three posts are suggestions, one of them spam.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text

from socialcrm.appdb.db import AppDB
from socialcrm.store.reads import ReadModel
from socialcrm.store.warehouse import Warehouse
from tests.web.conftest import postgres_url  # noqa: F401  (a fixture)

T0 = datetime(2025, 3, 1, tzinfo=UTC)
XSS = '<script>alert("x")</script>'


def build(root: Path) -> None:
    w = Warehouse(root)
    w.write(
        "customers",
        pa.table(
            {
                "customer_id": ["k1", "k2", "k3", "k4"],
                "created_at": [T0] * 4,
                "preferred_channel": ["email", "email", "sms", "social"],
            }
        ),
    )
    w.write(
        "consents",
        pa.table(
            {
                "customer_id": ["k1", "k2", "k2", "k3"],
                "purpose": [
                    "email_marketing",
                    "email_marketing",
                    "email_marketing",
                    "sms_marketing",
                ],
                "status": ["granted", "granted", "withdrawn", "granted"],
                "recorded_at": [T0, T0, T0 + timedelta(days=5), T0],
            }
        ),
    )
    w.write(
        "customer_transaction_scores",
        pa.table({"customer_id": ["k1", "k2", "k3"], "clv": [900.0, 100.0, 50.0]}),
    )
    w.write(
        "customer_influence",
        pa.table(
            {
                "customer_id": ["k1", "k2"],
                "influence_score": [80.0, 5.0],
                "amplifier": [True, False],
            }
        ),
    )
    w.write(
        "posts_enriched",
        pa.table(
            {
                "post_id": ["p1", "p2", "p3", "p4", "p5"],
                "platform": ["mastodon", "bluesky", "mastodon", "mastodon", "mastodon"],
                "author_handle": ["kay", "stranger", "spammer", "kay", "passer"],
                "customer_id": ["k1", None, None, "k1", None],
                "created_at": [T0 + timedelta(hours=i) for i in range(5)],
                "text": [
                    "Please add a dark mode to the app, my eyes hurt at night",
                    f"Would love a bigger battery in the Aurora lamp {XSS}",
                    "idea: buy cheap followers here",
                    "Great lamp, thanks!",
                    # the wider conversation: a suggestion, but not to the brand
                    "Someone should make a phone with a headphone jack again, please",
                ],
                "intent": ["suggestion", "suggestion", "suggestion", "praise", "suggestion"],
                "is_spam": [False, False, True, False, False],
                "is_duplicate": [False, False, False, False, False],
                "author_followers": [120, 50_000, 3, 120, 10],
            }
        ),
    )
    # p1 names the brand, p2 one of its products (listening's mentions); p5 neither
    w.write(
        "post_mentions",
        pa.table(
            {
                "post_id": ["p1", "p2"],
                "entity_id": ["brand:acme", "product:AUR"],
                "entity_kind": ["brand", "product"],
            }
        ),
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[AppDB, ReadModel]]:
    """The known warehouse and a fresh app database, on SQLite, then on PostgreSQL."""
    build(tmp_path / "warehouse")
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        server = request.getfixturevalue("postgres_url")
        name = f"t{uuid.uuid4().hex[:12]}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"CREATE DATABASE {name}"))
        admin.dispose()
        url = server.rsplit("/", 1)[0] + f"/{name}"
    db = AppDB(url)
    yield db, ReadModel(tmp_path / "warehouse")
    db.close()
