"""Topics in the listening step: fit on a sample, assign every post, threads share a topic.

The enricher leaves ``topic_id`` to this module when the model runs on sentence
embeddings: posts are embedded on their :func:`~.topics.topic_text` (cached by post, in
``cache/topic-embeddings``), assigned, and then every reply or reshare takes its thread's
topic (:func:`~.topics.thread_topics`). Embedding costs ~5–20 ms a post on a 2-core CPU,
so above :data:`EMBED_LIMIT` posts without a GPU the TF-IDF model is used instead (the
same labels, coarser clusters).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ibis.expr import types as ir

from socialcrm.listening.embedding import Embedder, EmbeddingCache, Encoder, default_device
from socialcrm.listening.language import detect_languages
from socialcrm.listening.mentions import Catalogue
from socialcrm.listening.text import normalise_array
from socialcrm.listening.topics import (
    NO_TOPIC,
    OTHER,
    TopicModel,
    emerging,
    thread_topics,
    topic_text,
)
from socialcrm.store.workspace import Workspace

TOPIC_SAMPLE = 20_000
EMBED_LIMIT = 50_000
"""Posts above which topics use TF-IDF rather than embeddings when no GPU is seen."""
EMERGING_DAYS = 7

TOPIC_SCHEMA = pa.schema(
    [
        pa.field("topic_id", pa.int64(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("keywords", pa.list_(pa.string())),
        pa.field("examples", pa.list_(pa.string())),
        pa.field("fitted_size", pa.int64()),
        pa.field("posts", pa.int64()),
        pa.field("negative_share", pa.float64()),
        pa.field("recent_posts", pa.int64()),
        pa.field("previous_posts", pa.int64()),
        pa.field("emerging", pa.bool_()),
    ]
)
"""One row per topic, and one for "other" (``topic_id`` −1) when any post is in none."""


def topic_model_path(ws: Workspace) -> Path:
    return ws.settings.home / "models" / "topics.npz"


def _cache(ws: Workspace) -> EmbeddingCache:
    return EmbeddingCache(ws.settings.home / "cache" / "topic-embeddings")


def use_embeddings(total_posts: int) -> bool:
    """Embeddings for topics unless the corpus is large and there is no GPU."""
    return total_posts <= EMBED_LIMIT or default_device() == "cuda"


def embed(
    ws: Workspace, keys: Sequence[str], texts: Sequence[str], exclude: Sequence[str],
    encoder: Encoder | None = None,
) -> np.ndarray:  # fmt: skip
    """Sentence embeddings of the posts' topic texts (cached by post id and text)."""
    clean = [topic_text(t, exclude) for t in texts]
    return _cache(ws).embed(list(keys), clean, encoder or Embedder())


