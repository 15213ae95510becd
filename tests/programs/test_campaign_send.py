"""Campaign sends against a real SMTP server (aiosmtpd) on a small scored brand.

What the issue asks to be shown: every message carries both unsubscribe headers and a
plain-text part; nobody in the holdout, without the channel's consent or on the
suppression list gets a message; a send that dies half-way resumes without a duplicate;
a one-click unsubscribe (a bare POST, as RFC 8058 has mail clients send it) flips the
consent and the next send skips the person; a tampered click link is refused.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import CampaignSend, EmailEvent, OutboxItem
from socialcrm.config import Settings
from socialcrm.outbound.email import SmtpSender
from socialcrm.outbound.suppression import record, suppress
from socialcrm.programs.campaigns import assignments, create_campaign, get_campaign
from socialcrm.programs.sending import (
    SEND_COUNTS,
    audience_preview,
    contacts,
    deliver_campaign,
    progress,
    send_campaign,
    sync_feedback,
    zone_for,
)
from socialcrm.programs.sending import test_send as send_a_test_copy
from socialcrm.programs.step import step_campaign_feedback
from socialcrm.store.workspace import Workspace
from tests.programs.campaign_brand import SmtpServer, copy_home, scored_home
from tests.waiting import wait_until

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)
"""Long after the brand's last touch (so only stated frequencies cap), at noon UTC."""
PUBLIC = "http://crm.test"
TEMPLATE = (
    "<p>Hi {{ first_name }},</p><p>{{ next_best_action_reason }}</p>"
    "{% if products %}<p>Yours: {{ products | join(', ') }}.</p>{% endif %}"
    '<p><a href="https://nordlicht.example/spring?x=1">See the spring range</a></p>'
)
SUBJECT = "Spring, {{ first_name }}"


@pytest.fixture(scope="session")
def brand_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scored_home(tmp_path_factory.mktemp("campaign-brand"))


@dataclass
class Env:
    ws: Workspace
    db: AppDB
    settings: Settings
    smtp: SmtpServer


@pytest.fixture
def env(tmp_path: Path, brand_home: Path) -> Iterator[Env]:
    home = copy_home(brand_home.parent, tmp_path / "ws")
    with SmtpServer() as smtp:
        settings = Settings(
            home=home,
            phone_region="DE",
            smtp_url=smtp.url,
            public_url=PUBLIC,
            email_rate_per_second=0,
            web_secret_key="k" * 40,
        )
        ws = Workspace.open(settings)
        db = AppDB(settings.resolved_database_url)
        try:
            yield Env(ws, db, settings, smtp)
        finally:
            db.close()
            ws.close()


def create(env: Env, name: str = "spring", segment: str = "high_value_buyer", **kw: object) -> dict:
    from socialcrm.programs.campaigns import audience_for

    return create_campaign(
        env.ws,
        name,
        audience_for(env.ws, segment=segment),
        starts_at=NOW,
        ends_at=NOW + timedelta(days=30),
        template=TEMPLATE,
        subject=SUBJECT,
        segment=segment,
        **kw,  # type: ignore[arg-type]
    )


def addresses(env: Env, people: list[str]) -> dict[str, str]:
    """Person → email address, as the send resolves it."""
    return {p: c.address.lower() for p, c in contacts(env.ws, people, "email").items() if c.address}


def groups_of(env: Env, name: str = "spring") -> tuple[list[str], list[str]]:
    g = assignments(env.ws, name)
    return (
        sorted(c for c, x in g.items() if x == "treatment"),
        sorted(c for c, x in g.items() if x == "control"),
    )


def test_every_message_has_both_unsubscribe_headers_and_a_text_part(env: Env) -> None:
    create(env)
    counts = send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    got = env.smtp.sink.messages
    assert set(counts) == set(SEND_COUNTS)
    assert counts["sent"] == len(got) > 20
    treated, _ = groups_of(env)
    # every treated person is accounted for once, and nothing waits (no send-at, no quiet hours)
    stopped = counts["no_consent"] + counts["suppressed"] + counts["capped"] + counts["failed"]
    assert counts["sent"] + stopped == len(treated)
    assert progress(env.db, "spring")["queued"] == 0
    for m in got:
        msg = m.message
        links = [x.strip(" <>") for x in str(msg["List-Unsubscribe"]).split(",")]
        assert [x.split(":")[0] for x in links] == ["http", "mailto"]
        assert links[0].startswith(f"{PUBLIC}/email/unsubscribe/")
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert text.get_content_type() == "text/plain" and "Hi " in text.get_content()
        assert msg["To"].lower() == m.rcpt_tos[0].lower()
    assert max(Counter(env.smtp.sink.recipients()).values()) == 1


