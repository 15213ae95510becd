"""The preference centre and the sign-up forms over HTTP (a real server on loopback).

The warehouse is the web tests' known one (customers c000…c059, user{i}@example.com);
each test takes its own people, and its own client address (``X-Forwarded-For`` from a
trusted proxy), so that the per-client rate limit of one test does not touch another.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import AuditEntry, ConsentRecord, OutboxItem, Signup, Suppression
from socialcrm.config import Settings
from socialcrm.outbound import mail
from socialcrm.outbound.templates import RenderedEmail
from socialcrm.outbound.tokens import tokens_for
from socialcrm.preferences.centre import WORDING_VERSION
from socialcrm.store.schemas import input_table
from socialcrm.store.warehouse import Warehouse
from tests.waiting import wait_until
from tests.web.conftest import XSS, build_warehouse, serve

CATALOGUE = Path(__file__).parents[2] / "src" / "socialcrm" / "synth" / "catalogue.json"
TOPICS = {"apparel", "hiking", "lighting", "trail_running"}  # some of the catalogue's
_ips = count(1)


class Public:
    """The running app and what a test needs around it."""

    def __init__(self, url: str, settings: Settings) -> None:
        self.url, self.settings = url, settings
        self.db = AppDB(settings.resolved_database_url)

    def client(self) -> httpx.Client:
        """A browser-like client from a client address of its own."""
        ip = f"10.0.{next(_ips) // 250}.{next(_ips) % 250 + 1}"
        return httpx.Client(base_url=self.url, timeout=30, headers={"X-Forwarded-For": ip})

    def token(self, person: str, at: datetime | None = None) -> str:
        return tokens_for(self.settings).make_timed("preferences", [person], at)

    def warehouse(self, table: str) -> list[dict]:
        return Warehouse(self.settings.warehouse_dir).read_arrow(table).to_pylist()


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:
    home = tmp_path_factory.mktemp("prefs") / "ws"
    build_warehouse(home / "warehouse")
    widen(Warehouse(home / "warehouse"))
    shutil.copy(CATALOGUE, home / "catalogue.json")
    settings = Settings(
        home=home,
        public_url="http://crm.test",
        email_from="news@nordlicht.example",
        trusted_proxies=["127.0.0.1"],
        web_token_cache_seconds=0,
    )
    for url in serve(settings):
        p = Public(url, settings)
        yield p
        p.db.close()


def widen(w: Warehouse) -> None:
    """The input tables with every column of their schema, as an import writes them (the
    web tests' warehouse is written by hand with some columns only)."""
    for name in ("customers", "identities", "consents"):
        t = w.read_arrow(name)
        schema = input_table(name).arrow_schema
        cols = {
            f.name: t.column(f.name) if f.name in t.column_names else pa.nulls(t.num_rows, f.type)
            for f in schema
        }
        w.write(name, pa.table(cols).cast(schema))


def csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def field(html: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', html).group(1)


def consents_of(p: Public, record: str) -> list[tuple[str, str, str]]:
    return sorted(
        (r["purpose"], r["status"], r["source"])
        for r in p.warehouse("consents")
        if r["customer_id"] == record and r["source"] in ("preference_centre", "signup_form")
    )


def customer(p: Public, record: str) -> dict:
    return next(r for r in p.warehouse("customers") if r["customer_id"] == record)


# -- links --------------------------------------------------------------------------------
def test_a_good_link_opens_the_centre_with_the_brand_and_the_person_s_choices(public) -> None:
    with public.client() as c:
        r = c.get(f"/preferences/{public.token('c002')}")
    assert r.status_code == 200
    assert "Your preferences at Nordlicht" in r.text
    assert f"Wording version {WORDING_VERSION}" in r.text
    # the staff app's navigation is not on a public page
    assert "/customers" not in r.text and "Sign out" not in r.text
    # c002 prefers email in the warehouse, but no consent: nothing is ticked
    assert 'value="email" checked' not in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("make", "status", "words"),
    [
        (lambda p: p.token("c002")[:-3] + "abc", 400, "This link does not work"),
        (lambda p: p.token("c002", datetime.now(UTC) - timedelta(days=91)), 410, "expired"),
        (lambda p: tokens_for(p.settings).make_timed("signup", ["c002"]), 400, "does not work"),
        (lambda p: tokens_for(p.settings).make("unsubscribe", ["x", "c002"]), 400, "not work"),
    ],
    ids=["tampered", "expired", "another purpose", "an unsubscribe token"],
)
def test_a_tampered_expired_or_foreign_token_opens_nothing(public, make, status, words) -> None:
    with public.client() as c:
        for path in ("", "/unsubscribe"):
            r = c.get(f"/preferences/{make(public)}{path}")
            assert r.status_code == status, path
            assert words in r.text
            assert "Your preferences at" not in r.text
            # and a way forward: ask for a new link
            assert 'action="/preferences/new-link"' in r.text


def test_a_link_works_for_its_days_then_expires(public) -> None:
    with public.client() as c:
        fresh = public.token("c002", datetime.now(UTC) - timedelta(days=89))
        assert c.get(f"/preferences/{fresh}").status_code == 200
        old = public.token("c002", datetime.now(UTC) - timedelta(days=90, minutes=1))
        assert c.get(f"/preferences/{old}").status_code == 410


# -- saving -------------------------------------------------------------------------------
def _save(c: httpx.Client, token: str, **choices: object) -> httpx.Response:
    page = c.get(f"/preferences/{token}").text
    data = {"csrf_token": csrf(page), "wording_version": WORDING_VERSION, **choices}
    return c.post(f"/preferences/{token}", data=data)


def test_saving_needs_the_session_s_csrf_token(public) -> None:
    token = public.token("c003")
    with public.client() as c:
        c.get(f"/preferences/{token}")
        for data in ({"channel": "email"}, {"channel": "email", "csrf_token": "forged"}):
            assert c.post(f"/preferences/{token}", data=data).status_code == 403
    with public.db.session() as s:
        assert (
            s.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == "c003")).all() == []
        )


