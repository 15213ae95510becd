"""The campaign pages in a real browser and over HTTP: build a campaign from a segment,
preview who it reaches and the message, create it, send it to a real SMTP server
(aiosmtpd), and read its results — at 1,400 and 390 px, with no horizontal overflow.

Screenshots go to ``$SOCIALCRM_SCREENSHOTS`` like the other browser tests.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
from playwright.sync_api import Browser, Page

from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.programs.journeys import create_journey
from socialcrm.store.schemas import CONSENTS, CUSTOMERS, IDENTITIES, ORDERS
from socialcrm.store.workspace import Workspace
from tests.programs.campaign_brand import Sink, SmtpServer
from tests.waiting import wait_until
from tests.web.conftest import Site, seed_users, serve, sign_in
from tests.web.test_browser import browser, shots, signed_in  # noqa: F401 (fixtures)

N = 60
AT_RISK = [f"c{i:02d}" for i in range(0, N, 2)]  # 30 people
NO_CONSENT = {"c04", "c10"}  # at risk, but never agreed to email
MADE = datetime(2025, 1, 1, tzinfo=UTC)


@dataclass
class CampaignSite(Site):
    sink: Sink


def build_shop(settings: Settings) -> None:
    def write(ws: Workspace, name: str, schema: pa.Schema, rows: list[dict]) -> None:
        ws.warehouse.write(name, pa.Table.from_pylist(rows, schema=schema))

    ids = [f"c{i:02d}" for i in range(N)]
    with Workspace.open(settings) as ws:
        write(ws, "customers", CUSTOMERS.arrow_schema, [
            {"customer_id": c, "source": "shop", "created_at": MADE, "first_name": f"Ada{c}",
             "country": "DE", "preferred_channel": "email"} for c in ids
        ])  # fmt: skip
        write(ws, "identities", IDENTITIES.arrow_schema, [
            {"customer_id": c, "kind": "email", "value": f"{c}@example.com", "source": "shop",
             "verified": True, "last_seen": MADE} for c in ids
        ])  # fmt: skip
        write(ws, "consents", CONSENTS.arrow_schema, [
            {"customer_id": c, "purpose": "email_marketing", "recorded_at": MADE,
             "status": "refused" if c in NO_CONSENT else "granted", "source": "shop"}
            for c in ids
        ])  # fmt: skip
        write(ws, "orders", ORDERS.arrow_schema, [
            {"order_id": f"o{c}", "customer_id": c, "ordered_at": MADE, "amount": 80.0,
             "currency": "EUR", "status": "completed"} for c in ids
        ])  # fmt: skip
        ws.warehouse.write(
            "customer_segments",
            pa.table({
                "customer_id": ids,
                "segment": ["at_risk_high_value" if c in AT_RISK else "loyal_quiet_buyer"
                            for c in ids],
                "reason": ["because"] * N,
                "tier": ["top" if i % 3 == 0 else "middle" for i in range(N)],
                "clv": [100.0 + i for i in range(N)],
            }),
        )  # fmt: skip
        ws.warehouse.write(
            "customer_actions",
            pa.table({
                "customer_id": ids,
                "action": ["retention_gesture" if c in AT_RISK else "loyalty_thanks"
                           for c in ids],
                "reason": ["private retention gesture — because"] * N,
                "rank": [1] * N,
                "expected_value": [12.5] * N,
                "uplift": [0.0594 if c in AT_RISK else 0.02 for c in ids],
                "uplift_source": ["measured" if c in AT_RISK else "assumed" for c in ids],
                "uplift_campaigns": [2 if c in AT_RISK else 0 for c in ids],
                "uplift_people": [4210 if c in AT_RISK else 0 for c in ids],
            }),
        )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CampaignSite]:
    with SmtpServer() as smtp:
        settings = Settings(
            home=tmp_path_factory.mktemp("campaigns") / "ws",
            smtp_url=f"smtp://127.0.0.1:{smtp.port}?from=brand@example.com",
            public_url="http://127.0.0.1:9",
            email_rate_per_second=0,
            web_token_cache_seconds=0,
        )
        build_shop(settings)
        tokens = seed_users(settings.resolved_database_url)
        db = AppDB(settings.resolved_database_url)
        with db.session() as s:
            create_journey(s, name="save", trigger="segment", segment="at_risk_high_value",
                           template="<p>Hi {{ first_name }}</p>", subject="Hi",
                           wait_hours=48)  # fmt: skip
        db.close()
        for url in serve(settings):
            yield CampaignSite(url, settings, tokens, settings.resolved_database_url, smtp.sink)


def no_overflow(page: Page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_build_preview_send_and_read_the_results(
    browser: Browser,  # noqa: F811
    site: CampaignSite,
    shots: Path,  # noqa: F811
) -> None:
    page = signed_in(browser, site, "analyst")
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(f"{site.url}/campaigns")
    assert "No campaigns yet" in page.locator("#campaign-list").inner_text()
    page.screenshot(path=str(shots / "campaigns-empty.png"), full_page=True)
    page.click("a.button")
    page.wait_for_url(f"{site.url}/campaigns/new")
    page.fill("input[name=name]", "Spring win-back")
    page.select_option("select[name=audience]", "segment:at_risk_high_value")
    page.fill("input[name=subject]", "We miss you, {{ first_name }}")
    page.fill("input[name=holdout]", "20")
    page.click("button[value=preview]")
    reach = page.locator("#preview .counts").inner_text()
    # 30 at risk; 2 never agreed; of the 28, 20% (6) held out: 22 will get it
    assert re.search(r"in the audience\s+30", reach) and re.search(
        r"no consent or address\s+2", reach
    )
    assert page.locator("#reachable").inner_text() == "22"
    sample = page.locator("#sample-message").inner_text()
    assert sample.startswith("We miss you, Adac00") and "Hello Adac00" in sample
    no_overflow(page, 1400)
    page.screenshot(path=str(shots / "campaign-builder-preview.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    no_overflow(page, 390)
    page.screenshot(path=str(shots / "campaign-builder-preview-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.click("button[value=create]")
    page.wait_for_url(re.compile(r".*/campaigns/spring-win-back\?created=1$"))
    assert site.sink.to() == []  # creating sends nothing
    page.click("#send-form button")  # returns at once; the page refreshes until done
    page.wait_for_url(re.compile(r".*/campaigns/spring-win-back\?sending=1$"))
    notice = page.locator("#sent-notice").inner_text(timeout=60_000)
    assert "Sent 22" in notice and "held out 6" in notice
    to = site.sink.to()
    assert len(to) == 22 and not {f"{c}@example.com" for c in NO_CONSENT} & set(to)
    # orders in the window: every treated person bought, and one of the holdout
    with Workspace.open(site.settings) as ws:
        from socialcrm.programs.campaigns import assignments

        groups = assignments(ws, "spring-win-back")
        buyers = [c for c, g in groups.items() if g == "treatment"]
        buyers += [sorted(c for c, g in groups.items() if g == "control")[0]]
        at = datetime.now(UTC) + timedelta(hours=1)
        old = ws.warehouse.read_arrow("orders")
        new = pa.Table.from_pylist(
            [{"order_id": f"n{c}", "customer_id": c, "ordered_at": at, "amount": 50.0,
              "currency": "EUR", "status": "completed"} for c in buyers],
            schema=ORDERS.arrow_schema,
        )  # fmt: skip
        ws.warehouse.write("orders", pa.concat_tables([old, new]))
    page.goto(f"{site.url}/campaigns/spring-win-back")
    kpis = page.locator("#kpis").inner_text()
    assert "EUR" in kpis  # money with its currency
    assert page.locator("#results svg.chart").count() == 2
    assert page.locator("#over-time svg.chart").count() == 1  # the sends, synced to touches
    legend = page.locator("#results").inner_text()
    assert "Treated 22 of 22" in legend and "held out 1 of 6" in legend
    no_overflow(page, 1400)
    page.screenshot(path=str(shots / "campaign-results.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    no_overflow(page, 390)
    page.screenshot(path=str(shots / "campaign-results-phone.png"), full_page=True)
    # pressing Send again sends nobody anything twice
    page.click("#send-form button")
    page.wait_for_url(re.compile(r".*sending=1$"))
    assert "Sent 0" in page.locator("#sent-notice").inner_text(timeout=60_000)
    assert len(site.sink.to()) == 22
    page.goto(f"{site.url}/campaigns")
    assert "Spring win-back" in page.locator("#campaign-list").inner_text()
    said = "when someone enters at_risk_high_value, wait 2 days, then email them (10% held out)"
    assert said in page.locator("#journeys").inner_text()
    no_overflow(page, 390)
    page.screenshot(path=str(shots / "campaigns-list-phone.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]


def test_viewers_read_but_cannot_build_or_send(site: CampaignSite) -> None:
    viewer = sign_in(site.url, "viewer@test.io")
    listing = viewer.get("/campaigns")
    assert listing.status_code == 200 and 'href="/campaigns/new"' not in listing.text
    assert viewer.get("/campaigns/new").status_code == 403
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing.text).group(1)
    for path in ("/campaigns/new", "/campaigns/x/send", "/campaigns/x/test"):
        r = viewer.post(path, data={"csrf_token": token}, follow_redirects=False)
        assert r.status_code == 403, path
    assert viewer.get("/campaigns/x/message.html").status_code == 403


def test_forms_need_the_csrf_token_and_a_sound_builder(site: CampaignSite) -> None:
    analyst = sign_in(site.url, "analyst@test.io")
    page = analyst.get("/campaigns/new")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    base = {"name": "x", "audience": "segment:at_risk_high_value", "channel": "email",
            "subject": "Hi", "template": "<p>Hi {{ first_name }}</p>", "holdout": "10",
            "intent": "preview"}  # fmt: skip
    assert analyst.post("/campaigns/new", data=base).status_code == 403  # no token
    for change, said in [
        ({"audience": ""}, "Choose who"),
        ({"subject": ""}, "needs a subject"),
        ({"template": "{% if %}"}, "mistake"),
        ({"holdout": "90"}, "between 1 and 50"),
        ({"currency": "euro"}, "three-letter"),
    ]:
        r = analyst.post("/campaigns/new", data=base | change | {"csrf_token": token})
        assert r.status_code == 422 and said in r.text, change
    assert analyst.get("/campaigns/nope").status_code == 404


def test_the_message_document_is_sandboxed(site: CampaignSite) -> None:
    analyst = sign_in(site.url, "analyst@test.io")
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', analyst.get("/campaigns/new").text
    ).group(1)
    r = analyst.post(
        "/campaigns/new",
        data={
            "name": "Sandbox",
            "audience": "action:loyalty_thanks",
            "channel": "email",
            "subject": "Hi",
            "template": "<p>Hi {{ first_name }}</p><script>x()</script>",
            "holdout": "10",
            "intent": "create",
            "csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    doc = analyst.get("/campaigns/sandbox/message.html")
    assert doc.status_code == 200 and "Hi Adac" in doc.text
    csp = doc.headers["content-security-policy"]
    assert csp.startswith("sandbox") and "script-src" not in csp and "default-src 'none'" in csp


def test_the_360_says_which_uplifts_are_measured(site: CampaignSite) -> None:
    viewer = sign_in(site.url, "viewer@test.io")
    at_risk = viewer.get("/customers/c00")
    assert at_risk.status_code == 200
    assert "uplift +5.9 points, measured in 2 campaigns, 4,210 people" in at_risk.text
    loyal = viewer.get("/customers/c01").text
    assert "uplift +2.0 points, assumed: no campaign has measured it yet" in loyal


def test_send_runs_in_the_background_once_and_the_page_follows_it(
    site: CampaignSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    from socialcrm.programs import sending

    analyst = sign_in(site.url, "analyst@test.io")
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', analyst.get("/campaigns/new").text
    ).group(1)
    form = {"name": "Slow send", "audience": "segment:at_risk_high_value", "channel": "email",
            "subject": "Hi", "template": "<p>Hi {{ first_name }}</p>", "holdout": "10",
            "intent": "create", "csrf_token": token}  # fmt: skip
    made = analyst.post("/campaigns/new", data=form, follow_redirects=False)
    assert made.status_code == 303 and "/campaigns/slow-send" in made.headers["location"]
    release, calls, real = threading.Event(), [], sending.send_campaign

    def held(*args, **kwargs):  # a send that takes as long as the test says
        calls.append(args[3])
        assert release.wait(60), "the test never released the send"
        return real(*args, **kwargs)

    monkeypatch.setattr(sending, "send_campaign", held)
    before = len(site.sink.to())
    for _ in range(2):  # the second press while the first runs starts nothing
        r = analyst.post("/campaigns/slow-send/send", data={"csrf_token": token},
                         follow_redirects=False)  # fmt: skip
        assert r.status_code == 303 and r.headers["location"].endswith("?sending=1")
    running = analyst.get("/campaigns/slow-send?sending=1")
    assert running.headers.get("refresh") == "2" and 'id="sending-notice"' in running.text
    assert calls == ["slow-send"]
    release.set()

    def finished() -> httpx.Response | None:  # the page refreshes itself until then
        r = analyst.get("/campaigns/slow-send?sending=1")
        return r if 'id="sent-notice"' in r.text else None

    done = wait_until(finished, "the background send finished", poll=0.1)
    notice = re.search(r"id=\"sent-notice\">([^<]*)", done.text)
    assert "refresh" not in done.headers and notice, done.text[-3000:]
    sent, held = map(int, re.search(r"Sent (\d+); held out (\d+)", notice.group(1)).groups())
    # the 30 at risk less the 2 without consent, split between the treated and the holdout
    assert sent + held == 28 and 0 < held < 28
    assert calls == ["slow-send"] and len(site.sink.to()) == before + sent
