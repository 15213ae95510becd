"""The public links of campaign email, over HTTP: unsubscribe (a page on GET, the change
on POST, one click with no cookie and no CSRF token as RFC 8058 requires), clicks
(signed: a tampered link is refused, never redirected), the open pixel, and the bounce
hook. No session is needed or made, and the app's security headers are kept."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import EmailEvent, OutboxItem, Suppression
from socialcrm.config import Settings
from socialcrm.outbound import mail, tokens
from socialcrm.web.app import create_app
from socialcrm.web.security import CSP, CSRF_EXEMPT
from tests.outbound.email_world import NOW, PUBLIC, queue_people, settings_for
from tests.outbound.smtp_sink import smtp_sink

HOOK_SECRET = "bounce-hook-secret-456"


@dataclass
class Site:
    client: TestClient
    db: AppDB
    settings: Settings
    sent: list[bytes]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """The app, and two people each sent one email of campaign ``spring``."""
    with smtp_sink() as sink:
        settings = settings_for(tmp_path, sink.url(), bounce_webhook_secret=HOOK_SECRET)
        app = create_app(settings)
        db: AppDB = app.state.crm.db
        queue_people(db, settings, [("c1", "ann@example.com"), ("c2", "bo@example.com")])
        mail.deliver_emails(db, settings, now=NOW)
        with TestClient(app, base_url=PUBLIC) as client:
            yield Site(client, db, settings, list(sink.got))


def _links(site: Site, to: str) -> dict[str, str]:
    """The unsubscribe, click and open paths of the message sent to ``to``."""
    raw = next(b for b in site.sent if f"To: {to}".encode() in b)
    text = re.sub(r"=\r\n", "", raw.decode()).replace("=3D", "=")  # undo quoted-printable
    unsub = re.search(r"List-Unsubscribe: <([^>]+)>", text)
    click = re.search(r'href="([^"]+/email/click/[^"]+)"', text)
    pixel = re.search(r'src="([^"]+/email/open/[^"]+)"', text)
    assert unsub and click and pixel
    return {k: m.group(1).removeprefix(PUBLIC) for k, m in
            (("unsubscribe", unsub), ("click", click), ("open", pixel))}  # fmt: skip


def _suppressed(site: Site) -> dict[str, str]:
    with site.db.session() as s:
        return {r.address: r.reason for r in s.scalars(select(Suppression))}


def _events(site: Site, kind: str) -> list[EmailEvent]:
    with site.db.session() as s:
        return list(s.scalars(select(EmailEvent).where(EmailEvent.kind == kind)))


def test_one_click_post_with_no_cookie_and_no_csrf_token_unsubscribes(site: Site) -> None:
    path = _links(site, "ann@example.com")["unsubscribe"]
    assert not site.client.cookies
    r = site.client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 200 and "unsubscribed" in r.text
    assert "set-cookie" not in r.headers  # no session is made for a recipient
    assert _suppressed(site) == {"ann@example.com": "unsubscribe"}
    [event] = _events(site, "unsubscribe")
    assert (event.campaign_id, event.customer_id, event.synced) == ("spring", "c1", False)
    # again (mail clients retry): nothing new
    assert site.client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert len(_events(site, "unsubscribe")) == 1
    # the next send skips her; Bo still gets his
    queue_people(site.db, site.settings, [("c1", "ann@example.com"), ("c2", "bo@example.com")],
                 campaign="summer")  # fmt: skip
    got = mail.deliver_emails(site.db, site.settings, now=NOW)
    assert (got["sent"], got["skipped"]) == (1, 1)


def test_get_shows_a_button_and_unsubscribes_nobody(site: Site) -> None:
    path = _links(site, "ann@example.com")["unsubscribe"]
    r = site.client.get(path)
    assert r.status_code == 200
    assert re.search(rf'<form method="post" action="{re.escape(path)}">', r.text)
    assert "<button" in r.text and "<script" not in r.text
    assert r.headers["content-security-policy"] == CSP
    assert "set-cookie" not in r.headers
    assert _suppressed(site) == {} and _events(site, "unsubscribe") == []


def test_the_only_csrf_exempt_writes_are_one_click_and_the_framable_public_forms() -> None:
    # the public forms carry a signed per-form token instead (tests/web/test_preference_centre.py)
    assert {
        ("POST", "/email/unsubscribe/{token}"),
        ("POST", "/signup"),
        ("POST", "/preferences/new-link"),
    } == CSRF_EXEMPT


def test_a_signed_click_redirects_and_is_recorded(site: Site) -> None:
    path = _links(site, "bo@example.com")["click"]
    r = site.client.get(path, follow_redirects=False)
    assert r.status_code == 302
    assert r.headers["location"] == "https://shop.brand.example/loyalty?c=c2&src=email"
    [click] = _events(site, "click")
    assert (click.customer_id, click.detail) == ("c2", r.headers["location"])


def _b64(payload: list[str]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "how", ["changed url", "forged", "changed signature", "other purpose", "junk"]
)
def test_a_tampered_click_is_refused_without_a_redirect(site: Site, how: str) -> None:
    t = tokens.tokens_for(site.settings)
    good = _links(site, "bo@example.com")["click"].rsplit("/", 1)[1]
    payload, sig = good.rsplit(".", 1)
    assert payload == _b64(["spring", "c2", "https://shop.brand.example/loyalty?c=c2&src=email"])
    token = {
        # the good token's signature on a payload pointing elsewhere
        "changed url": f"{_b64(['spring', 'c2', 'https://evil.example/'])}.{sig}",
        "forged": tokens.Tokens("another key").make(
            "click", ["spring", "c2", "https://evil.example/"]
        ),
        "changed signature": f"{payload}.{sig[:-2]}{'AA' if sig[-2:] != 'AA' else 'BB'}",
        "other purpose": t.make("unsubscribe", ["spring", "c2"]),
        "junk": "not-a-token",
    }[how]
    r = site.client.get(f"/email/click/{token}", follow_redirects=False)
    assert r.status_code == 400 and "location" not in r.headers
    assert "does not work" in r.text and "evil" not in r.text and "Traceback" not in r.text
    assert r.headers["content-security-policy"] == CSP
    assert _events(site, "click") == []


def test_a_tampered_unsubscribe_changes_nothing(site: Site) -> None:
    path = _links(site, "ann@example.com")["unsubscribe"]
    r = site.client.post(path[:-3] + "xyz", data={"List-Unsubscribe": "One-Click"})
    assert r.status_code == 400 and _suppressed(site) == {}


def test_the_open_pixel_is_a_gif_and_records_an_open(site: Site) -> None:
    path = _links(site, "ann@example.com")["open"]
    r = site.client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
    assert r.content.startswith(b"GIF89a") and len(r.content) == 43
    assert r.headers["cache-control"] == "no-store"
    [event] = _events(site, "open")
    assert (event.campaign_id, event.customer_id) == ("spring", "c1")


DSN = b"""From: MAILER-DAEMON@mx.example.com
To: news@brand.example
Subject: Undelivered Mail Returned to Sender
Message-ID: <dsn-1@mx.example.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Your message could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; bo@example.com
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--B
Content-Type: text/rfc822-headers

