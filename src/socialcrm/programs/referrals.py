"""Referral program: codes, attribution of referred orders, rewards, fraud guards.

A code is 8 random characters from an alphabet without look-alikes (no 0/O, 1/I/L),
stored once per customer: stable (asking again returns it) and unguessable (31^8 ≈ 8.5e11
codes, so guessing a live one by trying is hopeless). Orders are attributed to a code by
a referrals file: a row with ``order_id`` and ``code`` claims that order; a row with
``customer_id`` or ``email``, ``code`` and ``at`` is a click on a referral link, and the
buyer's first completed order within ``referral_window_days`` of their *first* click is
referred by that click's code (first touch). An ``orders.referral_code`` column is used
the same way when the orders table carries one.

Every referred order is decided once, in ``referral_ledger``: rewarded (the setting
``referral_reward`` per sale), or refused with a reason. Fraud guards: the buyer is the
referrer (``self_referral``), or the buyer and the referrer are different records of
the *same resolved person* (``same_person``, from ``identity_clusters``): one person
with two emails must not earn a reward for buying from themself.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypedDict

import ibis
import pyarrow as pa
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import ReferralCode, ReferralEntry
from socialcrm.config import Settings
from socialcrm.programs.events import EventFileError, naive_utc, need, parse_time, people, read_rows
from socialcrm.store.schemas import IDENTITIES
from socialcrm.store.workspace import Workspace
from socialcrm.value.orders import customer_orders

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8
REASONS = {
    "unknown_code": "no customer has this code",
    "not_completed": "only completed sales with a positive amount earn a reward",
    "self_referral": "the buyer used their own code",
    "same_person": "the buyer and the referrer are the same resolved person",
}


class ReferralError(ValueError):
    """A referral request that cannot be honoured (the message says why)."""


def new_code() -> str:
    """A fresh random code (not yet checked for uniqueness).

    >>> len(new_code()), set(new_code()) <= set(ALPHABET)
    (8, True)
    """
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """Codes are read case-insensitively, without spaces or dashes people add.

    >>> normalise_code(" ab3d-ef7h ")
    'AB3DEF7H'
    """
    return code.strip().upper().replace("-", "").replace(" ", "")


def issue_codes(s: Session, customer_ids: Iterable[str], actor: str = "cli") -> dict[str, str]:
    """The code of each customer, creating the missing ones; existing codes never change."""
    ids = sorted({c.strip() for c in customer_ids if c and c.strip()})
    have = {
        r.customer_id: r.code
        for r in s.scalars(select(ReferralCode).where(ReferralCode.customer_id.in_(ids)))
    }
    fresh = [c for c in ids if c not in have]
    drawn: dict[str, str] = {}
    todo = fresh
    while todo:  # a clash is ~1e-12 likely per code; re-draw the few that clash
        batch = {cid: new_code() for cid in todo}
        clash = set(batch.values()) & set(drawn.values())
        for i in range(0, len(batch), 5000):
            chunk = list(batch.values())[i : i + 5000]
            clash |= set(s.scalars(select(ReferralCode.code).where(ReferralCode.code.in_(chunk))))
        seen: set[str] = set()
        todo = []
        for cid, code in batch.items():
            if code in clash or code in seen:
                todo.append(cid)
            else:
                seen.add(code)
                drawn[cid] = code
    for cid in fresh:
        s.add(ReferralCode(customer_id=cid, code=drawn[cid]))
        have[cid] = drawn[cid]
    if fresh:
        s.flush()
        audit(s, actor, "referrals.codes", "", issued=len(fresh))
    return {c: have[c] for c in ids}


def code_owners(s: Session, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    rows = s.execute(
        select(ReferralCode.code, ReferralCode.customer_id).where(ReferralCode.code.in_(wanted))
    )
    return {code: cid for code, cid in rows}


@dataclass(frozen=True)
class Claim:
    """An order said to be referred by a code, and where that was said."""

    order_id: str
    code: str
    via: str  # "order" (orders.referral_code), "file" (order_id + code), "link" (first touch)
    source: str


@dataclass(frozen=True)
class Touch:
    """A click on a referral link by a known person (customer record or email)."""

    code: str
    at: datetime
    customer_id: str | None
    email: str | None
    source: str


def read_referrals(path: Path) -> tuple[list[Claim], list[Touch]]:
    """Claims (rows with ``order_id``) and link clicks (rows with ``customer_id`` or
    ``email`` and ``at``) from a CSV or JSON-lines file."""
    claims: list[Claim] = []
    touches: list[Touch] = []
    for row in read_rows(path):
        code = normalise_code(need(path, row, "code"))
        where = f"{path.name}:{row.line}"
        if row.values.get("order_id"):
            claims.append(Claim(row.values["order_id"], code, "file", where))
            continue
        cid = row.values.get("customer_id") or None
        email = (row.values.get("email") or "").lower() or None
        if not (cid or email):
            raise EventFileError(
                f"{path}: line {row.line}: field 'order_id' is required "
                "(or 'customer_id'/'email' with 'at' for a link click)"
            )
        at = parse_time(path, row, "at")
        assert at is not None
        touches.append(Touch(code, at, cid, email, where))
    return claims, touches


def claims_from_orders(ws: Workspace) -> list[Claim]:
    """Claims from an ``orders.referral_code`` column, when the orders table has one."""
    if not ws.warehouse.exists("orders"):
        return []
    orders = ws.warehouse.table("orders")
    if "referral_code" not in orders.columns:
        return []
    t = ws.engine.to_arrow(
        orders.filter(orders.referral_code.notnull() & (orders.referral_code != "")).select(
            "order_id", "referral_code"
        )
    )
    return [
        Claim(o, normalise_code(c), "order", "orders.referral_code")
        for o, c in zip(t["order_id"].to_pylist(), t["referral_code"].to_pylist(), strict=True)
    ]


def _buyer_key(ws: Workspace, touches: list[Touch]) -> dict[int, str]:
    """Touch index -> the buyer as ``customer_orders`` names them (resolved person, or
    ``email:<address>`` for an email no record holds)."""
    emails = sorted({t.email for t in touches if t.email and not t.customer_id})
    owner: dict[str, str] = {}
    if emails and ws.warehouse.exists("identities"):
        ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
        e = ws.engine.memtable(pa.table({"e": pa.array(emails, pa.string())}))
        got = ws.engine.to_arrow(
            ids.filter((ids.kind == "email") & ids.value.isin(e.e))
            .group_by("value")
            .aggregate(owner=ids.customer_id.min())
        )
        owner = dict(zip(got["value"].to_pylist(), got["owner"].to_pylist(), strict=True))
    records = [t.customer_id or owner.get(t.email or "") for t in touches]
    person = people(ws, [r for r in records if r])
    return {
        i: person[r] if r else f"email:{t.email}"
        for i, (t, r) in enumerate(zip(touches, records, strict=True))
    }


def claims_from_touches(ws: Workspace, touches: list[Touch], window_days: int) -> list[Claim]:
    """First touch: each buyer's first click decides the code; their first completed
    order within the window after it is the referred one."""
    if not touches or not ws.warehouse.exists("orders"):
        return []
    keys = _buyer_key(ws, touches)
    first: dict[str, Touch] = {}
    for i, t in sorted(enumerate(touches), key=lambda it: it[1].at):
        first.setdefault(keys[i], t)
    orders = customer_orders(ws)
    buyers = ws.engine.memtable(pa.table({"b": pa.array(sorted(first), pa.string())}))
    got = ws.engine.to_arrow(
        orders.filter(
            orders.customer_id.isin(buyers.b) & (orders.status == "completed") & (orders.amount > 0)
        ).select("order_id", "customer_id", "ordered_at")
    )
    by_buyer: dict[str, list[tuple[datetime, str]]] = {}
    for oid, cid, at in zip(
        got["order_id"].to_pylist(),
        got["customer_id"].to_pylist(),
        got["ordered_at"].to_pylist(),
        strict=True,
    ):
        by_buyer.setdefault(cid, []).append((naive_utc(at), oid))  # type: ignore[arg-type]
    claims = []
    window = timedelta(days=window_days)
    for buyer, t in first.items():
        inside = sorted(o for o in by_buyer.get(buyer, []) if t.at <= o[0] <= t.at + window)
        if inside:
            claims.append(Claim(inside[0][1], t.code, "link", t.source))
    return claims


class AttributionJson(TypedDict):
    """:meth:`AttributionReport.to_json`."""

    rewarded: int
    refused: dict[str, int]
    already_decided: int
    pending: int
    duplicates_in_input: int
    reward_total: float
    currency: str


@dataclass
class AttributionReport:
    rewarded: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    already_decided: int = 0
    pending: int = 0
    """Claims of orders not in the orders table yet: left undecided for a later run."""
    duplicates: int = 0
    reward_total: float = 0.0
    currency: str = "USD"

    def to_json(self) -> AttributionJson:
        return {
            "rewarded": self.rewarded,
            "refused": dict(sorted(self.refused.items())),
            "already_decided": self.already_decided,
            "pending": self.pending,
            "duplicates_in_input": self.duplicates,
            "reward_total": round(self.reward_total, 2),
            "currency": self.currency,
        }


class _Order(TypedDict):
    """A claimed order's facts (:func:`_orders_of`)."""

    order_id: str
    customer_id: str | None
    record: str | None
    ordered_at: datetime
    amount: float
    currency: str
    status: str


