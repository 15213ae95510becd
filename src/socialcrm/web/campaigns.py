"""Campaign pages: the list, the builder, the results, and the journeys.

Everyone signed in reads the list and the results; only analysts and admins (the
marketing roles; there is no separate marketer role) build, preview, test-send or send:
a preview is one real customer's copy, with their signed links.

The builder shows, before anything is created, how many people the audience holds and
how many are left after consent, the holdout, suppression and frequency caps, and the
message as a sample person would get it. "Send" starts
:func:`socialcrm.programs.sending.send_campaign` in a thread of its own and returns at
once (a large audience takes minutes; a request must not); the results page shows the
progress, refreshing itself, then the counts. Consent and suppression are checked again
at send time, the holdout is never contacted, and pressing "Send" twice (or while a send
runs) sends nobody anything twice.

The rendered HTML of a campaign's email opens as a document of its own with a CSP that
sandboxes it (no scripts, no requests but images): a template is markup written by
staff, shown to staff, and still never runs inside the app's pages.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialcrm.appdb.accounts import Principal, audit
from socialcrm.store import reads
from socialcrm.web import charts, views
from socialcrm.web.deps import AppState, page_principal, require, state
from socialcrm.web.pages import TEMPLATES, render

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
CHANNELS = {"email": "Email", "mastodon": "Mastodon private message",
            "bluesky": "Bluesky private message"}  # fmt: skip
EVENTS = ("sent", "delivered", "open", "click", "unsubscribe", "bounce")
MESSAGE_CSP = (
    "sandbox; default-src 'none'; img-src https: data:; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'"
)
"""The rendered email's own document: sandboxed, no scripts, no fetches but images."""
TEMPLATE_BYTES = 200_000
STARTER = """<p>Hello {{ first_name }},</p>
<p>Thank you for being with {{ brand or "us" }}.{% if product %} We hope you enjoy your {{ product }}.{% endif %}</p>
<p><a href="https://example.com/offer">See what is new</a></p>
"""  # noqa: E501 (a template, kept as one would write it)


def plain(name: str | None) -> str:
    """An action or segment name in plain words.

    >>> plain("at_risk_high_value")
    'At risk high value'
    """
    return (name or "").replace("_", " ").strip().capitalize()


def money(value: float | None, currency: str | None, places: int = 2) -> str:
    """An amount with its currency, e.g. ``1,234.50 EUR``; an em dash for none.

    >>> money(1234.5, "EUR"), money(None, "EUR"), money(-3, None, 0)
    ('1,234.50 EUR', '—', '-3')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return f"{value:,.{places}f}" + (f" {currency}" if currency else "")


TEMPLATES.env.filters["plain"] = plain
TEMPLATES.env.filters["amount"] = money


# -- the list ------------------------------------------------------------------------------
@router.get("/campaigns", response_class=HTMLResponse)
def campaign_list(
    request: Request, p: Principal = Depends(page_principal), st: AppState = Depends(state)
) -> Response:
    from socialcrm.programs.journeys import describe, list_journeys

    camps = reads.programs.campaigns(st.rm)
    with st.db.session() as s:
        journeys = list_journeys(s)
    for j in journeys:
        j["said"] = describe(j)
    return render(
        request,
        "campaign_list.html",
        p,
        campaigns=camps,
        journeys=journeys,
        can_build=p.can("analyst"),
    )


# -- the builder ------------------------------------------------------------------------------
def _audiences(st: AppState) -> list[dict[str, Any]]:
    """The audiences a campaign may start from: segments, then next-best-actions."""
    out = [
        {"value": f"segment:{s['segment']}", "label": f"{plain(s['segment'])} (segment)",
         "people": s["customers"]}
        for s in reads.targeting.segments(st.rm)
    ]  # fmt: skip
    out += [
        {"value": f"action:{a['action']}", "label": f"{plain(a['action'])} (next-best-action)",
         "people": a["customers"]}
        for a in reads.programs.first_actions(st.rm)
    ]  # fmt: skip
    return out


def _blank() -> dict[str, Any]:
    return {"name": "", "audience": "", "channel": "email", "subject": "", "template": STARTER,
            "holdout": "10", "send_at": "", "window_days": "30", "quiet_hours": "",
            "cost_per_message": "0", "fixed_cost": "0", "currency": ""}  # fmt: skip


@router.get("/campaigns/new", response_class=HTMLResponse)
def builder(
    request: Request,
    p: Principal = Depends(require("analyst", page=True)),
    st: AppState = Depends(state),
) -> Response:
    return _builder(request, p, st, _blank())


def _builder(
    request: Request,
    p: Principal,
    st: AppState,
    form: dict[str, Any],
    *,
    preview: dict[str, Any] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "campaign_new.html",
        p,
        status=status,
        form=form,
        audiences=_audiences(st),
        channels=CHANNELS,
        preview=preview,
        error=error,
    )


class FormError(ValueError):
    """A builder field that cannot be used, said for the marketer."""


def _number(form: dict[str, Any], key: str, label: str, lo: float, hi: float) -> float:
    try:
        v = float(str(form.get(key) or "0").replace(",", "."))
    except ValueError:
        raise FormError(f"{label}: a number, please") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise FormError(f"{label}: between {lo:g} and {hi:g}")
    return v


def _campaign_id(name: str) -> str:
    """A campaign id from its name: lower-case words joined by dashes.

    >>> _campaign_id("Spring win-back 2026!")
    'spring-win-back-2026'
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]