Message-ID: MID
From: news@brand.example
To: bo@example.com

--B--
"""


def test_the_bounce_hook_takes_a_dsn_with_its_secret_only(site: Site) -> None:
    with site.db.session() as s:
        bo = s.scalars(select(OutboxItem).where(OutboxItem.recipient == "bo@example.com")).one()
    body = DSN.replace(b"MID", (bo.message_id or "").encode())
    hook = "/email/bounces"
    # no credentials: the app's write rule refuses it before the hook sees it
    assert site.client.post(hook, content=body).status_code == 403
    wrong = {"Authorization": "Bearer nope"}
    assert site.client.post(hook, content=body, headers=wrong).status_code == 401
    assert _suppressed(site) == {}
    ok = {"Authorization": f"Bearer {HOOK_SECRET}", "Content-Type": "message/rfc822"}
    r = site.client.post(hook, content=body, headers=ok)
    assert r.status_code == 200 and r.json()["hard_bounces"] == 1
    assert _suppressed(site) == {"bo@example.com": "hard_bounce"}
    [bounce] = _events(site, "bounce")
    assert (bounce.customer_id, bounce.campaign_id) == ("c2", "spring")
    # the same report again: recorded once
    assert site.client.post(hook, content=body, headers=ok).json()["duplicates"] == 1
    # JSON from a provider
    doc = [{"type": "complaint", "id": "evt-9", "recipient": "ann@example.com"}]
    r = site.client.post(hook, json=doc, headers={"Authorization": f"Bearer {HOOK_SECRET}"})
    assert r.json()["complaints"] == 1 and _suppressed(site)["ann@example.com"] == "complaint"
    bad = site.client.post(
        hook, json={"type": "nope"}, headers={"Authorization": ok["Authorization"]}
    )
    assert bad.status_code == 422


def test_the_bounce_hook_is_off_without_its_secret(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, None)
    with TestClient(create_app(settings), base_url=PUBLIC) as client:
        r = client.post("/email/bounces", content=DSN, headers={"Authorization": "Bearer x"})
    assert r.status_code == 404


def test_a_link_fetched_again_and_again_writes_one_event(site: Site) -> None:
    """A script (or a scanner) hitting the pixel or a click link a thousand times must not
    write a thousand rows, nor count a thousand opens or clicks."""
    links = _links(site, "ann@example.com")
    for _ in range(30):
        assert site.client.get(links["open"]).status_code == 200
        assert site.client.get(links["click"], follow_redirects=False).status_code == 302
    assert len(_events(site, "open")) == 1 and len(_events(site, "click")) == 1
    # Bo's open is his own
    assert site.client.get(_links(site, "bo@example.com")["open"]).status_code == 200
    assert sorted(e.customer_id or "" for e in _events(site, "open")) == ["c1", "c2"]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "http://127.0.0.1:8080/admin",
        "http://2130706433/",
        "http://10.0.0.1/router/reset",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost/",
        "https://shop.brand.example@evil.example/",
        "https://shop.brand.example/\r\nSet-Cookie: x=1",
        "//evil.example/",
    ],
)
def test_a_signed_click_to_a_dangerous_place_is_refused(site: Site, url: str) -> None:
    """Even a link signed with the workspace's key (a template that pointed there) gets
    no redirect from the brand's domain into a script, the recipient's own network, or
    a host dressed as the shop."""
    token = tokens.tokens_for(site.settings).make("click", ["spring", "c1", url])
    r = site.client.get(f"/email/click/{token}", follow_redirects=False)
    assert r.status_code == 400 and "location" not in r.headers
    assert _events(site, "click") == []
    # and the email never made such a link a tracked one
    html = f'<a href="{url}">x</a>'
    assert mail.track_links(html, site.settings, "spring", "c1") == html


def test_the_public_pages_keep_the_csp_and_are_never_cached(site: Site) -> None:
    links = _links(site, "ann@example.com")
    answers = [
        site.client.get(links["unsubscribe"]),
        site.client.get(links["click"], follow_redirects=False),
        site.client.get(links["open"]),
        site.client.get("/email/click/junk", follow_redirects=False),
        site.client.post(links["unsubscribe"], data={"List-Unsubscribe": "One-Click"}),
    ]
    for r in answers:
        assert r.headers["content-security-policy"] == CSP
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-frame-options"] == "DENY" and "set-cookie" not in r.headers


def test_an_oversized_bounce_report_is_refused_without_being_read_whole(site: Site) -> None:
    """The body is read a chunk at a time and the hook stops at 5 MB: a client streaming
    100 MB (no Content-Length) has at most the first few megabytes read."""
    app = site.client.app
    chunk, chunks = b"x" * (1 << 20), 100
    read = 0
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        nonlocal read
        read += 1
        return {"type": "http.request", "body": chunk, "more_body": read < chunks}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "https", "server": ("crm.brand.example", 443), "client": ("203.0.113.9", 5),
        "path": "/email/bounces", "raw_path": b"/email/bounces", "query_string": b"",
        "root_path": "", "headers": [(b"host", b"crm.brand.example"),
                                     (b"authorization", f"Bearer {HOOK_SECRET}".encode()),
                                     (b"content-type", b"message/rfc822")],
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert read <= 6  # 5 MB and the chunk that went over; not all 100
    declared = {"Authorization": f"Bearer {HOOK_SECRET}", "Content-Length": str(6 << 20)}
    r = site.client.post("/email/bounces", content=b"x", headers=declared)
    assert r.status_code == 413


def test_an_unsubscribe_token_acts_for_its_own_person_and_campaign_and_tells_nothing(
    site: Site,
) -> None:
    """Bo's link unsubscribes Bo, not Ann; a signed link for a campaign that never emailed
    the person answers the same page as a real one (nothing to learn about who exists)."""
    bo = _links(site, "bo@example.com")["unsubscribe"]
    real = site.client.post(bo, data={"List-Unsubscribe": "One-Click"})
    assert _suppressed(site) == {"bo@example.com": "unsubscribe"}
    never = tokens.tokens_for(site.settings).make("unsubscribe", ["winter", "c9"])
    other = site.client.post(f"/email/unsubscribe/{never}", data={})
    assert (real.status_code, other.status_code) == (200, 200)
    assert real.text.replace(bo, "") == other.text.replace(f"/email/unsubscribe/{never}", "")
    assert _suppressed(site) == {"bo@example.com": "unsubscribe"}