def _orders_of(ws: Workspace, order_ids: list[str]) -> dict[str, _Order]:
    """Order facts with the buyer as a record (for self-referral) and as a person."""
    if not order_ids or not ws.warehouse.exists("orders"):
        return {}
    ids_t = ws.engine.memtable(pa.table({"oid": pa.array(order_ids, pa.string())}))
    resolved = customer_orders(ws)
    resolved = resolved.filter(resolved.order_id.isin(ids_t.oid))
    raw = ws.warehouse.table("orders")
    ident = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    owners = (
        ident.filter(ident.kind == "email")
        .group_by(ev=ident.value)
        .aggregate(owner=ident.customer_id.min())
    )
    raw = raw.filter(raw.order_id.isin(ids_t.oid))
    j = raw.left_join(owners, raw.email == owners.ev)
    rec = j.select(rid=j.order_id, record=ibis.coalesce(j.customer_id, j.owner))
    both = resolved.left_join(rec, resolved.order_id == rec.rid)
    t = ws.engine.to_arrow(
        both.select(
            "order_id", "customer_id", "record", "ordered_at", "amount", "currency", "status"
        )
    )
    return {r["order_id"]: r for r in t.to_pylist()}


def attribute(
    ws: Workspace,
    s: Session,
    claims: list[Claim],
    settings: Settings | None = None,
    actor: str = "cli",
) -> AttributionReport:
    """Decide every claimed order not decided before; return what was done.

    Idempotent: an order already in the ledger is skipped, whatever code claims it now.
    Within one input the first claim of an order wins (an order has one referrer).
    """
    settings = settings or ws.settings
    report = AttributionReport(currency=settings.referral_currency)
    first: dict[str, Claim] = {}
    for c in claims:
        if c.order_id in first:
            report.duplicates += 1
        else:
            first[c.order_id] = c
    decided = set()
    ids = sorted(first)
    for i in range(0, len(ids), 5000):
        chunk = ids[i : i + 5000]
        decided |= set(
            s.scalars(select(ReferralEntry.order_id).where(ReferralEntry.order_id.in_(chunk)))
        )
    todo = [first[o] for o in ids if o not in decided]
    report.already_decided = len(ids) - len(todo)
    if not todo:
        return report
    owners = code_owners(s, [c.code for c in todo])
    orders = _orders_of(ws, [c.order_id for c in todo])
    referrer_person = people(ws, owners.values())
    for c in todo:
        o = orders.get(c.order_id)
        referrer = owners.get(c.code)
        if o is None and referrer is not None:
            report.pending += 1  # the order may arrive with the next orders file
            continue
        entry = ReferralEntry(
            order_id=c.order_id,
            code=c.code,
            referrer_id=referrer,
            buyer_id=o["customer_id"] if o else None,
            order_amount=o["amount"] if o else None,
            order_currency=o["currency"] if o else None,
            ordered_at=naive_utc(o["ordered_at"]) if o else None,
            reward_currency=settings.referral_currency,
            via=c.via,
        )
        reason, detail = _refusal(c, o, referrer, referrer_person)
        if reason:
            entry.status, entry.reason, entry.detail = "refused", reason, detail
            report.refused[reason] += 1
        else:
            entry.status, entry.reward = "rewarded", settings.referral_reward
            report.rewarded += 1
            report.reward_total += settings.referral_reward
        s.add(entry)
    s.flush()
    if report.rewarded or report.refused:
        audit(s, actor, "referrals.attribute", "", **report.to_json())
    return report


