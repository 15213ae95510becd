"""Webhooks against real receivers on loopback: retries, idempotency keys, disabling."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from socialcrm.appdb.models import (
    AuditEntry,
    DomainEvent,
    Notice,
    WebhookDelivery,
    WebhookSubscription,
    utcnow,
)
from socialcrm.collaborating import ideas, people, webhooks
from socialcrm.collaborating.webhooks import Policy, WebhookError
from tests.collaborating.receiver import receiver

POLICY = Policy(backoff_seconds=30, backoff_max_seconds=3600, max_attempts=12, disable_after=3)


def _status_change(db, rm) -> None:
    with db.session() as s:
        i = ideas.submit(s, "Dark mode", actor="x")
        ideas.set_status(
            s, i.id, "planned", "next quarter", "x", lambda ids: people.routes(rm, ids)
        )


def test_fails_twice_then_succeeds_one_delivery_id_signed_and_backed_off(world) -> None:
    db, rm = world
    with receiver([500, 503]) as r:
        with db.session() as s:
            _, secret = webhooks.subscribe(s, r.url, ["idea.status_changed"], "admin@x.io")
        _status_change(db, rm)
        t0 = utcnow()
        first = webhooks.deliver(db, POLICY, now=t0)
        assert (first.fanned_out, first.failed, len(r.got)) == (1, 1, 1)
        # not due yet: the first retry waits 30 s, the second 60 s
        assert webhooks.deliver(db, POLICY, now=t0 + timedelta(seconds=29)).failed == 0
        assert len(r.got) == 1
        webhooks.deliver(db, POLICY, now=t0 + timedelta(seconds=30))
        assert len(r.got) == 2
        webhooks.deliver(db, POLICY, now=t0 + timedelta(seconds=89))
        assert len(r.got) == 2
        done = webhooks.deliver(db, POLICY, now=t0 + timedelta(seconds=90))
        assert done.delivered == 1
        later = webhooks.deliver(db, POLICY, now=t0 + timedelta(days=1))
        assert later.delivered == later.failed == 0
    ids = [g.headers["Socialcrm-Delivery-Id"] for g in r.got]
    assert len(ids) == 3 and len(set(ids)) == 1
    assert {g.headers["Idempotency-Key"] for g in r.got} == set(ids)
    assert len({g.body for g in r.got}) == 1  # the same bytes on every attempt
    delivered = [g for g in r.got if g.answered == 200]
    assert len({g.headers["Socialcrm-Delivery-Id"] for g in delivered}) == 1
    for g in r.got:
        assert webhooks.verify(secret, g.headers["Socialcrm-Signature"], g.body, time.time())
        assert not webhooks.verify("wrong", g.headers["Socialcrm-Signature"], g.body, time.time())
    assert b'"type":"idea.status_changed"' in r.got[0].body
    with db.session() as s:
        (entry,) = webhooks.log(s)
    assert entry["status"] == "delivered" and entry["attempts"] == 3
    assert [a["status_code"] for a in entry["log"]] == [500, 503, 200]


def test_always_failing_receiver_gets_disabled_with_a_notice_then_replayed(world) -> None:
    db, rm = world
    with receiver([], default=500) as r:
        with db.session() as s:
            sub, _ = webhooks.subscribe(s, r.url, [], "admin@x.io")
            sub_id = sub.id
        _status_change(db, rm)
        t = utcnow()
        for _ in range(10):
            webhooks.deliver(db, POLICY, now=t)
            t += timedelta(hours=2)
        assert len(r.got) == 3  # disable_after=3: nothing is sent once disabled
        with db.session() as s:
            sub = s.get(WebhookSubscription, sub_id)
            assert not sub.active and "3 failed attempts" in sub.disabled_reason
            (notice,) = s.scalars(select(Notice)).all()
            assert notice.kind == "webhook.disabled" and r.url in notice.message
            assert s.scalar(select(AuditEntry).where(AuditEntry.action == "webhook.disable"))
            d = s.scalar(select(WebhookDelivery))
            assert d.status == "pending"  # nothing lost: it waits
            delivery_id = d.delivery_id
        r.default = 200
        with db.session() as s:
            webhooks.enable(s, sub_id, "admin@x.io")
        assert webhooks.deliver(db, POLICY, now=t).delivered == 1
        with db.session() as s:
            webhooks.replay(s, delivery_id, "admin@x.io")
        assert webhooks.deliver(db, POLICY, now=utcnow() + timedelta(seconds=1)).delivered == 1
    assert {g.headers["Socialcrm-Delivery-Id"] for g in r.got} == {delivery_id}
    assert len(r.got) == 5


def test_events_of_the_inbox_are_imported_once_and_routed_by_type(world) -> None:
    db, _ = world
    with receiver([]) as convs, receiver([]) as only_ideas:
        with db.session() as s:
            webhooks.subscribe(s, convs.url, ["conversation.created", "sla.breached"], "a@x.io")
            webhooks.subscribe(s, only_ideas.url, ["idea.status_changed"], "a@x.io")
            s.add(DomainEvent(key="conv:1", kind="conversation_created", payload={"id": 1}))
            s.add(DomainEvent(key="sla:1", kind="sla_breached", payload={"id": 1}))
        first = webhooks.deliver(db, POLICY, now=utcnow() + timedelta(seconds=1))
        again = webhooks.deliver(db, POLICY, now=utcnow() + timedelta(seconds=1))
    assert (first.imported, first.delivered) == (2, 2)
    assert (again.imported, again.delivered) == (0, 0)
    assert sorted(g.headers["Socialcrm-Event"] for g in convs.got) == [
        "conversation.created",
        "sla.breached",
    ]
    assert only_ideas.got == []


def test_unreachable_receiver_is_a_logged_failure(world) -> None:
    db, rm = world
    with receiver([]) as r:
        url = r.url
    with db.session() as s:  # the server is gone: connection refused
        webhooks.subscribe(s, url, ["idea.status_changed"], "a@x.io")
    _status_change(db, rm)
    rep = webhooks.deliver(db, POLICY, now=utcnow() + timedelta(seconds=1))
    assert rep.failed == 1
    with db.session() as s:
        (entry,) = webhooks.log(s)
    assert entry["log"][0]["status_code"] is None and "Connect" in entry["log"][0]["error"]


def test_bad_subscriptions_are_refused(world) -> None:
    db, _ = world
    with db.session() as s:
        with pytest.raises(WebhookError, match="http"):
            webhooks.subscribe(s, "ftp://x", [], "a")
        with pytest.raises(WebhookError, match="unknown events"):
            webhooks.subscribe(s, "http://x", ["order.paid"], "a")
