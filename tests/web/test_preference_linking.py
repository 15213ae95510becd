"""The social-accounts page of the preference centre over HTTP, against recorded
Mastodon and Bluesky servers on loopback: the OAuth round trip with its state bound to
the person's link and browser, codes in profiles, unlinking, and what is refused."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import IdentityLink
from socialcrm.config import Settings
from socialcrm.outbound.tokens import tokens_for
from socialcrm.outbound.urls import ALLOW_HOSTS_ENV, guarded_client
from socialcrm.preferences.proofs import Reach
from socialcrm.store.warehouse import Warehouse
from socialcrm.web.app import create_app
from socialcrm.web.preference_linking import ATTEMPTS
from socialcrm.web.security import CSP
from tests.preferences.social_world import SocialWorld, social_world

DID_A = "did:plc:z72i7hdynmk6r22z27h6tvur"
DID_B = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


@dataclass
class Site:
    client: TestClient
    settings: Settings
    db: AppDB
    world: SocialWorld
    token: str

    @property
    def page(self) -> str:
        return f"/preferences/{self.token}/link"

    def csrf(self) -> str:
        r = self.client.get(self.page)
        assert r.status_code == 200, r.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
        assert found
        return found.group(1)

    def post(self, path: str, **form: str) -> httpx.Response:
        return self.client.post(
            f"{self.page}{path}", data={"csrf_token": self.csrf(), **form}, follow_redirects=False
        )

    def shown(self) -> str:
        return self.client.get(self.page).text

    def linked(self) -> list[tuple[str, str]]:
        wh = Warehouse(self.settings.warehouse_dir)
        if not wh.exists("identities"):
            return []
        rows = wh.read_arrow("identities").to_pylist()
        return sorted((r["kind"], r["value"]) for r in rows if r["customer_id"] == "c1")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")  # the recorded servers are on loopback
    settings = Settings(home=tmp_path / "ws")
    with social_world() as world:
        app = create_app(settings)
        app.state.linking_reach = world.reach()
        token = tokens_for(settings).make_timed("preferences", ["c1"])
        with TestClient(app) as client:
            yield Site(client, settings, app.state.crm.db, world, token)


def _start_signin(site: Site, client: TestClient | None = None) -> str:
    """Submit the Mastodon form; the address of the instance's sign-in page."""
    r = site.post("/mastodon", handle="@Anna@Mastodon.test", proof="signin")
    assert r.status_code == 200
    assert "You will sign in at <strong>mastodon.test</strong>" in r.text
    found = re.search(r'id="continue-link" href="([^"]+)"', r.text)
    assert found
    return html.unescape(found.group(1))


def _instance_sends_back(url: str) -> str:
    """The instance's answer after the person signs in: the callback path and query."""
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302
    back = urlsplit(r.headers["location"])
    assert back.path == "/preferences/link/mastodon/callback"
    return f"{back.path}?{back.query}"