def _refusal(
    c: Claim, o: _Order | None, referrer: str | None, referrer_person: dict[str, str]
) -> tuple[str | None, str | None]:
    if referrer is None:
        return "unknown_code", f"{c.source}: {REASONS['unknown_code']}: {c.code}"
    if o is None:  # pragma: no cover - pending claims are not decided
        raise AssertionError("a claim of an unknown order reached a decision")
    if o["status"] != "completed" or (o["amount"] or 0) <= 0:
        return "not_completed", f"{c.source}: order status {o['status']}, amount {o['amount']}"
    if (o["record"] or o["customer_id"]) == referrer:
        return "self_referral", f"{c.source}: customer {referrer} used their own code"
    person = referrer_person.get(referrer, referrer)
    if o["customer_id"] == person:
        return "same_person", (
            f"{c.source}: buyer record {o['record'] or o['customer_id']} and referrer "
            f"{referrer} are one person ({person}) by identity resolution"
        )
    return None, None


def ledger(
    s: Session, customer_id: str | None = None, status: str | None = None, limit: int = 100
) -> list[ReferralEntry]:
    """Decisions, newest first; ``customer_id`` matches the referrer or the buyer."""
    q = select(ReferralEntry).order_by(ReferralEntry.id.desc()).limit(limit)
    if customer_id:
        q = q.where(
            (ReferralEntry.referrer_id == customer_id) | (ReferralEntry.buyer_id == customer_id)
        )
    if status:
        q = q.where(ReferralEntry.status == status)
    return list(s.scalars(q))


