"""Reads of the listening tables: volume and sentiment per day, topics, mentions, alerts
and the post explorer (DuckDB SQL over the current Parquet files)."""

from __future__ import annotations

from datetime import date
from typing import Any

from socialcrm.store.reads.model import ReadModel

POST_COLUMNS = (
    "post_id, platform, author_handle, customer_id, created_at, day, text, sentiment_label, "
    "sentiment_score, intent, topic_id, mentions, reach, engagement, is_spam"
)


def daily(
    rm: ReadModel, dimension: str = "all", key: str | None = None, days: int = 120
) -> list[dict[str, Any]]:
    """Posts, sentiment and negative share per day for one listening dimension; once per
    version of ``listening_daily`` (:meth:`ReadModel.memo`)."""
    if not rm.exists("listening_daily"):
        return []
    return rm.memo(
        ("daily", dimension, key, days),
        ("listening_daily",),
        lambda: _daily(rm, dimension, key, days),
    )


def _daily(rm: ReadModel, dimension: str, key: str | None, days: int) -> list[dict[str, Any]]:
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


def topic_labels(rm: ReadModel, topic_ids: list[int]) -> dict[int, str]:
    """The label of each known topic id (none when ``topics`` or its labels are missing)."""
    if not topic_ids or not rm.exists("topics") or "label" not in rm.columns("topics"):
        return {}
    marks = ", ".join("?" for _ in topic_ids)
    sql = f"SELECT topic_id, label FROM {rm.source('topics')} WHERE topic_id IN "
    return {r["topic_id"]: r["label"] for r in rm.rows(f"{sql}({marks})", topic_ids)}
