"""``socialcrm loyalty``: loyalty points from the command line.

Thin: it parses, calls :mod:`socialcrm.programs.loyalty`, and prints. State lives in the
app database; points for referred sales come from the referral program.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from socialcrm.cli.common import JsonOpt, command_group, opened, out, print_json
from socialcrm.cli.referrals import run_program
from socialcrm.config import get_settings

if TYPE_CHECKING:
    from socialcrm.programs.loyalty import Rules
    from socialcrm.store.workspace import Workspace

loyalty_app = command_group(
    "loyalty",
    (
        "Loyalty points for purchases and social actions: award, balance, history, tiers.\n\n"
        "Example: socialcrm loyalty award --events actions.csv --json"
    ),
)


def _rules() -> Rules:
    """The loyalty rules of the settings; a bad rules file is one line."""
    from socialcrm.programs.loyalty import LoyaltyError, load_rules

    with opened(LoyaltyError, workspace=False):
        return load_rules(get_settings().loyalty_rules)


@loyalty_app.command("award")
def award(
    events: Annotated[
        list[Path] | None,
        typer.Option(
            "--events",
            help="CSV/JSON lines of social actions: event_id,kind,at and customer_id or "
            "platform,handle (repeatable).",
        ),
    ] = None,
    orders: Annotated[bool, typer.Option(help="Award points for orders.")] = True,
    posts: Annotated[bool, typer.Option(help="Award reshares of brand posts.")] = True,
    referrals: Annotated[bool, typer.Option(help="Award rewarded referred sales.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Award points for every event not awarded before (replaying awards nothing twice).

    Example: socialcrm loyalty award --events reviews.csv --events ideas.jsonl --json
    """
    from socialcrm.programs import loyalty as L

    rules = _rules()

    def go(ws: Workspace, s: Session) -> L.AwardReport:
        awards: list[L.Award] = []
        unlinked = 0
        for f in events or []:
            got, n = L.file_awards(ws, f, rules)
            awards += got
            unlinked += n
        if orders:
            awards += L.purchase_awards(ws, rules)
        if posts:
            got, n = L.reshare_awards(ws, rules)
            awards += got
            unlinked += n
        if referrals:
            awards += L.referral_awards(ws, s, rules)
        report = L.award(s, awards, rules)
        report.unlinked = unlinked
        return report

    doc = run_program(go).to_json()
    if as_json:
        print_json(doc)
        return
    out.print(
        f"awarded {doc['awarded']} events, {doc['points']:,} points; capped {doc['capped']}; "
        f"already awarded {doc['already_awarded']}; handles without a consenting owner "
        f"{doc['unlinked']}"
    )


@loyalty_app.command("balance")
def balance(
    customer_id: Annotated[str, typer.Argument(help="Customer (resolved person) id.")],
    as_json: JsonOpt = False,
) -> None:
    """A customer's points balance, points earned, tier and the way to the next tier.

    Example: socialcrm loyalty balance shop:1042 --json
    """
    from socialcrm.programs.loyalty import balance as bal

    rules = _rules()
    b = run_program(lambda ws, s: bal(s, customer_id, rules))
    if as_json:
        print_json(b.to_json())
        return
    nxt = f"; {b.points_to_next:,} to {b.next_tier}" if b.next_tier else ""
    out.print(f"{b.customer_id}: {b.balance:,} points, tier {b.tier} ({b.earned:,} earned{nxt})")


@loyalty_app.command("history")
def history(
    customer_id: Annotated[str, typer.Argument(help="Customer (resolved person) id.")],
    limit: Annotated[int, typer.Option(help="Lines to show.", min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """A customer's ledger, newest first: every line names the event behind it.

    Example: socialcrm loyalty history shop:1042 --limit 20
    """
    from socialcrm.programs.loyalty import history as hist

    cols = ("occurred_at", "kind", "points", "event_key", "source", "note")
    rows = run_program(
        lambda ws, s: [{c: getattr(e, c) for c in cols} for e in hist(s, customer_id, limit)]
    )
    if as_json:
        print_json(rows)
        return
    t = Table("when", "kind", "points", "event", "source", "note")
    for r in rows:
        t.add_row(
            str(r["occurred_at"]), r["kind"], f"{r['points']:+,}", r["event_key"], r["source"],
            r["note"] or "",
        )  # fmt: skip
    out.print(t)


@loyalty_app.command("redeem")
def redeem(
    customer_id: Annotated[str, typer.Argument(help="Customer (resolved person) id.")],
    points: Annotated[int, typer.Argument(help="Points to spend.", min=1)],
    key: Annotated[str, typer.Option(help="Unique id of this redemption (e.g. voucher id).")],
    reason: Annotated[str, typer.Option(help="What the points buy.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Spend points; repeating a redemption with the same --key changes nothing.

    Example: socialcrm loyalty redeem shop:1042 500 --key voucher-88 --reason "10% voucher"
    """
    from socialcrm.programs.loyalty import Balance
    from socialcrm.programs.loyalty import balance as bal
    from socialcrm.programs.loyalty import redeem as spend

    rules = _rules()

    def go(ws: Workspace, s: Session) -> tuple[bool, Balance]:
        _, created = spend(s, customer_id, points, key, reason, rules, datetime.now(UTC))
        return created, bal(s, customer_id, rules)

    created, b = run_program(go)
    if as_json:
        print_json({"created": created, **b.to_json()})
        return
    verb = "redeemed" if created else "already redeemed"
    out.print(f"{verb} {points:,} points ({key}); balance {b.balance:,}")


@loyalty_app.command("tiers")
def tiers(as_json: JsonOpt = False) -> None:
    """Members per tier, and the rules in force (points per action, caps, tiers).

    Example: socialcrm loyalty tiers --json
    """
    from socialcrm.programs.loyalty import tier_counts

    rules = _rules()
    rows = run_program(lambda ws, s: tier_counts(s, rules))
    if as_json:
        print_json({"tiers": rows, "rules": rules.to_json()})
        return
    t = Table("tier", "from points", "members", title=f"rules: {rules.source}")
    for r in rows:
        t.add_row(r["tier"], f"{r['min_points']:,}", f"{r['members']:,}")
    out.print(t)
    acts = ", ".join(
        f"{k} {a.points}" + (f" (≤{a.daily_cap}/day)" if a.daily_cap else "")
        for k, a in rules.actions.items()
    )
    out.print(f"purchase {rules.points_per_unit:g} per unit; {acts}")