def test_a_change_writes_consents_preferences_and_the_suppression_list(public) -> None:
    token = public.token("c005")
    with public.client() as c:
        r = _save(
            c,
            token,
            channel=["email", "sms"],
            frequency="monthly",
            topic=["hiking", "lighting"],
            site=["mastodon", "bluesky"],
            language="de",
            first_name="Ada",
            last_name="Byron",
        )
        assert r.status_code == 303 and r.headers["location"] == f"/preferences/{token}?saved=1"
        page = c.get(r.headers["location"]).text
    assert "Saved. Your choices count from now on." in page
    assert 'value="email" checked' in page and 'value="monthly" checked' in page
    assert 'value="de" selected' in page and 'lang="de"' in page
    # the warehouse: a consent per decision, source preference_centre; the Four Ps columns
    assert consents_of(public, "c005") == [
        ("email_marketing", "granted", "preference_centre"),
        ("sms_marketing", "granted", "preference_centre"),
    ]
    row = customer(public, "c005")
    assert (row["contact_frequency"], row["interests"]) == ("monthly", "hiking;lighting")
    assert (row["preferred_social_sites"], row["preferred_channel"]) == (
        "mastodon;bluesky",
        "email",
    )
    assert (row["first_name"], row["last_name"], row["city"]) == ("Ada", "Byron", "Berlin")
    with public.db.session() as s:
        recs = s.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == "c005")).all()
        assert {(r.purpose, r.channel, r.wording_version, r.synced) for r in recs} == {
            ("email_marketing", "email", WORDING_VERSION, True),
            ("sms_marketing", "sms", WORDING_VERSION, True),
        }
        assert (
            s.scalar(
                select(AuditEntry).where(
                    AuditEntry.action == "preferences.save", AuditEntry.target == "c005"
                )
            )
            is not None
        )

    # email off: withdrawn, and the address suppressed at once (the next message stops)
    with public.client() as c:
        assert _save(c, token, channel=["sms"], frequency="weekly").status_code == 303
    assert ("email_marketing", "withdrawn", "preference_centre") in consents_of(public, "c005")
    with public.db.session() as s:
        sup = s.scalar(select(Suppression).where(Suppression.address == "user5@example.com"))
        assert sup is not None and sup.reason == "unsubscribe"
    # and on again: the person's own opt-in lifts an unsubscribe (never a bounce)
    with public.client() as c:
        assert _save(c, token, channel=["email"], frequency="weekly").status_code == 303
    with public.db.session() as s:
        assert (
            s.scalar(select(Suppression).where(Suppression.address == "user5@example.com")) is None
        )
    assert customer(public, "c005")["contact_frequency"] == "weekly"


def test_a_choice_the_centre_never_offered_is_refused(public) -> None:
    token = public.token("c006")
    with public.client() as c:
        for bad in (
            {"channel": "fax"},
            {"topic": "x" * 50},
            {"frequency": "hourly"},
            {"language": "tlh"},
            {"site": "myspace"},
        ):
            r = _save(c, token, **bad)
            assert r.status_code == 422, bad
    with public.db.session() as s:
        assert (
            s.scalars(select(ConsentRecord).where(ConsentRecord.customer_id == "c006")).all() == []
        )


