"""``socialcrm campaign``: campaigns measured against a randomised holdout.

Thin: it parses, calls :mod:`socialcrm.programs.campaigns`, and prints.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from socialcrm.cli.common import JsonOpt, command_group, opened, out
from socialcrm.cli.common import fail as _fail

campaign_app = command_group(
    "campaign",
    (
        "Campaigns measured against a randomised holdout.\n\n"
        "Example: socialcrm campaign report spring-2026 --json"
    ),
)


@campaign_app.command("create")
def campaign_create(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    audience: Annotated[Path, typer.Option(help="File of customer ids, one per line.")],
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day.")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Day after the last.")],
    holdout: Annotated[float, typer.Option(help="Share held out (not contacted).")] = 0.1,
    channel: Annotated[str, typer.Option(help="email | sms | phone | social | push.")] = "email",
    kind: Annotated[str, typer.Option(help="direct | amplifier.")] = "direct",
    posts: Annotated[
        str | None, typer.Option(help="Comma-separated post ids of an amplifier campaign.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the holdout draw.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Define a campaign and draw its randomised holdout.

    Example: socialcrm campaign create spring --audience ids.txt --start 2026-03-01 --end 2026-04-01
    """
    from socialcrm.programs.campaigns import CampaignError, create_campaign

    if not audience.is_file():
        raise _fail(f"{audience}: no such file")
    ids = [line.strip() for line in audience.read_text().splitlines() if line.strip()]
    if ids and ids[0] == "customer_id":
        ids = ids[1:]
    with opened(CampaignError) as o:
        counts = create_campaign(
            o.ws,
            campaign_id,
            ids,
            starts_at=start,
            ends_at=end,
            holdout_share=holdout,
            kind=kind,
            channel=channel,
            post_ids=[p.strip() for p in (posts or "").split(",") if p.strip()],
            seed=seed,
        )
    if as_json:
        out.print_json(json.dumps(counts))
        return
    out.print(
        f"campaign {campaign_id}: {counts['treatment']:,} treated, {counts['control']:,} held "
        f"out, {counts['left_out_without_consent']:,} left out (no consent)"
    )


@campaign_app.command("report")
def campaign_report_cmd(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    confidence: Annotated[float, typer.Option(help="Confidence level of intervals.")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Incremental conversions and revenue against the holdout, with intervals.

    Example: socialcrm campaign report spring --json
    """
    from socialcrm.programs.campaigns import CampaignError, campaign_report

    with opened(CampaignError) as o:
        r = campaign_report(o.ws, campaign_id, confidence)
    if as_json:
        out.print_json(json.dumps(r.to_json()))
        return
    pct = f"{confidence:.0%}"
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
    out.print(f"incremental revenue {r.incremental_revenue:,.2f} ({pct} CI {lo:,.2f} to {hi:,.2f})")
    if r.reach:
        out.print(
            f"reach through reshares: {r.reach['reshares']} reshares by "
            f"{r.reach['distinct_resharers']} people, potential audience "
            f"{r.reach['potential_audience']:,}"
        )