def _parsed(form: dict[str, Any]) -> dict[str, Any]:
    """The builder's fields as create_campaign's arguments (FormError when one is wrong)."""
    name = str(form.get("name") or "").strip()
    if not _campaign_id(name):
        raise FormError("Name the campaign (letters or digits).")
    kind, _, value = str(form.get("audience") or "").partition(":")
    if kind not in ("segment", "action") or not value:
        raise FormError("Choose who the campaign is for.")
    channel = str(form.get("channel") or "email")
    if channel not in CHANNELS:
        raise FormError("Choose a channel.")
    if channel == "email" and not str(form.get("subject") or "").strip():
        raise FormError("An email needs a subject.")
    if not str(form.get("template") or "").strip():
        raise FormError("Write the message, or upload a template file.")
    send_at = None
    if form.get("send_at"):
        try:
            send_at = datetime.fromisoformat(str(form["send_at"])).replace(tzinfo=UTC)
        except ValueError:
            raise FormError("Send time: a date and time, please.") from None
    holdout = _number(form, "holdout", "Holdout share (%)", 1, 50) / 100
    window = _number(form, "window_days", "Attribution window (days)", 1, 365)
    currency = str(form.get("currency") or "").strip().upper()
    if currency and not re.fullmatch(r"[A-Z]{3}", currency):
        raise FormError("Currency: a three-letter code such as EUR or USD.")
    starts = send_at or datetime.now(UTC)
    return {
        "campaign_id": _campaign_id(name),
        "name": name,
        "segment": value if kind == "segment" else None,
        "action": value if kind == "action" else None,
        "channel": channel,
        "subject": str(form.get("subject") or "").strip() or None,
        "template": str(form["template"]),
        "holdout_share": holdout,
        "starts_at": starts,
        "ends_at": starts + timedelta(days=window),
        "send_at": send_at,
        "quiet_hours": str(form.get("quiet_hours") or "").strip() or None,
        "cost_per_message": _number(form, "cost_per_message", "Cost per message", 0, 1e6),
        "fixed_cost": _number(form, "fixed_cost", "Fixed cost", 0, 1e9),
        "currency": currency or None,
    }