class _Tally(TypedDict):
    person_id: str
    records: list[str]
    referred_sales: int
    referred_revenue: float
    rewards: float
    refused: int


class LeaderboardRow(_Tally):
    """One referrer (a person) on :func:`leaderboard`: their tally, ranked."""

    rank: int
    referrer_id: str


def leaderboard(
    s: Session, top: int = 10, persons: Mapping[str, str] | None = None
) -> list[LeaderboardRow]:
    """Referrers by rewards earned, then referred sales; refusals shown beside them.

    With ``persons`` (record -> resolved person, see :func:`referrer_persons`) a person
    whose codes live on several records ranks once, with the sum over their records:
    the board ranks people, as the rewards go to people.
    """
    won = case((ReferralEntry.status == "rewarded", 1), else_=0)
    q = (
        select(
            ReferralEntry.referrer_id,
            func.sum(won).label("referred_sales"),
            func.sum(func.coalesce(ReferralEntry.order_amount, 0.0) * won).label(
                "referred_revenue"
            ),
            func.sum(ReferralEntry.reward).label("rewards"),
            func.sum(1 - won).label("refused"),
        )
        .where(ReferralEntry.referrer_id.is_not(None))
        .group_by(ReferralEntry.referrer_id)
    )
    persons = persons or {}
    by_person: dict[str, _Tally] = {}
    for r in s.execute(q):
        rec = r.referrer_id
        person = persons.get(rec, rec)
        acc = by_person.setdefault(
            person,
            {"person_id": person, "records": [], "referred_sales": 0,
             "referred_revenue": 0.0, "rewards": 0.0, "refused": 0},
        )  # fmt: skip
        acc["records"].append(rec)
        acc["referred_sales"] += int(r.referred_sales or 0)
        acc["referred_revenue"] += float(r.referred_revenue or 0.0)
        acc["rewards"] += float(r.rewards or 0.0)
        acc["refused"] += int(r.refused or 0)
    rows = [r for r in by_person.values() if r["referred_sales"] > 0]
    rows.sort(key=lambda r: (-r["rewards"], -r["referred_sales"], r["person_id"]))
    out: list[LeaderboardRow] = []
    for rank, t in enumerate(rows[:top], start=1):
        records = sorted(t["records"])
        out.append(
            {
                "rank": rank,
                # the person's own record when it holds a code, else their first record
                "referrer_id": t["person_id"] if t["person_id"] in records else records[0],
                "person_id": t["person_id"],
                "records": records,
                "referred_sales": t["referred_sales"],
                "referred_revenue": round(t["referred_revenue"], 2),
                "rewards": round(t["rewards"], 2),
                "refused": t["refused"],
            }
        )
    return out


def referrer_persons(ws: Workspace, s: Session) -> dict[str, str]:
    """Every referrer record of the ledger -> its resolved person (itself if unknown)."""
    ids = s.scalars(
        select(ReferralEntry.referrer_id).where(ReferralEntry.referrer_id.is_not(None)).distinct()
    )
    return people(ws, [i for i in ids if i is not None])  # the query excludes None
