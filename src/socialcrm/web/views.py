"""What the pages and the API show, as plain data: one function per view.

Each reads through the :class:`ReadModel` and copes with missing tables (an empty
workspace, or a domain whose step has not run yet) by returning empty results.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from socialcrm.web.readmodel import ReadModel

AT_RISK = ("high", "very_high")
POST_COLUMNS = (
    "post_id, platform, author_handle, customer_id, created_at, day, text, sentiment_label, "
    "sentiment_score, intent, topic_id, mentions, reach, engagement, is_spam"
)


def overview(rm: ReadModel) -> dict[str, Any]:
    """Headline numbers of the customer base; zeros when nothing is loaded."""
    rm.refresh()
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


def daily(rm: ReadModel, dimension: str = "all", key: str | None = None, days: int = 120) -> list:
    """Posts, sentiment and negative share per day for one listening dimension."""
    if not rm.exists("listening_daily"):
        return []
    params: list[Any] = [dimension]
    cond = "dimension = ?"
    if key is not None:
        cond += " AND key = ?"
        params.append(key)
    return rm.rows(
        f"""WITH d AS (SELECT * FROM {rm.source("listening_daily")} WHERE {cond}),
                 last AS (SELECT max(day) AS m FROM d)
            SELECT day, key, label, posts, reach, negative, neutral, positive, mean_score,
                   negative_share
            FROM d, last WHERE day > m - ?::INTEGER ORDER BY day, key""",
        [*params, days],
    )


def sentiment_mix(rm: ReadModel) -> list[dict[str, Any]]:
    if not rm.exists("posts_enriched"):
        return []
    return rm.rows(
        f"SELECT sentiment_label AS label, count(*) AS posts FROM {rm.source('posts_enriched')} "
        "WHERE NOT coalesce(is_spam, false) GROUP BY 1 ORDER BY 2 DESC"
    )


def topics(rm: ReadModel) -> list[dict[str, Any]]:
    if not rm.exists("topics"):
        return []
    return rm.rows(f"SELECT * FROM {rm.source('topics')} ORDER BY posts DESC")


def mentions(rm: ReadModel) -> list[dict[str, Any]]:
    """Brand, product and competitor mentions with their sentiment."""
    if not rm.exists("post_mentions"):
        return []
    return rm.rows(
        f"""SELECT entity_id, entity_kind, entity_name, count(*) AS posts,
               avg(sentiment_score) AS mean_score,
               avg((sentiment_label = 'negative')::INT) AS negative_share
            FROM {rm.source("post_mentions")} GROUP BY ALL ORDER BY posts DESC"""
    )


def alerts(rm: ReadModel, limit: int = 50) -> list[dict[str, Any]]:
    if not rm.exists("alerts"):
        return []
    return rm.rows(
        f"SELECT * FROM {rm.source('alerts')} ORDER BY day DESC, z DESC LIMIT ?", [limit]
    )


def posts(
    rm: ReadModel,
    *,
    sentiment: str | None = None,
    topic_id: int | None = None,
    entity: str | None = None,
    platform: str | None = None,
    q: str | None = None,
    since: date | None = None,
    until: date | None = None,
    include_spam: bool = False,
    customer_id: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[list[dict[str, Any]], int]:
    """Enriched posts matching the filters, newest first, and how many match."""
    if not rm.exists("posts_enriched"):
        return [], 0
    where, params = ["TRUE"], []
    for cond, value in (
        ("sentiment_label = ?", sentiment),
        ("topic_id = ?", topic_id),
        ("list_contains(mentions, ?)", entity),
        ("platform = ?", platform),
        ("day >= ?", since),
        ("day <= ?", until),
        ("customer_id = ?", customer_id),
        ("text ILIKE ?", f"%{q}%" if q else None),
    ):
        if value is not None:
            where.append(cond)
            params.append(value)
    if not include_spam:
        where.append("NOT coalesce(is_spam, false)")
    clause = " AND ".join(where)
    src = rm.source("posts_enriched")
    items = rm.rows(
        f"SELECT {POST_COLUMNS} FROM {src} WHERE {clause} "
        "ORDER BY created_at DESC, post_id LIMIT ? OFFSET ?",
        [*params, page_size, (page - 1) * page_size],
    )
    total = rm.rows(f"SELECT count(*) FROM {src} WHERE {clause}", params, raw=True)[0][0]
    return items, int(total)


def influencers(rm: ReadModel, limit: int = 100, amplifiers_only: bool = False) -> list[dict]:
    """The amplifier roster: customer_influence joined to names, most influential first."""
    if not rm.exists("customer_influence"):
        return []
    rm.refresh()
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
    order = "size DESC" if "size" in rm.columns("communities") else "1"
    return rm.rows(f"SELECT * FROM {rm.source('communities')} ORDER BY {order}")


def segments(rm: ReadModel) -> list[dict[str, Any]]:
    """Segment sizes and value; empty until the targeting step writes customer_segments."""
    if not rm.exists("customer_segments"):
        return []
    cols = rm.columns("customer_segments")
    if "segment" not in cols:
        return []
    return rm.rows(
        f"""SELECT g.segment, count(*) AS customers, sum(l.clv) AS clv
            FROM {rm.source("customer_segments")} g LEFT JOIN customer_list l USING (customer_id)
            GROUP BY 1 ORDER BY 2 DESC"""
    )


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


def customer_360(rm: ReadModel, customer_id: str) -> dict[str, Any] | None:
    """Everything about one customer record; None when there is no such customer."""
    profile = rm.customer(customer_id)
    if profile is None:
        return None
    consent_rows = rm.detail("consents", customer_id)
    latest: dict[str, dict[str, Any]] = {}
    for r in consent_rows:
        latest[r["purpose"]] = r
    influence = rm.detail("customer_influence", customer_id, limit=1)
    return {
        "profile": profile,
        "identities": rm.detail("identities", customer_id),
        "consents": sorted(latest.values(), key=lambda r: r["purpose"]),
        "consent_history": consent_rows,
        "orders": rm.detail("orders", customer_id),
        "posts": rm.detail("posts_enriched", customer_id, limit=50),
        "scores": score_explanation(profile),
        "influence": influence[0] if influence else None,
        "segment": profile.get("segment"),
        "next_best_action": None,
    }


def score_explanation(p: dict[str, Any]) -> dict[str, Any]:
    """The transaction score and the facts that drive it, in words a marketer can use."""
    if p.get("clv") is None:
        return {"transaction": None, "relationship": None, "influence": None, "drivers": []}
    drivers = [
        f"{p['frequency']} repeat purchase(s), last one on {p['last_purchase']}",
        f"{p['recency']:.0f} days between first and last purchase",
        f"average repeat order {p['monetary']:,.2f}",
        f"P(alive) {p['p_alive']:.0%}: chance they still buy from us",
        f"{p['expected_purchases']:.2f} purchases expected in the horizon",
    ]
    if p.get("overdue"):
        drivers.append("overdue: their usual gap between orders has passed")
    return {
        "transaction": {
            "clv": p["clv"],
            "p_alive": p["p_alive"],
            "expected_purchases": p["expected_purchases"],
            "rfm_code": p["rfm_code"],
            "risk_band": p["risk_band"],
        },
        "relationship": None,
        "influence": p.get("influence_score"),
        "drivers": drivers,
    }