async def _form(request: Request) -> dict[str, Any]:
    """The builder's fields; an uploaded template file replaces the text box."""
    data = await request.form()
    form = {k: v for k, v in data.items() if isinstance(v, str)}
    upload = data.get("template_file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(TEMPLATE_BYTES + 1)
        if len(raw) > TEMPLATE_BYTES:
            raise FormError(f"The template file is over {TEMPLATE_BYTES // 1000} kB.")
        try:
            form["template"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormError("The template file is not UTF-8 text.") from None
    return form


def draft_preview(st: AppState, a: dict[str, Any]) -> dict[str, Any]:
    """Counts after consent, holdout, suppression and caps, and the message as the first
    reachable person of the audience would get it. Nothing is created or sent."""
    from socialcrm.outbound.templates import TemplateError, load_template
    from socialcrm.programs import sending
    from socialcrm.programs.campaigns import CampaignError, audience_for

    channel = a["channel"]
    with views.read_workspace(st.settings) as ws:
        try:
            counts = sending.audience_preview(ws, st.db, st.settings, segment=a["segment"],
                                              action=a["action"], channel=channel,
                                              holdout_share=a["holdout_share"])  # fmt: skip
            people = audience_for(ws, segment=a["segment"], action=a["action"])
        except CampaignError as e:
            raise FormError(str(e)) from None
        try:
            template = load_template(a["template"], a["subject"] or "")
        except TemplateError as e:
            raise FormError(f"The message has a mistake: {e}") from None
        who = sending.contacts(ws, people[:200], channel, st.settings)
        sample = next((who[c] for c in people[:200] if who[c].address), None)
        brand, names = sending.catalogue(st.settings)
        pid = sample.customer_id if sample else None
        ctx = sending.personal_context(
            sample, settings=st.settings, campaign_id=a["campaign_id"], brand=brand,
            action=sending.next_actions(ws).get(pid) if pid else None,
            products=sending.products_of(ws, [pid], names).get(pid, []) if pid else [],
        )  # fmt: skip
        try:
            rendered = template.render(ctx)
        except TemplateError as e:
            raise FormError(f"The message has a mistake: {e}") from None
    return {"counts": counts, "sample": pid, "subject": rendered.subject,
            "text": rendered.text, "html": rendered.html}  # fmt: skip


@router.post("/campaigns/new", response_class=HTMLResponse)
async def build(
    request: Request,
    p: Principal = Depends(require("analyst", page=True)),
    st: AppState = Depends(state),
) -> Response:
    """Preview (counts and a sample message) or create, by the button pressed."""
    from socialcrm.programs.campaigns import CampaignError, create_campaign

    form: dict[str, Any] = _blank()
    try:
        form |= await _form(request)
        args = _parsed(form)
        shown = draft_preview(st, args)
        if form.get("intent") != "create":
            return _builder(request, p, st, form, preview=shown)
        cid = args.pop("campaign_id")
        with views.read_workspace(st.settings) as ws:
            from socialcrm.programs.campaigns import audience_for

            people = audience_for(ws, segment=args["segment"], action=args["action"])
            counts = create_campaign(ws, cid, people, **args)
    except (FormError, CampaignError) as e:
        return _builder(request, p, st, form, error=str(e), status=422)
    with st.db.session() as s:
        audit(s, p.email, "campaign.create", cid, via="web", **counts)
    return RedirectResponse(f"/campaigns/{cid}?created=1", status_code=303)


# -- one campaign: results, message, test send, send ------------------------------------------
def _report(st: AppState, cid: str) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """(the campaign's row, its report or None, why there is none)."""
    from socialcrm.programs.campaigns import CampaignError, campaign_report, get_campaign
    from socialcrm.programs.sending import sync_feedback

    with views.read_workspace(st.settings) as ws:
        try:
            camp = get_campaign(ws, cid)
        except CampaignError as e:
            raise HTTPException(404, str(e)) from None
        sync_feedback(ws, st.db)  # deliveries, opens, clicks… into touches: the page is current
        try:
            return camp, campaign_report(ws, cid, seeding="planned").to_json(), None
        except CampaignError as e:
            return camp, None, str(e)


def _wilson(x: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    q = x / n
    d = 1 + z * z / n
    c = (q + z * z / (2 * n)) / d
    h = z * math.sqrt(q * (1 - q) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def result_charts(report: dict[str, Any], days: list[dict[str, Any]]) -> dict[str, Any]:
    """The results page's three charts: conversion of both groups with 95% intervals,
    incremental revenue beside cost and net, and what the messages did per day."""
    t, c = report["treatment"], report["control"]
    rows = []
    for label, g in (("treated", t), ("held out", c)):
        lo, hi = _wilson(g["converted"], g["customers"])
        rate = g["converted"] / g["customers"] if g["customers"] else 0.0
        rows.append((f"{label} ({g['customers']:,})", 100 * rate, 100 * lo, 100 * hi))
    d_lo, d_hi = report["rate_difference_ci"]
    rows.append(("difference", 100 * report["rate_difference"], 100 * d_lo, 100 * d_hi))
    conversion = charts.intervals("Conversion rate (%), 95% intervals", rows, fmt="{:,.2f}%")
    cur = report.get("currency")
    r_lo, r_hi = report["incremental_revenue_ci"]
    n_lo, n_hi = report["net_incremental_revenue_ci"]
    money_rows = [
        ("incremental revenue", report["incremental_revenue"], r_lo, r_hi),
        ("cost", report["cost"], None, None),
        ("net of cost", report["net_incremental_revenue"], n_lo, n_hi),
    ]
    revenue = charts.intervals(
        f"Incremental revenue and cost{f' ({cur})' if cur else ''}, 95% intervals",
        money_rows,
        fmt="{:,.0f}",
    )
    dates = sorted({d["day"] for d in days})
    per = {(d["day"], d["event"]): int(d["people"]) for d in days}
    series: dict[str, Sequence[float | None]] = {
        e: [float(per.get((x, e), 0)) for x in dates]
        for e in EVENTS
        if any((x, e) in per for x in dates)
    }
    over_time = (
        charts.line_chart(
            "People per day: " + ", ".join(series),
            [x.strftime("%d %b") for x in dates],
            series,
            y_min=0,
        )
        if len(dates) > 1
        else None
    )
    seen = report.get("engagement") or {}
    totals = charts.bar_list(
        "People so far, per event",
        [(e, float(seen.get(e, 0))) for e in (*EVENTS, "complaint") if seen.get(e)],
    )
    return {"conversion": conversion, "revenue": revenue, "over_time": over_time,
            "totals": totals, "events": list(series)}  # fmt: skip


@router.get("/campaigns/{cid}", response_class=HTMLResponse)
def campaign_page(
    request: Request,
    cid: str = Path(max_length=200),
    p: Principal = Depends(page_principal),
    st: AppState = Depends(state),
) -> Response:
    from socialcrm.programs.sending import progress

    camp, report, why = _report(st, cid)
    chart = (
        result_charts(report, reads.programs.campaign_touches_daily(st.rm, cid)) if report else None
    )
    # the message only for those who may send it: it is one real customer's copy, with
    # their signed links (an unsubscribe link in the template would work for anyone)
    message = None
    if camp.get("template") and p.can("analyst"):
        message = _message(st, cid)
    flash = {k: v for k, v in request.query_params.items()
             if k in ("created", "tested", "error")}  # fmt: skip
    job = send_job(st, cid) if request.query_params.get("sending") else None
    sending = job is not None and not job.done.is_set()
    if job is not None and job.done.is_set():
        if job.error:
            flash["error"] = job.error
        elif job.counts is not None:
            flash.update(sent="1", **{f"n_{k}": str(v) for k, v in job.counts.items()})
    response = render(
        request,
        "campaign_results.html",
        p,
        c=camp,
        r=report,
        why=why,
        charts=chart,
        progress=progress(st.db, cid),
        message=message,
        can_send=p.can("analyst") and bool(camp.get("template")),
        flash=flash,
        sending=sending,
    )
    if sending:  # the page refreshes itself (an HTTP header: no script, CSP intact)
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


def _message(st: AppState, cid: str) -> dict[str, Any] | None:
    from socialcrm.programs.campaigns import CampaignError
    from socialcrm.programs.sending import contacts, preview

    with views.read_workspace(st.settings) as ws:
        try:
            who, rendered = preview(ws, st.settings, cid)
        except CampaignError as e:
            return {"error": str(e)}
        found = contacts(ws, [who], "email", st.settings).get(who) if who else None
    full = " ".join(n for n in (found.first_name, found.last_name) if n) if found else ""
    sample = {"customer_id": who, "name": full or None} if who else None
    return {"sample": sample, "subject": rendered.subject, "text": rendered.text}


@router.get("/campaigns/{cid}/message.html", response_class=HTMLResponse)
def message_html(
    cid: str = Path(max_length=200),
    p: Principal = Depends(require("analyst", page=True)),
    st: AppState = Depends(state),
) -> Response:
    """The email's HTML part for a sample person, as its own sandboxed document."""
    from socialcrm.programs.campaigns import CampaignError
    from socialcrm.programs.sending import preview

    with views.read_workspace(st.settings) as ws:
        try:
            _, rendered = preview(ws, st.settings, cid)
        except CampaignError as e:
            raise HTTPException(404, str(e)) from None
    return HTMLResponse(rendered.html, headers={"Content-Security-Policy": MESSAGE_CSP})


@router.post("/campaigns/{cid}/test")
async def send_a_test(
    request: Request,
    cid: str = Path(max_length=200),
    p: Principal = Depends(require("analyst", page=True)),
    st: AppState = Depends(state),
) -> Response:
    """One copy to an address of the marketer's choosing, marked [test]; not counted."""
    from socialcrm.programs.campaigns import CampaignError
    from socialcrm.programs.sending import test_send as send_test

    to = str((await request.form()).get("to") or "").strip()[:320]
    try:
        with views.read_workspace(st.settings) as ws:
            send_test(ws, st.db, st.settings, cid, to)
    except CampaignError as e:
        return _back(cid, error=str(e))
    with st.db.session() as s:
        audit(s, p.email, "campaign.test_send", cid, via="web")
    return _back(cid, tested=to)


@dataclass
class SendJob:
    """A send started from the page, running in its own thread; the page reads it."""

    actor: str
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    counts: dict[str, int] | None = None
    error: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


_JOBS: dict[tuple[str, str], SendJob] = {}
_JOBS_LOCK = threading.Lock()
REFRESH_SECONDS = 2


def _job_key(st: AppState, cid: str) -> tuple[str, str]:
    return (str(st.settings.home), cid)


def send_job(st: AppState, cid: str) -> SendJob | None:
    """The campaign's latest send started from the page in this process, if any."""
    with _JOBS_LOCK:
        return _JOBS.get(_job_key(st, cid))


def _run_send(st: AppState, cid: str, job: SendJob) -> None:
    from socialcrm.outbound.channel import ChannelError
    from socialcrm.programs.campaigns import CampaignError
    from socialcrm.programs.sending import send_campaign

    try:
        with views.read_workspace(st.settings) as ws:
            job.counts = send_campaign(ws, st.db, st.settings, cid)
        with st.db.session() as s:
            audit(s, job.actor, "campaign.send", cid, via="web", **job.counts)
    except (CampaignError, ChannelError) as e:
        job.error = str(e)
    except Exception:  # the thread has no caller to tell: log it, and the page says so
        log.exception("campaign %s: the send started from the web app failed", cid)
        job.error = (
            "sending stopped on an unexpected error (the server log has it); "
            "press Send again to resume"
        )
    finally:
        job.done.set()


@router.post("/campaigns/{cid}/send")
def send(
    cid: str = Path(max_length=200),
    p: Principal = Depends(require("analyst", page=True)),
    st: AppState = Depends(state),
) -> Response:
    """Start sending to the treated people (or queueing for the send time); returns at once.

    One send per campaign at a time in this process; a second press while it runs just
    shows its progress. Sends in other processes are safe too: every message is keyed
    by campaign, person and step, so nobody gets it twice."""
    from socialcrm.programs.campaigns import CampaignError, get_campaign

    with views.read_workspace(st.settings) as ws:
        try:
            get_campaign(ws, cid)
        except CampaignError as e:
            raise HTTPException(404, str(e)) from None
    key = _job_key(st, cid)
    with _JOBS_LOCK:
        running = _JOBS.get(key)
        if running is None or running.done.is_set():
            job = _JOBS[key] = SendJob(actor=p.email)
            threading.Thread(
                target=_run_send, args=(st, cid, job), name=f"send-{cid}", daemon=True
            ).start()
    return _back(cid, sending="1")


def _back(cid: str, **query: str) -> Response:
    return RedirectResponse(f"/campaigns/{cid}?{urlencode(query)}", status_code=303)