def test_personalised_with_first_name_action_and_product_names(env: Env) -> None:
    create(env)
    send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    treated, _ = groups_of(env)
    who = contacts(env.ws, treated, "email")
    by_address = {c.address.lower(): c for c in who.values() if c.address}
    names = 0
    for m in env.smtp.sink.messages:
        person = by_address[m.rcpt_tos[0].lower()]
        text = m.message.get_body(preferencelist=("plain",)).get_content()
        first = person.first_name or "there"
        assert m.message["Subject"] == f"Spring, {first}"
        assert text.startswith(f"Hi {first},")
        if "Yours:" in text:
            names += 1
            bought = text.split("Yours:")[1].split(".")[0]
            assert not re.search(r"\bNL-[A-Z]{3}\b", bought)  # names, never product codes
    assert names > 0


def test_nobody_in_the_holdout_without_consent_or_suppressed_gets_a_message(env: Env) -> None:
    create(env)
    treated, control = groups_of(env)
    assert control, "the holdout is not empty"
    addr = addresses(env, treated + control)
    reachable = [p for p in treated if p in addr]
    withdrawn, blocked = reachable[0], reachable[1]
    # consent withdrawn after the campaign was created, on every record of the person
    records = env.ws.warehouse.read_arrow("identity_clusters").to_pylist()
    rows = [
        {
            "customer_id": r["record_id"],
            "purpose": "email_marketing",
            "status": "withdrawn",
            "recorded_at": NOW - timedelta(hours=1),
            "source": "test",
        }
        for r in records
        if r["customer_id"] == withdrawn
    ]
    old = env.ws.warehouse.read_arrow("consents")
    env.ws.warehouse.write(
        "consents", pa.concat_tables([old, pa.Table.from_pylist(rows, schema=old.schema)])
    )
    with env.db.session() as s:
        suppress(s, addr[blocked].upper(), "manual", "test")  # case does not dodge the list

    counts = send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    got = set(env.smtp.sink.recipients())
    assert counts["holdout"] == len(control)
    assert not got & {addr[p] for p in control if p in addr}
    assert addr[withdrawn] not in got and addr[blocked] not in got
    assert counts["no_consent"] >= 1 and counts["suppressed"] >= 1
    assert got <= {addr[p] for p in treated if p in addr}


class DiesAfter:
    """An SMTP sender that dies (like a killed worker) before its (n+1)-th message."""

    def __init__(self, settings: Settings, n: int) -> None:
        self.real = SmtpSender.from_settings(settings)
        self.left = n

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        if self.left == 0:
            raise KeyboardInterrupt("killed mid-send")
        self.left -= 1
        self.real.send(from_addr, to_addr, message)

    def close(self) -> None:
        self.real.close()


def test_a_send_that_dies_half_way_resumes_without_a_duplicate(env: Env) -> None:
    create(env)
    dying = DiesAfter(env.settings, 10)
    with pytest.raises(KeyboardInterrupt):
        send_campaign(env.ws, env.db, env.settings, "spring", now=NOW, sender=dying)
    dying.close()
    assert len(env.smtp.sink.messages) == 10
    with env.db.session() as s:
        log = s.scalars(select(CampaignSend)).all()
    assert len(log) == 1 and log[0].error == "KeyboardInterrupt: killed mid-send"
    # the items the dead pass held come back once their lease has run out
    later = NOW + timedelta(seconds=env.settings.delivery_lease_seconds + 60)
    counts = send_campaign(env.ws, env.db, env.settings, "spring", now=later)
    got = env.smtp.sink.recipients()
    assert counts["sent"] == len(got) - 10 > 0
    assert max(Counter(got).values()) == 1
    ids = [m.message["Message-ID"] for m in env.smtp.sink.messages]
    assert len(set(ids)) == len(ids)
    # and everyone the campaign could reach got exactly one message
    with env.db.session() as s:
        statuses = Counter(s.scalars(select(OutboxItem.status)).all())
    assert statuses["sent"] == len(got) and statuses["pending"] == statuses["sending"] == 0


def _unsubscribe_link(message) -> str:
    first = str(message["List-Unsubscribe"]).split(",")[0].strip(" <>")
    return first.removeprefix(PUBLIC)


