"""What the pages and the API show beyond the warehouse queries: the customer 360 and
its score explanations, segment rules in words, audiences, campaign reports, programs
and a customer's activity in the app database.

Warehouse queries live in :mod:`socialcrm.store.reads` (DuckDB SQL stays in store/);
these read through the :class:`ReadModel` and cope with missing tables (an empty
workspace, or a domain whose step has not run yet) by returning empty results.
"""

from __future__ import annotations

import functools
import math
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from socialcrm.store.reads import ReadModel
from socialcrm.store.reads.customers import community, lineage
from socialcrm.store.reads.customers import household as household_rows

if TYPE_CHECKING:
    import pyarrow as pa

    from socialcrm.appdb.accounts import Principal
    from socialcrm.appdb.db import AppDB
    from socialcrm.config import Settings
    from socialcrm.programs.loyalty import Rules
    from socialcrm.store.workspace import Workspace

NOT_SCORED = "TRInity not scored yet: `socialcrm score` writes customer_scores"


class _FourP(TypedDict):
    """One of the Four Ps of a relationship value, as the customer page shows it."""

    p: str
    depth: float
    weight: float
    points: float
    items: list[str]


class Unavailable(ValueError):
    """What was asked for cannot be built from this workspace; the message says why.

    The domain modules (targeting, programs) are imported only when a view needs them:
    the programs package loads numba, which a server should not pay for at start-up.
    """


# -- words for people ---------------------------------------------------------------------
# A rule's reason as the targeting step writes it: its words, then the values that made it
# match in parentheses, "top buyer, alive (transaction_score=100.0 >= 80, …)".
_RULE_PART = re.compile(r"\s*\(([A-Za-z_]\w*=[^()]*)\)")


def plain_reason(text: str | None) -> tuple[str, str]:
    """(the words a person reads, the exact rule for analysts) of a stored reason.

    >>> plain_reason("top buyer, alive (transaction_score=100.0 >= 80, risk_band=low in ['low'])")
    ('top buyer, alive', "transaction_score=100.0 >= 80, risk_band=low in ['low']")
    >>> plain_reason("no specific signal")
    ('no specific signal', '')
    """
    if not text:
        return "", ""
    rules = _RULE_PART.findall(text)
    return _RULE_PART.sub("", text).strip(), "; ".join(rules)


def currency(rm: ReadModel) -> str:
    """The workspace's currency: the one most orders are in ('' before any order)."""
    found = currencies(rm)
    return found[0] if found else ""


def currencies(rm: ReadModel) -> tuple[str, ...]:
    """The currencies of the orders, most used first. More than one means the value
    models added amounts in different currencies as they are (they convert nothing).

    Of the orders the 360 shows (the version in memory): every page asks, and reading
    the table's version from its file cost more than the rest of the overview page. Before
    the read model is first built (a page that shows no customer), the version on file.
    """
    version = rm.loaded("orders") or rm.version("orders")
    return () if version is None else _currencies(rm, version)


@functools.lru_cache(maxsize=8)
def _currencies(rm: ReadModel, version: str) -> tuple[str, ...]:  # a query per version
    found = rm.rows(
        f"SELECT currency FROM {rm.source('orders')} WHERE currency IS NOT NULL"
        " GROUP BY currency ORDER BY count(*) DESC, currency",
        raw=True,
    )
    return tuple(str(r[0]) for r in found)


def product_names(path: Path | None) -> dict[str, str]:
    """Product id → name from the workspace's catalogue (empty when there is none), read
    once per state of the file (:func:`_stamp`, as the rules files)."""
    stamp = _stamp(path)
    return {} if stamp[0] is None or stamp[1] is None else _product_names(stamp)


@functools.lru_cache(maxsize=4)
def _product_names(stamp: Stamp) -> dict[str, str]:
    import json

    assert stamp[0] is not None
    try:
        doc = json.loads(Path(stamp[0]).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        str(p["id"]): str(p.get("name") or p["id"])
        for p in doc.get("products", [])
        if isinstance(p, dict) and p.get("id")
    }


