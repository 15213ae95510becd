"""``socialcrm journey``: automatic follow-ups — a trigger, a wait, an action, an exit.

Thin: it parses, calls :mod:`socialcrm.programs.journeys`, and prints.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from socialcrm.cli.common import JsonOpt, command_group, opened, out, print_json, stop_on_sigterm
from socialcrm.cli.common import fail as _fail

journey_app = command_group(
    "journey",
    (
        "Journeys: when someone enters a segment (or a valuable customer posts something "
        "negative), wait, then email or message them — with a holdout, never twice.\n\n"
        "Example: socialcrm journey run --json"
    ),
)
ACTOR = "cli"


def parse_wait(text: str) -> float:
    """``"3d"``, ``"12h"``, ``"90m"`` or ``"0"`` → hours.

    >>> parse_wait("3d"), parse_wait("12h"), parse_wait("90m"), parse_wait("0")
    (72.0, 12.0, 1.5, 0.0)
    """
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([dhm]?)\s*", text)
    if not m:
        raise ValueError(f"wait {text!r}: write it as 3d, 12h, 90m or 0")
    n, unit = float(m.group(1)), m.group(2) or "h"
    return n * {"d": 24.0, "h": 1.0, "m": 1 / 60}[unit]


@journey_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Journey name: lower-case letters, digits, - _.")],
    template: Annotated[Path, typer.Option(help="Template file (Jinja2, HTML or text).")],
    segment: Annotated[
        str | None, typer.Option(help="Trigger: entering this segment, e.g. at_risk_high_value.")
    ] = None,
    negative_post: Annotated[
        bool,
        typer.Option("--negative-post", help="Trigger: a negative post by a valuable customer."),
    ] = False,
    min_score: Annotated[
        float | None,
        typer.Option(help="With --negative-post: least transaction score (default 60)."),
    ] = None,
    wait: Annotated[str, typer.Option(help="Wait before acting: 3d, 12h, 90m or 0.")] = "0",
    subject: Annotated[str | None, typer.Option(help="Email subject (Jinja2).")] = None,
    channel: Annotated[str, typer.Option(help="email | mastodon | bluesky.")] = "email",
    action: Annotated[
        str | None,
        typer.Option(help="The next-best-action it carries out (learned from, like campaigns)."),
    ] = None,
    holdout: Annotated[float, typer.Option(help="Share held out (never contacted).")] = 0.1,
    include_current: Annotated[
        bool,
        typer.Option(help="Also enrol who is in the segment (or posted) before the first run."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Define a journey; `socialcrm journey run` (or the web app's scheduler) runs it.

    Example: socialcrm journey create save --segment at_risk_high_value --wait 2d
    --template save.html --subject "We miss you"
    """
    from socialcrm.programs.journeys import JourneyError, create_journey

    if (segment is None) == (not negative_post):
        raise _fail("give one trigger: --segment NAME or --negative-post")
    if not template.is_file():
        raise _fail(f"{template}: no such file")
    try:
        hours = parse_wait(wait)
    except ValueError as e:
        raise _fail(str(e)) from None
    with opened(JourneyError, workspace=False, session=True) as o:
        j = create_journey(
            o.s,
            name=name,
            trigger="segment" if segment else "negative_post",
            segment=segment,
            min_score=min_score,
            template=template.read_text(),
            subject=subject,
            wait_hours=hours,
            channel=channel,
            action=action,
            holdout_share=holdout,
            include_current=include_current,
            actor=ACTOR,
        )
        doc = {"name": j.name, "trigger": j.trigger, "segment": j.segment, "wait_hours": hours}
    if as_json:
        print_json(doc)
    else:
        out.print(f"journey {name} created; `socialcrm journey run` runs it", highlight=False)


@journey_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every journey, what it does, and where its people are.

    Example: socialcrm journey list --json
    """
    from socialcrm.programs.journeys import describe, list_journeys

    with opened(workspace=False, session=True) as o:
        rows = list_journeys(o.s)
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("no journeys yet: socialcrm journey create …", highlight=False)
        return
    t = Table("journey", "what it does", "enrolled", "sent", "held out", "exited", "converted")
    for r in rows:
        t.add_row(
            r["name"] + ("" if r["active"] else " (paused)"),
            describe(r),
            f"{r['enrolled']:,}",
            f"{r['sent']:,}",
            f"{r['held_out']:,}",
            f"{r['exited']:,}",
            f"{r['converted']:,}",
        )
    out.print(t)


@journey_app.command("run")
def run(
    names: Annotated[list[str] | None, typer.Argument(help="Only these journeys.")] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep going: a pass every --interval seconds.")
    ] = False,
    interval: Annotated[float, typer.Option(min=1, help="Seconds between passes.")] = 300.0,
    passes: Annotated[int | None, typer.Option(min=1, hidden=True)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Enrol new entrants, let the converted and unsubscribed leave, act on those due.

    Safe to run as often as you like, from cron, beside the web app's scheduler
    (SOCIALCRM_JOURNEY_INTERVAL_SECONDS) or another worker: nobody is enrolled or sent
    to twice.

    Example: socialcrm journey run --json

    Example: socialcrm journey run --watch --interval 600
    """
    from socialcrm.config import get_settings
    from socialcrm.programs import journeys
    from socialcrm.programs.campaigns import CampaignError

    settings = get_settings()
    if not watch:
        with opened(journeys.JourneyError, CampaignError, app_db=True) as o:
            done = journeys.run_journeys(o.ws, o.db, settings, names=names or None)
        if as_json:
            print_json(done)
        elif not done:
            out.print("no active journeys", highlight=False)
        else:
            for n, counts in done.items():
                out.print(_line(n, counts), highlight=False)
        return
    stop = stop_on_sigterm()

    def report(result: dict[str, Any] | None) -> None:
        doc = result if result is not None else {"error": "pass failed; see the log"}
        if as_json:
            print(json.dumps(doc, default=str), flush=True)
        else:
            for n, counts in doc.items():
                out.print(_line(n, counts) if isinstance(counts, dict) else counts)

    if not as_json:
        out.print(f"running journeys every {interval:g}s (Ctrl+C to stop)", highlight=False)
    with opened(workspace=False, app_db=True) as o:
        try:
            journeys.watch(o.db, settings, interval, stop=stop, on_pass=report, passes=passes)
        except KeyboardInterrupt:
            stop.set()


def _line(name: str, counts: dict[str, int]) -> str:
    said = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts.items() if v)
    return f"{name}: {said or 'nothing to do'}"


@journey_app.command("pause")
def pause(name: Annotated[str, typer.Argument(help="Journey name.")]) -> None:
    """Stop enrolling and sending (enrolments are kept; resume picks up).

    Example: socialcrm journey pause save-at-risk
    """
    from socialcrm.programs.journeys import JourneyError, set_active

    with opened(JourneyError, workspace=False, session=True) as o:
        set_active(o.s, name, False, ACTOR)
    out.print(f"journey {name} paused", highlight=False)


@journey_app.command("resume")
def resume(name: Annotated[str, typer.Argument(help="Journey name.")]) -> None:
    """Start a paused journey again.

    Example: socialcrm journey resume save-at-risk
    """
    from socialcrm.programs.journeys import JourneyError, set_active

    with opened(JourneyError, workspace=False, session=True) as o:
        set_active(o.s, name, True, ACTOR)
    out.print(f"journey {name} resumed", highlight=False)
