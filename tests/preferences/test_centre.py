"""The preference centre's domain: what a change writes where, and when it counts.

On a small warehouse loaded through ingestion (so every table has its schema's
columns), with the app database on SQLite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import ConsentRecord, OutboxItem, Suppression
from socialcrm.config import Settings
from socialcrm.outbound import mail
from socialcrm.outbound.suppression import suppress
from socialcrm.outbound.tokens import TokenError, TokenExpired, Tokens
from socialcrm.preferences import centre, signup
from socialcrm.preferences.centre import Choices, PreferenceError
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace
from socialcrm.value.relationship import relationship_parts

T0 = "2025-01-01T00:00:00Z"


def _load(ws: Workspace, table: str, rows: list[dict], tmp: Path) -> None:
    path = tmp / f"{table}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = ingest_file(ws, table, path)
    assert report.rejected == 0, report.rejects


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Workspace, AppDB]]:
    settings = Settings(home=tmp_path / "ws", public_url="https://crm.example",
                        email_from="news@brand.example", web_secret_key="k" * 32)  # fmt: skip
    with Workspace.open(settings) as ws:
        _load(ws, "customers", [
            {"customer_id": "shop:1", "source": "shop", "created_at": T0, "first_name": "Ann",
             "country": "DE"},
            {"customer_id": "news:9", "source": "newsletter", "created_at": T0},
            {"customer_id": "shop:2", "source": "shop", "created_at": T0, "first_name": "Bo"},
        ], tmp_path)  # fmt: skip
        _load(ws, "identities", [
            {"customer_id": "shop:1", "kind": "email", "value": "ann@example.com",
             "source": "shop", "verified": True},
            {"customer_id": "news:9", "kind": "email", "value": "ann.work@example.com",
             "source": "newsletter", "verified": True},
            {"customer_id": "shop:2", "kind": "email", "value": "bo@example.com",
             "source": "shop", "verified": True},
        ], tmp_path)  # fmt: skip
        # identity resolution put shop:1 and news:9 together as one person
        ws.warehouse.write("identity_clusters", _clusters({"shop:1": "P1", "news:9": "P1",
                                                          "shop:2": "P2"}))  # fmt: skip
        db = AppDB(settings.resolved_database_url)
        yield ws, db
        db.close()


def _clusters(mapping: dict[str, str]):
    import pyarrow as pa

    return pa.table({"record_id": list(mapping), "customer_id": list(mapping.values())})


def _consents(ws: Workspace) -> list[tuple[str, str, str, str]]:
    rows = (
        ws.warehouse.read_arrow("consents").to_pylist() if ws.warehouse.exists("consents") else []
    )
    return sorted((r["customer_id"], r["purpose"], r["status"], r["source"]) for r in rows)


def test_a_change_lands_on_every_record_of_the_person(world) -> None:
    ws, db = world
    assert centre.records_of(ws, "P1") == ["news:9", "shop:1"]
    assert centre.records_of(ws, "shop:1") == ["news:9", "shop:1"]  # a record's id works too
    out = centre.save(ws, db, "P1", Choices(["email"], "weekly", ["hiking"], ["bluesky"], "de"))
    assert out.consents == [("email_marketing", "granted")] and out.warehouse
    assert _consents(ws) == [
        ("news:9", "email_marketing", "granted", "preference_centre"),
        ("shop:1", "email_marketing", "granted", "preference_centre"),
    ]
    cust = {r["customer_id"]: r for r in ws.warehouse.read_arrow("customers").to_pylist()}
    for record in ("shop:1", "news:9"):
        assert cust[record]["contact_frequency"] == "weekly"
        assert cust[record]["preferred_social_sites"] == "bluesky"
    assert cust["shop:1"]["first_name"] == "Ann" and cust["shop:1"]["country"] == "DE"
    assert cust["shop:2"]["contact_frequency"] is None  # nobody else touched

    # email off: both of the person's addresses suppressed at once
    out = centre.save(ws, db, "P1", Choices([], "weekly", ["hiking"], ["bluesky"], "de"))
    assert out.suppressed == ["ann.work@example.com", "ann@example.com"]
    with db.session() as s:
        assert set(s.scalars(select(Suppression.address))) == set(out.suppressed)


def test_the_next_scoring_run_counts_the_preferences(world) -> None:
    ws, db = world

    def parts() -> dict:
        rows = ws.engine.to_arrow(relationship_parts(ws)).to_pylist()
        return next(r for r in rows if r["customer_id"] == "P1")

    before = parts()
    assert (before["p_contact_frequency"], before["p_social_sites"]) == (0, 0)
    centre.save(ws, db, "P1", Choices(["email"], "monthly", ["hiking", "lighting"], ["mastodon"]))
    after = parts()
    assert (after["p_contact_frequency"], after["p_social_sites"]) == (1, 1)
    assert after["p_interests"] > before["p_interests"]
    assert after["p_consents"] > before["p_consents"]  # email_marketing granted
    assert after["preferential_depth"] > before["preferential_depth"]


def test_a_failed_warehouse_write_is_caught_up_by_the_next_sync(world, monkeypatch) -> None:
    ws, db = world
    real = centre.ingest_rows
    monkeypatch.setattr(centre, "ingest_rows", lambda *a, **k: False)
    out = centre.save(ws, db, "P2", Choices(["email", "sms"], "monthly"))
    assert not out.warehouse
    with db.session() as s:
        assert [c.synced for c in s.scalars(select(ConsentRecord))] == [False, False]
    assert _consents(ws) == []
    monkeypatch.setattr(centre, "ingest_rows", real)
    assert centre.sync(ws, db)
    assert _consents(ws) == [
        ("shop:2", "email_marketing", "granted", "preference_centre"),
        ("shop:2", "sms_marketing", "granted", "preference_centre"),
    ]
    with db.session() as s:
        assert all(c.synced for c in s.scalars(select(ConsentRecord)))


def test_unsubscribing_twice_records_nothing_new(world) -> None:
    ws, db = world
    centre.save(ws, db, "P2", Choices(["email", "phone"], "weekly"))
    first = centre.unsubscribe_everything(ws, db, "P2")
    assert sorted(first.consents) == [("email_marketing", "withdrawn"),
                                      ("phone_marketing", "withdrawn")]  # fmt: skip
    assert first.suppressed == ["bo@example.com"]
    second = centre.unsubscribe_everything(ws, db, "P2")
    assert second.consents == []
    cust = {r["customer_id"]: r for r in ws.warehouse.read_arrow("customers").to_pylist()}
    assert (cust["shop:2"]["contact_frequency"], cust["shop:2"]["preferred_channel"]) == (
        "never",
        "none",
    )


def test_only_the_offered_choices_pass() -> None:
    topics = {"hiking": "Hiking"}
    ok = Choices(["sms", "email", "email"], "weekly", ["hiking"], ["bluesky", "twitter"], "fr",
                 "  Ann ").checked(topics)  # fmt: skip
    assert (ok.channels, ok.social_sites, ok.first_name) == (
        ["email", "sms"],
        ["twitter", "bluesky"],
        "Ann",
    )
    for bad in (Choices(["fax"]), Choices(topics=["cooking"]), Choices(frequency="daily"),
                Choices(language="xx"), Choices(social_sites=["myspace"]),
                Choices(first_name="a\nb"), Choices(last_name="x" * 101)):  # fmt: skip
        with pytest.raises(PreferenceError):
            bad.checked(topics)


def test_preference_tokens_are_scoped_expiring_and_reproducible() -> None:
    t = Tokens("s" * 32)
    at = datetime.now(UTC) - timedelta(days=10)
    token = t.make_timed("preferences", ["P1"], at)
    assert token == t.make_timed("preferences", ["P1"], at)
    assert t.read_timed("preferences", token, 11 * 86400) == ["P1"]
    with pytest.raises(TokenExpired):
        t.read_timed("preferences", token, 9 * 86400)
    for purpose in ("signup", "preference_action", "form"):
        with pytest.raises(TokenError):
            t.read_timed(purpose, token, 11 * 86400)  # type: ignore[arg-type]
    with pytest.raises(TokenError):
        Tokens("other" * 8).read_timed("preferences", token, 11 * 86400)
    with pytest.raises(TokenError):
        t.read_timed("preferences", token.replace(".", "x", 1), 11 * 86400)


class Recorder:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        self.sent.append(to_addr)

    def close(self) -> None:
        pass


def test_notices_reach_an_unsubscribed_address_but_not_a_bounced_one(world) -> None:
    ws, db = world
    with db.session() as s:
        suppress(s, "ann@example.com", "unsubscribe", "test")
        suppress(s, "bo@example.com", "hard_bounce", "test")
    for address in ("ann@example.com", "bo@example.com"):
        assert centre.email_link(ws, db, ws.settings, address)
    assert not centre.email_link(ws, db, ws.settings, "nobody@example.com")
    rec = Recorder()
    out = mail.deliver_emails(db, ws.settings, sender=rec)
    assert rec.sent == ["ann@example.com"] and out["skipped"] == 1
    with db.session() as s:
        assert s.scalar(select(OutboxItem.last_error).where(
            OutboxItem.recipient == "bo@example.com")) == "suppressed"  # fmt: skip


def test_a_sign_up_is_nothing_until_confirmed(world) -> None:
    ws, db = world
    sid = signup.request(db, ws.settings, email="New@Example.org", first_name="Nia",
                         topics=["hiking"])  # fmt: skip
    assert centre.person_of_address(ws, "new@example.org") is None
    done = signup.confirm(ws, db, sid)
    assert done.person == f"signup:{sid}" and not done.already and done.warehouse
    assert centre.person_of_address(ws, "new@example.org") == f"signup:{sid}"
    assert (f"signup:{sid}", "email_marketing", "granted", "signup_form") in _consents(ws)
    assert signup.confirm(ws, db, sid).already
    # a known address: the consent goes on the person's record, no new record
    sid2 = signup.request(db, ws.settings, email="bo@example.com", first_name=None, topics=[])
    assert signup.confirm(ws, db, sid2).person == "P2"
    ids = {r["customer_id"] for r in ws.warehouse.read_arrow("customers").to_pylist()}
    assert ids == {"shop:1", "news:9", "shop:2", f"signup:{sid}"}


def test_a_person_with_no_record_changes_no_warehouse_table(world) -> None:
    ws, db = world
    before = _consents(ws)
    out = centre.save(ws, db, "test-send-person", Choices(["email"], "weekly"))
    assert out.consents == [("email_marketing", "granted")] and out.warehouse
    assert _consents(ws) == before
    with db.session() as s:
        assert [c.synced for c in s.scalars(select(ConsentRecord))] == [True]


def test_unconfirmed_sign_ups_are_forgotten_when_their_link_has_expired(world) -> None:
    ws, db = world
    old = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=73)
    stale = signup.request(db, ws.settings, email="late@example.org", first_name=None,
                           topics=[], now=old)  # fmt: skip
    signup.request(db, ws.settings, email="soon@example.org", first_name=None, topics=[])
    from socialcrm.appdb.models import Signup

    with db.session() as s:
        assert [r.email for r in s.scalars(select(Signup))] == ["soon@example.org"]
    # SQLite may give the new sign-up the deleted one's id: the old link still cannot
    # confirm it (it has expired, and it names another address)
    old_link = signup.confirm_url(ws.settings, stale, "late@example.org").rsplit("/", 1)[1]
    sid, check = signup.read_confirm_token(ws.settings, old_link)
    with pytest.raises(TokenError):
        signup.confirm(ws, db, sid, check)
