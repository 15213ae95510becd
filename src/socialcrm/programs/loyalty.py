"""Loyalty rewards tied to social activity: rules, a points ledger, balances and tiers.

Rules are data (``loyalty_rules.toml``): points per currency unit of a purchase, points
per social action (a review, a reshare of a brand post, an idea that ships, a referred
sale), daily caps per action, and tiers by points earned. Every ledger line names the
event that caused it by a unique ``event_key`` (``order:A17``, ``reshare:tw-991``,
``review:R-5``), so awarding is idempotent: replaying the same orders and event files
awards nothing twice, and a capped event is kept with 0 points and a note, so a replay
does not re-decide it either.

Points go to resolved people (``identity_clusters``). A social action by a *handle*
counts only when its owner granted ``social_linking``: without that consent nothing ties
the handle to a customer (``connecting.graph.handle_owners``).
"""

from __future__ import annotations

import math
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import TypedDict

import pyarrow as pa
from sqlalchemy import ColumnElement, Connection, bindparam, func, select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import LoyaltyEntry, ReferralEntry
from socialcrm.programs.events import (
    EventFileError,
    naive_utc,
    need,
    parse_time,
    people,
    read_rows,
)
from socialcrm.store.normalize import handle as normalise_handle
from socialcrm.store.run import RunContext
from socialcrm.store.schemas import PLATFORMS, POSTS
from socialcrm.store.workspace import Workspace
from socialcrm.value.orders import customer_orders

REDEEM = "redeem"
PURCHASE = "purchase"
REFUND = "refund"


class LoyaltyError(ValueError):
    """A loyalty request that cannot be honoured (the message says why)."""


class _PurchaseJson(TypedDict):
    points_per_unit: float
    refunds_deduct: bool


class _ActionJson(TypedDict):
    points: int
    daily_cap: int


class _TierJson(TypedDict):
    name: str
    min_points: int


class RulesJson(TypedDict):
    """:meth:`Rules.to_json`."""

    source: str
    purchase: _PurchaseJson
    actions: dict[str, _ActionJson]
    tiers: list[_TierJson]
    brand_handles: list[str]


class AwardJson(TypedDict):
    """:meth:`AwardReport.to_json`."""

    awarded: int
    points: int
    capped: int
    already_awarded: int
    unlinked: int
    by_kind: dict[str, int]


class BalanceJson(TypedDict):
    """:meth:`Balance.to_json`."""

    customer_id: str
    balance: int
    earned: int
    tier: str
    next_tier: str | None
    points_to_next: int | None


class TierCount(TypedDict):
    """One tier of :func:`tier_counts`."""

    tier: str
    min_points: int
    members: int


@dataclass(frozen=True)
class Action:
    points: int
    daily_cap: int = 0


@dataclass(frozen=True)
class Tier:
    name: str
    min_points: int


@dataclass(frozen=True)
class Rules:
    points_per_unit: float
    refunds_deduct: bool
    actions: dict[str, Action]
    tiers: tuple[Tier, ...]
    brand_handles: tuple[str, ...] = ()
    source: str = "shipped rules"

    def tier_of(self, earned: int) -> tuple[Tier, Tier | None]:
        """The tier ``earned`` points reach, and the next one (None at the top).

        >>> r = load_rules()
        >>> [t.name for t in r.tier_of(1500) if t]
        ['silver', 'gold']
        """
        current, nxt = self.tiers[0], None
        for t in self.tiers:
            if earned >= t.min_points:
                current = t
            elif nxt is None:
                nxt = t
        return current, nxt

    def to_json(self) -> RulesJson:
        return {
            "source": self.source,
            "purchase": {
                "points_per_unit": self.points_per_unit,
                "refunds_deduct": self.refunds_deduct,
            },
            "actions": {
                k: {"points": a.points, "daily_cap": a.daily_cap} for k, a in self.actions.items()
            },
            "tiers": [{"name": t.name, "min_points": t.min_points} for t in self.tiers],
            "brand_handles": list(self.brand_handles),
        }


