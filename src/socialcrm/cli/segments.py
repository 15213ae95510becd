"""``socialcrm segments | actions | communities``: the targeting tables of the workspace.

Thin: it reads the tables the pipeline wrote (``socialcrm score``) and prints them.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli.common import JsonOpt, opened, out
from socialcrm.cli.common import fail as _fail

if TYPE_CHECKING:
    from socialcrm.store.workspace import Workspace

CustomerOpt = Annotated[str | None, typer.Option("--customer", help="One customer's id.")]


def _plain(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, datetime | date):
        return v.isoformat()
    return v


def _rows(ws: Workspace, name: str, customer: str | None = None) -> list[dict[str, Any]]:
    if not ws.warehouse.exists(name):
        raise _fail(f"no {name} table in {ws.settings.home}: run `socialcrm score` first")
    t = ws.warehouse.table(name)
    if customer is not None:
        t = t.filter(t.customer_id == customer)
    rows = ws.engine.to_arrow(t).to_pylist()
    return [{k: _plain(v) for k, v in r.items()} for r in rows]


def segments(
    customer: CustomerOpt = None,
    history: Annotated[bool, typer.Option(help="Every run date, not just the latest.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Social segments inside value tiers: sizes, value and at-risk share, or one customer's
    segment with its reason.

    Example: socialcrm segments --json
    """
    with opened() as o:
        if customer is not None:
            rows = _rows(o.ws, "customer_segments", customer)
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
        rows = _rows(o.ws, "segment_summary")
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
    with opened() as o:
        rows = _rows(o.ws, "customer_actions", customer)
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
    with opened() as o:
        rows = _rows(o.ws, "community_recommendations")
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


def _cell(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.2f}"
    return escape(str(v))


__all__ = ["actions", "communities", "segments"]
