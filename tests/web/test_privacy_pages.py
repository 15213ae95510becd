"""The privacy pages: staff access and erasure (admins only, CSRF, a confirm step, audited)
and a person's own access request from the preference centre (the same answer for
anyone, rate limited), on the small known warehouse of the web tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import AuditEntry, OutboxItem, PrivacyReceipt, PrivacyRequest
from socialcrm.config import Settings
from socialcrm.outbound.tokens import tokens_for
from socialcrm.privacy.person import PersonNotFound, find_person
from socialcrm.store.warehouse import Warehouse
from socialcrm.web.app import create_app
from socialcrm.web.privacy import THANKS
from tests.web.conftest import PASSWORD, build_warehouse, seed_users

EMAIL = "user0@example.com"


@dataclass
class App:
    client: TestClient
    settings: Settings
    db: AppDB

    def sign_in(self, role: str) -> str:
        """Sign in as ``role``; returns the session's CSRF token."""
        c = self.client
        c.cookies.clear()
        token = _csrf(c.get("/login").text)
        r = c.post("/login", data={"email": f"{role}@test.io", "password": PASSWORD,
                                   "csrf_token": token}, follow_redirects=False)  # fmt: skip
        assert r.status_code == 303
        return _csrf(c.get("/privacy").text) if role == "admin" else token

    def audit(self, action: str) -> list[AuditEntry]:
        with self.db.session() as s:
            return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    home = tmp_path / "ws"
    build_warehouse(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0, web_secret_key="s" * 40,
                        public_url="http://crm.test", email_from="brand@example.com")  # fmt: skip
    seed_users(settings.resolved_database_url)
    web = create_app(settings)
    with TestClient(web, base_url="http://crm.test") as client:
        yield App(client, settings, web.state.crm.db)


def test_a_viewer_is_refused_every_privacy_page(app: App) -> None:
    token = app.sign_in("viewer")
    assert app.client.get("/privacy").status_code == 403
    assert app.client.get("/privacy/person", params={"q": EMAIL}).status_code == 403
    r = app.client.post("/privacy/erase", data={"q": EMAIL, "confirm": "yes", "csrf_token": token})
    assert r.status_code == 403
    find_person(Warehouse(app.settings.warehouse_dir), EMAIL)  # still there


def test_the_admin_sees_everything_held_and_the_look_is_audited(app: App) -> None:
    app.sign_in("admin")
    page = app.client.get("/privacy/person", params={"q": "+4915112345678"})
    assert page.status_code == 200
    assert "What we hold about this person" in page.text
    for table in ("customers", "identities", "orders", "consents"):
        assert f"<summary>{table}" in page.text
    assert EMAIL in page.text
    views = app.audit("privacy.view")
    assert len(views) == 1 and EMAIL not in json.dumps(views[0].detail) + views[0].target
    assert app.client.get("/privacy/person", params={"q": "nobody@nowhere.test"}).status_code == 404


def test_the_json_download_needs_csrf_and_leaves_a_receipt(app: App) -> None:
    token = app.sign_in("admin")
    assert app.client.post("/privacy/export", data={"q": EMAIL}).status_code == 403
    r = app.client.post("/privacy/export", data={"q": EMAIL, "csrf_token": token})
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    doc = r.json()
    assert doc["person"] == "c000"
    assert len(doc["warehouse"]["orders"]["rows"]) == 2
    with app.db.session() as s:
        receipt = s.scalars(select(PrivacyReceipt)).one()
    assert receipt.kind == "export" and receipt.actor == "admin@test.io"
    assert EMAIL not in json.dumps(receipt.counts) + receipt.subject_hash