def test_names_and_social_text_are_escaped(public) -> None:
    token = public.token("c007")
    with public.client() as c:
        assert _save(c, token, channel=["email"], first_name=XSS[:100]).status_code == 303
        page = c.get(f"/preferences/{token}").text
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


# -- unsubscribe from everything ----------------------------------------------------------
def test_unsubscribe_from_everything_asks_first_then_works_once(public) -> None:
    token = public.token("c004")
    with public.client() as c:
        assert _save(c, token, channel=["email", "phone"], frequency="monthly").status_code == 303
        ask = c.get(f"/preferences/{token}/unsubscribe")
        assert ask.status_code == 200 and "Unsubscribe from everything?" in ask.text
        assert (
            consents_of(public, "c004").count(("email_marketing", "withdrawn", "preference_centre"))
            == 0
        )
        data = {"csrf_token": csrf(ask.text), "action": field(ask.text, "action")}
        # the button's single-use token, without the session's CSRF token: refused
        assert (
            c.post(f"/preferences/{token}/unsubscribe", data={"action": data["action"]}).status_code
            == 403
        )
        done = c.post(f"/preferences/{token}/unsubscribe", data=data)
        assert done.status_code == 200 and "You are unsubscribed from everything" in done.text
        replay = c.post(f"/preferences/{token}/unsubscribe", data=data)
        assert replay.status_code == 409 and "already used" in replay.text
        page = c.get(f"/preferences/{token}").text
    assert "You are unsubscribed from everything" in page
    assert 'value="email" checked' not in page
    withdrawn = [c for c in consents_of(public, "c004") if c[1] == "withdrawn"]
    assert withdrawn == [
        ("email_marketing", "withdrawn", "preference_centre"),
        ("phone_marketing", "withdrawn", "preference_centre"),
    ]
    row = customer(public, "c004")
    assert (row["contact_frequency"], row["preferred_channel"]) == ("never", "none")
    with public.db.session() as s:
        assert (
            s.scalar(select(Suppression.reason).where(Suppression.address == "user4@example.com"))
            == "unsubscribe"
        )
        n = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "preferences.unsubscribe_all", AuditEntry.target == "c004"
            )
        ).all()
        assert len(n) == 1


def test_an_action_token_for_another_person_or_tampered_does_nothing(public) -> None:
    mine, theirs = public.token("c008"), public.token("c009")
    with public.client() as c:
        ask = c.get(f"/preferences/{theirs}/unsubscribe").text
        c.get(f"/preferences/{mine}")
        data = {"csrf_token": csrf(ask), "action": field(ask, "action")}
        assert c.post(f"/preferences/{mine}/unsubscribe", data=data).status_code == 400
        data["action"] = data["action"][:-2] + "zz"
        assert c.post(f"/preferences/{theirs}/unsubscribe", data=data).status_code == 400
    with public.db.session() as s:
        assert (
            s.scalars(
                select(Suppression).where(Suppression.customer_id.in_(["c008", "c009"]))
            ).all()
            == []
        )


# -- the "send me my link" form: no enumeration -------------------------------------------
def _notices(p: Public, address: str) -> list[OutboxItem]:
    with p.db.session() as s:
        rows = s.scalars(
            select(OutboxItem).where(
                OutboxItem.recipient == address, OutboxItem.created_by == "notice"
            )
        ).all()
        s.expunge_all()
        return list(rows)


def _ask_link(c: httpx.Client, address: str) -> httpx.Response:
    page = c.get("/profile").text
    return c.post(
        "/preferences/new-link", data={"email": address, "form_token": field(page, "form_token")}
    )


def _plain(html: str) -> str:
    return re.sub(r'value="[^"]*"', "", html)


def test_known_and_unknown_addresses_get_the_same_answer(public) -> None:
    with public.client() as c:
        known = _ask_link(c, "User10@example.com")
        unknown = _ask_link(c, "nobody-at-all@example.com")
    assert known.status_code == unknown.status_code == 200
    assert _plain(known.text) == _plain(unknown.text)
    assert "If we have this address" in known.text
    # the work happens after the answer: the known address gets its link
    got = wait_until(lambda: _notices(public, "user10@example.com"), "the link email was queued")
    assert len(got) == 1
    assert "/preferences/" in mail_text(got[0].body)
    assert _notices(public, "nobody-at-all@example.com") == []


def mail_text(body: str) -> str:
    import email
    import email.policy

    msg = email.message_from_string(body, policy=email.policy.default)
    return msg.get_body(("plain",)).get_content()


