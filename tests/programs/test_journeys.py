"""Journeys against a real SMTP server (aiosmtpd): who enters, who waits, who is held out,
who leaves, who gets one email — and a second run that sends nobody anything twice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import EmailEvent, JourneyEnrolment
from socialcrm.config import Settings
from socialcrm.programs.campaigns import assignments, get_campaign
from socialcrm.programs.journeys import (
    JourneyError,
    create_journey,
    list_journeys,
    run_journey,
    run_journeys,
    set_active,
)
from socialcrm.store.schemas import CONSENTS, CUSTOMERS, IDENTITIES, ORDERS
from socialcrm.store.workspace import Workspace
from tests.programs.campaign_brand import Sink, SmtpServer

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
N = 40
NO_CONSENT = "c11"
TEMPLATE = "<p>Hello {{ first_name }}, we would love to see you again.</p>"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def _write(ws: Workspace, name: str, schema: pa.Schema, rows: list[dict]) -> None:
    ws.warehouse.write(name, pa.Table.from_pylist(rows, schema=schema))


def segments(ws: Workspace, at_risk: range, scores: dict[str, float] | None = None) -> None:
    """customer_segments: ``at_risk`` people in at_risk_high_value, the others regular."""
    scores = scores or {}
    ws.warehouse.write(
        "customer_segments",
        pa.table(
            {
                "customer_id": [f"c{i}" for i in range(N)],
                "segment": ["at_risk_high_value" if i in at_risk else "regular" for i in range(N)],
                "tier": ["top" if i % 2 else "middle" for i in range(N)],
                "transaction_score": [scores.get(f"c{i}", 70.0) for i in range(N)],
            }
        ),
    )


@pytest.fixture
def shop(tmp_path, smtp) -> Iterator[tuple[Workspace, AppDB, Settings, Sink]]:
    inbox, port = smtp.sink, smtp.port
    settings = Settings(
        home=tmp_path / "ws",
        smtp_url=f"smtp://127.0.0.1:{port}?from=brand@example.com",
        public_url="http://127.0.0.1:9",
        email_rate_per_second=0,
    )
    with Workspace.open(settings) as ws:
        made = T0 - timedelta(days=400)
        _write(ws, "customers", CUSTOMERS.arrow_schema, [
            {"customer_id": f"c{i}", "source": "shop", "created_at": made,
             "first_name": f"Ann{i}", "country": "DE", "preferred_channel": "email"}
            for i in range(N)
        ])  # fmt: skip
        _write(ws, "identities", IDENTITIES.arrow_schema, [
            {"customer_id": f"c{i}", "kind": "email", "value": f"c{i}@example.com",
             "source": "shop", "verified": True, "last_seen": made}
            for i in range(N)
        ])  # fmt: skip
        _write(ws, "consents", CONSENTS.arrow_schema, [
            {"customer_id": f"c{i}", "purpose": "email_marketing", "recorded_at": made,
             "status": "withdrawn" if f"c{i}" == NO_CONSENT else "granted", "source": "shop"}
            for i in range(N)
        ])  # fmt: skip
        _write(ws, "orders", ORDERS.arrow_schema, [
            {"order_id": f"old{i}", "customer_id": f"c{i}", "ordered_at": made,
             "amount": 40.0, "currency": "EUR", "status": "completed"}
            for i in range(N)
        ])  # fmt: skip
        segments(ws, range(10))
        db = AppDB(settings.resolved_database_url)
        try:
            yield ws, db, settings, inbox
        finally:
            db.close()


def _states(db: AppDB, name: str = "save") -> dict[str, JourneyEnrolment]:
    with db.session() as s:
        return {e.customer_id: e for e in s.scalars(select(JourneyEnrolment))}


def test_a_segment_journey_from_entry_to_one_email(shop) -> None:
    ws, db, settings, inbox = shop
    with db.session() as s:
        create_journey(s, name="save", trigger="segment", segment="at_risk_high_value",
                       template=TEMPLATE, subject="We miss you, {{ first_name }}",
                       wait_hours=48, holdout_share=0.3, action="retention_gesture")  # fmt: skip
    # first run: who is already at risk is the baseline, not an entrant
    first = run_journey(ws, db, settings, "save", now=T0)
    assert first["baseline"] == 10 and first["entered"] == 0
    # between runs, c10…c39 enter the segment; c0…c9 stay
    segments(ws, range(N))
    t1 = T0 + timedelta(days=1)
    second = run_journey(ws, db, settings, "save", now=t1)
    assert second["entered"] == 29 and second["left_out"] == 1  # c11 has no consent
    assert second["sent"] == 0 and inbox.to() == []  # still waiting
    cid = "journey-save-1"
    camp = get_campaign(ws, cid)
    assert camp["segment"] == "at_risk_high_value" and camp["action"] == "retention_gesture"
    groups = assignments(ws, cid)
    entrants = {f"c{i}" for i in range(10, N)} - {NO_CONSENT}
    assert set(groups) == entrants
    control = {c for c, g in groups.items() if g == "control"}
    assert 4 <= len(control) <= 14  # 30% of 29, stratified: 8 or 9
    # while waiting: c12 buys (converted), c13 unsubscribes from an earlier email
    treated = sorted(entrants - control)
    buyer, leaver = treated[0], treated[1]
    ws.warehouse.write(
        "orders",
        pa.concat_tables([
            ws.warehouse.read_arrow("orders"),
            pa.Table.from_pylist([{"order_id": "new1", "customer_id": buyer,
                                   "ordered_at": t1 + timedelta(hours=5), "amount": 60.0,
                                   "currency": "EUR", "status": "completed"}],
                                 schema=ORDERS.arrow_schema),
        ]),
    )  # fmt: skip
    with db.session() as s:
        s.add(EmailEvent(kind="unsubscribe", customer_id=leaver, campaign_id="spring",
                         at=(t1 + timedelta(hours=6)).replace(tzinfo=None)))  # fmt: skip
    # not due yet one hour before the wait ends
    early = run_journey(ws, db, settings, "save", now=t1 + timedelta(hours=47))
    assert early["sent"] == 0 and early["converted"] == 1 and early["unsubscribed"] == 1
    assert inbox.to() == []
    due = run_journey(ws, db, settings, "save", now=t1 + timedelta(hours=49))
    expected = sorted(f"{c}@example.com" for c in set(treated) - {buyer, leaver})
    assert len(expected) >= 10 and inbox.to() == expected
    assert due["sent"] == len(expected) and due["held_out"] == len(control)
    # no message to the holdout, the baseline, c11, the buyer or the leaver
    for m in (r.message for r in inbox.messages):
        assert m["List-Unsubscribe"] and m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert m["Subject"].startswith("We miss you, Ann")
    states = _states(db)
    assert {c for c, e in states.items() if e.state == "baseline"} == {f"c{i}" for i in range(10)}
    assert states[buyer].exit_reason == "converted" and states[leaver].exit_reason == "unsubscribed"
    assert {c for c, e in states.items() if e.state == "held_out"} == control
    # again: nothing new to enrol, nothing sent twice
    again = run_journey(ws, db, settings, "save", now=t1 + timedelta(hours=60))
    assert again["entered"] == again["sent"] == 0 and inbox.to() == expected
    with db.session() as s:
        row = next(r for r in list_journeys(s) if r["name"] == "save")
    assert row["sent"] == len(expected) and row["held_out"] == len(control)
    assert row["baseline"] == 10 and row["converted"] >= 1


def test_a_crash_between_send_and_bookkeeping_sends_nobody_twice(shop) -> None:
    ws, db, settings, inbox = shop
    with db.session() as s:
        create_journey(s, name="now", trigger="segment", segment="at_risk_high_value",
                       template=TEMPLATE, subject="Hi", wait_hours=0, holdout_share=0.2,
                       include_current=True)  # fmt: skip
    done = run_journey(ws, db, settings, "now", now=T0)
    assert done["entered"] == 10 and done["sent"] + done["held_out"] == 10
    sent = inbox.to()
    assert len(sent) == done["sent"] > 0
    # as if the process died after the send, before recording it
    with db.session() as s:
        for e in s.scalars(select(JourneyEnrolment).where(JourneyEnrolment.state == "sent")):
            e.state = "waiting"
    again = run_journey(ws, db, settings, "now", now=T0 + timedelta(minutes=5))
    assert again["sent"] == done["sent"]  # recorded as sent…
    assert inbox.to() == sent  # …but not sent again


def test_a_negative_post_by_a_valuable_customer(shop) -> None:
    ws, db, settings, inbox = shop
    segments(ws, range(0), scores={"c20": 85.0, "c21": 30.0})

    def posts(rows: list[tuple[str, str, datetime, str, bool]]) -> None:
        ws.warehouse.write(
            "posts_enriched",
            pa.table({
                "post_id": [r[0] for r in rows], "customer_id": [r[1] for r in rows],
                "created_at": pa.array([r[2] for r in rows], pa.timestamp("us", tz="UTC")),
                "sentiment_label": [r[3] for r in rows], "is_spam": [r[4] for r in rows],
                "platform": ["mastodon"] * len(rows),
            }),
        )  # fmt: skip

    old = [("p1", "c20", T0 - timedelta(days=3), "negative", False)]
    posts(old)
    with db.session() as s:
        create_journey(s, name="sorry", trigger="negative_post", template=TEMPLATE,
                       subject="Sorry", wait_hours=0, holdout_share=0.1)  # fmt: skip
    assert run_journey(ws, db, settings, "sorry", now=T0)["entered"] == 0  # history
    posts([
        *old,
        ("p2", "c20", T0 + timedelta(hours=1), "negative", False),  # valuable: enters
        ("p3", "c21", T0 + timedelta(hours=1), "negative", False),  # score 30: no
        ("p4", "c22", T0 + timedelta(hours=1), "negative", True),  # spam: no
        ("p5", "c23", T0 + timedelta(hours=1), "positive", False),  # not negative
    ])  # fmt: skip
    done = run_journey(ws, db, settings, "sorry", now=T0 + timedelta(hours=2))
    assert done["entered"] == 1
    e = _states(db)["c20"]
    assert e.reason == "negative post p2 on mastodon"
    assert inbox.to() == (["c20@example.com"] if e.grp == "treatment" else [])
    assert run_journey(ws, db, settings, "sorry", now=T0 + timedelta(hours=3))["entered"] == 0


def test_paused_journeys_do_nothing_and_bad_ones_are_refused(shop) -> None:
    ws, db, settings, inbox = shop
    with db.session() as s:
        create_journey(s, name="p", trigger="segment", segment="at_risk_high_value",
                       template=TEMPLATE, subject="Hi", wait_hours=0,
                       include_current=True)  # fmt: skip
        set_active(s, "p", False)
    assert run_journeys(ws, db, settings, now=T0) == {}
    assert inbox.to() == []
    with db.session() as s:
        for kwargs, message in [
            ({"name": "Bad Name"}, "lower-case"),
            ({"name": "p"}, "already exists"),
            ({"trigger": "birthday"}, "unknown trigger"),
            ({"segment": None}, "needs the segment"),
            ({"subject": None}, "needs a subject"),
            ({"template": "{% if %}"}, "template"),
            ({"holdout_share": 1.0}, "holdout share"),
        ]:
            args = {"name": "q", "trigger": "segment", "segment": "x", "template": TEMPLATE,
                    "subject": "Hi", "wait_hours": 0.0} | kwargs  # fmt: skip
            with pytest.raises(JourneyError, match=message):
                create_journey(s, **args)


def test_the_cli_creates_runs_and_lists(shop, tmp_path, monkeypatch) -> None:
    import json

    from typer.testing import CliRunner

    from socialcrm.cli import app
    from socialcrm.config import get_settings

    _ws, _db, settings, inbox = shop
    monkeypatch.setenv("SOCIALCRM_HOME", str(settings.home))
    monkeypatch.setenv("SOCIALCRM_SMTP_URL", settings.smtp_url.get_secret_value())
    monkeypatch.setenv("SOCIALCRM_PUBLIC_URL", str(settings.public_url))
    get_settings.cache_clear()
    template = tmp_path / "hello.html"
    template.write_text(TEMPLATE)
    runner = CliRunner()
    try:
        for cmd in (
            ["journey", "--help"],
            ["journey", "create", "--help"],
            ["journey", "run", "--help"],
        ):
            r = runner.invoke(app, cmd)
            assert r.exit_code == 0 and "Example: socialcrm journey" in r.output, cmd
        made = runner.invoke(app, ["journey", "create", "hello", "--segment", "at_risk_high_value",
                                   "--template", str(template), "--subject", "Hi",
                                   "--include-current", "--holdout", "0.2", "--json"])  # fmt: skip
        assert made.exit_code == 0, made.output
        bad = runner.invoke(app, ["journey", "create", "x", "--template", str(template)])
        assert bad.exit_code == 2 and "give one trigger" in bad.output
        ran = runner.invoke(app, ["journey", "run", "--json"])
        assert ran.exit_code == 0, ran.output
        done = json.loads(ran.stdout)["hello"]
        assert done["entered"] == 10 and done["sent"] + done["held_out"] == 10
        assert len(inbox.to()) == done["sent"]
        watched = runner.invoke(app, ["journey", "run", "--watch", "--interval", "1",
                                      "--passes", "2", "--json"])  # fmt: skip
        assert watched.exit_code == 0, watched.output
        passes = [json.loads(line) for line in watched.stdout.splitlines() if line.strip()]
        assert len(passes) == 2 and all(p["hello"]["sent"] == 0 for p in passes)
        assert len(inbox.to()) == done["sent"]  # nothing twice
        listed = json.loads(runner.invoke(app, ["journey", "list", "--json"]).stdout)
        assert listed[0]["name"] == "hello" and listed[0]["sent"] == done["sent"]
        assert runner.invoke(app, ["journey", "pause", "hello"]).exit_code == 0
        assert json.loads(runner.invoke(app, ["journey", "run", "--json"]).stdout) == {}
        unknown = runner.invoke(app, ["journey", "run", "nope"])
        assert unknown.exit_code == 2 and "unknown journey" in unknown.output
    finally:
        get_settings.cache_clear()


def test_the_web_app_scheduler_runs_journeys(shop) -> None:
    import asyncio

    from socialcrm.programs.journeys import start

    _ws, db, settings, inbox = shop
    with db.session() as s:
        create_journey(s, name="bg", trigger="segment", segment="at_risk_high_value",
                       template=TEMPLATE, subject="Hi", wait_hours=0,
                       include_current=True)  # fmt: skip
    assert start(db, settings) is None  # off by default

    async def two_passes() -> int:
        sched = start(db, settings.model_copy(update={"journey_interval_seconds": 0.05}))
        assert sched is not None
        for _ in range(600):  # at most 30 s
            if sched.passes >= 2:
                break
            await asyncio.sleep(0.05)
        await sched.stop()
        return sched.passes

    assert asyncio.run(two_passes()) >= 2
    with db.session() as s:
        states = {e.state for e in s.scalars(select(JourneyEnrolment))}
    assert states <= {"sent", "held_out"} and "sent" in states
    assert len(inbox.to()) == len(set(inbox.to()))  # one message each