def topic_sample(posts: ir.Table, n_posts: int, size: int = TOPIC_SAMPLE) -> ir.Table:
    """At most ``size`` of ``n_posts`` posts to fit topics on: all of them when they fit,
    else every k-th in id order. The same posts on every engine: a sample by a hash of the
    id was not (DuckDB's and Spark's hash functions differ, and so did the topics of 83%
    of the posts at 100k customers)."""
    ordered = posts.order_by("post_id")
    if n_posts <= size:
        return ordered.limit(size)
    step = max(1, n_posts // size)
    numbered = ordered.mutate(_nth=ibis.row_number().over(order_by=ordered.post_id))
    every = numbered.filter(numbered._nth % step == 0).drop("_nth")
    return every.order_by("post_id").limit(size)


def fit_topics(
    ws: Workspace,
    posts: ir.Table | None = None,
    n_topics: int | None = None,
    catalogue: Catalogue | None = None,
    encoder: Encoder | None = None,
) -> TopicModel:
    """Fit the topic model on a sample of thread-opening posts and save it."""
    posts = posts if posts is not None else ws.warehouse.table("posts")
    opening = posts.filter(posts.reshare_of_post_id.isnull())
    if "reply_to_post_id" in posts.columns:
        opening = opening.filter(opening.reply_to_post_id.isnull())
    total = int(ws.engine.execute(posts.count()))
    n_open = int(ws.engine.execute(opening.count()))
    cols = ["post_id", "text"] + (["lang"] if "lang" in posts.columns else [])
    table = ws.engine.to_arrow(topic_sample(opening.select(*cols), n_open))
    clean = normalise_array(pc.fill_null(table.column("text"), "")).to_pylist()
    keep = [i for i, t in enumerate(clean) if t]
    texts = [clean[i] for i in keep]
    ids = [table.column("post_id")[i].as_py() for i in keep]
    given = table.column("lang").to_pylist() if "lang" in table.column_names else None
    langs = detect_languages(texts, [given[i] for i in keep] if given else None).tolist()
    k = n_topics or ws.settings.listening_topics
    exclude = sorted(catalogue.words()) if catalogue else []
    meta = {"exclude": exclude, "fitted_at": datetime.now(UTC).isoformat()}
    if texts and use_embeddings(total):
        vectors = embed(ws, ids, texts, exclude, encoder)
        model = TopicModel.fit(texts, n_topics=k, embeddings=vectors, exclude=exclude, langs=langs)
    else:
        model = TopicModel.fit(texts or ["-"], n_topics=k, exclude=exclude, langs=langs)
    model = TopicModel(
        model.tfidf, model.basis, model.centroids, model.topics, model.min_similarity,
        {**model.meta, **meta},
    )  # fmt: skip
    model.save(topic_model_path(ws))
    return model


def load_or_fit_topics(
    ws: Workspace, posts: ir.Table, catalogue: Catalogue | None = None
) -> TopicModel:
    """The saved topic model (so topics stay comparable week to week), else a new one."""
    path = topic_model_path(ws)
    if path.exists() and not ws.settings.listening_refit_topics:
        return TopicModel.load(path)
    return fit_topics(ws, posts, catalogue=catalogue)


THREAD_COLUMNS = ("post_id", "text", "lang", "reply_to_post_id", "reshare_of_post_id")
"""What :func:`thread_topics_of` reads of each post."""


def thread_topics_of(ws: Workspace, model: TopicModel, inputs: Path, encoder: Encoder | None = None
                     ) -> pa.Table:  # fmt: skip
    """``post_id``, ``topic_id``, ``topic_similarity`` of the posts in the Parquet folder
    ``inputs`` (:data:`THREAD_COLUMNS`): each post's own topic, then its thread's
    (replies and reshares)."""
    ids: list[str] = []
    parents: list[str | None] = []
    topic: list[np.ndarray] = []
    sims: list[np.ndarray] = []
    for path in sorted(inputs.glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=5_000):
            t = pa.Table.from_batches([batch])
            if t.num_rows == 0:
                continue
            keys = t.column("post_id").to_pylist()
            clean = normalise_array(pc.fill_null(t.column("text"), "")).to_pylist()
            if model.uses_embeddings:
                b_ids, b_sims = model.assign(clean, embed(ws, keys, clean, model.excluded, encoder))
            else:
                b_ids, b_sims = model.assign(clean)
            reply = _column(t, "reply_to_post_id")
            reshare = _column(t, "reshare_of_post_id")
            ids.extend(keys)
            parents.extend(r or s for r, s in zip(reply, reshare, strict=True))
            topic.append(b_ids)
            sims.append(b_sims)
    schema = pa.schema([("post_id", pa.string()), ("topic_id", pa.int64()),
                        ("topic_similarity", pa.float64())])  # fmt: skip
    if not ids:
        return schema.empty_table()
    own, own_sim = np.concatenate(topic), np.concatenate(sims)
    final, final_sim = thread_topics(ids, parents, own, own_sim)
    return pa.table(
        [pa.array(ids, pa.string()), pa.array(np.asarray(final, dtype=np.int64)),
         pa.array(np.asarray(final_sim, dtype=np.float64))], schema=schema,
    )  # fmt: skip


def _column(t: pa.Table, name: str) -> list[str | None]:
    return t.column(name).to_pylist() if name in t.column_names else [None] * t.num_rows


def topic_table(ws: Workspace, counted: ir.Table, model: TopicModel) -> pa.Table:
    """One row per topic (and "other") with its label, keywords, examples, volume, and
    whether it is emerging: at least twice the posts of the week before in the latest
    week of data (:func:`~.topics.emerging`)."""
    c = counted
    stats = ws.engine.to_arrow(
        c.group_by("topic_id").aggregate(
            posts=c.count(), negative=(c.sentiment_label == "negative").sum()
        )
    ).to_pylist()
    by_id = {r["topic_id"]: r for r in stats}
    recent: dict[int, int] = {}
    previous: dict[int, int] = {}
    if "created_at" in c.columns:
        last = ws.engine.execute(c.created_at.max())
        if last is not None:
            end = ibis.literal(last)
            cut = ibis.literal(last - timedelta(days=EMERGING_DAYS))
            start = ibis.literal(last - timedelta(days=2 * EMERGING_DAYS))
            w = c.filter(c.created_at > start).mutate(
                latest=(c.created_at > cut) & (c.created_at <= end)
            )
            rows = ws.engine.to_arrow(w.group_by(["topic_id", "latest"]).aggregate(n=w.count()))
            for r in rows.to_pylist():
                (recent if r["latest"] else previous)[int(r["topic_id"])] = int(r["n"])
    rising = emerging(recent, previous)
    rows = []
    others = by_id.get(NO_TOPIC)
    listed = [(t.id, t.label, list(t.keywords), list(t.examples), t.size) for t in model.topics]
    if others and others["posts"]:
        listed.append((NO_TOPIC, OTHER, [], [], 0))
    for tid, label, keywords, examples, size in listed:
        s = by_id.get(tid, {"posts": 0, "negative": 0})
        rows.append(
            {"topic_id": tid, "label": label, "keywords": keywords, "examples": examples,
             "fitted_size": size, "posts": int(s["posts"]),
             "negative_share": (s["negative"] / s["posts"]) if s["posts"] else None,
             "recent_posts": recent.get(tid, 0), "previous_posts": previous.get(tid, 0),
             "emerging": tid in rising}
        )  # fmt: skip
    return pa.Table.from_pylist(rows, schema=TOPIC_SCHEMA)
