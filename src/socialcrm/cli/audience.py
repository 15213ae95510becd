"""``socialcrm audience``: export a segment or an action list, consent re-checked, as
CSV or pushed to a webhook.

Thin: it parses, calls :mod:`socialcrm.targeting.audiences`, and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from socialcrm.cli.common import JsonOpt, command_group, opened, out
from socialcrm.cli.common import fail as _fail

audience_app = command_group(
    "audience",
    (
        "Export a segment or an action list, consent re-checked, as CSV or to a webhook.\n\n"
        "Example: socialcrm audience export at_risk_high_value --out at_risk.csv --json"
    ),
)


@audience_app.command("export")
def audience_export(
    segment: Annotated[str | None, typer.Argument(help="Segment (its rank-1 actions).")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="CSV file to write.")] = None,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    webhook: Annotated[str | None, typer.Option(help="POST the audience to this URL.")] = None,
    allow_host: Annotated[
        bool,
        typer.Option(
            "--allow-host",
            help="For operators: push to --webhook even if its host is loopback, private "
            "or link-local (a receiver on this machine or the private network).",
        ),
    ] = False,
    one_per_household: Annotated[
        bool,
        typer.Option(
            "--one-per-household",
            help="Keep one member per household (the highest expected value): one letter "
            "or call per home. Needs the households step (socialcrm score).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Export an audience: a segment's first actions, or everyone with one action.

    Customers whose marketing consent for the channel is no longer in force are left
    out. With --one-per-household, members of one household (same address or landline)
    count once: the member with the highest expected value stays. Pushes are signed with
    the setting audience_webhook_secret and retried. The webhook URL must be public (no
    loopback, private, link-local or metadata address, checked again at each request)
    unless its host is in SOCIALCRM_OUTBOUND_ALLOW_HOSTS or --allow-host is given.

    Example: socialcrm audience export at_risk_high_value --out at_risk.csv
    """
    from socialcrm.targeting.audiences import (
        AudienceError,
        audience,
        check_url,
        export_csv,
        push_webhook,
    )

    if segment is None and action is None:
        raise _fail("give a SEGMENT or --action")
    if out_file is None and webhook is None:
        raise _fail("give --out FILE and/or --webhook URL")
    if allow_host and webhook is None:
        raise _fail("--allow-host goes with --webhook URL")
    with opened(AudienceError, OSError) as o:
        secret = o.ws.settings.audience_webhook_secret
        allow_hosts = o.ws.settings.outbound_allow_hosts
        if webhook and not secret:
            raise _fail("set SOCIALCRM_AUDIENCE_WEBHOOK_SECRET to sign webhook pushes")
        if webhook is not None:  # refused before anything is read or written
            check_url(webhook, allow_hosts=allow_hosts, allow_host=allow_host)
        table = audience(o.ws, segment, action, one_per_household=one_per_household)
        report: dict[str, Any] = {"rows": table.num_rows}
        if one_per_household:
            report["one_per_household"] = True
        if out_file is not None:
            export_csv(table, out_file)
            report["file"] = str(out_file)
        if webhook is not None:
            name = segment or action or "audience"
            sent = push_webhook(
                table,
                webhook,
                secret or "",
                name,
                allow_hosts=allow_hosts,
                allow_host=allow_host,
            )
            report["deliveries"] = [d.__dict__ for d in sent]
    if as_json:
        print(json.dumps(report))
    else:
        out.print(
            f"{report['rows']:,} customers exported"
            + (" (one per household)" if one_per_household else "")
            + (f" to {out_file}" if out_file else "")
        )