def test_the_public_forms_need_their_signed_form_token(public) -> None:
    with public.client() as c:
        for path in ("/signup", "/preferences/new-link"):
            for token in (
                None,
                "forged",
                tokens_for(public.settings).make_timed("preferences", ["x"]),
            ):
                data = {"email": "user11@example.com", "consent": "email_marketing"}
                if token:
                    data["form_token"] = token
                r = c.post(path, data=data)
                assert r.status_code == 400 and "This form has expired" in r.text, (path, token)
    assert _notices(public, "user11@example.com") == []


def test_rate_limits_per_client_and_per_address(public) -> None:
    with public.client() as c:
        answers = [_ask_link(c, f"limit{i}@example.com").status_code for i in range(31)]
    assert answers == [200] * 30 + [429]
    # per address: the same answer each time, but at most 3 emails an hour
    for _ in range(5):
        with public.client() as c:
            assert _ask_link(c, "user12@example.com").status_code == 200
    wait_until(lambda: len(_notices(public, "user12@example.com")) >= 3, "three link emails")
    with public.client() as c:  # one more request to flush the background queue
        _ask_link(c, "user12@example.com")
    assert len(_notices(public, "user12@example.com")) == 3


# -- sign-up with double opt-in -----------------------------------------------------------
def _signup(c: httpx.Client, **data: object) -> httpx.Response:
    page = c.get("/signup").text
    form = {
        "form_token": field(page, "form_token"),
        "wording_version": WORDING_VERSION,
        "consent": "email_marketing",
        **data,
    }
    return c.post("/signup", data=form)


def _confirm_link(p: Public, address: str) -> str:
    got = wait_until(lambda: _notices(p, address), f"the confirmation to {address}")
    text = mail_text(got[-1].body)
    return re.search(r"http://crm\.test(/signup/confirm/\S+)", text).group(1)


def test_sign_up_confirm_by_the_emailed_link_then_the_person_exists(public) -> None:
    with public.client() as c:
        r = _signup(c, email="New.Person@Example.org", first_name="Nia", topic=["hiking", "bogus"])
        assert r.status_code == 200 and "Almost done: check your inbox" in r.text
        assert WORDING_VERSION in r.text
        link = _confirm_link(public, "new.person@example.org")
        # nothing in the warehouse before the click
        assert not [
            x for x in public.warehouse("identities") if x["value"] == "new.person@example.org"
        ]
        page = c.get(link)
        assert page.status_code == 200 and "Confirm your sign-up" in page.text
        assert not [
            x for x in public.warehouse("identities") if x["value"] == "new.person@example.org"
        ]
        done = c.post(link, data={"csrf_token": csrf(page.text)})
        assert done.status_code == 200 and "You are signed up" in done.text
        again = c.post(link, data={"csrf_token": csrf(page.text)})
        assert again.status_code == 200 and "You had confirmed already" in again.text
        prefs = re.search(r'href="(/preferences/[^"]+)"', done.text).group(1)
        assert 'value="email" checked' in c.get(prefs).text
    with public.db.session() as s:
        row = s.scalar(select(Signup).where(Signup.email == "new.person@example.org"))
        record = row.customer_id
    assert record == f"signup:{row.id}"
    ident = [x for x in public.warehouse("identities") if x["customer_id"] == record]
    assert [(x["kind"], x["value"], x["verified"], x["source"]) for x in ident] == [
        ("email", "new.person@example.org", True, "signup_form")
    ]
    cust = customer(public, record)
    assert (cust["first_name"], cust["interests"], cust["source"]) == (
        "Nia",
        "hiking",
        "signup_form",
    )
    assert consents_of(public, record) == [("email_marketing", "granted", "signup_form")]


def test_sign_up_of_a_known_address_answers_the_same_and_adds_no_second_person(public) -> None:
    with public.client() as c:
        known = _signup(c, email="user20@example.com")
        unknown = _signup(c, email="fresh20@example.org")
    assert known.status_code == unknown.status_code == 200
    assert _plain(known.text) == _plain(unknown.text)
    link = _confirm_link(public, "user20@example.com")
    with public.client() as c:
        page = c.get(link)
        assert c.post(link, data={"csrf_token": csrf(page.text)}).status_code == 200
    assert consents_of(public, "c020") == [("email_marketing", "granted", "signup_form")]
    with public.db.session() as s:
        row = s.scalar(select(Signup).where(Signup.email == "user20@example.com"))
        assert row.customer_id == "c020"  # the consent on the known person's record
    people = {
        x["customer_id"]
        for x in public.warehouse("identities")
        if x["value"] == "user20@example.com"
    }
    assert people == {"c020"}


