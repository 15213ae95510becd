"""``socialcrm referrals | loyalty``: the reward programs from the command line.

Thin: it parses, calls :mod:`socialcrm.programs.referrals` and
:mod:`socialcrm.programs.loyalty`, and prints. State lives in the app database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from socialcrm.cli_common import JsonOpt, command_group, open_app_db, out
from socialcrm.cli_common import fail as _fail
from socialcrm.config import get_settings

referrals_app = command_group(
    "referrals",
    (
        "Referral program: codes, attribution of referred orders, rewards, leaderboard.\n\n"
        "Example: socialcrm referrals attribute referrals.csv --json"
    ),
)
loyalty_app = command_group(
    "loyalty",
    (
        "Loyalty points for purchases and social actions: award, balance, history, tiers.\n\n"
        "Example: socialcrm loyalty award --events actions.csv --json"
    ),
)
T = TypeVar("T")


def _print_json(doc: object) -> None:
    out.print_json(json.dumps(doc, default=str))


@contextmanager
def _session() -> Iterator[tuple[object, Session]]:
    """The workspace and one app-database transaction; domain errors become one line."""
    from sqlalchemy.exc import IntegrityError

    from socialcrm.programs.events import EventFileError
    from socialcrm.programs.loyalty import LoyaltyError
    from socialcrm.programs.referrals import ReferralError
    from socialcrm.store.workspace import Workspace

    settings = get_settings()
    db = open_app_db()
    try:
        with Workspace.open(settings) as ws, db.session() as s:
            yield ws, s
    except (EventFileError, LoyaltyError, ReferralError) as e:
        raise _fail(str(e)) from None
    except IntegrityError:  # a concurrent run wrote the same event or order first
        raise _fail(
            "another run recorded some of these events at the same time; run again"
        ) from None
    finally:
        db.close()


def _rules():
    from socialcrm.programs.loyalty import LoyaltyError, load_rules

    try:
        return load_rules(get_settings().loyalty_rules)
    except LoyaltyError as e:
        raise _fail(str(e)) from None


def _run(fn: Callable[[object, Session], T]) -> T:
    with _session() as (ws, s):
        return fn(ws, s)


# -- referrals ----------------------------------------------------------------------------
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

    def go(ws, s):  # type: ignore[no-untyped-def]
        ids = list(customer_ids or [])
        if all_people:
            wh = ws.warehouse
            if wh.exists("identity_clusters"):
                ids += wh.read_arrow("identity_clusters")["customer_id"].unique().to_pylist()
            elif wh.exists("customers"):
                ids += wh.read_arrow("customers")["customer_id"].to_pylist()
        return issue_codes(s, ids)

    got = _run(go)
    if as_json:
        _print_json([{"customer_id": c, "code": k} for c, k in got.items()])
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
        attribute as run_attribution,
    )
    from socialcrm.programs.referrals import (
        claims_from_orders,
        claims_from_touches,
        read_referrals,
    )

    def go(ws, s):  # type: ignore[no-untyped-def]
        claims = claims_from_orders(ws)
        if file is not None:
            direct, touches = read_referrals(file)
            claims += direct
            claims += claims_from_touches(ws, touches, ws.settings.referral_window_days)
        return run_attribution(ws, s, claims)

    report = _run(go)
    doc = report.to_json()
    if as_json:
        _print_json(doc)
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
    rows = _run(
        lambda ws, s: [{c: getattr(e, c) for c in cols} for e in ledger(s, customer, status, limit)]
    )
    if as_json:
        _print_json(rows)
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

    rows = _run(lambda ws, s: board(s, top, referrer_persons(ws, s)))
    if as_json:
        _print_json(rows)
        return
    t = Table("#", "person", "codes on", "sales", "revenue", "rewards", "refused")
    for r in rows:
        t.add_row(
            str(r["rank"]), r["person_id"], ", ".join(r["records"]), str(r["referred_sales"]),
            f"{r['referred_revenue']:,.2f}", f"{r['rewards']:,.2f}", str(r["refused"]),
        )  # fmt: skip
    out.print(t)


# -- loyalty ------------------------------------------------------------------------------
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

    def go(ws, s):  # type: ignore[no-untyped-def]
        awards, unlinked = [], 0
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

    doc = _run(go).to_json()
    if as_json:
        _print_json(doc)
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
    b = _run(lambda ws, s: bal(s, customer_id, rules))
    if as_json:
        _print_json(b.to_json())
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
    rows = _run(
        lambda ws, s: [{c: getattr(e, c) for c in cols} for e in hist(s, customer_id, limit)]
    )
    if as_json:
        _print_json(rows)
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
    from socialcrm.programs.loyalty import balance as bal
    from socialcrm.programs.loyalty import redeem as spend

    rules = _rules()

    def go(ws, s):  # type: ignore[no-untyped-def]
        _, created = spend(s, customer_id, points, key, reason, rules, datetime.now(UTC))
        return created, bal(s, customer_id, rules)

    created, b = _run(go)
    if as_json:
        _print_json({"created": created, **b.to_json()})
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
    rows = _run(lambda ws, s: tier_counts(s, rules))
    if as_json:
        _print_json({"tiers": rows, "rules": rules.to_json()})
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