def test_one_click_unsubscribe_flips_the_consent_and_the_next_send_skips_the_person(
    env: Env,
) -> None:
    from socialcrm.web.app import create_app

    create(env)
    send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    first = env.smtp.sink.messages[0]
    leaving = first.rcpt_tos[0].lower()
    with TestClient(create_app(env.settings)) as client:
        r = client.post(
            _unsubscribe_link(first.message),
            content="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert r.status_code == 200, r.text
    assert not client.cookies  # none was needed, none was sent
    before = len(env.smtp.sink.messages)
    counts = send_campaign(env.ws, env.db, env.settings, "spring", step="reminder",
                           now=NOW + timedelta(days=100))  # fmt: skip
    again = [m.rcpt_tos[0].lower() for m in env.smtp.sink.messages[before:]]
    assert again and leaving not in again
    assert counts["no_consent"] + counts["suppressed"] >= 1
    # the warehouse says so: a withdrawn consent and an unsubscribe touch
    treated, _ = groups_of(env)
    person = next(p for p, a in addresses(env, treated).items() if a == leaving)
    clusters = env.ws.warehouse.read_arrow("identity_clusters").to_pylist()
    records = {r["record_id"] for r in clusters if r["customer_id"] == person} or {person}
    cons = env.ws.warehouse.read_arrow("consents").to_pylist()
    mine = [c for c in cons if c["customer_id"] in records and c["source"] == "unsubscribe"]
    assert mine and all(c["status"] == "withdrawn" for c in mine)
    assert {c["purpose"] for c in mine} == {"email_marketing"}
    touches = env.ws.warehouse.read_arrow("touches").to_pylist()
    unsub = [t for t in touches if t["event"] == "unsubscribe" and t["campaign_id"] == "spring"]
    assert [t["customer_id"] for t in unsub] == [person]
    assert unsub[0]["touch_id"].startswith("email:")
    # the feedback sync is idempotent: events copied again (a sync that died before
    # marking them) add no touch and no consent row
    sync_feedback(env.ws, env.db)
    with env.db.session() as s:
        s.execute(update(EmailEvent).values(synced=False))
    again = sync_feedback(env.ws, env.db)
    assert again["events"] > 0 and again["touches"] == again["consents"] == 0


def test_a_tampered_click_link_is_refused(env: Env) -> None:
    from socialcrm.web.app import create_app

    create(env)
    send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    html = env.smtp.sink.messages[0].message.get_body(preferencelist=("html",)).get_content()
    path = re.search(r'href="' + re.escape(PUBLIC) + r'(/email/click/[^"]+)"', html).group(1)
    token = path.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with TestClient(create_app(env.settings)) as client:
        good = client.get(path, follow_redirects=False)
        bad = client.get(path.replace(token, flipped), follow_redirects=False)
    assert good.status_code == 302
    assert good.headers["location"] == "https://nordlicht.example/spring?x=1"
    assert bad.status_code == 400 and "location" not in bad.headers
    # the genuine click flows back into touches; the tampered one left nothing
    sync_feedback(env.ws, env.db)
    touches = env.ws.warehouse.read_arrow("touches").to_pylist()
    assert len([t for t in touches if t["event"] == "click" and t["campaign_id"] == "spring"]) == 1


def test_quiet_hours_defer_and_send_at_schedules(env: Env) -> None:
    night = datetime(2027, 6, 2, 1, 0, tzinfo=UTC)  # 03:00 in Berlin, 21:00 in New York
    create(env, quiet_hours="22-8")
    counts = send_campaign(env.ws, env.db, env.settings, "spring", now=night)
    treated, _ = groups_of(env)
    who = contacts(env.ws, treated, "email")
    with env.db.session() as s:
        items = s.scalars(select(OutboxItem).where(OutboxItem.campaign_id == "spring")).all()
    waiting = [i for i in items if i.status == "pending"]
    assert waiting, "people in quiet hours are deferred, not dropped"
    for i in waiting:
        local = i.next_attempt_at.replace(tzinfo=UTC).astimezone(who[i.customer_id].zone)
        assert (local.hour, local.minute) == (8, 0)
    for i in items:
        hour = night.astimezone(who[i.customer_id].zone).hour
        assert (i.status == "pending") == (hour >= 22 or hour < 8)  # deferred iff quiet there
    assert counts["sent"] == len(items) - len(waiting)
    morning = deliver_campaign(
        env.ws, env.db, env.settings, "spring", now=night + timedelta(hours=12)
    )
    assert morning["sent"] == len(waiting)
    assert max(Counter(env.smtp.sink.recipients()).values()) == 1

    create(env, name="later", segment="regular", send_at=NOW + timedelta(days=1))
    early = send_campaign(env.ws, env.db, env.settings, "later", now=NOW)
    waiting = progress(env.db, "later")["queued"]
    assert early["sent"] == 0 and waiting > 0
    on_time = deliver_campaign(env.ws, env.db, env.settings, "later", now=NOW + timedelta(days=1))
    assert on_time["sent"] == waiting


def test_contact_frequency_caps_the_next_campaign(env: Env) -> None:
    create(env)
    send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    first = set(env.smtp.sink.recipients())
    create(env, name="summer", seed=7)
    counts = send_campaign(env.ws, env.db, env.settings, "summer", now=NOW + timedelta(days=2))
    second = env.smtp.sink.recipients()[len(first) :]
    treated, _ = groups_of(env, "summer")
    who = {c.address.lower(): c for c in contacts(env.ws, treated, "email").values() if c.address}
    # two days after the first mail, only people who allow daily mail (or said nothing) get more
    for a in second:
        if a in first:
            assert who[a].frequency in (None, "daily")
    assert counts["capped"] > 0


def test_feedback_flows_into_touches_once(env: Env) -> None:
    create(env)
    send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    treated, _ = groups_of(env)
    person = sorted(addresses(env, treated))[0]
    with env.db.session() as s:
        record(s, "open", campaign_id="spring", customer_id=person, at=NOW.replace(tzinfo=None))
        record(s, "click", campaign_id="spring", customer_id=person, detail="https://x.example")
    before = env.ws.warehouse.rows("touches")
    from socialcrm.pipeline import run_context

    written = step_campaign_feedback(env.ws, run_context(env.ws))
    assert written == {"touches": before + 2}
    assert step_campaign_feedback(env.ws, run_context(env.ws)) == {}
    touches = env.ws.warehouse.read_arrow("touches").to_pylist()
    mine = [t for t in touches if t["customer_id"] == person and t["campaign_id"] == "spring"]
    assert sorted(t["event"] for t in mine) == ["click", "open", "sent"]
    assert all(t["channel"] == "email" for t in mine)


def test_audience_preview_accounts_for_everyone(env: Env) -> None:
    p = audience_preview(env.ws, env.db, env.settings, segment="regular", now=NOW)
    assert p["audience"] == sum(v for k, v in p.items() if k != "audience")
    assert p["reachable"] > 0 and p["holdout"] > 0
    with pytest.raises(ValueError, match="unknown segment"):
        audience_preview(env.ws, env.db, env.settings, segment="nope")


def test_test_send_goes_to_the_given_address_only(env: Env) -> None:
    create(env)
    send_a_test_copy(env.ws, env.db, env.settings, "spring", "me@example.com")
    [m] = env.smtp.sink.messages
    assert m.rcpt_tos == ["me@example.com"] and m.message["Subject"].startswith("[test] Spring")
    with env.db.session() as s:
        assert s.scalars(select(OutboxItem)).all() == []


def test_a_private_message_campaign_queues_to_consenting_handles(env: Env) -> None:
    from socialcrm.programs.campaigns import audience_for

    people = audience_for(env.ws, segment="regular") + audience_for(
        env.ws, segment="high_value_buyer"
    )
    counts = create_campaign(env.ws, "dm", people, starts_at=NOW, ends_at=NOW + timedelta(days=9),
                             channel="mastodon", template="Hi {{ first_name }}!")  # fmt: skip
    assert get_campaign(env.ws, "dm")["channel"] == "mastodon"
    sent = send_campaign(env.ws, env.db, env.settings, "dm", now=NOW)
    with env.db.session() as s:
        items = s.scalars(select(OutboxItem).where(OutboxItem.campaign_id == "dm")).all()
    treated, _ = groups_of(env, "dm")
    handles = {p: c.address for p, c in contacts(env.ws, treated, "mastodon").items() if c.address}
    assert items and counts["treatment"] >= len(items)
    assert sent["sent"] == 0  # the delivery loop sends them through the Mastodon connector
    for i in items:
        assert i.connector == "mastodon_dm" and i.recipient == handles[i.customer_id].lstrip("@")
        assert i.body.startswith("Hi ")

    class Mastodon:  # the connector's part the outbox uses (a recorded-API fake elsewhere)
        name, platform, account = "mastodon_dm", "mastodon", "nordlicht@mastodon.social"

        def __init__(self) -> None:
            self.got: list[tuple[str, str]] = []

        def post_reply(self, in_reply_to: str | None, body: str, key: str) -> str:
            raise AssertionError("a private message is not a reply")

        def send_direct(self, handle: str, body: str, key: str) -> str:
            self.got.append((handle, key))
            return f"status-{len(self.got)}"

    from socialcrm.outbound.outbox import deliver_pass

    mastodon = Mastodon()
    done = deliver_pass(env.db, mastodon, max_attempts=3, now=NOW.replace(tzinfo=None))
    assert done["sent"] == len(items) == len({k for _, k in mastodon.got})
    # the sent messages reach touches (channel social) once, and the report counts them
    assert sync_feedback(env.ws, env.db)["touches"] == len(items)
    assert sync_feedback(env.ws, env.db)["touches"] == 0
    touches = env.ws.warehouse.read_arrow("touches").to_pylist()
    social = [t for t in touches if t["campaign_id"] == "dm"]
    assert len(social) == len(items) and {t["channel"] for t in social} == {"social"}


def test_the_context_a_template_gets_is_the_one_it_was_checked_with(tmp_path: Path) -> None:
    from socialcrm.programs.campaigns import SAMPLE_CONTEXT
    from socialcrm.programs.sending import personal_context

    s = Settings(home=tmp_path, public_url=PUBLIC, web_secret_key="k" * 40)
    ctx = personal_context(None, settings=s, campaign_id="spring")
    assert set(ctx) == set(SAMPLE_CONTEXT)
    assert ctx["first_name"] == "there" and ctx["products"] == []
    assert str(ctx["unsubscribe_url"]).startswith(f"{PUBLIC}/email/unsubscribe/")


def test_zone_from_country() -> None:
    assert zone_for("fr").key == "Europe/Paris"
    assert zone_for("XX", "Europe/Lisbon").key == "Europe/Lisbon"


def test_doctests() -> None:
    import doctest

    from socialcrm.programs import campaigns, sending

    assert doctest.testmod(sending).failed == 0
    assert doctest.testmod(campaigns).failed == 0


def test_the_delivery_loop_sends_what_comes_due_later(env: Env) -> None:
    """send_at in the future when `campaign send` runs: it queues; the web app's background
    delivery sends once due, with the campaign side's consent check. The send is run an
    hour "before" (its clock passed in), so nothing hangs on how fast this machine is."""

    from socialcrm.web.app import create_app

    due = datetime.now(UTC)
    create(env, send_at=due)
    counts = send_campaign(env.ws, env.db, env.settings, "spring", now=due - timedelta(hours=1))
    waiting = progress(env.db, "spring")["queued"]
    assert counts["sent"] == 0 and waiting > 0 and not env.smtp.sink.messages
    settings = env.settings.model_copy(update={"delivery_interval_seconds": 0.2})
    with TestClient(create_app(settings)):
        sink = env.smtp.sink
        wait_until(lambda: len(sink.messages) >= waiting, "the due messages sent", bound=30)
    assert len(env.smtp.sink.messages) == waiting
    assert max(Counter(env.smtp.sink.recipients()).values()) == 1
    assert progress(env.db, "spring") == {"sent": waiting, "queued": 0, "skipped": 0, "failed": 0}


def test_consent_and_suppression_are_checked_again_right_before_sending(env: Env) -> None:
    """Queued for later; then one person withdraws and another unsubscribes elsewhere: when
    the messages come due, neither goes out."""
    create(env, send_at=NOW + timedelta(days=1))
    send_campaign(env.ws, env.db, env.settings, "spring", now=NOW)
    with env.db.session() as s:
        items = s.scalars(select(OutboxItem).where(OutboxItem.status == "pending")).all()
    withdrawn, blocked = items[0], items[1]
    records = env.ws.warehouse.read_arrow("identity_clusters").to_pylist()
    rows = [
        {"customer_id": r["record_id"], "purpose": "email_marketing", "status": "withdrawn",
         "recorded_at": NOW + timedelta(hours=1), "source": "call_centre"}
        for r in records if r["customer_id"] == withdrawn.customer_id
    ]  # fmt: skip
    old = env.ws.warehouse.read_arrow("consents")
    env.ws.warehouse.write(
        "consents", pa.concat_tables([old, pa.Table.from_pylist(rows, schema=old.schema)])
    )
    with env.db.session() as s:
        suppress(s, str(blocked.recipient), "complaint", "test")
    due = deliver_campaign(env.ws, env.db, env.settings, "spring", now=NOW + timedelta(days=1))
    got = set(env.smtp.sink.recipients())
    assert withdrawn.recipient not in got and blocked.recipient not in got
    assert (due["no_consent"], due["suppressed"]) == (1, 1)
    assert due["sent"] == len(items) - 2 == len(got)


def test_addresses_and_handles_stay_out_of_the_send_log() -> None:
    from socialcrm.programs.sending import _ADDRESS

    said = "not one address: 'ann%x@shop.example', @eve@mastodon.example and bo@x.io"
    redacted = _ADDRESS.sub("<address>", said)
    assert "@" not in redacted and redacted.count("<address>") == 3
    assert redacted.startswith("not one address: ")
