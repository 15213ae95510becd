"""``socialcrm plan``: an email blast against amplifiers, before spending on either.

Thin: it parses, calls :mod:`socialcrm.programs.planner`, and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from socialcrm.cli.common import JsonOpt, out
from socialcrm.cli.common import fail as _fail


def plan(
    list_size: Annotated[int, typer.Option(help="Emails sent.", min=0)] = 1_000_000,
    click_rate: Annotated[float, typer.Option(help="Email click-through rate.")] = 0.06,
    email_conversion_rate: Annotated[float, typer.Option(help="Clickers who buy.")] = 0.03,
    cost_per_email: Annotated[float, typer.Option(help="Cost of one email.")] = 0.001,
    amplifiers: Annotated[int, typer.Option(help="Amplifiers engaged.", min=0)] = 20,
    reach: Annotated[float, typer.Option(help="Measured reach of one amplifier.")] = 10_000,
    engagement_rate: Annotated[float, typer.Option(help="Reached people who engage.")] = 0.05,
    reamplification_rate: Annotated[float, typer.Option(help="Engaged who reshare.")] = 0.01,
    secondary_reach: Annotated[float, typer.Option(help="Friends one resharer reaches.")] = 75,
    amplifier_conversion_rate: Annotated[float, typer.Option(help="Engaged who buy.")] = 0.03,
    fee_per_amplifier: Annotated[float, typer.Option(help="Paid to each amplifier.")] = 0.0,
    referral_reward: Annotated[float, typer.Option(help="Paid per referred sale.")] = 5.0,
    baseline_rate: Annotated[
        float, typer.Option(help="Share who would convert anyway (from a holdout).")
    ] = 0.0,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan an email blast against amplifiers: reach, engagement, conversions, cost.

    Example: socialcrm plan --list-size 1000000 --amplifiers 20 --reach 10000 --chart plan.png
    """
    from socialcrm.programs.planner import Amplifiers, EmailBlast, PlanError, compare, plan_chart

    try:
        result = compare(
            EmailBlast(list_size, click_rate, email_conversion_rate, cost_per_email, baseline_rate),
            Amplifiers(
                amplifiers,
                reach,
                engagement_rate,
                reamplification_rate,
                secondary_reach,
                amplifier_conversion_rate,
                fee_per_amplifier,
                referral_reward,
                baseline_rate,
            ),
        )
    except PlanError as e:
        raise _fail(str(e)) from None
    if chart is not None:
        try:
            plan_chart(result, chart)
        except OSError as e:
            raise _fail(f"{chart}: {e.strerror or e}") from None
    if as_json:
        out.print_json(json.dumps({k: v.to_json() for k, v in result.items()}))
        return
    t = Table("", "email blast", "amplifiers", title="expected outcome", title_justify="left")
    blast, amp = result["email"], result["amplifiers"]
    for label, attr, fmt in (
        ("reached", "reach", "{:,.0f}"),
        ("engaged", "engaged", "{:,.0f}"),
        ("conversions", "conversions", "{:,.1f}"),
        ("incremental", "incremental_conversions", "{:,.1f}"),
        ("cost", "cost", "${:,.2f}"),
    ):
        t.add_row(label, fmt.format(getattr(blast, attr)), fmt.format(getattr(amp, attr)))
    t.add_row(
        "cost / incremental",
        *(
            f"${o.cost_per_incremental:,.2f}" if o.cost_per_incremental else "—"
            for o in (blast, amp)
        ),
    )
    out.print(t)
    if chart is not None:
        out.print(f"chart: {chart}")
