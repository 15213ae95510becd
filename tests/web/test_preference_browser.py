"""The customer's side in a real browser, on a phone-sized screen (390 px), from the inbox.

A campaign email goes through a real SMTP conversation (the shared aiosmtpd sink); the
person opens the preference link found in the message they received, changes their
choices, unsubscribes from everything; someone new signs up on the embeddable form
(framed by the brand's own site), receives the confirmation email and confirms by its
link. Screenshots go to ``$SOCIALCRM_SCREENSHOTS`` like the other browser tests.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import Suppression
from socialcrm.config import Settings
from socialcrm.outbound import mail
from socialcrm.outbound.templates import RenderedEmail
from socialcrm.store.warehouse import Warehouse
from tests.ports import free_port
from tests.programs.campaign_brand import SmtpServer
from tests.waiting import wait_until
from tests.web.conftest import build_warehouse, serve
from tests.web.test_browser import browser, shots
from tests.web.test_preference_centre import CATALOGUE, mail_text, widen

ADA = "user10@example.com"
__all__ = ["browser", "shots"]  # the browser and screenshot folder of the browser tests


@contextmanager
def site_framing(url: str, port: int = 0) -> Iterator[str]:
    """Another site on loopback (another port: another origin) whose page frames
    ``url``, as the brand's shop would embed the form. On loopback, not a faked public
    origin: chromium refuses a public page framing a local address outright."""
    page = (
        '<!doctype html><meta name="viewport" content="width=device-width">'
        f'<h1>Nordlicht shop</h1><iframe src="{url}" width="360" height="760"></iframe>'
    )

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Brand:
    url: str
    settings: Settings
    smtp: SmtpServer
    db: AppDB
    shop_port: int

    def deliver(self) -> dict[str, int]:
        return mail.deliver_emails(self.db, self.settings)

    def received(self, to: str) -> list[str]:
        """The plain-text parts of the messages the SMTP server took for ``to``."""
        with self.smtp.sink.lock:
            msgs = [m.message for m in self.smtp.sink.messages if to in m.rcpt_tos]
        return [mail_text(m.as_string()) for m in msgs]


@pytest.fixture
def brand(tmp_path: Path) -> Iterator[Brand]:
    home = tmp_path / "ws"
    build_warehouse(home / "warehouse")
    widen(Warehouse(home / "warehouse"))
    shutil.copy(CATALOGUE, home / "catalogue.json")
    shop_port = free_port()  # the shop's port, before the app is told to allow it
    with SmtpServer() as smtp:
        settings = Settings(home=home, smtp_url=smtp.url, public_url="http://placeholder.invalid",
                            embed_origins=f"http://127.0.0.1:{shop_port}")  # fmt: skip
        for url in serve(settings):
            # the links in emails point at this server: its port is known only now, and the
            # app reads the setting when it builds a message
            settings.public_url = url
            db = AppDB(settings.resolved_database_url)
            yield Brand(url, settings, smtp, db, shop_port)
            db.close()


def _phone(browser: Browser) -> Page:
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status == 404 else None)
    page.errors = errors  # type: ignore[attr-defined]
    return page


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def _consents(brand: Brand, record: str) -> list[tuple[str, str]]:
    rows = Warehouse(brand.settings.warehouse_dir).read_arrow("consents").to_pylist()
    return [(r["purpose"], r["status"]) for r in rows
            if r["customer_id"] == record and r["source"] == "preference_centre"]  # fmt: skip


def test_from_a_received_email_change_preferences_then_unsubscribe(
    browser: Browser, brand: Brand, shots: Path
) -> None:
    html = "<html><body><p>Hello Ada, spring is here.</p></body></html>"
    rendered = RenderedEmail(subject="Spring at Nordlicht", text="Hello Ada, spring is here.",
                             html=html)  # fmt: skip
    with brand.db.session() as s:
        mail.queue_email(s, brand.settings, key="spring|c010", campaign_id="spring",
                         customer_id="c010", recipient=ADA, rendered=rendered)  # fmt: skip
    assert brand.deliver()["sent"] == 1
    (text,) = brand.received("user10@example.com")
    link = re.search(r"Your preferences: (\S+)", text).group(1)
    assert link.startswith(f"{brand.url}/preferences/")

    page = _phone(browser)
    page.goto(link)
    assert page.locator("h1").inner_text() == "Your preferences at Nordlicht"
    assert page.locator("footer").inner_text().startswith("Wording version ")
    _fits(page)
    page.screenshot(path=str(shots / "preferences-centre-390.png"), full_page=True)

    page.check("input[name=channel][value=email]")
    page.check("input[name=frequency][value=monthly]")
    page.check("input[name=topic][value=hiking]")
    page.check("input[name=site][value=mastodon]")
    page.select_option("select[name=language]", "de")
    page.click("button:has-text('Save my choices')")
    page.wait_for_url(re.compile(r".*\?saved=1$"))
    assert page.locator("[role=status]").inner_text() == "Saved. Your choices count from now on."
    assert page.is_checked("input[name=topic][value=hiking]")
    _fits(page)
    page.screenshot(path=str(shots / "preferences-saved-390.png"), full_page=True)
    assert _consents(brand, "c010") == [("email_marketing", "granted")]

    # asking for a copy of what the brand holds (the privacy work's route, on this page)
    page.click("button:has-text('Ask for a copy of your data')")
    assert page.locator("h1").inner_text() == "Your request is on its way"
    page.screenshot(path=str(shots / "preferences-access-asked-390.png"), full_page=True)
    page.go_back()

    page.click("text=Unsubscribe from everything")
    assert page.locator("h1").inner_text() == "Unsubscribe from everything?"
    _fits(page)
    page.screenshot(path=str(shots / "preferences-unsubscribe-ask-390.png"), full_page=True)
    page.click("button:has-text('Yes, unsubscribe me from everything')")
    assert page.locator("h1").inner_text() == "You are unsubscribed from everything"
    page.screenshot(path=str(shots / "preferences-unsubscribed-390.png"), full_page=True)
    # back, and the button again: the page is not cached, so it comes with a fresh
    # single-use token; nothing new is recorded (the replay of one token: the HTTP tests)
    page.go_back()
    page.click("button:has-text('Yes, unsubscribe me from everything')")
    assert page.locator("h1").inner_text() == "You are unsubscribed from everything"
    assert _consents(brand, "c010") == [("email_marketing", "granted"),
                                        ("email_marketing", "withdrawn")]  # fmt: skip
    with brand.db.session() as s:
        assert s.scalar(select(Suppression.reason).where(
            Suppression.address == "user10@example.com")) == "unsubscribe"  # fmt: skip
    # and the next campaign message to them stops right before it would go out
    with brand.db.session() as s:
        mail.queue_email(s, brand.settings, key="summer|c010", campaign_id="summer",
                         customer_id="c010", recipient=ADA, rendered=rendered)  # fmt: skip
    assert brand.deliver()["skipped"] == 1  # (the access request's own email goes)
    with brand.smtp.sink.lock:
        campaigns = [str(m.message["X-Socialcrm-Campaign"]) for m in brand.smtp.sink.messages]
    assert campaigns.count("spring") == 1 and "summer" not in campaigns
    assert page.errors == []  # type: ignore[attr-defined]


def test_sign_up_on_the_brand_s_site_and_confirm_by_the_emailed_link(
    browser: Browser, brand: Brand, shots: Path
) -> None:
    page = _phone(browser)
    # the brand's own page, framing the form (as a shop would embed it)
    with site_framing(f"{brand.url}/signup", brand.shop_port) as shop:
        page.goto(shop)
        form = page.frame_locator("iframe")
        form.locator("h1").wait_for()
        assert form.locator("h1").inner_text() == "Get news from Nordlicht"
        page.screenshot(path=str(shots / "signup-framed-390.png"), full_page=True)
        form.locator("input[name=email]").fill("Mia.Novak@Example.org")
        form.locator("input[name=first_name]").fill("Mia")
        form.locator("input[name=topic][value=trail_running]").check()
        form.locator("input[name=consent]").check()
        form.locator("button:has-text('Sign up')").click()
        form.locator("h1", has_text="Almost done: check your inbox").wait_for()
        page.screenshot(path=str(shots / "signup-check-inbox-390.png"), full_page=True)

    wait_until(lambda: brand.deliver()["sent"], "the confirmation email was sent")
    (text,) = brand.received("mia.novak@example.org")
    assert "Hello Mia," in text
    link = re.search(r"(\S+/signup/confirm/\S+)", text).group(1)
    page.goto(link)
    assert page.locator("h1").inner_text() == "Confirm your sign-up"
    _fits(page)
    page.click("button:has-text('Confirm my sign-up')")
    assert page.locator("h1").inner_text() == "You are signed up"
    _fits(page)
    page.screenshot(path=str(shots / "signup-confirmed-390.png"), full_page=True)
    page.click("text=Choose what you receive")
    assert page.is_checked("input[name=channel][value=email]")
    assert page.is_checked("input[name=topic][value=trail_running]")
    assert page.input_value("input[name=first_name]") == "Mia"
    ids = Warehouse(brand.settings.warehouse_dir).read_arrow("identities").to_pylist()
    assert [(r["value"], r["verified"]) for r in ids if r["customer_id"].startswith("signup:")] == [
        ("mia.novak@example.org", True)
    ]
    assert page.errors == []  # type: ignore[attr-defined]


def test_another_site_cannot_frame_the_form(browser: Browser, brand: Brand) -> None:
    page = _phone(browser)
    with site_framing(f"{brand.url}/signup") as evil:  # another port: not the allowed site
        page.goto(evil)
        wait_until(lambda: any("frame-ancestors" in e for e in page.errors),  # type: ignore[attr-defined]
                   "chromium refused the frame")  # fmt: skip
        assert page.frame_locator("iframe").locator("input[name=email]").count() == 0
