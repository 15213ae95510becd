"""What the ideas board needs to know about people, read from the warehouse.

A voter's value (CLV, influence) weighs their vote; a contributor's preferred channel and
consents decide how, and whether, we may tell them about their idea. Reads go through the
read model's :class:`~socialcrm.store.reads.ReadModel` (DuckDB over Parquet), so a request
never starts the pipeline's engine. Missing tables mean "unknown", never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from socialcrm.store.reads import ReadModel

# A channel and the consent purpose that must be in force to use it.
CHANNEL_PURPOSE = {"email": "email_marketing", "sms": "sms_marketing", "phone": "phone_marketing"}


@dataclass(frozen=True)
class Value:
    clv: float = 0.0
    influence: float = 0.0
    amplifier: bool = False


def _placeholders(ids: list[str]) -> str:
    return ", ".join("?" for _ in ids)


def values(rm: ReadModel, customer_ids: Iterable[str | None]) -> dict[str, Value]:
    """CLV and influence per customer (0 where unknown); empty and missing ids are skipped."""
    ids = sorted({c for c in customer_ids if c})
    if not ids:
        return {}
    clv: dict[str, float] = {}
    infl: dict[str, tuple[float, bool]] = {}
    if rm.exists("customer_transaction_scores"):
        src = rm.source("customer_transaction_scores")
        for r in rm.rows(
            f"SELECT customer_id, max(clv) AS clv FROM {src} "
            f"WHERE customer_id IN ({_placeholders(ids)}) GROUP BY 1",
            ids,
        ):
            clv[r["customer_id"]] = float(r["clv"] or 0.0)
    if rm.exists("customer_influence"):
        src = rm.source("customer_influence")
        amp = "bool_or(amplifier)" if "amplifier" in rm.columns("customer_influence") else "false"
        for r in rm.rows(
            f"SELECT customer_id, max(influence_score) AS s, {amp} AS a FROM {src} "
            f"WHERE customer_id IN ({_placeholders(ids)}) GROUP BY 1",
            ids,
        ):
            infl[r["customer_id"]] = (float(r["s"] or 0.0), bool(r["a"]))
    return {
        c: Value(clv.get(c, 0.0), infl.get(c, (0.0, False))[0], infl.get(c, (0.0, False))[1])
        for c in ids
    }


def known_customers(rm: ReadModel, customer_ids: Iterable[str]) -> set[str]:
    """Which of ``customer_ids`` are customers in the warehouse's ``customers`` table
    (none when there is no such table: an id we cannot find is not a known customer)."""
    ids = sorted({c for c in customer_ids if c})
    if not ids or not rm.exists("customers"):
        return set()
    src = rm.source("customers")
    rows = rm.rows(
        f"SELECT DISTINCT customer_id FROM {src} WHERE customer_id IN ({_placeholders(ids)})",
        ids,
    )
    return {r["customer_id"] for r in rows}


@dataclass(frozen=True)
class Route:
    """How to reach a contributor: a channel, or ``None`` with the reason why not."""

    channel: str | None
    reason: str


def _person_sql(rm: ReadModel, table: str) -> str:
    """``table`` with ``customer_id`` mapped to the resolved person when clusters exist."""
    src = rm.source(table)
    if not rm.exists("identity_clusters"):
        return f"(SELECT * FROM {src})"
    ic = rm.source("identity_clusters")
    return (
        f"(SELECT t.* REPLACE (coalesce(ic.customer_id, t.customer_id) AS customer_id) "
        f"FROM {src} t LEFT JOIN {ic} ic ON ic.record_id = t.customer_id)"
    )


def routes(rm: ReadModel, customer_ids: Iterable[str]) -> dict[str, Route]:
    """Each customer's preferred channel if its consent is in force (latest decision wins)."""
    ids = sorted({c for c in customer_ids if c})
    if not ids:
        return {}
    preferred: dict[str, str | None] = {}
    if rm.exists("customers") and "preferred_channel" in rm.columns("customers"):
        t = _person_sql(rm, "customers")
        order = "created_at" if "created_at" in rm.columns("customers") else "customer_id"
        for r in rm.rows(
            f"SELECT customer_id, arg_max(preferred_channel, {order}) "
            f"FILTER (WHERE preferred_channel IS NOT NULL) AS ch FROM {t} "
            f"WHERE customer_id IN ({_placeholders(ids)}) GROUP BY 1",
            ids,
        ):
            preferred[r["customer_id"]] = r["ch"]
    granted: set[tuple[str, str]] = set()
    if rm.exists("consents"):
        t = _person_sql(rm, "consents")
        for r in rm.rows(
            f"SELECT customer_id, purpose, bool_and(status = 'granted') AS ok FROM "
            f"(SELECT *, max(recorded_at) OVER (PARTITION BY customer_id, purpose) AS m "
            f"FROM {t} WHERE customer_id IN ({_placeholders(ids)})) WHERE recorded_at = m "
            f"GROUP BY 1, 2",
            ids,
        ):
            if r["ok"]:
                granted.add((r["customer_id"], r["purpose"]))
    out = {}
    for c in ids:
        ch = preferred.get(c)
        if ch is None:
            out[c] = Route(None, "no preferred channel on record")
        elif ch == "none":
            out[c] = Route(None, "asked not to be contacted")
        elif ch in CHANNEL_PURPOSE:
            purpose = CHANNEL_PURPOSE[ch]
            if (c, purpose) in granted:
                out[c] = Route(ch, f"preferred channel {ch}, {purpose} in force")
            else:
                out[c] = Route(None, f"preferred channel {ch} but no {purpose} consent in force")
        else:  # social, push, mail: answers on the customer's own thread or account
            out[c] = Route(ch, f"preferred channel {ch}")
    return out


__all__ = ["CHANNEL_PURPOSE", "Route", "Value", "known_customers", "routes", "values"]
