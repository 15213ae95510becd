"""Upgrading to 0006 keeps the events already imported as imported: nothing is re-emitted."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from socialcrm.appdb.db import AppDB, make_engine, migrate
from socialcrm.appdb.models import DomainEvent, WebhookEvent, WebhookSubscription
from socialcrm.outbound import webhooks
from tests.web.conftest import postgres_url  # noqa: F401  (a fixture)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    name = f"t{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    yield server.rsplit("/", 1)[0] + f"/{name}"


def test_upgrade_flags_what_the_high_water_mark_had_imported(url: str) -> None:
    engine = make_engine(url)
    migrate(engine, "0005_inbox_actions")
    with engine.begin() as c:  # four inbox events; the old pass had imported 1, 2 and 4
        for i, kind in enumerate(["conversation_created", "sla_breached"] * 2, start=1):
            c.execute(
                text(
                    "INSERT INTO events (id, key, kind, payload, occurred_at) "
                    "VALUES (:i, :k, :kind, '{}', CURRENT_TIMESTAMP)"
                ),
                {"i": i, "k": f"fact:{i}", "kind": kind},
            )
        for i in (1, 2, 4):
            c.execute(
                text(
                    "INSERT INTO webhook_events (event_id, type, source_key, payload, "
                    "occurred_at, fanned_out) VALUES (:e, 'sla.breached', :s, '{}', "
                    "CURRENT_TIMESTAMP, :t)"
                ),
                {"e": f"evt_{i}", "s": f"events:{i}", "t": True},
            )
        c.execute(
            text(
                "INSERT INTO webhook_subscriptions (url, secret, events, active, "
                "consecutive_failures, created_by, created_at) VALUES ('http://127.0.0.1:9/', "
                "'s', '[]', :t, 0, 'old', CURRENT_TIMESTAMP)"
            ),
            {"t": True},
        )
    migrate(engine)
    with engine.connect() as c:
        flags = dict(c.execute(select(DomainEvent.id, DomainEvent.webhook_imported)).all())
        allow = c.scalar(select(WebhookSubscription.allow_host))
    engine.dispose()
    assert flags == {1: True, 2: True, 3: False, 4: True}
    assert allow is False  # an existing hook is checked from now on, unless an admin allows it
    db = AppDB(url)
    try:
        rep = webhooks.deliver(db, webhooks.Policy(), limit=0)
        assert rep.imported == 1
        with db.session() as s:
            keys = sorted(s.scalars(select(WebhookEvent.source_key)))
        assert keys == ["events:1", "events:2", "events:3", "events:4"]
    finally:
        db.close()