def community_words(
    communities: Sequence[dict[str, Any]],
) -> tuple[dict[Any, str], dict[Any, list[str]]]:
    """Each community's short name and the topics that set it apart.

    The connecting step lists each community's top topics; topics most communities share
    ("dm · cheers · following") say nothing about any one of them, so a topic found in
    more than half of the communities is left out (unless there are only two).

    >>> names, topics = community_words([
    ...     {"community_id": 0, "label": "community 0 · tents", "top_topics": "dm; tents"},
    ...     {"community_id": 1, "label": None, "top_topics": "dm; bikes"},
    ...     {"community_id": 2, "label": "", "top_topics": "dm"}])
    >>> names[0], names[1], topics[0], topics[1], topics[2]
    ('Community 0: tents', 'Community 1', ['tents'], ['bikes'], [])
    """

    def topics_of(c: dict[str, Any]) -> list[str]:
        raw = c.get("top_topics")
        items = raw if isinstance(raw, list) else str(raw or "").split(";")
        return [str(t).strip() for t in items if t and str(t).strip()]

    lists = {c["community_id"]: topics_of(c) for c in communities}
    seen: dict[str, int] = {}
    for topics in lists.values():
        for t in set(topics):
            seen[t] = seen.get(t, 0) + 1
    common = {t for t, n in seen.items() if len(lists) > 2 and n > len(lists) / 2}
    names: dict[Any, str] = {}
    for c in communities:
        cid = c["community_id"]
        label = str(c.get("label") or "")
        words = re.sub(rf"^community {re.escape(str(cid))}\s*·?\s*", "", label).strip()
        names[cid] = f"Community {cid}" + (f": {words}" if words else "")
    return names, {cid: [t for t in ts if t not in common] for cid, ts in lists.items()}


