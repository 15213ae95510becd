"""``socialcrm campaign``: campaigns sent by email or private message, measured against a
randomised holdout.

Thin: it parses, calls :mod:`socialcrm.programs.campaigns` and
:mod:`socialcrm.programs.sending`, and prints.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli.common import JsonOpt, command_group, err, opened, out
from socialcrm.cli.common import fail as _fail

if TYPE_CHECKING:
    from socialcrm.programs.campaigns import Uplift

campaign_app = command_group(
    "campaign",
    (
        "Campaigns sent by email (or a private message on Mastodon or Bluesky) to a segment "
        "or a next-best-action's people, measured against a randomised holdout.\n\n"
        "Example: socialcrm campaign create spring --segment loyal_quiet_buyer --channel email "
        "--template spring.html --subject 'Hello {{ first_name }}' --holdout 0.1"
    ),
)

SEND_KEYS = ("sent", "holdout", "no_consent", "suppressed", "capped", "failed")


def _when(text: str | None, zone: str) -> datetime | None:
    """An ISO 8601 date or time; without an offset, in the workspace's time zone."""
    if text is None:
        return None
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _fail(f"{text!r}: not an ISO 8601 time (e.g. 2026-03-01T09:00+01:00)") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=ZoneInfo(zone))
    return t.astimezone(UTC)


