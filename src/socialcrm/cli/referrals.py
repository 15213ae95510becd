"""``socialcrm referrals``: the referral program from the command line.

Thin: it parses, calls :mod:`socialcrm.programs.referrals`, and prints. State lives in
the app database.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from socialcrm.cli.common import JsonOpt, command_group, opened, out, print_json
from socialcrm.cli.common import fail as _fail

if TYPE_CHECKING:
    from socialcrm.store.workspace import Workspace

referrals_app = command_group(
    "referrals",
    (
        "Referral program: codes, attribution of referred orders, rewards, leaderboard.\n\n"
        "Example: socialcrm referrals attribute referrals.csv --json"
    ),
)
T = TypeVar("T")
# a concurrent run wrote the same event or order first (a unique key refused ours)
CONCURRENT_WRITE = "another run recorded some of these events at the same time; run again"


def run_program(fn: Callable[[Workspace, Session], T]) -> T:
    """Run ``fn(workspace, transaction)``; errors of the referral and loyalty programs
    become one line (an award also rewards referred sales, so the two share them)."""
    from sqlalchemy.exc import IntegrityError

    from socialcrm.programs.events import EventFileError
    from socialcrm.programs.loyalty import LoyaltyError
    from socialcrm.programs.referrals import ReferralError

    with opened(
        EventFileError,
        LoyaltyError,
        ReferralError,
        session=True,
        explain={IntegrityError: CONCURRENT_WRITE},
    ) as o:
        return fn(o.ws, o.s)


@referrals_app.command("codes")
def codes(
    customer_ids: Annotated[
        list[str] | None, typer.Argument(help="Customers to give a code (default: --all).")
    ] = None,
    all_people: Annotated[
        bool, typer.Option("--all", help="Every resolved person (or customer record).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show each customer's referral code, creating it on first use (it never changes).

    Example: socialcrm referrals codes shop:1042 shop:2077 --json
    """
    from socialcrm.programs.referrals import issue_codes

    if not customer_ids and not all_people:
        raise _fail("name customers, or give --all")

    def go(ws: Workspace, s: Session) -> dict[str, str]:
        ids = list(customer_ids or [])
        if all_people:
            wh = ws.warehouse
            if wh.exists("identity_clusters"):
                ids += wh.read_arrow("identity_clusters")["customer_id"].unique().to_pylist()
            elif wh.exists("customers"):
                ids += wh.read_arrow("customers")["customer_id"].to_pylist()
        return issue_codes(s, ids)

    got = run_program(go)
    if as_json:
        print_json([{"customer_id": c, "code": k} for c, k in got.items()])
        return
    t = Table("customer", "code")
    for c, k in list(got.items())[:50]:
        t.add_row(c, k)
    out.print(t)
    if len(got) > 50:
        out.print(f"… {len(got):,} codes in all (--json for every one)")


@referrals_app.command("attribute")
def attribute(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="CSV/JSON lines: order_id,code (a claimed order) or customer_id|email,code,at "
            "(a referral link click). Default: only the orders table's referral_code column."
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Attribute referred orders to codes and reward them once (refusals keep a reason).

    Example: socialcrm referrals attribute referrals.jsonl --json
    """
    from socialcrm.programs.referrals import (
        AttributionReport,
        claims_from_orders,
        claims_from_touches,
        read_referrals,
    )
    from socialcrm.programs.referrals import (
        attribute as run_attribution,
    )

    def go(ws: Workspace, s: Session) -> AttributionReport:
        claims = claims_from_orders(ws)
        if file is not None:
            direct, touches = read_referrals(file)
            claims += direct
            claims += claims_from_touches(ws, touches, ws.settings.referral_window_days)
        return run_attribution(ws, s, claims)

    report = run_program(go)
    doc = report.to_json()
    if as_json:
        print_json(doc)
        return
    refused = ", ".join(f"{k} {v}" for k, v in doc["refused"].items()) or "none"
    out.print(
        f"rewarded {doc['rewarded']} referred sales ({doc['reward_total']:.2f} "
        f"{doc['currency']}); refused: {refused}; already decided {doc['already_decided']}"
    )


@referrals_app.command("ledger")
def referral_ledger(
    customer: Annotated[str | None, typer.Option(help="Referrer or buyer.")] = None,
    status: Annotated[str | None, typer.Option(help="rewarded | refused.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Referral decisions, newest first, with the reason of every refusal (--json: why).

    Example: socialcrm referrals ledger --status refused --json
    """
    from socialcrm.programs.referrals import ledger

    if status not in (None, "rewarded", "refused"):
        raise _fail(f"unknown status {status!r}; use rewarded or refused")
    cols = (
        "order_id",
        "code",
        "referrer_id",
        "buyer_id",
        "order_amount",
        "order_currency",
        "ordered_at",
        "status",
        "reason",
        "detail",
        "reward",
        "reward_currency",
        "via",
    )
    rows = run_program(
        lambda ws, s: [{c: getattr(e, c) for c in cols} for e in ledger(s, customer, status, limit)]
    )
    if as_json:
        print_json(rows)
        return
    t = Table("order", "code", "referrer", "buyer", "status", "reward", "reason")
    for r in rows:
        t.add_row(
            r["order_id"], r["code"], r["referrer_id"] or "", r["buyer_id"] or "", r["status"],
            f"{r['reward']:.2f}", r["reason"] or "",
        )  # fmt: skip
    out.print(t)


@referrals_app.command("leaderboard")
def leaderboard(
    top: Annotated[int, typer.Option(help="Referrers to show.", min=1)] = 10,
    as_json: JsonOpt = False,
) -> None:
    """Top referrers by rewards earned, with referred sales, revenue and refusals.

    Example: socialcrm referrals leaderboard --top 20 --json
    """
    from socialcrm.programs.referrals import leaderboard as board
    from socialcrm.programs.referrals import referrer_persons

    rows = run_program(lambda ws, s: board(s, top, referrer_persons(ws, s)))
    if as_json:
        print_json(rows)
        return
    t = Table("#", "person", "codes on", "sales", "revenue", "rewards", "refused")
    for r in rows:
        t.add_row(
            str(r["rank"]), r["person_id"], ", ".join(r["records"]), str(r["referred_sales"]),
            f"{r['referred_revenue']:,.2f}", f"{r['rewards']:,.2f}", str(r["refused"]),
        )  # fmt: skip
    out.print(t)