# -- segments and audiences --------------------------------------------------------------
def _shown(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


Stamp = tuple[str | None, int | None, int | None, int | None]


def _stamp(path: Path | None) -> Stamp:
    """What tells one state of a rules file from another: its path, inode, modification
    time and size (an edit in place, or a new file moved over it); None for the shipped
    rules, and for a path with no file."""
    if path is None:
        return None, None, None, None
    try:
        st = Path(path).stat()
    except OSError:
        return str(path), None, None, None
    return str(path), st.st_ino, st.st_mtime_ns, st.st_size


def segment_rules(path: Path | None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Each segment's rule in words (reason, conditions, actions), and a load error if any.

    Read once per state of the file (pages show them on every request; parsing the TOML
    cost more than the rest of the customer list page).

    >>> rules, error = segment_rules(None)
    >>> rules["dormant"]["when"], error
    ('risk_band == very_high', None)
    """
    rules, error = _segment_rules(_stamp(path))
    return {k: v | {"actions": list(v["actions"])} for k, v in rules.items()}, error


@functools.lru_cache(maxsize=8)
def _segment_rules(stamp: Stamp) -> tuple[dict[str, dict[str, Any]], str | None]:
    from socialcrm.targeting.rules import ColumnRef, RulesError, load_rules

    try:
        rules = load_rules(None if stamp[0] is None else Path(stamp[0]))
    except RulesError as e:
        return {}, str(e)
    out: dict[str, dict[str, Any]] = {}
    for order, rule in enumerate(rules.segments, start=1):
        conds = [
            " ".join(
                [c.column, c.op]
                + ([] if c.value is None and c.op in ("is_null", "not_null") else [_shown(c.value)])
            )
            if not isinstance(c.value, ColumnRef)
            else f"{c.column} {c.op} {c.value.name}"
            for c in rule.when
        ]
        out[rule.name] = {
            "order": order,
            "reason": rule.reason,
            "when": " and ".join(conds) or "everyone left (catch-all)",
            "actions": [a.name for a in rules.actions if rule.name in a.segments],
        }
    return out, None


@contextmanager
def read_workspace(settings: Settings) -> Iterator[Workspace]:
    """The workspace on in-process DuckDB: a request never starts Spark."""
    from socialcrm.store.workspace import Workspace

    with Workspace.open(settings.model_copy(update={"engine": "duckdb"})) as ws:
        yield ws


def audience(settings: Settings, segment: str) -> pa.Table:
    """The segment's audience (rank-1 actions), consent checked again now.

    Raises :class:`Unavailable` when there is none (no actions, unknown segment).
    """
    from socialcrm.targeting.audiences import AudienceError
    from socialcrm.targeting.audiences import audience as build

    try:
        with read_workspace(settings) as ws:
            return build(ws, segment=segment)
    except AudienceError as e:
        raise Unavailable(str(e)) from None


def with_names(table: pa.Table, rm: ReadModel) -> pa.Table:
    """The audience with each person's display name beside their id (column 2), so an
    analyst can read the export; a record with no name reads "Guest — newsletter"."""
    import pyarrow as pa

    from socialcrm.web.people import display_name

    if "customer_id" not in table.column_names or "name" in table.column_names:
        return table
    ids = table.column("customer_id").to_pylist()
    rows = rm.summaries(ids)
    names = [display_name((rows.get(i) or {}).get("name"), i) for i in ids]
    at = table.column_names.index("customer_id") + 1
    return table.add_column(at, "name", pa.array(names, pa.string()))


def audience_csv(table: pa.Table) -> bytes:
    """The audience as the CSV ``socialcrm audience export`` writes."""
    from socialcrm.targeting.audiences import export_csv

    with tempfile.TemporaryDirectory(prefix="socialcrm-audience-") as tmp:
        path = Path(tmp) / "audience.csv"
        export_csv(table, path)
        return path.read_bytes()


# -- programs -----------------------------------------------------------------------------
def campaign_reports(settings: Settings, campaign_ids: Sequence[str]) -> dict[str, Any]:
    """Each campaign's uplift against its holdout, or why it cannot be measured yet."""
    from socialcrm.programs.campaigns import CampaignError, campaign_report

    out: dict[str, Any] = {}
    if not campaign_ids:
        return out
    with read_workspace(settings) as ws:
        for cid in campaign_ids:
            try:
                out[cid] = campaign_report(ws, cid).to_json()
            except CampaignError as e:
                out[cid] = {"error": str(e)}
    return out


def loyalty_rules(settings: Settings) -> Rules:
    """The loyalty rules in force (:class:`Unavailable` if the rules file is unusable),
    read once per state of the file (the 360 page shows a balance on every request)."""
    found = _loyalty_rules(_stamp(settings.loyalty_rules))
    if isinstance(found, str):
        raise Unavailable(found)
    return found


@functools.lru_cache(maxsize=8)
def _loyalty_rules(stamp: Stamp) -> Rules | str:
    from socialcrm.programs.loyalty import LoyaltyError, load_rules

    try:
        return load_rules(None if stamp[0] is None else Path(stamp[0]))
    except LoyaltyError as e:
        return str(e)


def programs(db: AppDB, settings: Settings, top: int = 10) -> dict[str, Any]:
    """Referral leaderboard and loyalty tiers from the app database (empty when unused)."""
    from socialcrm.programs.loyalty import tier_counts
    from socialcrm.programs.referrals import leaderboard

    with db.session() as s:
        board = leaderboard(s, top)
        try:
            rules = loyalty_rules(settings)
        except Unavailable as e:
            return {"leaderboard": board, "tiers": [], "rules": None, "error": str(e)}
        tiers = tier_counts(s, rules)
    return {"leaderboard": board, "tiers": tiers, "rules": rules.to_json(), "error": None}


def loyalty_account(
    db: AppDB, settings: Settings, customer_id: str, limit: int = 20
) -> dict[str, Any]:
    """A customer's points balance, tier, way to the next tier and latest ledger lines.

    On a bare connection with statements built once: the 360 page shows this on every
    request, and an ORM session with fresh statements cost seven times as much.
    """
    from socialcrm.programs.loyalty import balance

    rules = loyalty_rules(settings)
    with db.engine.connect() as con:
        b = balance(con, customer_id, rules).to_json()
        found = con.execute(_ledger_lines(), {"customer_id": customer_id, "limit": limit})
        lines = [dict(r) for r in found.mappings()]
    return b | {"history": lines}


@functools.cache
def _ledger_lines() -> Any:
    """A customer's latest ledger lines, newest first (as ``loyalty.history``)."""
    from sqlalchemy import bindparam, select

    from socialcrm.appdb.models import LoyaltyEntry as E

    return (
        select(E.occurred_at, E.kind, E.points, E.event_key, E.note)
        .where(E.customer_id == bindparam("customer_id"))
        .order_by(E.occurred_at.desc(), E.id.desc())
        .limit(bindparam("limit"))
    )


# -- the customer 360 ---------------------------------------------------------------------
def customer_360(rm: ReadModel, customer_id: str) -> dict[str, Any] | None:
    """Everything about one customer record and the person it resolved to; None when
    there is no such customer.

    Scores, segment, actions, influence and posts belong to the resolved person: for a
    record that is not its person's own id, they are the person's (``person_id``).
    Identities and orders are the person's too — every record's, each row naming its
    ``record_id`` — so one person with a newsletter sign-up and a shop account shows one
    history. Consents stay the viewed record's: each record holds its own decisions.
    """
    profile = rm.customer(customer_id)
    if profile is None:
        return None
    person = profile.get("person_id") or customer_id
    valued = (rm.customer(person) or profile) if person != customer_id else profile
    records = rm.records_of(person) or [customer_id]
    consent_rows = rm.detail("consents", customer_id)
    latest: dict[str, dict[str, Any]] = {}
    for r in consent_rows:
        latest[r["purpose"]] = r
    influence = rm.detail("customer_influence", person, limit=1)
    scores = rm.detail("customer_scores", person, limit=1)
    actions = [
        a | {"uplift_words": uplift_words(a)}
        for a in rm.detail("customer_actions", person, limit=20)
    ]
    return {
        "profile": profile,
        "person_id": person if person != customer_id else None,
        "records": records,
        "identities": _of_records(rm, "identities", records, None, limit=200),
        "consents": sorted(latest.values(), key=lambda r: r["purpose"]),
        "consent_history": consent_rows,
        "orders": _of_records(rm, "orders", records, "ordered_at", limit=200),
        "posts": rm.detail("posts_enriched", person, limit=50),
        "scores": score_explanation(valued, scores[0] if scores else None, currency(rm)),
        "influence": influence[0] if influence else None,
        "segment": _segment(valued),
        "next_best_action": actions[0] if actions else None,
        "actions": actions,
        "community": community(rm, scores[0] if scores else None, influence),
    }


def uplift_words(action: dict[str, Any]) -> str | None:
    """Where an action's uplift comes from, in words: measured by campaigns against a
    holdout, or assumed in the rules; None for "no action" rows and older tables.

    >>> uplift_words({"uplift": 0.0594, "uplift_source": "measured",
    ...     "uplift_campaigns": 2, "uplift_people": 4210})
    'uplift +5.9 points, measured in 2 campaigns, 4,210 people'
    >>> uplift_words({"uplift": 0.1, "uplift_source": "assumed"})
    'uplift +10.0 points, assumed: no campaign has measured it yet'
    """
    uplift, source = _num(action.get("uplift")), action.get("uplift_source")
    if uplift is None or source not in ("measured", "assumed"):
        return None
    points = f"uplift {100 * uplift:+.1f} points"
    if source == "assumed":
        return f"{points}, assumed: no campaign has measured it yet"
    n = int(action.get("uplift_campaigns") or 0)
    people = int(action.get("uplift_people") or 0)
    return f"{points}, measured in {n:,} campaign{'' if n == 1 else 's'}, {people:,} people"


def id_history(rm: ReadModel, customer_id: str, person: str) -> list[dict[str, Any]]:
    """The person's id history in words, oldest first: merges and splits that name the
    person (or the viewed record's own id) in ``identity_lineage``.

    Each event: ``at``, the words before the other id (``before``), the other id
    (``other``; ``linked`` when it has a 360 to link to) and the words after it.
    """
    ids = list(dict.fromkeys([person, customer_id]))
    events = lineage(rm, ids)
    known = rm.summaries([x for e in events for x in (e["customer_id"], e["other_id"])])
    out = []
    for e in events:
        n = int(e["records"] or 0)
        records = f"{n:,} record{'' if n == 1 else 's'}"
        day = e["at"].strftime("%d %b %Y") if e["at"] is not None else "an unknown day"
        why = (
            ("after a review" if e["reviewed"] else "when identity resolution ran again")
            if e["reviewed"] is not None
            else ""
        )
        ours = e["customer_id"] in ids  # this person kept the id
        other = e["other_id"] if ours else e["customer_id"]
        if e["event"] == "merge" and ours:
            before, after = "merged with customer", f"on {day} ({records})"
        elif e["event"] == "merge":
            before, after = "merged into customer", f"on {day} ({records})"
        elif ours:
            before, after = f"split: {records} moved to customer", f"on {day} {why}".rstrip()
        else:
            before, after = "split off customer", f"on {day} with {records} {why}".rstrip()
        out.append(
            {
                "at": e["at"],
                "event": e["event"],
                "before": before,
                "other": other,
                "linked": other in known,
                "after": after,
            }
        )
    return out


def household(rm: ReadModel, person: str, see_contacts: bool) -> dict[str, Any] | None:
    """The person's household: the other members (id, name, a 360 to link to), what
    they share and the address; None when the person is in no household.

    The address is personal data: without ``see_contacts`` (viewers) only its place
    shows (``•••, 75002 Paris, FR``), as contacts are masked for them.
    """
    rows = household_rows(rm, person)
    if not rows:
        return None
    first = rows[0]
    others = [r["customer_id"] for r in rows if r["customer_id"] != person]
    names = rm.summaries(others)
    address = first.get("address")
    if address and not see_contacts:
        parts = address.rsplit(", ", 2)
        address = "•••, " + ", ".join(parts[1:]) if len(parts) == 3 else "•••"
    return {
        "household_id": first["household_id"],
        "size": first.get("household_size") or len(rows),
        "evidence": first.get("evidence"),
        "address": address,
        "since": first.get("first_seen"),
        "members": [
            {
                "customer_id": c,
                "name": (names.get(c) or {}).get("name") or None,
                "linked": c in names,
            }
            for c in others
        ],
    }


def _of_records(
    rm: ReadModel, table: str, records: list[str], newest_first: str | None, limit: int
) -> list[dict[str, Any]]:
    """Rows of a per-customer table over all of a person's records, each with its
    ``record_id``; newest first by ``newest_first`` when given, else record by record."""
    rows = [
        r | {"record_id": rec} for rec in records[:50] for r in rm.detail(table, rec, limit=limit)
    ]
    if newest_first and len(records) > 1:
        dated = [r for r in rows if r.get(newest_first) is not None]
        dated.sort(key=lambda r: r[newest_first], reverse=True)
        rows = dated + [r for r in rows if r.get(newest_first) is None]
    return rows[:limit]


def _segment(row: dict[str, Any]) -> dict[str, Any] | None:
    if not row.get("segment"):
        return None
    return {
        "segment": row["segment"],
        "reason": row.get("segment_reason"),
        "tier": row.get("tier"),
        "tier_reason": row.get("tier_reason"),
    }


def _num(v: Any) -> float | None:
    """A number, or None for null and NaN."""
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


PURPOSE_WORDS = {
    "email_marketing": "marketing emails",
    "sms_marketing": "marketing text messages",
    "phone_marketing": "marketing calls",
    "social_linking": "linking their social accounts",
    "profiling": "profiling",
    "personalised_ads": "personalised ads",
}
"""Consent purposes as people read them (the codes stay in exports and the API)."""


def purpose_words(text: str | None) -> str:
    """Consent purpose codes in ``text`` replaced by words.

    >>> purpose_words("no social_linking consent")
    'no consent to linking their social accounts'
    >>> purpose_words("email_marketing")
    'marketing emails'
    """
    out = str(text or "")
    for code, words in PURPOSE_WORDS.items():
        out = out.replace(f"no {code} consent", f"no consent to {words}").replace(code, words)
    return out


def _unknown(s: dict[str, Any] | None) -> dict[str, str]:
    """``customer_scores.unknown`` ("influence: no social_linking consent; …") by axis."""
    if not s or not s.get("unknown"):
        return {}
    out = {}
    for part in str(s["unknown"]).split(";"):
        axis, _, why = part.strip().partition(":")
        if why:
            out[axis.strip()] = why.strip()
    return out


def score_explanation(
    p: dict[str, Any], s: dict[str, Any] | None = None, money: str = ""
) -> dict[str, Any]:
    """The TRInity of a customer and the facts that drive each axis, in a marketer's words.

    ``p`` is the customer's list row (transaction scores), ``s`` their ``customer_scores``
    row (percentiles, composite, Four-Ps depths, influence parts, unknown axes) or None
    before the TRInity step has run. An unknown axis says why, never reads as zero.
    ``money`` is the workspace's currency, written after amounts.

    >>> e = score_explanation({"clv": None}, {"relationship_known": True,
    ...     "relationship_value": 50.0, "relationship_score": 80.0, "recency_factor": 1.0,
    ...     "personal_depth": 1.0, "profile_depth": 0.0, "preferential_depth": 1.0,
    ...     "performance_depth": 0.5})
    >>> [(x["p"], x["points"]) for x in e["relationship"]["parts"]]
    [('personal', 20.0), ('profile', 0.0), ('preferential', 25.0), ('performance', 15.0)]
    """
    unknown = _unknown(s)
    transaction = _transaction(p, s, unknown, money)
    note = None if s is not None else NOT_SCORED
    return {
        "composite": _num(s.get("trinity_score")) if s else None,
        "axes": s.get("trinity_axes") if s else None,
        "unknown": unknown,
        "note": note,
        "transaction": transaction,
        "relationship": _relationship(s, unknown),
        "influence": _influence(p, s, unknown),
        "drivers": transaction["drivers"] if transaction else [],
    }


def _transaction(
    p: dict[str, Any], s: dict[str, Any] | None, unknown: dict[str, str], money: str = ""
) -> dict[str, Any] | None:
    known = bool(s.get("transaction_known")) if s else p.get("clv") is not None
    pct = _num(s.get("transaction_score")) if s else None
    if p.get("clv") is None:
        if s is None:
            return None
        drivers = (
            ["never bought: counted as a known non-buyer, transaction value 0"]
            if known
            else [f"unknown: {unknown.get('transaction', 'no purchase model')}"]
        )
        return {
            "known": known, "percentile": pct, "value": _num(s.get("transaction_value")),
            "basis": s.get("transaction_basis"), "reason": unknown.get("transaction"),
            "clv": None, "p_alive": None, "expected_purchases": None, "rfm_code": None,
            "risk_band": None, "drivers": drivers,
        }  # fmt: skip
    drivers = [
        f"{p['frequency']} repeat purchase(s), last one on {p['last_purchase']}",
        f"{p['recency']:.0f} days between first and last purchase",
        f"average repeat order {p['monetary']:,.2f}{f' {money}' if money else ''}",
        f"P(alive) {p['p_alive']:.0%}: chance they still buy from us",
        f"{p['expected_purchases']:.2f} purchases expected in the horizon",
    ]
    if p.get("overdue"):
        drivers.append("overdue: their usual gap between orders has passed")
    if pct is not None:
        drivers.append(buyer_rank(pct))
    return {
        "known": known,
        "percentile": pct,
        "value": _num(s.get("transaction_value")) if s else p["clv"],
        "basis": s.get("transaction_basis") if s else "clv",
        "reason": unknown.get("transaction"),
        "clv": p["clv"],
        "p_alive": p["p_alive"],
        "expected_purchases": p["expected_purchases"],
        "rfm_code": p["rfm_code"],
        "risk_band": p["risk_band"],
        "drivers": drivers,
    }


def buyer_rank(percentile: float) -> str:
    """A transaction percentile (0–100) in words; never "more than 100% of customers".

    >>> buyer_rank(100.0)
    'among the top 1% of customers as a buyer'
    >>> buyer_rank(87.4), buyer_rank(30.0)
    ('among the top 13% of customers as a buyer', 'worth more than 30% of customers as a buyer')
    """
    if percentile >= 50:
        return f"among the top {max(1, round(100 - percentile)):.0f}% of customers as a buyer"
    return f"worth more than {percentile:.0f}% of customers as a buyer"


def _relationship(s: dict[str, Any] | None, unknown: dict[str, str]) -> dict[str, Any] | None:
    """Relationship value and its Four Ps: value = 100 · Σ weight·depth · recency factor."""
    from socialcrm.value.relationship import ITEMS, WEIGHTS

    if s is None:
        return None
    if not s.get("relationship_known"):
        why = unknown.get("relationship", "not measured")
        return {"known": False, "reason": why, "percentile": None, "value": None,
                "parts": [], "drivers": [f"unknown: {why}"]}  # fmt: skip
    factor = _num(s.get("recency_factor"))
    parts: list[_FourP] = []
    for name, weight in WEIGHTS.items():
        depth = _num(s.get(f"{name}_depth")) or 0.0
        points = 100.0 * weight * depth * (factor if factor is not None else 1.0)
        parts.append(
            {
                "p": name,
                "depth": depth,
                "weight": weight,
                "points": round(points, 2),
                "items": list(ITEMS[name]),
            }
        )
    drivers = [
        f"{x['p'].capitalize()}: shared {x['depth']:.0%} of "
        f"{', '.join(i.replace('_', ' ') for i in x['items'])} "
        f"→ {x['points']:.1f} points (weight {x['weight']:.0%})"
        for x in parts
    ]
    days = _num(s.get("days_since_shared"))
    if factor is not None and days is not None:
        drivers.append(
            f"last shared or engaged {days:.0f} days before the latest in the data: "
            f"counts {factor:.0%}"
        )
    return {
        "known": True,
        "reason": None,
        "percentile": _num(s.get("relationship_score")),
        "value": _num(s.get("relationship_value")),
        "recency_factor": factor,
        "days_since_shared": days,
        "parts": parts,
        "drivers": drivers,
    }


def _influence(
    p: dict[str, Any], s: dict[str, Any] | None, unknown: dict[str, str]
) -> dict[str, Any] | None:
    """Influence: active *and* listened to; unknown without social_linking consent."""
    if s is None:
        if p.get("influence_score") is None:
            return None
        src, known, pct, value = p, True, None, _num(p.get("influence_score"))
    else:
        src, known = s, bool(s.get("influence_known"))
        pct, value = _num(s.get("influence_score")), _num(s.get("influence_value"))
    if not known:
        why = unknown.get("influence", "not measured")
        return {"known": False, "reason": why, "percentile": None, "value": None,
                "drivers": [f"unknown: {why}"]}  # fmt: skip
    facts = {
        k: src.get(k)
        for k in ("amplifier", "community_id", "community_role", "followers", "posts",
                  "responses_per_post", "cascade_reach", "pagerank")
    }  # fmt: skip
    drivers = []
    if facts["amplifier"]:
        drivers.append("amplifier: active and listened to")
    if facts["followers"] is not None:
        drivers.append(f"{facts['followers']:,} followers")
    if facts["posts"] is not None:
        drivers.append(f"{facts['posts']:,} posts")
    rpp = _num(facts["responses_per_post"])
    if rpp is not None:
        drivers.append(f"{rpp:.1f} replies and reshares per post")
    if facts["cascade_reach"]:
        drivers.append(f"reshare cascades reached {facts['cascade_reach']:,} accounts")
    if facts["community_id"] is not None:
        role = facts["community_role"] or "member"
        drivers.append(f"{role} of community {facts['community_id']}")
    if value == 0 and not drivers:
        drivers.append("consented, but no measurable activity in the social graph")
    if pct is not None:
        drivers.append(f"more influential than {pct:.0f}% of consenting customers")
    return {"known": True, "reason": None, "percentile": pct, "value": value, **facts,
            "drivers": drivers}  # fmt: skip


# -- the customer's ideas and conversations (app database) ------------------------------
@functools.cache
def _activity_queries() -> tuple[Any, Any]:
    """The two statements of :func:`customer_activity`, built once: building a statement
    (ORM coercions, a fresh cache key) cost ten times what running it does."""
    from sqlalchemy import BindParameter, bindparam, exists, func, select, union

    from socialcrm.appdb.models import (
        Conversation,
        ConversationMessage,
        Idea,
        IdeaContributor,
        IdeaVote,
    )

    C, M = Conversation, ConversationMessage
    ids: BindParameter[str] = bindparam("ids", expanding=True)
    limit: BindParameter[int] = bindparam("limit")
    latest = select(M.text, M.direction).where(M.conversation_id == C.id)
    latest = latest.order_by(M.created_at.desc(), M.id.desc()).limit(1)
    conversations = (
        select(
            C.id,
            C.platform,
            C.author_handle,
            C.subject,
            C.state,
            C.is_open,
            C.priority,
            C.intent,
            C.messages,
            C.last_message_at,
            C.first_response_breached,
            C.resolution_breached,
            latest.with_only_columns(M.text).scalar_subquery().label("last_message"),
            latest.with_only_columns(M.direction).scalar_subquery().label("last_direction"),
        )
        .where(C.customer_id.in_(ids))
        .order_by(C.is_open.desc(), C.last_message_at.desc(), C.id.desc())
        .limit(limit)
    )
    proposed = exists().where(
        IdeaContributor.idea_id == Idea.id, IdeaContributor.customer_id.in_(ids)
    )
    voted = exists().where(IdeaVote.idea_id == Idea.id, IdeaVote.voter.in_(ids))
    votes = select(func.count(func.distinct(IdeaVote.voter))).where(IdeaVote.idea_id == Idea.id)
    theirs = union(
        select(IdeaContributor.idea_id).where(IdeaContributor.customer_id.in_(ids)),
        select(IdeaVote.idea_id).where(IdeaVote.voter.in_(ids)),
    )
    ideas = (
        select(
            Idea.id,
            Idea.title,
            Idea.status,
            Idea.public_reason,
            Idea.merged_into_id,
            Idea.proposed.label("awaiting_confirmation"),
            votes.scalar_subquery().label("votes"),
            proposed.label("proposed_by_customer"),
            voted.label("voted_by_customer"),
        )
        .where(Idea.id.in_(theirs))
        .order_by(Idea.updated_at.desc(), Idea.id.desc())
        .limit(limit)
    )
    return conversations, ideas


def customer_activity(
    db: AppDB, customer_ids: Sequence[str], p: Principal, limit: int = 20
) -> dict[str, list[dict[str, Any]]]:
    """Ideas the customer proposed or voted for, and their inbox conversations.

    Conversations are masked for viewers as in the inbox (handle shortened, text hidden).
    """
    from socialcrm.collaborating.ideas import STATUS_LABELS
    from socialcrm.web.security import mask_handle

    ids = sorted({c for c in customer_ids if c})
    if not ids:
        return {"ideas": [], "conversations": []}
    conversations, ideas = _activity_queries()
    params = {"ids": ids, "limit": limit}
    with db.engine.connect() as con:
        convs = [dict(r) for r in con.execute(conversations, params).mappings()]
        found = [dict(r) for r in con.execute(ideas, params).mappings()]
    for i in found:
        i["status_label"] = STATUS_LABELS.get(i["status"], i["status"])
        i["votes"] = int(i["votes"] or 0)
        for k in ("proposed_by_customer", "voted_by_customer", "awaiting_confirmation"):
            i[k] = bool(i[k])
    see = p.can("agent")
    for c in convs:
        c["last_message"] = (c["last_message"] or "") if see else "•••"
        c["last_direction"] = c["last_direction"] or "in"
        if not see:
            c["author_handle"] = mask_handle(c["author_handle"])
            c["subject"] = "•••"
    return {"ideas": found, "conversations": convs}