@campaign_app.command("create")
def campaign_create(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id (its name).")],
    segment: Annotated[
        str | None, typer.Option(help="Audience: the people of this segment.")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Audience: the people whose next-best-action is this.")
    ] = None,
    audience: Annotated[
        Path | None, typer.Option(help="Audience: a file of customer ids, one per line.")
    ] = None,
    channel: Annotated[
        str, typer.Option(help="email | mastodon | bluesky (sent here); sms | phone | social.")
    ] = "email",
    template: Annotated[
        Path | None,
        typer.Option(help="Jinja2 template of the message (HTML; {% block text %} optional)."),
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Subject (a template too).")] = None,
    holdout: Annotated[float, typer.Option(help="Share held out (not contacted).")] = 0.1,
    send_at: Annotated[
        str | None,
        typer.Option(help="Send no earlier than this ISO time (no offset: SOCIALCRM_TIMEZONE)."),
    ] = None,
    cost_per_message: Annotated[float, typer.Option(help="Cost of one message sent.")] = 0.0,
    fixed_cost: Annotated[float, typer.Option(help="Cost of the campaign however many.")] = 0.0,
    currency: Annotated[
        str | None, typer.Option(help="Currency of the costs (default: the orders').")
    ] = None,
    quiet_hours: Annotated[
        str | None,
        typer.Option(help="Local hours START-END nobody is written to, e.g. 21-8 (deferred)."),
    ] = None,
    start: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First day of the window (default: send time)."),
    ] = None,
    end: Annotated[
        datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Day after the window (default: start + days)."),
    ] = None,
    window_days: Annotated[
        int, typer.Option(help="Attribution window in days when --end is not given.")
    ] = 30,
    kind: Annotated[str, typer.Option(help="direct | amplifier.")] = "direct",
    posts: Annotated[
        str | None, typer.Option(help="Comma-separated post ids of an amplifier campaign.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the holdout draw.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Define a campaign, check its template, and draw its holdout (stratified by value
    tier). Nobody is contacted yet: `campaign send` does that.

    Example: socialcrm campaign create spring --segment loyal_quiet_buyer --channel email
    --template spring.html --subject 'Hello {{ first_name }}' --holdout 0.1
    --send-at 2026-03-02T09:00 --cost-per-message 0.002
    """
    from socialcrm.config import get_settings
    from socialcrm.programs.campaigns import CampaignError, audience_for, create_campaign

    if sum(x is not None for x in (segment, action, audience)) != 1:
        raise _fail("give the audience once: --segment, --action or --audience")
    if window_days < 1:
        raise _fail("--window-days must be at least 1")
    source = None
    if template is not None:
        if not template.is_file():
            raise _fail(f"{template}: no such file")
        source = template.read_text(encoding="utf-8")
    if audience is not None and not audience.is_file():
        raise _fail(f"{audience}: no such file")
    settings = get_settings()
    when = _when(send_at, settings.timezone)
    begin = start.replace(tzinfo=UTC) if start else (when or datetime.now(UTC))
    finish = end.replace(tzinfo=UTC) if end else begin + timedelta(days=window_days)
    with opened(CampaignError) as o:
        if audience is not None:
            ids = [line.strip() for line in audience.read_text().splitlines() if line.strip()]
            if ids and ids[0] == "customer_id":
                ids = ids[1:]
        else:
            ids = audience_for(o.ws, segment=segment, action=action)
        counts = create_campaign(
            o.ws,
            campaign_id,
            ids,
            starts_at=begin,
            ends_at=finish,
            holdout_share=holdout,
            kind=kind,
            channel=channel,
            post_ids=[p.strip() for p in (posts or "").split(",") if p.strip()],
            seed=seed,
            template=source,
            subject=subject,
            segment=segment,
            action=action,
            cost_per_message=cost_per_message,
            fixed_cost=fixed_cost,
            currency=currency,
            send_at=when,
            quiet_hours=quiet_hours,
        )
    if as_json:
        out.print_json(json.dumps(counts))
        return
    out.print(
        f"campaign {escape(campaign_id)}: {counts['treatment']:,} treated, "
        f"{counts['control']:,} held out, {counts['left_out_without_consent']:,} left out "
        "(no consent)"
    )


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[dict[str, int]], None]]:
    """A progress line on stderr for a long send (sent / to go), updated per batch."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    if not show:
        yield lambda _counts: None
        return
    with Progress(
        TextColumn("sending"), BarColumn(), MofNCompleteColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task("send", total=None)

        def update(counts: dict[str, int]) -> None:
            done = counts.get("sent", 0) + counts.get("failed", 0)
            bar.update(task, completed=done, total=done + counts.get("queued", 0))

        yield update


@campaign_app.command("send")
def campaign_send(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", help="Stay until every deferred message (send-at, quiet hours) is sent."
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option(help="With --watch: longest wait between passes, seconds.")
    ] = 30.0,
    step: Annotated[
        str, typer.Option(help="Which message of the campaign (one per person per step).")
    ] = "send",
    as_json: JsonOpt = False,
) -> None:
    """Send the campaign to its treated people (never the holdout): consent, suppression
    and contact frequency checked per person, consent again right before each message.
    Safe to run again: nobody gets a step's message twice, and a send that died resumes.

    Output (--json): {"sent", "holdout", "no_consent", "suppressed", "capped", "failed"}.

    Example: SOCIALCRM_SMTP_URL=smtp://127.0.0.1:2525 SOCIALCRM_PUBLIC_URL=https://crm.example
    socialcrm campaign send spring --json
    """
    from socialcrm.config import get_settings
    from socialcrm.programs.campaigns import CampaignError
    from socialcrm.programs.sending import deliver_campaign, progress, send_campaign

    settings = get_settings()
    with opened(CampaignError, app_db=True) as o, _progress(err.is_terminal) as show:
        counts = send_campaign(o.ws, o.db, settings, campaign_id, step=step, on_progress=show)
        while watch:
            left = progress(o.db, campaign_id)
            if not left["queued"]:
                break
            due = left.get("next_due_epoch", time.time())
            wait = min(max(interval, 0.1), max(0.1, float(due) - time.time()))
            err.print(f"{left['queued']:,} message(s) wait; next pass in {wait:,.0f} s")
            time.sleep(wait)
            more = deliver_campaign(o.ws, o.db, settings, campaign_id, on_progress=show)
            for k in ("sent", "no_consent", "suppressed", "failed"):
                counts[k] += more[k]
        left = progress(o.db, campaign_id)
    result = {k: counts[k] for k in SEND_KEYS}
    if as_json:
        out.print_json(json.dumps(result))
        return
    out.print(
        f"campaign {escape(campaign_id)}: {result['sent']:,} sent, {result['holdout']:,} held "
        f"out, {result['no_consent']:,} without consent, {result['suppressed']:,} suppressed, "
        f"{result['capped']:,} capped by contact frequency, {result['failed']:,} failed"
    )
    if left["queued"]:
        out.print(
            f"{left['queued']:,} message(s) wait for their time (send-at, quiet hours, a "
            "retry): run `campaign send` again later, or with --watch"
        )


@campaign_app.command("preview")
def campaign_preview(
    campaign_id: Annotated[
        str | None, typer.Argument(help="Campaign id (its message and audience).")
    ] = None,
    segment: Annotated[str | None, typer.Option(help="Or: a segment's audience.")] = None,
    action: Annotated[str | None, typer.Option(help="Or: a next-best-action's audience.")] = None,
    channel: Annotated[str, typer.Option(help="Channel whose consent counts.")] = "email",
    holdout: Annotated[float, typer.Option(help="Share to hold out.")] = 0.1,
    customer: Annotated[
        str | None, typer.Option(help="Render the message for this customer.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who a campaign would reach (after consent, holdout, suppression and frequency caps)
    and, for a campaign, its message as one person would get it. Nothing is sent.

    Example: socialcrm campaign preview --segment at_risk_high_value
    Example: socialcrm campaign preview spring --customer shop:000042
    """
    from socialcrm.config import get_settings
    from socialcrm.programs.campaigns import CampaignError, get_campaign
    from socialcrm.programs.sending import audience_preview, preview

    if (campaign_id is None) == (segment is None and action is None):
        raise _fail("give a campaign, or --segment / --action (not both)")
    settings = get_settings()
    doc: dict[str, object] = {}
    with opened(CampaignError, app_db=True) as o:
        if campaign_id is not None:
            camp = get_campaign(o.ws, campaign_id)
            segment, action = camp["segment"], camp["action"]
            channel, holdout = str(camp["channel"]), float(camp["holdout_share"])
            if camp["template"]:
                who, r = preview(o.ws, settings, campaign_id, customer)
                doc["message"] = {
                    "customer_id": who,
                    "subject": r.subject,
                    "text": r.text,
                    "html": r.html,
                }
        if segment is not None or action is not None:
            doc["audience"] = audience_preview(
                o.ws, o.db, settings, segment=segment, action=action, channel=channel,
                holdout_share=holdout,
            )  # fmt: skip
    if as_json:
        out.print_json(json.dumps(doc))
        return
    if "audience" in doc:
        counts = doc["audience"]
        assert isinstance(counts, dict)
        t = Table("", "people", title="audience", title_justify="left")
        for k, v in counts.items():
            t.add_row(k.replace("_", " "), f"{v:,}")
        out.print(t)
    if "message" in doc:
        m = doc["message"]
        assert isinstance(m, dict)
        out.print(f"as {escape(str(m['customer_id']))} would get it:", style="bold")
        out.print(f"Subject: {escape(str(m['subject']))}\n")
        out.print(escape(str(m["text"])))


@campaign_app.command("test-send")
def campaign_test_send(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    to: Annotated[str, typer.Option("--to", help="Address to send the test copy to.")],
    customer: Annotated[
        str | None, typer.Option(help="Personalise as for this customer (default: the first).")
    ] = None,
) -> None:
    """Send one test copy of the campaign's email to an address of yours, subject marked
    [test]. It counts nowhere: no touch, no holdout, no suppression.

    Example: socialcrm campaign test-send spring --to me@example.com
    """
    from socialcrm.config import get_settings
    from socialcrm.programs.campaigns import CampaignError
    from socialcrm.programs.sending import test_send

    with opened(CampaignError, app_db=True) as o:
        test_send(o.ws, o.db, get_settings(), campaign_id, to, customer_id=customer)
    out.print(f"test copy of {escape(campaign_id)} sent to {escape(to)}")


@campaign_app.command("list")
def campaign_list(as_json: JsonOpt = False) -> None:
    """Every campaign, newest first: channel, audience, treated and held out, messages sent.

    Example: socialcrm campaign list --json
    """
    from socialcrm.programs.campaigns import CampaignError, list_campaigns
    from socialcrm.programs.sending import progress

    with opened(CampaignError, app_db=True) as o:
        rows = list_campaigns(o.ws)
        for r in rows:
            r["messages"] = progress(o.db, str(r["campaign_id"]))
            r["has_template"] = bool(r.pop("template", None))
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        out.print("no campaigns yet (socialcrm campaign create …)")
        return
    t = Table("campaign", "channel", "audience", "treated", "held out", "sent", "waiting",
              "send at", title="campaigns", title_justify="left")  # fmt: skip
    for r in rows:
        who = r["segment"] or r["action"] or "a list"
        msgs = r["messages"]
        assert isinstance(msgs, dict)
        t.add_row(
            escape(str(r["campaign_id"])),
            str(r["channel"]),
            escape(str(who)),
            f"{r['treatment']:,}",
            f"{r['control']:,}",
            f"{msgs['sent']:,}",
            f"{msgs['queued']:,}",
            str(r["send_at"] or "—"),
        )
    out.print(t)


@campaign_app.command("report")
def campaign_report_cmd(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    confidence: Annotated[float, typer.Option(help="Confidence level of intervals.")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Incremental conversions and revenue against the holdout, with intervals; cost and
    return on cost; what the messages did; and the expected reach of spending as many
    messages on seeding amplifiers, beside this blast's.

    Example: socialcrm campaign report spring --json
    """
    from socialcrm.programs.campaigns import CampaignError, campaign_report
    from socialcrm.programs.sending import sync_feedback

    with opened(CampaignError, app_db=True) as o:
        sync_feedback(o.ws, o.db)
        r = campaign_report(o.ws, campaign_id, confidence)
    if as_json:
        out.print_json(json.dumps(r.to_json()))
        return
    _print_report(campaign_id, r, confidence)


def _print_report(campaign_id: str, r: Uplift, confidence: float) -> None:
    pct = f"{confidence:.0%}"
    cur = f" {r.currency}" if r.currency else ""
    t = Table("", "treated", "holdout", title=f"campaign {campaign_id}", title_justify="left")
    t.add_row("customers", f"{r.treatment.customers:,}", f"{r.control.customers:,}")
    t.add_row("conversion rate", f"{r.treatment.rate:.2%}", f"{r.control.rate:.2%}")
    t.add_row(
        "revenue / customer", f"{r.treatment.mean_revenue:,.2f}", f"{r.control.mean_revenue:,.2f}"
    )
    out.print(t)
    lo, hi = r.incremental_conversions_ci
    out.print(
        f"incremental conversions {r.incremental_conversions:,.1f} "
        f"({pct} CI {lo:,.1f} to {hi:,.1f})"
    )
    lo, hi = r.incremental_revenue_ci
    out.print(
        f"incremental revenue {r.incremental_revenue:,.2f}{cur} ({pct} CI {lo:,.2f} to {hi:,.2f})"
    )
    if r.messages_sent or r.cost:
        lo, hi = r.net_incremental_revenue_ci
        out.print(
            f"cost {r.cost:,.2f}{cur} for {r.messages_sent:,} message(s); net incremental "
            f"revenue {r.net_incremental_revenue:,.2f}{cur} ({pct} CI {lo:,.2f} to {hi:,.2f})"
        )
    if r.return_on_cost is not None and r.return_on_cost_ci is not None:
        lo, hi = r.return_on_cost_ci
        out.print(f"return on cost {r.return_on_cost:,.2f} ({pct} CI {lo:,.2f} to {hi:,.2f})")
    if r.messages_sent:
        e = r.engagement
        out.print(
            "people: "
            + ", ".join(f"{e.get(k, 0):,} {k}" for k in ("sent", "delivered", "click", "open"))
            + f" (opens are inflated by privacy proxies); {e.get('unsubscribe', 0):,} "
            f"unsubscribed, {e.get('bounce', 0):,} bounced, {e.get('complaint', 0):,} complained"
        )
    if r.seeding:
        s = r.seeding
        if s.get("amplifier_expected_reach") is not None:
            out.print(
                f"this blast reached {s['blast_reach']:,} people with {s['messages']:,} "
                f"message(s); seeding {s['amplifier_seeds']:,} amplifier(s) instead is expected "
                f"to reach {s['amplifier_expected_reach']:,.0f}"
            )
        else:
            out.print(f"no amplifier comparison: {s.get('note', 'no amplifiers')}")
    if r.reach:
        out.print(
            f"reach through reshares: {r.reach['reshares']} reshares by "
            f"{r.reach['distinct_resharers']} people, potential audience "
            f"{r.reach['potential_audience']:,}"
        )
