"""Delivery passes over a big backlog share the app database with interactive requests.

The first pass over a freshly scored 100k-customer brand meets ~150k inbox events. It
must not keep the (SQLite) write lock so long that a sign-in fails with "database is
locked", and passes running at the same time (the served app's, a ``--watch`` worker's,
an admin's "run a pass now") must not collide on the events they import. Here a backlog
of tens of thousands of synthesised events stands in for the brand, on SQLite and on
PostgreSQL. Nothing is timed: the assertions are on what happened.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from socialcrm.appdb.accounts import authenticate, create_user
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import DomainEvent, WebhookDelivery, WebhookEvent, utcnow
from socialcrm.outbound import webhooks
from socialcrm.responding import events
from tests.outbound.receiver import receiver

N = 30_000
KINDS = ("conversation_created", "sla_breached", "note_added")  # the last: not a webhook
PASSWORD = "a long test password"
POLICY = webhooks.Policy(backoff_seconds=30, max_attempts=3, disable_after=1000)


@pytest.fixture(params=["sqlite", "postgresql"])
def app_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
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


@pytest.fixture
def db(app_url: str) -> Iterator[AppDB]:
    db = AppDB(app_url)
    with db.session() as s:
        create_user(s, "ann@test.io", PASSWORD, "agent", actor="test")
    yield db
    db.close()


def _backlog(db: AppDB, n: int = N) -> dict[str, list[int]]:
    """``n`` inbox events, as the pipeline's inbox step records them; ids by kind."""
    now = utcnow()
    rows = [
        {"key": f"{KINDS[i % 3]}:{i}", "kind": KINDS[i % 3], "payload": {"n": i},
         "occurred_at": now}
        for i in range(n)
    ]  # fmt: skip
    with db.session() as s:
        s.execute(insert(DomainEvent), rows)
    with db.session() as s:
        by_kind: dict[str, list[int]] = {k: [] for k in KINDS}
        for i, kind in s.execute(select(DomainEvent.id, DomainEvent.kind)):
            by_kind[kind].append(i)
    return by_kind


def _imported(db: AppDB) -> list[str]:
    with db.session() as s:
        return list(s.scalars(select(WebhookEvent.source_key).order_by(WebhookEvent.id)))


def test_first_passes_over_a_big_backlog_let_sign_ins_through_and_import_each_event_once(
    db: AppDB, app_url: str
) -> None:
    by_kind = _backlog(db)
    wanted = by_kind["conversation_created"] + by_kind["sla_breached"]
    with receiver([]) as r:
        with db.session() as s:
            webhooks.subscribe(s, r.url, ["sla.breached"], "admin", allow_host=True)
        other = AppDB(app_url, run_migrations=False)  # a second process: a --watch worker
        reports: list[webhooks.Report] = []
        errors: list[BaseException] = []

        def one_pass(on: AppDB) -> None:
            try:
                reports.append(webhooks.deliver(on, POLICY, limit=20))
            except BaseException as e:
                errors.append(e)

        passes = [threading.Thread(target=one_pass, args=(d,)) for d in (db, other)]
        for t in passes:
            t.start()
        seen: list[int] = []  # webhook events committed when each sign-in had committed
        try:
            while any(t.is_alive() for t in passes):
                with db.session() as s:  # a sign-in: reads the user, then writes (audit)
                    assert authenticate(s, "ann@test.io", PASSWORD) is not None
                with db.session() as s:
                    seen.append(s.scalar(select(func.count()).select_from(WebhookEvent)))
        finally:
            for t in passes:
                t.join()
            other.close()
    assert errors == []
    # each event once, whichever pass imported it; the other skipped it
    assert sorted(_imported(db)) == sorted(f"events:{i}" for i in wanted)
    assert sum(rep.imported for rep in reports) == len(wanted)
    with db.session() as s:
        assert s.scalar(select(func.count()).where(DomainEvent.webhook_imported.is_(False))) == 0
        per_event = s.execute(
            select(WebhookDelivery.event_id, func.count()).group_by(WebhookDelivery.event_id)
        ).all()
        breached = set(
            s.scalars(select(WebhookEvent.id).where(WebhookEvent.type == "sla.breached"))
        )
    assert {e for e, _ in per_event} == breached and {c for _, c in per_event} == {1}
    assert sum(rep.fanned_out for rep in reports) == len(breached) == len(by_kind["sla_breached"])
    # sign-ins went through while the import was under way, not only before or after it
    assert seen and any(0 < c < len(wanted) for c in seen), seen[:: max(1, len(seen) // 20)]
    # each delivery sent once: the passes claim before sending (up to 20 each)
    sent = [g.headers["Socialcrm-Delivery-Id"] for g in r.got]
    assert len(sent) == len(set(sent)) == sum(rep.delivered for rep in reports) >= 20
    print(f"{len(seen)} sign-ins; import progress seen by them: {sorted(set(seen))[:10]}…")


def test_running_the_emit_steps_again_emits_nothing_new(db: AppDB) -> None:
    by_kind = _backlog(db, 2_000)
    first = webhooks.deliver(db, POLICY)
    assert first.imported == len(by_kind["conversation_created"]) + len(by_kind["sla_breached"])
    before = _imported(db)
    # the pipeline's inbox step again: the same facts, by key, record nothing
    with db.session() as s:
        assert not any(
            events.emit(s, KINDS[i % 3], {"n": i}, key=f"{KINDS[i % 3]}:{i}") for i in range(2_000)
        )
    again = webhooks.deliver(db, POLICY)
    assert (again.imported, again.fanned_out) == (0, 0)
    assert _imported(db) == before
    # a new fact is imported, once
    with db.session() as s:
        assert events.emit(s, "sla_breached", {"n": "new"}, key="sla_breached:new")
    assert webhooks.deliver(db, POLICY).imported == 1
    assert webhooks.deliver(db, POLICY).imported == 0


def test_a_pass_that_meets_an_event_imported_already_skips_it(db: AppDB) -> None:
    by_kind = _backlog(db, 3_000)
    taken = by_kind["sla_breached"][7]
    # another pass inserted this one and has not flagged its source yet (or a version
    # that kept a high-water mark did): the key is taken
    with db.session() as s:
        first = webhooks.emit(s, "sla.breached", f"events:{taken}", {"n": "theirs"})
        assert first is not None
        first_id = first.event_id
    rep = webhooks.deliver(db, POLICY)
    wanted = len(by_kind["conversation_created"]) + len(by_kind["sla_breached"])
    assert rep.imported == wanted - 1
    with db.session() as s:
        (kept,) = s.scalars(
            select(WebhookEvent).where(WebhookEvent.source_key == f"events:{taken}")
        )
        assert kept.event_id == first_id and kept.payload == {"n": "theirs"}
        assert s.scalar(select(func.count()).select_from(WebhookEvent)) == wanted
