"""``socialcrm segments | actions | communities``: targeting tables of the workspace.

Thin: it reads the tables the pipeline wrote (``socialcrm score``) and prints them.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli_common import JsonOpt, command_group, out
from socialcrm.cli_common import fail as _fail

CustomerOpt = Annotated[str | None, typer.Option("--customer", help="One customer's id.")]


def _plain(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def _rows(ws, name: str, customer: str | None = None) -> list[dict[str, Any]]:
    if not ws.warehouse.exists(name):
        raise _fail(f"no {name} table in {ws.settings.home}: run `socialcrm score` first")
    t = ws.warehouse.table(name)
    if customer is not None:
        t = t.filter(t.customer_id == customer)
    rows = ws.engine.to_arrow(t).to_pylist()
    return [{k: _plain(v) for k, v in r.items()} for r in rows]


def _workspace():
    from socialcrm.config import get_settings
    from socialcrm.store.workspace import Workspace

    return Workspace.open(get_settings())


def segments(
    customer: CustomerOpt = None,
    history: Annotated[bool, typer.Option(help="Every run date, not just the latest.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Social segments inside value tiers: sizes, value and at-risk share, or one customer's
    segment with its reason.

    Example: socialcrm segments --json
    """
    with _workspace() as ws:
        if customer is not None:
            rows = _rows(ws, "customer_segments", customer)
            if not rows:
                raise _fail(f"no customer {customer!r} in customer_segments")
            r = rows[0]
            if as_json:
                print(json.dumps(r))
            else:
                out.print(f"{escape(customer)}: [bold]{r['segment']}[/] in tier {r['tier']}")
                out.print(f"  why: {escape(str(r['reason']))}")
                out.print(f"  tier: {escape(str(r['tier_reason']))}")
            return
        rows = _rows(ws, "segment_summary")
    if rows and not history:
        last = max(r["run_date"] for r in rows)
        rows = [r for r in rows if r["run_date"] == last]
    if as_json:
        print(json.dumps({"segments": rows}))
        return
    table = Table(title="segments")
    cols = [
        "run_date",
        "tier",
        "segment",
        "customers",
        "total_clv",
        "mean_trinity",
        "share_at_risk",
    ]
    for c in cols:
        table.add_column(c, justify="right" if c not in ("tier", "segment") else "left")
    for r in rows:
        table.add_row(*[_cell(r[c]) for c in cols])
    out.print(table)


def actions(
    customer: CustomerOpt = None,
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show (0: all).", min=0)] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Next-best-actions: ranked per customer, with reason, consented channel and value.

    Without --customer: each customer's first action, by expected value.

    Example: socialcrm actions --customer shop:000042 --json
    """
    with _workspace() as ws:
        rows = _rows(ws, "customer_actions", customer)
    if customer is not None and not rows:
        raise _fail(f"no actions for customer {customer!r}")
    if customer is None:
        rows = [r for r in rows if r["rank"] == 1]
        rows.sort(
            key=lambda r: -(r["expected_value"] if r["expected_value"] is not None else -1e18)
        )
    if action is not None:
        rows = [r for r in rows if r["action"] == action]
    if limit:
        rows = rows[:limit]
    if as_json:
        print(json.dumps({"actions": rows}))
        return
    for r in rows:
        value = (
            "value not estimable"
            if r["expected_value"] is None
            else (f"expected value {r['expected_value']:,.2f}")
        )
        wait = f", not before {r['not_before'][:10]}" if r["not_before"] else ""
        out.print(
            f"[bold]{escape(r['customer_id'])}[/] #{r['rank']} {escape(r['action'])}"
            f" via {escape(str(r['channel'] or '—'))} · {value}{wait}"
        )
        out.print(f"  {escape(str(r['reason']))}", style="dim")


def communities(as_json: JsonOpt = False) -> None:
    """Per community: at-risk share and value, topic and busiest day, amplifiers, and what
    to do — a topic for the community, private gestures for its at-risk members.

    Example: socialcrm communities --json
    """
    with _workspace() as ws:
        rows = _rows(ws, "community_recommendations")
    if as_json:
        print(json.dumps({"communities": rows}))
        return
    for r in rows:
        risk = "—" if r["share_at_risk"] is None else f"{r['share_at_risk']:.0%}"
        out.print(
            f"[bold]{escape(r['label'])}[/] · {r['customers']} customers · at risk {risk}"
            f" · sentiment {_cell(r['mean_sentiment'])}"
        )
        out.print(f"  {escape(r['recommendation'])}", style="dim")


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
    as_json: JsonOpt = False,
) -> None:
    """Export an audience: a segment's first actions, or everyone with one action.

    Customers whose marketing consent for the channel is no longer in force are left
    out. Pushes are signed with the setting audience_webhook_secret and retried. The
    webhook URL must be public (no loopback, private, link-local or metadata address,
    checked again at each request) unless its host is in SOCIALCRM_OUTBOUND_ALLOW_HOSTS
    or --allow-host is given.

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
    with _workspace() as ws:
        secret = ws.settings.audience_webhook_secret
        allow_hosts = ws.settings.outbound_allow_hosts
        if webhook and not secret:
            raise _fail("set SOCIALCRM_AUDIENCE_WEBHOOK_SECRET to sign webhook pushes")
        try:
            if webhook is not None:  # refused before anything is read or written
                check_url(webhook, allow_hosts=allow_hosts, allow_host=allow_host)
            table = audience(ws, segment, action)
            report: dict[str, Any] = {"rows": table.num_rows}
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
        except (AudienceError, OSError) as e:
            raise _fail(str(e)) from None
    if as_json:
        print(json.dumps(report))
    else:
        out.print(
            f"{report['rows']:,} customers exported" + (f" to {out_file}" if out_file else "")
        )


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return escape(str(v))


__all__ = ["actions", "audience_app", "communities", "segments"]
