"""Webhooks against real receivers on loopback: retries, idempotency keys, disabling."""

from __future__ import annotations

import json
import re
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
from socialcrm.collaborating import ideas, people
from socialcrm.outbound import webhooks
from socialcrm.outbound.webhooks import Policy, WebhookError
from tests.outbound.receiver import receiver

POLICY = Policy(backoff_seconds=30, backoff_max_seconds=3600, max_attempts=12, disable_after=3)


@pytest.fixture(autouse=True)
def _receivers_on_loopback_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The receivers here listen on 127.0.0.1, which webhooks refuse unless allow-listed:
    what an operator with a receiver on the same machine does."""
    monkeypatch.setenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS", "127.0.0.1")


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


# -- outbound URLs (SSRF) -------------------------------------------------------------------
PUBLIC = "93.184.215.14"


def _resolving_to(answer: list[str]):
    def resolver(host: str, port: int) -> list[str]:
        return list(answer)

    return resolver


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.google.internal/",
        "http://10.1.2.3/",
        "http://user:secret@hooks.example.com/",
    ],
)
def test_subscribing_a_forbidden_url_is_refused_for_every_face(world, monkeypatch, url) -> None:
    db, _ = world
    monkeypatch.delenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS")
    with db.session() as s, pytest.raises(WebhookError, match="webhook URL refused"):
        webhooks.subscribe(s, url, [], "admin@x.io", resolver=_resolving_to([PUBLIC]))
    with db.session() as s:
        assert webhooks.subscriptions(s) == []


def test_dns_rebinding_is_refused_at_delivery_and_recorded(world, monkeypatch) -> None:
    db, rm = world
    monkeypatch.delenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS")  # nothing allow-listed here
    answer = [PUBLIC]
    resolver = _resolving_to(answer)
    with receiver([]) as r:
        port = r.url.rsplit(":", 1)[1].split("/")[0]
        url = f"http://hooks.example.test:{port}/hook"
        with db.session() as s:  # public when subscribed…
            webhooks.subscribe(s, url, ["idea.status_changed"], "admin@x.io", resolver=resolver)
        _status_change(db, rm)
        answer[:] = ["127.0.0.1"]  # …loopback (where the receiver listens) when delivered
        rep = webhooks.deliver(db, POLICY, now=utcnow() + timedelta(seconds=1), resolver=resolver)
    assert (rep.delivered, rep.failed) == (0, 1)
    assert r.got == []  # nothing reached the local receiver
    with db.session() as s:
        (entry,) = webhooks.log(s)
    assert entry["status"] == "pending" and entry["attempts"] == 1  # retried later, re-checked
    assert entry["last_error"] == (
        "refused: hooks.example.test resolves to 127.0.0.1, a loopback address; "
        "the app does not call it"
    )
    assert entry["log"][0]["status_code"] is None


def test_an_admin_allowed_host_is_delivered_to_through_the_checked_address(
    world, monkeypatch
) -> None:
    db, rm = world
    monkeypatch.delenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS")
    resolver = _resolving_to(["127.0.0.1"])
    with receiver([]) as r:
        port = r.url.rsplit(":", 1)[1].split("/")[0]
        url = f"http://hooks.example.test:{port}/hook"
        refused = pytest.raises(WebhookError, match=re.escape("resolves to 127.0.0.1"))
        with db.session() as s, refused:
            webhooks.subscribe(s, url, [], "admin@x.io", resolver=resolver)
        with db.session() as s:
            sub, _ = webhooks.subscribe(s, url, [], "admin@x.io", allow_host=True)
            assert sub.allow_host
            entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "webhook.subscribe"))
            assert entry is not None and entry.detail["allow_host"] is True
        _status_change(db, rm)
        rep = webhooks.deliver(db, POLICY, now=utcnow() + timedelta(seconds=1), resolver=resolver)
    # hooks.example.test exists only in the stub resolver: the receiver was reached at the
    # address the pass resolved, with the subscription's name in the Host header
    assert rep.delivered == 1 and [g.headers["Host"] for g in r.got] == [
        f"hooks.example.test:{port}"
    ]


def test_a_url_stored_before_the_checks_is_refused_at_delivery(world, monkeypatch) -> None:
    db, rm = world
    monkeypatch.delenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS")
    with db.session() as s:
        s.add(
            WebhookSubscription(
                url="http://169.254.169.254/latest/meta-data/",
                secret="whsec_x",
                events=["idea.status_changed"],
                created_by="old@x.io",
            )
        )
    _status_change(db, rm)
    rep = webhooks.deliver(db, POLICY, now=utcnow() + timedelta(seconds=1))
    assert rep.failed == 1
    with db.session() as s:
        (entry,) = webhooks.log(s)
    assert entry["last_error"].startswith("refused: 169.254.169.254 is a cloud metadata address")


def test_the_cli_refuses_a_loopback_hook_unless_the_admin_allows_its_host(
    tmp_path, monkeypatch
) -> None:
    from typer.testing import CliRunner

    from socialcrm.cli import app
    from socialcrm.config import get_settings

    monkeypatch.delenv("SOCIALCRM_OUTBOUND_ALLOW_HOSTS")

    def run(*args: str):
        get_settings.cache_clear()
        return CliRunner().invoke(app, list(args), env={"SOCIALCRM_HOME": str(tmp_path)})

    refused = run("webhooks", "add", "http://127.0.0.1:9/hook")
    assert refused.exit_code != 0 and "127.0.0.1 is a loopback address" in refused.stderr
    added = run("webhooks", "add", "http://127.0.0.1:9/hook", "--allow-host", "--json")
    assert added.exit_code == 0, added.stderr
    assert json.loads(added.stdout)["allow_host"] is True
    (listed,) = json.loads(run("webhooks", "list", "--json").stdout)
    assert listed["url"] == "http://127.0.0.1:9/hook" and listed["allow_host"] is True
    get_settings.cache_clear()