def load_rules(path: Path | None = None) -> Rules:
    """Rules from ``path`` (default: the shipped ``loyalty_rules.toml``), checked."""
    where = str(path) if path else "loyalty_rules.toml (shipped)"
    try:
        text = (
            path.read_text("utf-8")
            if path
            else files("socialcrm.programs").joinpath("loyalty_rules.toml").read_text("utf-8")
        )
        d = tomllib.loads(text)
    except FileNotFoundError:
        raise LoyaltyError(f"{where}: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise LoyaltyError(f"{where}: not valid TOML ({e})") from None

    def bad(key: str, why: str) -> LoyaltyError:
        return LoyaltyError(f"{where}: {key}: {why}")

    unknown = set(d) - {"brand_handles", "purchase", "actions", "tiers"}
    if unknown:
        raise bad(sorted(unknown)[0], "unknown key")
    purchase = d.get("purchase", {})
    rate = purchase.get("points_per_unit", 1.0)
    if not isinstance(rate, int | float) or rate < 0:
        raise bad("purchase.points_per_unit", "must be a number >= 0")
    actions = {}
    for name, a in d.get("actions", {}).items():
        if name in (PURCHASE, REFUND, REDEEM):
            raise bad(f"actions.{name}", "reserved name")
        pts, cap = a.get("points"), a.get("daily_cap", 0)
        if not isinstance(pts, int) or pts < 0:
            raise bad(f"actions.{name}.points", "must be a whole number >= 0")
        if not isinstance(cap, int) or cap < 0:
            raise bad(f"actions.{name}.daily_cap", "must be a whole number >= 0")
        actions[name] = Action(pts, cap)
    tiers = []
    for i, t in enumerate(d.get("tiers", [])):
        if not isinstance(t.get("name"), str) or not isinstance(t.get("min_points"), int):
            raise bad(f"tiers[{i}]", "needs a name and a whole min_points")
        tiers.append(Tier(t["name"], t["min_points"]))
    tiers.sort(key=lambda t: t.min_points)
    if not tiers or tiers[0].min_points != 0:
        raise bad("tiers", "the lowest tier must start at min_points = 0")
    brands = d.get("brand_handles", [])
    for h in brands:
        if not isinstance(h, str) or h.split(":", 1)[0] not in PLATFORMS or ":" not in h:
            raise bad("brand_handles", f"{h!r} is not 'platform:handle'")
    return Rules(
        float(rate),
        bool(purchase.get("refunds_deduct", True)),
        actions,
        tuple(tiers),
        tuple(brands),
        where,
    )


@dataclass(frozen=True)
class Award:
    """Points proposed for one event; the ledger decides whether it is new."""

    event_key: str
    customer_id: str
    kind: str
    points: int
    occurred_at: datetime
    source: str


@dataclass
class AwardReport:
    awarded: int = 0
    points: int = 0
    capped: int = 0
    already_awarded: int = 0
    unlinked: int = 0
    """Social actions by handles no consenting customer owns: nothing to award."""
    by_kind: Counter[str] = field(default_factory=Counter)

    def to_json(self) -> AwardJson:
        return {
            "awarded": self.awarded,
            "points": self.points,
            "capped": self.capped,
            "already_awarded": self.already_awarded,
            "unlinked": self.unlinked,
            "by_kind": dict(sorted(self.by_kind.items())),
        }


def purchase_awards(ws: Workspace, rules: Rules) -> list[Award]:
    """Points for completed orders and, when the rules say so, back for refunds."""
    if not ws.warehouse.exists("orders"):
        return []
    o = customer_orders(ws)
    wanted = (o.status == "completed") & (o.amount > 0)
    if rules.refunds_deduct:
        wanted = wanted | ((o.status == "returned") & (o.amount < 0))
    # guest buyers no record holds (``email:…``) are not members: nothing to credit
    o = o.filter(wanted & ~o.customer_id.startswith("email:"))
    t = ws.engine.to_arrow(o.select("order_id", "customer_id", "ordered_at", "amount"))
    out = []
    for r in t.to_pylist():
        amount = float(r["amount"])
        pts = math.floor(abs(amount) * rules.points_per_unit + 1e-9)
        kind = PURCHASE if amount > 0 else REFUND
        out.append(
            Award(
                f"order:{r['order_id']}",
                r["customer_id"],
                kind,
                pts if amount > 0 else -pts,
                naive_utc(r["ordered_at"]),  # type: ignore[arg-type]
                f"orders:{r['order_id']}",
            )
        )
    return out


def _brand_handles(ws: Workspace, rules: Rules) -> list[tuple[str | None, str]]:
    if rules.brand_handles:
        return [(p, h.lower()) for p, h in (b.split(":", 1) for b in rules.brand_handles)]
    from socialcrm.listening.step import catalogue_for

    cat = catalogue_for(ws)
    return [(None, h) for h in sorted(cat.brand_handles())] if cat else []


def reshare_awards(ws: Workspace, rules: Rules) -> tuple[list[Award], int]:
    """Reshares of the brand's posts by handles of consenting customers; and how many
    reshares had no such owner."""
    if "reshare" not in rules.actions or not ws.warehouse.exists("posts"):
        return [], 0
    brands = _brand_handles(ws, rules)
    if not brands:
        return [], 0
    from socialcrm.connecting.graph import handle_owners

    posts = ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)
    parent = posts.select(
        pid=posts.post_id, p_platform=posts.platform, p_author=posts.author_handle
    )
    j = posts.inner_join(parent, posts.reshare_of_post_id == parent.pid)
    brand_cond = None
    for platform, h in brands:
        c = j.p_author.lower() == h
        if platform:
            c = c & (j.p_platform == platform)
        brand_cond = c if brand_cond is None else brand_cond | c
    j = j.filter(brand_cond)
    j = j.filter(~j.author_handle.lower().isin([h for _, h in brands]))  # the brand itself
    owners = handle_owners(ws)
    k = j.left_join(owners, (j.platform == owners.platform) & (j.author_handle == owners.handle))
    t = ws.engine.to_arrow(k.select("post_id", "created_at", "customer_id"))
    out, unlinked = [], 0
    pts = rules.actions["reshare"].points
    for r in t.to_pylist():
        if r["customer_id"] is None:
            unlinked += 1
            continue
        out.append(
            Award(
                f"reshare:{r['post_id']}",
                r["customer_id"],
                "reshare",
                pts,
                naive_utc(r["created_at"]),  # type: ignore[arg-type]
                f"posts:{r['post_id']}",
            )
        )
    return out, unlinked


