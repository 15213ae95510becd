"""Reads about customers: headline numbers, the influence roster, communities, consents,
a person's id history (merges and splits) and household.

DuckDB SQL over the read model's in-memory customer list and the current Parquet files;
every reader copes with a missing table by returning an empty result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from socialcrm.store.reads.model import ReadModel

AT_RISK = ("high", "very_high")


def overview(rm: ReadModel) -> dict[str, Any]:
    """Headline numbers of the customer base; zeros when nothing is loaded. Aggregates of
    the whole list: computed once per version of it (:meth:`ReadModel.memo`)."""
    return rm.memo(("overview",), (), lambda: _overview(rm))


def _overview(rm: ReadModel) -> dict[str, Any]:
    out: dict[str, Any] = {
        "customers": 0,
        "scored": 0,
        "active": 0,
        "clv_total": 0.0,
        "at_risk_customers": 0,
        "at_risk_value": 0.0,
        "risk_bands": [],
    }
    if rm.exists("customers"):
        head = rm.one(
            f"""SELECT count(*) AS customers, count(clv) AS scored,
                   count(*) FILTER (WHERE p_alive >= 0.5) AS active,
                   coalesce(sum(clv), 0) AS clv_total,
                   count(*) FILTER (WHERE risk_band IN {AT_RISK}) AS at_risk_customers,
                   coalesce(sum(clv) FILTER (WHERE risk_band IN {AT_RISK}), 0) AS at_risk_value
                FROM customer_list"""
        )
        out.update(head or {})
        out["risk_bands"] = rm.rows(
            "SELECT risk_band, count(*) AS customers, sum(clv) AS clv FROM customer_list "
            "WHERE risk_band IS NOT NULL GROUP BY 1 ORDER BY "
            "list_position(['low','medium','high','very_high'], risk_band)"
        )
    return out


def influencers(
    rm: ReadModel, limit: int = 100, amplifiers_only: bool = False
) -> list[dict[str, Any]]:
    """The amplifier roster: customer_influence joined to names, most influential first;
    once per version of the tables (:meth:`ReadModel.memo`)."""
    if not rm.exists("customer_influence"):
        return []
    return rm.memo(
        ("influencers", limit, amplifiers_only),
        ("customer_influence",),
        lambda: _influencers(rm, limit, amplifiers_only),
    )


def _influencers(rm: ReadModel, limit: int, amplifiers_only: bool) -> list[dict[str, Any]]:
    cols = rm.columns("customer_influence")
    order = "influence_score" if "influence_score" in cols else "customer_id"
    cond = "WHERE f.amplifier" if amplifiers_only and "amplifier" in cols else ""
    return rm.rows(
        f"""SELECT f.*, l.name, l.clv, l.risk_band
            FROM {rm.source("customer_influence")} f
            LEFT JOIN customer_list l USING (customer_id)
            {cond} ORDER BY f.{order} DESC NULLS LAST LIMIT ?""",
        [limit],
    )


def communities(rm: ReadModel) -> list[dict[str, Any]]:
    if not rm.exists("communities"):
        return []

    def compute() -> list[dict[str, Any]]:  # the SQL names the version: built after the key
        order = "size DESC" if "size" in rm.columns("communities") else "1"
        return rm.rows(f"SELECT * FROM {rm.source('communities')} ORDER BY {order}")

    return rm.memo(("communities",), ("communities",), compute)


def consents(
    rm: ReadModel,
    *,
    customer_id: str | None = None,
    purpose: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Consent in force per (customer, purpose): the latest decision recorded."""
    if not rm.exists("consents"):
        return [], 0
    where, params = ["TRUE"], []
    for cond, value in (
        ("customer_id = ?", customer_id),
        ("purpose = ?", purpose),
        ("status = ?", status),
    ):
        if value is not None:
            where.append(cond)
            params.append(value)
    clause = " AND ".join(where)
    base = f"""WITH latest AS (
        SELECT customer_id, purpose, arg_max(status, recorded_at) AS status,
               max(recorded_at) AS recorded_at, arg_max(source, recorded_at) AS source
        FROM {rm.source("consents")} GROUP BY customer_id, purpose)
        SELECT * FROM latest WHERE {clause}"""
    items = rm.rows(
        f"{base} ORDER BY customer_id, purpose LIMIT ? OFFSET ?",
        [*params, page_size, (page - 1) * page_size],
    )
    total = rm.rows(f"SELECT count(*) FROM ({base})", params, raw=True)[0][0]
    return items, int(total)


def community(
    rm: ReadModel, scores: dict[str, Any] | None, influence: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The person's community: from their customer_scores row (consent-gated) once it
    exists, else their customer_influence row; label, size and recommendation looked up."""
    src = scores if scores is not None else (influence[0] if influence else None)
    if src is None or src.get("community_id") is None:
        return None
    cid = int(src["community_id"])
    out: dict[str, Any] = {
        "community_id": cid,
        "role": src.get("community_role"),
        "label": None,
        "size": None,
        "recommendation": None,
    }
    for table, wanted in (
        ("communities", ("label", "size")),
        ("community_recommendations", ("label", "recommendation")),
    ):
        cols = rm.columns(table)
        have = [c for c in wanted if c in cols]
        if "community_id" not in cols or not have:
            continue
        found = rm.one(
            f"SELECT {', '.join(have)} FROM {rm.source(table)} WHERE community_id = ? LIMIT 1",
            [cid],
        )
        for k, v in (found or {}).items():
            if out.get(k) is None:
                out[k] = v
    return out


def lineage(rm: ReadModel, ids: Sequence[str], limit: int = 50) -> list[dict[str, Any]]:
    """Merges and splits (``identity_lineage``) naming any of ``ids`` as the kept or the
    other id, oldest first. ``reviewed``: for a split, whether a person had said, before
    it, that a record now of the split-off id differs from the rest (a ``no_match``
    decision, as ``identities unmerge`` records); null when that cannot be told."""
    if not ids or not rm.exists("identity_lineage"):
        return []
    marks = ", ".join("?" for _ in ids)
    reviewed = "NULL::BOOLEAN"
    if {"record_id_l", "record_id_r", "decision", "decided_at"} <= rm.columns(
        "identity_decisions"
    ) and {"record_id", "customer_id"} <= rm.columns("identity_clusters"):
        reviewed = f"""l.event = 'split' AND EXISTS (
            SELECT 1 FROM {rm.source("identity_decisions")} d
            JOIN {rm.source("identity_clusters")} k
              ON k.record_id = d.record_id_l OR k.record_id = d.record_id_r
            WHERE d.decision = 'no_match' AND d.decided_at <= l.at
              AND k.customer_id = l.other_id)"""
    return rm.rows(
        f"""SELECT l.event, l.customer_id, l.other_id, l.records, l.at, {reviewed} AS reviewed
            FROM {rm.source("identity_lineage")} l
            WHERE l.customer_id IN ({marks}) OR l.other_id IN ({marks})
            ORDER BY l.at, l.event, l.customer_id, l.other_id LIMIT ?""",
        [*ids, *ids, limit],
    )


def household(rm: ReadModel, person_id: str) -> list[dict[str, Any]]:
    """Every member row of the person's household (``households``), the person's own
    included, by id; empty when they are in none or nothing was computed."""
    need = {"household_id", "customer_id"}
    if not need <= rm.columns("households"):
        return []
    src = rm.source("households")
    return rm.rows(
        f"""SELECT * FROM {src} WHERE household_id IN
              (SELECT household_id FROM {src} WHERE customer_id = ?)
            ORDER BY customer_id""",
        [person_id],
    )
