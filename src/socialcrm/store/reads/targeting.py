"""Reads of the targeting tables: segments with their value and audience, and their trend
over the pipeline runs (DuckDB SQL over the current Parquet files)."""

from __future__ import annotations

from typing import Any

from socialcrm.store.reads.customers import AT_RISK
from socialcrm.store.reads.model import ReadModel


def segments(rm: ReadModel) -> list[dict[str, Any]]:
    """Per segment: size, value, mean TRInity, at-risk share, tiers and audience size.

    ``audience`` counts the segment's customers whose first action is a real one (what
    an export starts from, before consent is checked again); empty until the targeting
    step writes ``customer_segments``. Aggregates over every customer: computed once per
    version of the tables (:meth:`ReadModel.memo`).
    """
    if "segment" not in rm.columns("customer_segments"):
        return []
    return rm.memo(("segments",), ("customer_segments", "customer_actions"), lambda: _segments(rm))


def _segments(rm: ReadModel) -> list[dict[str, Any]]:
    cols = rm.columns("customer_segments")
    src = rm.source("customer_segments")
    if "clv" in cols:
        clv, join = "g.clv", ""
    elif rm.exists("customers"):
        clv, join = "l.clv", "LEFT JOIN customer_list l USING (customer_id)"
    else:
        clv, join = "NULL::DOUBLE", ""
    trinity = "avg(g.trinity_score)" if "trinity_score" in cols else "NULL::DOUBLE"
    risk = (
        f"avg(coalesce(g.risk_band IN {AT_RISK}, false)::INT)"
        if "risk_band" in cols
        else "NULL::DOUBLE"
    )
    tiers = "string_agg(DISTINCT g.tier, ', ' ORDER BY g.tier)" if "tier" in cols else "NULL"
    rows = rm.rows(
        f"""SELECT g.segment, count(*) AS customers, sum({clv}) AS clv,
               {trinity} AS mean_trinity, {risk} AS share_at_risk, {tiers} AS tiers
            FROM {src} g {join} GROUP BY 1 ORDER BY 2 DESC, 1"""
    )
    if {"segment", "action", "rank"} <= rm.columns("customer_actions"):
        firsts = {
            r["segment"]: r
            for r in rm.rows(
                f"""SELECT segment, count(*) AS audience, mode(action) AS top_action
                    FROM {rm.source("customer_actions")}
                    WHERE rank = 1 AND action <> 'none' GROUP BY 1"""
            )
        }
    else:
        firsts = {}
    for r in rows:
        first = firsts.get(r["segment"], {})
        r["audience"] = int(first.get("audience") or 0)
        r["top_action"] = first.get("top_action")
    return rows


def segment_trends(rm: ReadModel) -> list[dict[str, Any]]:
    """Size, value, TRInity and at-risk share per (run date, segment), tiers summed."""
    if not {"run_date", "segment", "customers"} <= rm.columns("segment_summary"):
        return []
    return rm.memo(("segment_trends",), ("segment_summary",), lambda: _segment_trends(rm))


def _segment_trends(rm: ReadModel) -> list[dict[str, Any]]:
    cols = rm.columns("segment_summary")

    def weighted(c: str) -> str:
        if c not in cols:
            return f"NULL::DOUBLE AS {c}"
        return f"sum({c} * customers) / nullif(sum(customers), 0) AS {c}"

    total = "sum(total_clv)" if "total_clv" in cols else "NULL::DOUBLE"
    return rm.rows(
        f"""SELECT run_date::DATE AS run_date, segment, sum(customers)::BIGINT AS customers,
               {total} AS total_clv, {weighted("mean_trinity")}, {weighted("share_at_risk")}
            FROM {rm.source("segment_summary")} GROUP BY 1, 2 ORDER BY 1, 2"""
    )