def file_awards(ws: Workspace, path: Path, rules: Rules) -> tuple[list[Award], int]:
    """Social actions from a CSV/JSON-lines file: ``event_id, kind, at`` and either
    ``customer_id`` or ``platform`` + ``handle``; the kinds are the rules' actions."""
    rows = read_rows(path)
    parsed = []
    for row in rows:
        eid = need(path, row, "event_id")
        kind = need(path, row, "kind").lower()
        if kind not in rules.actions:
            raise EventFileError(
                f"{path}: line {row.line}: field 'kind': unknown action {kind!r}; "
                f"the rules know {', '.join(rules.actions)}"
            )
        at = parse_time(path, row, "at")
        cid = row.values.get("customer_id") or None
        platform = (row.values.get("platform") or "").lower()
        h = row.values.get("handle") or ""
        if not cid:
            if platform not in PLATFORMS:
                raise EventFileError(
                    f"{path}: line {row.line}: field 'customer_id' is required "
                    "(or 'platform' and 'handle' of a known network)"
                )
            if not h:
                raise EventFileError(f"{path}: line {row.line}: field 'handle' is required")
            try:
                h = normalise_handle(platform, h)
            except ValueError as e:
                raise EventFileError(f"{path}: line {row.line}: field 'handle': {e}") from None
        parsed.append((row.line, eid, kind, at, cid, platform, h))
    owners: dict[tuple[str, str], str] = {}
    wanted = [(p, h) for _, _, _, _, cid, p, h in parsed if not cid]
    if wanted:
        from socialcrm.connecting.graph import handle_owners

        o = handle_owners(ws)
        keys = ws.engine.memtable(
            pa.table({"k": pa.array(sorted({f"{p}\x1f{h}" for p, h in wanted}), pa.string())})
        )
        got = ws.engine.to_arrow(
            o.filter((o.platform + "\x1f" + o.handle).isin(keys.k)).select(
                "platform", "handle", "customer_id"
            )
        )
        for r in got.to_pylist():
            owners[(r["platform"], r["handle"])] = r["customer_id"]
    person = people(ws, [p[4] for p in parsed if p[4]])
    out, unlinked = [], 0
    for line, eid, kind, at, cid, platform, h in parsed:
        who = person.get(cid, cid) if cid else owners.get((platform, h))
        if who is None:
            unlinked += 1
            continue
        out.append(
            Award(
                f"{kind}:{eid}",
                who,
                kind,
                rules.actions[kind].points,
                at,  # type: ignore[arg-type]
                f"{path.name}:{line}",
            )
        )
    return out, unlinked