def test_mastodon_sign_in_links_the_account(site: Site) -> None:
    r = site.client.get(site.page)
    assert r.headers["content-security-policy"] == CSP
    assert "Prove this account is yours" in r.text
    assert "No social account is linked to you." in r.text

    callback = _instance_sends_back(_start_signin(site))
    r = site.client.get(callback, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == site.page
    page = site.shown()
    assert "Done: anna@mastodon.test is linked to you." in page
    assert "anna@mastodon.test" in page and "Unlink" in page
    assert site.linked() == [("mastodon", "anna@mastodon.test")]
    assert len(site.world.revoked) == 1
    # the same answer again (a replay, a reload) links nothing more
    again = site.client.get(callback, follow_redirects=False)
    assert again.status_code == 400 and "already been used" in again.text
    assert len(site.world.calls("/oauth/token")) == 1


def test_a_changed_state_is_refused(site: Site) -> None:
    callback = _instance_sends_back(_start_signin(site))
    path, _, query = callback.partition("?")
    state = re.search(r"state=([^&]+)", query)
    assert state
    forged = state.group(1)[:-3] + ("AAA" if not state.group(1).endswith("AAA") else "BBB")
    r = site.client.get(f"{path}?{query.replace(state.group(1), forged)}")
    assert r.status_code == 400 and "changed on the way" in r.text
    assert site.world.calls("/oauth/token") == []
    assert site.linked() == []


def test_a_state_from_another_browser_is_refused(site: Site) -> None:
    callback = _instance_sends_back(_start_signin(site))
    with TestClient(site.client.app) as other:  # no session: the victim of a forged link
        r = other.get(callback)
    assert r.status_code == 400 and "another browser" in r.text
    assert site.world.calls("/oauth/token") == []
    assert site.linked() == []


def test_a_refused_sign_in_links_nothing(site: Site) -> None:
    url = _start_signin(site)
    state = re.search(r"state=([^&]+)", url)
    assert state
    callback = "/preferences/link/mastodon/callback"
    r = site.client.get(f"{callback}?error=access_denied&state={state.group(1)}")
    assert r.status_code == 200 and "The sign-in was not allowed" in r.text
    assert site.linked() == []


def test_bluesky_code_in_the_description(site: Site) -> None:
    w = site.world
    w.handles["anna.bsky.social"] = DID_A
    w.profiles["anna.bsky.social"] = {"did": DID_A, "description": "Lamps."}
    r = site.post("/bluesky", handle="@Anna.bsky.social")
    assert r.status_code == 303
    page = site.shown()
    code = re.search(r"<code>(crm-[0-9a-f]{10})</code>", page)
    link_id = re.search(r'name="link_id" value="(\d+)"', page)
    assert code and link_id and "Waiting for your code" in page

    site.post("/check", link_id=link_id.group(1))
    assert "we did not find the code" in site.shown()
    assert site.linked() == []

    w.profiles["anna.bsky.social"] = {"did": DID_B, "description": f"Lamps. {code.group(1)}"}
    site.post("/check", link_id=link_id.group(1))
    assert "name different accounts" in site.shown()
    assert site.linked() == []

    w.profiles["anna.bsky.social"]["did"] = DID_A
    site.post("/check", link_id=link_id.group(1))
    assert "Done: anna.bsky.social is linked to you." in site.shown()
    assert site.linked() == [("bluesky", "anna.bsky.social")]


def test_unknown_bluesky_handle_and_mastodon_code(site: Site) -> None:
    site.post("/bluesky", handle="nobody.example")
    assert "we could not find the Bluesky account nobody.example" in site.shown()
    site.post("/mastodon", handle="anna@mastodon.test", proof="code")
    page = site.shown()
    code = re.search(r"<code>(crm-[0-9a-f]{10})</code>", page)
    link_id = re.search(r'name="link_id" value="(\d+)"', page)
    assert code and link_id and "bio or one of its extra fields" in page
    site.world.mastodon_fields = [{"name": "Shop", "value": code.group(1), "verified_at": None}]
    site.post("/check", link_id=link_id.group(1))
    assert site.linked() == [("mastodon", "anna@mastodon.test")]


def test_unlink_forgets_and_withdraws(site: Site) -> None:
    site.client.get(_instance_sends_back(_start_signin(site)))
    assert site.linked() == [("mastodon", "anna@mastodon.test")]
    r = site.post("/unlink", platform="mastodon", handle="anna@mastodon.test")
    assert r.status_code == 303
    page = site.shown()
    assert "anna@mastodon.test is no longer linked to you." in page
    assert "your consent to linking is withdrawn" in page
    assert site.linked() == []
    consents = Warehouse(site.settings.warehouse_dir).read_arrow("consents").to_pylist()
    assert [(c["status"], c["source"]) for c in consents] == [
        ("granted", "preference_centre"),
        ("withdrawn", "preference_centre"),
    ]
    with site.db.session() as s:
        assert s.scalars(select(IdentityLink)).all() == []


def test_an_instance_on_a_private_address_is_refused(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ALLOW_HOSTS_ENV)
    site.client.app.state.linking_reach = Reach(  # type: ignore[attr-defined]
        client=lambda: guarded_client(resolver=lambda host, port: ["10.1.2.3"])
    )
    r = site.post("/mastodon", handle="anna@intranet.example", proof="signin")
    assert r.status_code == 303
    page = site.shown()
    assert "we do not connect to intranet.example" in page
    assert "resolves to 10.1.2.3, a private address" in page
    r = site.post("/mastodon", handle="anna@metadata.google.internal", proof="signin")
    assert "we do not connect to metadata.google.internal" in site.shown()


def test_writes_need_the_csrf_token_and_a_good_link(site: Site) -> None:
    r = site.client.post(f"{site.page}/unlink", data={"platform": "mastodon", "handle": "x"})
    assert r.status_code == 403
    bad = site.client.get("/preferences/not-a-token/link")
    assert bad.status_code == 400 and "This link does not work" in bad.text
    other = tokens_for(site.settings).make_timed("signup", ["c1"])  # another purpose
    assert site.client.get(f"/preferences/{other}/link").status_code == 400
    r = site.client.post(
        "/preferences/not-a-token/link/bluesky",
        data={"csrf_token": site.csrf(), "handle": "anna.bsky.social"},
    )
    assert r.status_code == 400
    assert site.world.seen == []  # nothing was asked of any server


def test_an_expired_link_opens_nothing(site: Site) -> None:
    days = site.settings.preference_link_days
    old = tokens_for(site.settings).make_timed(
        "preferences", ["c1"], datetime.now(UTC) - timedelta(days=days, minutes=1)
    )
    r = site.client.get(f"/preferences/{old}/link")
    assert r.status_code == 410 and "This link has expired" in r.text
    assert 'href="/preferences/new-link"' in r.text  # a way forward


def test_outbound_attempts_are_rate_limited_per_person(site: Site) -> None:
    for _ in range(ATTEMPTS):
        site.post("/bluesky", handle="nobody.example")
        assert "could not find the Bluesky account" in site.shown()
    asked = len(site.world.seen)
    site.post("/bluesky", handle="nobody.example")
    assert "You have tried many times in a short while" in site.shown()
    assert len(site.world.seen) == asked  # refused before any call