def test_erasure_asks_first_then_erases_with_a_receipt_and_an_audit_line(app: App) -> None:
    token = app.sign_in("admin")
    assert app.client.post("/privacy/erase", data={"q": EMAIL, "confirm": "yes"}).status_code == 403
    ask = app.client.post("/privacy/erase", data={"q": EMAIL, "csrf_token": token})
    assert ask.status_code == 200 and "Erase this person?" in ask.text
    wh = Warehouse(app.settings.warehouse_dir)
    find_person(wh, EMAIL)  # asking erased nothing
    form = {"q": EMAIL, "confirm": "yes", "csrf_token": token}
    done = app.client.post("/privacy/erase", data=form, follow_redirects=False)
    assert done.status_code == 303
    with pytest.raises(PersonNotFound):
        find_person(wh, EMAIL)
    with pytest.raises(PersonNotFound):
        find_person(wh, "ada_insta")
    page = app.client.get(done.headers["location"]).text
    assert 'id="erased-notice"' in page and "erasure" in page
    [line] = app.audit("privacy.erase")
    assert line.actor == "admin@test.io"
    text = json.dumps(line.detail) + line.target
    assert not any(x in text for x in (EMAIL, "ada_insta", "+4915112345678", "c000"))


@pytest.fixture
def public(app: App) -> tuple[App, str]:
    """An anonymous visitor with a session CSRF token (as the preference centre's page)."""
    app.client.cookies.clear()
    return app, _csrf(app.client.get("/login").text)


def test_an_access_request_is_recorded_and_answered_the_same_for_anyone(
    public: tuple[App, str],
) -> None:
    app, csrf = public
    tokens = tokens_for(app.settings)
    known = tokens.make_timed("preferences", ["c000"])
    unknown = tokens.make_timed("preferences", ["nobody:1"])
    a = app.client.post(f"/preferences/{known}/access", data={"csrf_token": csrf})
    b = app.client.post(f"/preferences/{unknown}/access", data={"csrf_token": csrf})
    assert a.status_code == b.status_code == 200
    assert THANKS in a.text and a.text == b.text
    with app.db.session() as s:
        [req] = s.scalars(select(PrivacyRequest)).all()
    assert req.kind == "access" and req.customer_id == "c000" and req.status == "emailed"
    bad = app.client.post(f"/preferences/{known}x/access", data={"csrf_token": csrf})
    assert bad.status_code == 400
    assert app.client.post(f"/preferences/{known}/access").status_code == 403  # no CSRF token

    # the emailed link: to the record's own address, the person's copy as a file
    with app.db.session() as s:
        [mail] = s.scalars(select(OutboxItem)).all()
    assert mail.recipient == EMAIL and mail.status == "pending"
    body = re.sub(r"=\r\n", "", mail.body).replace("=3D", "=")
    link = re.search(r"http://crm\.test(/privacy/download/[\w.-]+)", body)
    assert link
    app.client.cookies.clear()
    got = app.client.get(link.group(1))
    assert got.status_code == 200 and "attachment" in got.headers["content-disposition"]
    assert got.json()["person"] == "c000" and got.json()["warehouse"]["orders"]["rows"]
    assert app.client.get(link.group(1)[:-2] + "xx").status_code == 400
    assert app.audit("privacy.export")[0].actor == "person (emailed link)"


def test_a_request_without_an_email_waits_on_the_staff_page(public: tuple[App, str]) -> None:
    app, csrf = public
    no_mail = Settings(**{**app.settings.model_dump(), "public_url": None})
    app.client.app.state.crm.settings = no_mail
    known = tokens_for(app.settings).make_timed("preferences", ["c000"])
    assert (
        app.client.post(f"/preferences/{known}/access", data={"csrf_token": csrf}).status_code
        == 200
    )
    app.sign_in("admin")
    assert "/privacy/person?q=c000" in app.client.get("/privacy").text


def test_access_requests_are_rate_limited(public: tuple[App, str]) -> None:
    app, csrf = public
    tokens = tokens_for(app.settings)
    answers = [
        app.client.post(f"/preferences/{tokens.make_timed('preferences', [f'x:{i}'])}/access",
                        data={"csrf_token": csrf}).status_code
        for i in range(7)
    ]  # fmt: skip
    assert answers[:5] == [200] * 5 and answers[5:] == [429, 429]
    app.client.app.state.privacy_by_address = None  # a fresh limiter: the person's own limit
    same = tokens.make_timed("preferences", ["c000"])
    person = [app.client.post(f"/preferences/{same}/access", data={"csrf_token": csrf}).status_code
              for _ in range(4)]  # fmt: skip
    assert person == [200, 200, 200, 429]
    with app.db.session() as s:
        assert len(s.scalars(select(PrivacyRequest)).all()) == 1  # one waiting is enough