def referral_awards(ws: Workspace, s: Session, rules: Rules) -> list[Award]:
    """Points to referrers for each rewarded referred sale in the referral ledger."""
    if "referral" not in rules.actions:
        return []
    rows = list(
        s.execute(
            select(
                ReferralEntry.order_id,
                ReferralEntry.referrer_id,
                ReferralEntry.ordered_at,
                ReferralEntry.created_at,
            ).where(ReferralEntry.status == "rewarded")
        )
    )
    person = people(ws, [r.referrer_id for r in rows if r.referrer_id])
    pts = rules.actions["referral"].points
    return [
        Award(
            f"referral:{r.order_id}",
            person.get(r.referrer_id, r.referrer_id),
            "referral",
            pts,
            r.ordered_at or r.created_at,
            f"referral_ledger:{r.order_id}",
        )
        for r in rows
        if r.referrer_id
    ]


def _existing_keys(s: Session, keys: list[str]) -> set[str]:
    have: set[str] = set()
    for i in range(0, len(keys), 5000):
        chunk = keys[i : i + 5000]
        have |= set(
            s.scalars(select(LoyaltyEntry.event_key).where(LoyaltyEntry.event_key.in_(chunk)))
        )
    return have


def _cap_counts(s: Session, new: list[Award], rules: Rules) -> dict[tuple[str, str, date], int]:
    """Awarded (points > 0) capped actions already in the ledger, per customer, kind, day."""
    capped = [a for a in new if rules.actions.get(a.kind, Action(0)).daily_cap > 0]
    counts: dict[tuple[str, str, date], int] = defaultdict(int)
    if not capped:
        return counts
    lo = min(a.occurred_at for a in capped).replace(hour=0, minute=0, second=0, microsecond=0)
    hi = max(a.occurred_at for a in capped) + timedelta(days=1)
    customers = sorted({a.customer_id for a in capped})
    kinds = sorted({a.kind for a in capped})
    for i in range(0, len(customers), 5000):
        q = select(LoyaltyEntry.customer_id, LoyaltyEntry.kind, LoyaltyEntry.occurred_at).where(
            LoyaltyEntry.customer_id.in_(customers[i : i + 5000]),
            LoyaltyEntry.kind.in_(kinds),
            LoyaltyEntry.points > 0,
            LoyaltyEntry.occurred_at >= lo,
            LoyaltyEntry.occurred_at < hi,
        )
        for cid, kind, at in s.execute(q):
            counts[(cid, kind, at.date())] += 1
    return counts


