"""Reads for saved listening queries: the stored posts a preview matches against, and how
many posts each saved query matched (``post_queries``)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from socialcrm.store.reads.model import ReadModel

PREVIEW_LIMIT = 2_000_000
"""The most posts a preview reads (newest first): a preview is a look, not a report."""


def preview_posts(
    rm: ReadModel, *, sentiment: str | None = None, topic_id: int | None = None
) -> pa.Table:
    """Stored posts (not spam), newest first, with what a query and the preview need:
    ``post_id, platform, day, created_at, text, lang, author_handle, sentiment_label,
    topic_id``."""
    if not rm.exists("posts_enriched"):
        return pa.table({c: pa.array([], pa.string()) for c in ("post_id", "text")})
    have = rm.columns("posts_enriched")

    def col(name: str, kind: str = "VARCHAR") -> str:
        return name if name in have else f"NULL::{kind} AS {name}"

    lang = (
        "coalesce(lang, lang_detected) AS lang"
        if {"lang", "lang_detected"} <= have
        else col("lang")
    )
    params: list[object] = []
    where = ["NOT coalesce(is_spam, false)" if "is_spam" in have else "TRUE"]
    if sentiment is not None:
        where.append("sentiment_label = ?")
        params.append(sentiment)
    if topic_id is not None:
        where.append("topic_id = ?")
        params.append(topic_id)
    sql = (
        f"SELECT post_id, {col('platform')}, {col('day', 'DATE')}, "
        f"{col('created_at', 'TIMESTAMP')}, text, {lang}, {col('author_handle')}, "
        f"{col('sentiment_label')}, {col('topic_id', 'BIGINT')} "
        f"FROM {rm.source('posts_enriched')} WHERE {' AND '.join(where)} "
        f"ORDER BY created_at DESC NULLS LAST, post_id LIMIT {PREVIEW_LIMIT}"
    )
    return rm.arrow(sql, params)


def query_counts(rm: ReadModel) -> dict[str, int]:
    """Posts matched per saved query at the last pipeline run."""
    if not rm.exists("post_queries"):
        return {}
    rows = rm.rows(
        f"SELECT query, count(DISTINCT post_id) AS n FROM {rm.source('post_queries')} GROUP BY 1"
    )
    return {str(r["query"]): int(r["n"]) for r in rows}


def topic_choices(rm: ReadModel) -> list[dict[str, Any]]:
    """Topic ids and labels, for the preview's topic filter."""
    if not rm.exists("topics") or "label" not in rm.columns("topics"):
        return []
    return rm.rows(f"SELECT topic_id, label FROM {rm.source('topics')} ORDER BY topic_id")