def test_a_tampered_or_expired_confirmation_link_confirms_nothing(public) -> None:
    t = tokens_for(public.settings)
    with public.client() as c:
        page = c.get("/signup").text
        token = csrf(c.get(f"/preferences/{public.token('c030')}").text)
        for link, status in (
            (t.make_timed("signup", ["999", "x"])[:-2] + "xx", 400),
            (t.make_timed("signup", ["1", "x"], datetime.now(UTC) - timedelta(hours=73)), 410),
            (t.make_timed("preferences", ["1", "x"]), 400),
            (t.make_timed("signup", ["1"]), 400),
        ):
            assert c.get(f"/signup/confirm/{link}").status_code == status
            assert (
                c.post(f"/signup/confirm/{link}", data={"csrf_token": token}).status_code == status
            )
        assert "form_token" in page
        # a well-signed link whose address check is not the sign-up's: confirms nothing
        forged = t.make_timed("signup", ["1", "not-the-address-check"])
        r = c.post(f"/signup/confirm/{forged}", data={"csrf_token": token})
        assert r.status_code == 400 and "does not work" in r.text


def test_sign_up_needs_an_address_and_the_tick_and_ignores_robots(public) -> None:
    with public.client() as c:
        bad = _signup(c, email="not an address")
        assert bad.status_code == 422 and "not an email address" in bad.text
        page = c.get("/signup").text
        r = c.post(
            "/signup", data={"form_token": field(page, "form_token"), "email": "tick@example.org"}
        )
        assert r.status_code == 422 and "Tick the box" in r.text
        robot = _signup(c, email="robot@example.org", website="http://spam.example")
        assert robot.status_code == 200 and "check your inbox" in robot.text
        _signup(c, email="human@example.org")  # after the robot's: its work is done by then
    wait_until(lambda: _notices(public, "human@example.org"), "the human's confirmation")
    assert _notices(public, "robot@example.org") == []
    assert _notices(public, "tick@example.org") == []


# -- framing ------------------------------------------------------------------------------
def test_only_the_forms_may_be_framed_and_only_by_the_configured_sites(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "ws", embed_origins="https://shop.example, bad origin")
    for url in serve(settings):
        with httpx.Client(base_url=url) as c:
            for path in ("/signup", "/profile"):
                csp = c.get(path).headers["content-security-policy"]
                assert "frame-ancestors https://shop.example;" in csp, path
                assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            token = tokens_for(settings).make_timed("preferences", ["c1"])
            for path in (f"/preferences/{token}", "/login", "/preferences/new-link"):
                assert "frame-ancestors 'none'" in c.get(path).headers["content-security-policy"]
    # and with no site configured, the forms cannot be framed either
    for url in serve(Settings(home=tmp_path / "ws2")):
        with httpx.Client(base_url=url) as c:
            assert "frame-ancestors 'none'" in c.get("/signup").headers["content-security-policy"]


# -- every email carries the link ---------------------------------------------------------
def test_every_campaign_email_carries_a_working_preference_link(public) -> None:
    rendered = RenderedEmail(
        subject="Spring", text="Hello", html="<html><body><p>Hello</p></body></html>"
    )
    at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    raw = mail.build_message(
        public.settings,
        recipient="user40@example.com",
        rendered=rendered,
        campaign_id="spring",
        customer_id="c040",
        message_id="<m@x>",
        now=at,
    )
    again = mail.build_message(
        public.settings,
        recipient="user40@example.com",
        rendered=rendered,
        campaign_id="spring",
        customer_id="c040",
        message_id="<m@x>",
        now=at,
    )
    assert raw == again  # the same inputs, the same bytes
    text = mail_text(raw.decode())
    path = re.search(r"Your preferences: http://crm\.test(/preferences/\S+)", text).group(1)
    token = path.rsplit("/", 1)[1]
    assert tokens_for(public.settings).read_timed("preferences", token, 10**9) == ["c040"]
    assert "List-Unsubscribe-Post" in raw.decode()


def test_a_wording_version_the_app_never_showed_is_not_recorded(public) -> None:
    token = public.token("c013")
    with public.client() as c:
        assert _save(c, token, channel=["email"], wording_version="v-forged").status_code == 303
    with public.db.session() as s:
        versions = s.scalars(
            select(ConsentRecord.wording_version).where(ConsentRecord.customer_id == "c013")
        ).all()
    assert versions == [WORDING_VERSION]