def award(s: Session, awards: Iterable[Award], rules: Rules, actor: str = "cli") -> AwardReport:
    """Write the awards whose event is not in the ledger yet, oldest first, applying the
    daily caps; return what was done (audited as one entry)."""
    report = AwardReport()
    unique: dict[str, Award] = {}
    for a in awards:
        unique.setdefault(a.event_key, a)
    have = _existing_keys(s, list(unique))
    report.already_awarded = len(have)
    new = sorted(
        (a for k, a in unique.items() if k not in have), key=lambda a: (a.occurred_at, a.event_key)
    )
    counts = _cap_counts(s, new, rules)
    for a in new:
        cap = rules.actions.get(a.kind, Action(0)).daily_cap
        points, note = a.points, None
        day = (a.customer_id, a.kind, a.occurred_at.date())
        if cap and a.points > 0:
            if counts[day] >= cap:
                points, note = 0, f"daily cap of {cap} {a.kind} awards reached"
                report.capped += 1
            else:
                counts[day] += 1
        s.add(
            LoyaltyEntry(
                customer_id=a.customer_id,
                event_key=a.event_key,
                kind=a.kind,
                points=points,
                occurred_at=a.occurred_at,
                source=a.source,
                note=note,
            )
        )
        if note is None:
            report.awarded += 1
            report.points += points
            report.by_kind[a.kind] += 1
    s.flush()
    if new:
        audit(s, actor, "loyalty.award", rules.source, **report.to_json())
    return report


@dataclass(frozen=True)
class Balance:
    customer_id: str
    balance: int
    earned: int
    tier: str
    next_tier: str | None
    points_to_next: int | None

    def to_json(self) -> BalanceJson:
        return {
            "customer_id": self.customer_id,
            "balance": self.balance,
            "earned": self.earned,
            "tier": self.tier,
            "next_tier": self.next_tier,
            "points_to_next": self.points_to_next,
        }


# Built once: the customer 360 page asks on every request, and building the statement
# cost several times what running it does.
_TOTALS = select(
    func.coalesce(func.sum(LoyaltyEntry.points), 0),
    func.coalesce(func.sum(LoyaltyEntry.points).filter(LoyaltyEntry.kind != REDEEM), 0),
).where(LoyaltyEntry.customer_id == bindparam("customer_id"))


def balance(s: Session | Connection, customer_id: str, rules: Rules) -> Balance:
    """Points to spend (everything) and points earned (all but redemptions) -> tier; in a
    session, or on a bare connection (a page, reading only)."""
    total, earned = s.execute(_TOTALS, {"customer_id": customer_id}).one()
    tier, nxt = rules.tier_of(int(earned))
    return Balance(
        customer_id,
        int(total),
        int(earned),
        tier.name,
        nxt.name if nxt else None,
        nxt.min_points - int(earned) if nxt else None,
    )


def history(s: Session, customer_id: str, limit: int = 50) -> list[LoyaltyEntry]:
    """Ledger lines of one customer, newest first."""
    return list(
        s.scalars(
            select(LoyaltyEntry)
            .where(LoyaltyEntry.customer_id == customer_id)
            .order_by(LoyaltyEntry.occurred_at.desc(), LoyaltyEntry.id.desc())
            .limit(limit)
        )
    )


def redeem(
    s: Session,
    customer_id: str,
    points: int,
    key: str,
    reason: str,
    rules: Rules,
    now: datetime,
    actor: str = "cli",
) -> tuple[LoyaltyEntry, bool]:
    """Spend points; ``key`` (e.g. the voucher id) makes a retry harmless.

    Returns (entry, created); a known key returns its entry, changing nothing.
    """
    if points <= 0:
        raise LoyaltyError("points to redeem must be a positive whole number")
    event_key = f"{REDEEM}:{key}"
    known = s.scalar(select(LoyaltyEntry).where(LoyaltyEntry.event_key == event_key))
    if known is not None:
        if known.customer_id != customer_id or known.points != -points:
            raise LoyaltyError(f"redemption key {key!r} was already used for another redemption")
        return known, False
    have = balance(s, customer_id, rules).balance
    if points > have:
        raise LoyaltyError(f"customer {customer_id} has {have} points, not {points}")
    entry = LoyaltyEntry(
        customer_id=customer_id,
        event_key=event_key,
        kind=REDEEM,
        points=-points,
        occurred_at=now,
        source=f"redeem:{key}",
        note=reason or None,
    )
    s.add(entry)
    s.flush()
    audit(s, actor, "loyalty.redeem", customer_id, points=points, key=key, reason=reason)
    return entry, True


def tier_counts(s: Session, rules: Rules) -> list[TierCount]:
    """Members per tier (members: customers with a ledger line)."""
    earned = (
        select(
            LoyaltyEntry.customer_id,
            func.coalesce(
                func.sum(LoyaltyEntry.points).filter(LoyaltyEntry.kind != REDEEM), 0
            ).label("earned"),
        )
        .group_by(LoyaltyEntry.customer_id)
        .subquery()
    )
    counts: Counter[str] = Counter()
    earned_points: ColumnElement[int] = earned.c.earned  # coalesce(sum(points), 0)
    for (e,) in s.execute(select(earned_points)):
        counts[rules.tier_of(int(e))[0].name] += 1
    return [
        {"tier": t.name, "min_points": t.min_points, "members": counts.get(t.name, 0)}
        for t in rules.tiers
    ]


CUSTOMER_REWARDS = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("points_balance", pa.int64(), nullable=False),
        pa.field("points_earned", pa.int64(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("referred_sales", pa.int64(), nullable=False),
        pa.field("referral_rewards", pa.float64(), nullable=False),
    ]
)
"""One row per resolved person with a loyalty line or a rewarded referral."""


def step_customer_rewards(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Copy the programs' state from the app database into the warehouse, per person, so
    segments, next-best-actions and the web app can read tiers and referrals like any
    other score. Read-only on the ledgers: awarding stays an explicit ``loyalty award``."""
    from socialcrm.appdb.db import AppDB

    rules = load_rules(ws.settings.loyalty_rules)
    db = AppDB(ws.settings.resolved_database_url)
    try:
        with db.session() as s:
            points = s.execute(
                select(
                    LoyaltyEntry.customer_id,
                    func.sum(LoyaltyEntry.points),
                    func.coalesce(
                        func.sum(LoyaltyEntry.points).filter(LoyaltyEntry.kind != REDEEM), 0
                    ),
                ).group_by(LoyaltyEntry.customer_id)
            ).all()
            refs = s.execute(
                select(
                    ReferralEntry.referrer_id,
                    func.count(),
                    func.sum(ReferralEntry.reward),
                )
                .where(ReferralEntry.status == "rewarded", ReferralEntry.referrer_id.is_not(None))
                .group_by(ReferralEntry.referrer_id)
            ).all()
    finally:
        db.close()
    person = people(ws, [r[0] for r in refs if r[0] is not None])
    sales: Counter[str] = Counter()
    rewards: defaultdict[str, float] = defaultdict(float)
    for referrer, n, total in refs:
        if referrer is None:  # excluded by the query
            continue
        sales[person[referrer]] += int(n)
        rewards[person[referrer]] += float(total or 0.0)
    balances = {cid: (int(b), int(e)) for cid, b, e in points}
    rows = []
    for cid in sorted(set(balances) | set(sales)):
        bal, earned = balances.get(cid, (0, 0))
        rows.append(
            {
                "customer_id": cid,
                "points_balance": bal,
                "points_earned": earned,
                "tier": rules.tier_of(earned)[0].name,
                "referred_sales": sales.get(cid, 0),
                "referral_rewards": round(rewards.get(cid, 0.0), 2),
            }
        )
    table = pa.Table.from_pylist(rows, schema=CUSTOMER_REWARDS)
    return {"customer_rewards": ws.warehouse.write("customer_rewards", table)}
