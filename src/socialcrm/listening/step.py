"""The listening pipeline step: ``posts`` → ``posts_enriched``, ``post_mentions``,
``post_queries`` (the saved queries each post matches), ``topics``, ``listening_daily``
and ``alerts``.

1. Per post, in Arrow batches streamed from the engine (:mod:`~socialcrm.listening.enrich`):
   normalised text, language, sentiment, intent, topic, mentions, post-level spam reasons
   and near-duplicate band keys. Batches go to Parquet files, never all into memory.
2. On the engine (DuckDB or Spark, one Ibis code path): duplicate groups (exact,
   near-duplicate and reshare links; only the linked posts come back to Python, where
   their connected components are found), group reach, author-level bot flags, and the
   author → identity → customer link, only where the customer's latest
   ``social_linking`` consent is ``granted``.
3. Daily series per brand/product/competitor, topic and platform (and overall), counted
   once per duplicate group and without spam; share of voice among companies.
4. Spike alerts on those series (:mod:`~socialcrm.listening.spikes`), each with the posts
   that made it.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from ibis.expr import types as ir

from socialcrm.listening.dedupe import NUM_PERM, components, similar
from socialcrm.listening.embedding import EmbeddingCache
from socialcrm.listening.enrich import (
    CACHE_SCHEMA,
    ENRICHED_COLUMNS,
    INPUT_COLUMNS,
    Enricher,
    EnrichPosts,
    enrichment_version,
)
from socialcrm.listening.mentions import Catalogue
from socialcrm.listening.saved_queries import (
    POST_QUERIES_SCHEMA,
    SavedQuery,
    match_batch,
    saved_queries_of,
)
from socialcrm.listening.sentiment import EmbeddingAnalyzer, get_analyzer
from socialcrm.listening.spam import author_flags
from socialcrm.listening.spikes import detect_negative_share_spikes, detect_volume_spikes
from socialcrm.listening.topic_step import (
    THREAD_COLUMNS,
    load_or_fit_topics,
    thread_topics_of,
    topic_model_path,
    topic_table,
)
from socialcrm.listening.topics import TopicModel
from socialcrm.store.run import RunContext
from socialcrm.store.schemas import IDENTITIES, PLATFORMS
from socialcrm.store.workspace import Workspace

BATCH_ROWS = 50_000
CACHE_TABLE = "post_enrichment_cache"
TOP_POSTS = 5

DAILY_SCHEMA = pa.schema(
    [
        pa.field("day", pa.date32(), nullable=False),
        pa.field("dimension", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("posts", pa.int64()),
        pa.field("reach", pa.int64()),
        pa.field("negative", pa.int64()),
        pa.field("neutral", pa.int64()),
        pa.field("positive", pa.int64()),
        pa.field("mean_score", pa.float64()),
        pa.field("negative_share", pa.float64()),
        pa.field("share_of_voice", pa.float64()),
    ]
)

ALERT_SCHEMA = pa.schema(
    [
        pa.field("alert_id", pa.string(), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("dimension", pa.string(), nullable=False),
        pa.field("key", pa.string(), nullable=False),
        pa.field("label", pa.string()),
        pa.field("metric", pa.string(), nullable=False),
        pa.field("observed", pa.float64()),
        pa.field("expected", pa.float64()),
        pa.field("z", pa.float64()),
        pa.field("post_ids", pa.list_(pa.string())),
        pa.field("message", pa.string()),
    ]
)


def catalogue_for(ws: Workspace) -> Catalogue | None:
    """The catalogue the settings name, the workspace's ``catalogue.json``, or none."""
    path = ws.settings.catalogue_path
    if ws.settings.listening_catalogue or path.exists():
        return Catalogue.load(path)
    return None


def step_listening(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Run listening on the workspace's ``posts``; returns rows written per table.

    Only posts not in ``post_enrichment_cache`` under the current
    :func:`~socialcrm.listening.enrich.enrichment_version` (or whose fields changed) go
    through the enricher; the rest is read back from the cache, which is replaced in the
    same transaction as the tables made from it.
    """
    posts = ws.warehouse.table("posts")
    analyzer_name = ws.settings.sentiment_analyzer
    analyzer = get_analyzer(analyzer_name)
    if isinstance(analyzer, EmbeddingAnalyzer):
        analyzer.cache = EmbeddingCache(ws.settings.home / "cache" / "embeddings")
    catalogue = catalogue_for(ws)
    topics = load_or_fit_topics(ws, posts, catalogue)
    enricher = Enricher(analyzer, catalogue, topics)
    files = [ws.settings.catalogue_path] if catalogue is not None else []
    model = ""
    if not topics.uses_embeddings:  # TF-IDF topics are assigned per post by the enricher
        model = "topics=" + TopicModel.file_digest(topic_model_path(ws))
    version = enrichment_version(analyzer_name, files, extra=model)

    ws.settings.home.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=ws.settings.home, prefix=".listening-") as tmp:
        stage = Path(tmp)
        inputs = posts.select(*[c for c in INPUT_COLUMNS if c in posts.columns])
        keyed = inputs.mutate(input_hash=input_hash(inputs))
        key = ["post_id", "input_hash"]
        hits = None
        if ws.warehouse.exists(CACHE_TABLE):
            cache = ws.warehouse.table(CACHE_TABLE)
            cache = cache.filter(cache.version == version)
            hits = cache.semi_join(keyed.select(*key), key).select(*CACHE_SCHEMA.names)
            keyed = keyed.anti_join(cache.select(*key), key)
        # Per-post work runs where the engine runs tasks (Spark's executors), in batches;
        # the cached posts are copied beside the new ones without leaving the engine.
        ws.engine.map_batches(keyed, EnrichPosts(enricher, version), CACHE_SCHEMA,
                              stage / "cache", batch_rows=BATCH_ROWS)  # fmt: skip
        if hits is not None:
            ws.engine.write_parquet(hits, stage / "hits")
            for i, f in enumerate(sorted((stage / "hits").glob("*.parquet"))):
                f.rename(stage / "cache" / f"hits-{i:05d}.parquet")
        staged = ws.engine.read_parquet(stage / "cache")
        enriched_cols = staged.select(*ENRICHED_COLUMNS.names)
        if topics.uses_embeddings:  # replies and reshares take their thread's topic
            thread = posts.select(*[c for c in THREAD_COLUMNS if c in posts.columns])
            ws.engine.write_parquet(thread, stage / "input")
            (stage / "topics").mkdir()
            pq.write_table(thread_topics_of(ws, topics, stage / "input"),
                           stage / "topics" / "part-0.parquet")  # fmt: skip
            assigned = ws.engine.read_parquet(stage / "topics")
            enriched_cols = enriched_cols.drop("topic_id", "topic_similarity").join(
                assigned, "post_id"
            )
        base = posts.join(enriched_cols, "post_id")
        groups = duplicate_groups(ws, base)
        enriched_expr = _finish_posts(ws, base, groups, catalogue)
        mention_rows = staged.select("post_id", m=staged.mention_rows.unnest()).unpack("m")
        saved = saved_queries_of(ws.settings)  # every post records the queries it matches
        if saved:
            langs = staged.select("post_id", "lang_detected")
            matched = inputs.join(langs, "post_id")
            ws.engine.map_batches(matched, MatchQueries(tuple(saved)), POST_QUERIES_SCHEMA,
                                  stage / "queries", batch_rows=BATCH_ROWS)  # fmt: skip
        else:
            (stage / "queries").mkdir()
            pq.write_table(POST_QUERIES_SCHEMA.empty_table(), stage / "queries" / "part-0.parquet")
        # one transaction (locks taken first, in the warehouse's order): the cache never
        # says a post is enriched unless the tables made from it are published with it
        tables = (CACHE_TABLE, "post_mentions", "post_queries", "posts_enriched")
        with ws.warehouse.lock(*tables), ws.warehouse.transaction() as tx:
            written = {"posts_enriched": tx.write("posts_enriched", enriched_expr)}
            written["post_mentions"] = tx.write("post_mentions", mention_rows)
            written["post_queries"] = tx.write(
                "post_queries", ws.engine.read_parquet(stage / "queries")
            )
            # last: the cache's files move into the warehouse once nothing reads them
            written[CACHE_TABLE] = tx.write_files(
                CACHE_TABLE, sorted((stage / "cache").glob("*.parquet"))
            )

    enriched = ws.warehouse.table("posts_enriched")
    mentions = ws.warehouse.table("post_mentions")
    daily = daily_series(enriched, mentions, topics, catalogue)
    written["listening_daily"] = ws.warehouse.write("listening_daily", daily)
    written["topics"] = ws.warehouse.write("topics", topic_table(ws, counted(enriched), topics))
    alerts = find_alerts(ws, ws.warehouse.table("listening_daily"), enriched, mentions)
    written["alerts"] = ws.warehouse.write("alerts", alerts)
    return written


def input_hash(posts: ir.Table) -> ir.StringValue:
    """MD5 of the post's enricher inputs (:data:`INPUT_COLUMNS` but the id), computed on
    the engine; each field is written with its length, so no two inputs share a hash."""
    parts: list[ir.StringValue] = []
    for name in INPUT_COLUMNS[1:]:
        if name in posts.columns:
            v = posts[name].cast("string")
            parts.append(ibis.ifelse(v.isnull(), "-", v.length().cast("string") + ":" + v))
        else:
            parts.append(ibis.literal("~"))
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "|" + part
    return joined.hexdigest("md5")


@dataclass(frozen=True)
class MatchQueries:
    """Batch of posts with their detected language → the saved queries each matches."""

    saved: tuple[SavedQuery, ...]

    def __call__(self, batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch])
        return match_batch(list(self.saved), table, table)


# -- duplicates ------------------------------------------------------------------------------
def duplicate_groups(ws: Workspace, base: ir.Table) -> pa.Table:
    """``post_id`` → ``dup_group`` (the group's first post) for every post in a group of
    two or more. Candidate links are found on the engine; only linked posts come back."""
    edges = []
    # Replies are conversation, not campaigns: only posts that reply to nothing are
    # grouped by text. Near and exact duplicates share a MinHash band key (star links).
    top = base.filter(base.reply_to_post_id.isnull())
    bands = top.filter(top.dup_bands.notnull()).select("post_id", band=top.dup_bands.unnest())
    firsts = bands.group_by("band").aggregate(first=bands.post_id.min(), n=bands.count())
    firsts = firsts.filter(firsts.n > 1)
    edges.append(
        bands.join(firsts, "band")
        .filter(lambda t: t.post_id != t.first)
        .select(a="post_id", b="first")
    )
    # short texts: exactly equal, same author
    short = top.filter(top.dup_bands.isnull() & (top.skeleton.length() > 0))
    same = short.group_by(["platform", "author_handle", "skeleton"]).aggregate(
        first=short.post_id.min(), n=short.count()
    )
    same = same.filter(same.n > 1)
    edges.append(
        short.join(same, ["platform", "author_handle", "skeleton"])
        .filter(lambda t: t.post_id != t.first)
        .select(a="post_id", b="first")
    )
    # reshares join their original
    edges.append(
        base.filter(base.reshare_of_post_id.notnull()).select(
            a=base.post_id, b=base.reshare_of_post_id
        )
    )
    empty = pa.table({"post_id": pa.array([], pa.string()), "dup_group": pa.array([], pa.string())})
    near = ws.engine.to_arrow(edges[0].distinct())
    if near.num_rows:
        near = near.filter(_near_enough(ws, base, near))
    other = ws.engine.to_arrow(ibis.union(*edges[1:], distinct=True))
    all_edges = pa.concat_tables([near, other.cast(near.schema)])
    if all_edges.num_rows == 0:
        return empty
    # Vectorised (Arrow and NumPy, no per-post Python objects): at a million posts the
    # linked posts number hundreds of thousands.
    nodes = _linked(all_edges)
    nodes = nodes.take(pc.sort_indices(nodes))
    labels = components(
        len(nodes),
        pc.index_in(all_edges.column("a"), value_set=nodes).to_numpy(),
        pc.index_in(all_edges.column("b"), value_set=nodes).to_numpy(),
    )
    # The group's representative is its earliest post present in the table (ties: the
    # smallest id).
    present = ws.engine.to_arrow(
        base.filter(base.post_id.isin(ws.engine.values(nodes))).select("post_id", "created_at")
    )
    if present.num_rows == 0:
        return empty
    at = pd.DataFrame(
        {
            "node": pc.index_in(present.column("post_id"), value_set=nodes).to_numpy(),
            "when": present.column("created_at").to_pandas(),
        }
    )
    at["label"] = labels[at["node"].to_numpy()]
    first = at.sort_values(["label", "when", "node"]).drop_duplicates("label")
    best = pd.Series(first["node"].to_numpy(), index=first["label"].to_numpy())
    at = at.sort_values("node")
    return pa.table(
        {
            "post_id": nodes.take(pa.array(at["node"].to_numpy())),
            "dup_group": nodes.take(pa.array(best.loc[at["label"].to_numpy()].to_numpy())),
        },
        schema=empty.schema,
    )


def _linked(edges: pa.Table) -> pa.Array:
    """The distinct post ids at either end of the links ``a`` — ``b``."""
    return pc.unique(pa.chunked_array(edges.column("a").chunks + edges.column("b").chunks))


def _near_enough(ws: Workspace, base: ir.Table, near: pa.Table) -> pa.Array:
    """Which candidate links (``a``, ``b``) hold on the linked posts' signatures.

    Near-duplicates must also name the same brand, products and competitors: the same
    sentence about another product is another opinion, not a copy.
    """
    ids = _linked(near)
    rows = ws.engine.to_arrow(
        base.filter(base.post_id.isin(ws.engine.values(ids))).select(
            "post_id", "dup_signature", "mentions"
        )
    ).combine_chunks()
    pid = rows.column("post_id")
    ia = pc.index_in(near.column("a"), value_set=pid).to_numpy()
    ib = pc.index_in(near.column("b"), value_set=pid).to_numpy()
    sig = rows.column("dup_signature")
    if pc.any(pc.not_equal(pc.list_value_length(sig), NUM_PERM)).as_py() or sig.null_count:
        raise ValueError("a linked post has no full MinHash signature")
    flat = np.asarray(pc.list_flatten(sig), dtype=np.int64).reshape(-1, NUM_PERM)
    # a list's identity as one string (a null list stays apart from an empty one)
    names = pc.fill_null(pc.binary_join(rows.column("mentions"), "\x1f"), "\x00")
    same = np.asarray(pc.equal(names.take(pa.array(ia)), names.take(pa.array(ib))))
    return pa.array(similar(flat[ia], flat[ib]) & same)


def _consented_links(ws: Workspace) -> ir.Table:
    """(platform, handle) → customer_id where the customer allowed social linking.

    Once identity resolution has run, the customer is the resolved person and the
    person's latest social-linking decision on any of their records is the one in force.
    """
    from socialcrm.connecting.consent import granted

    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    handles = ids.filter(ids.kind.isin(list(PLATFORMS)))
    if ws.warehouse.exists("identity_clusters"):
        people = ws.warehouse.table("identity_clusters").select("record_id", person="customer_id")
        j = handles.inner_join(people, handles.customer_id == people.record_id)
        handles = j.select(kind=j.kind, value=j.value, customer_id=j.person)
    allowed = granted(ws, "social_linking", resolved=True)
    linked = handles.filter(handles.customer_id.isin(allowed.customer_id))
    return linked.group_by(platform=linked.kind, author_handle=linked.value).aggregate(
        customer_id=linked.customer_id.min()
    )


def _finish_posts(
    ws: Workspace, base: ir.Table, groups: pa.Table, catalogue: Catalogue | None
) -> ir.Table:
    group_t = ws.engine.memtable(groups)
    t = base.left_join(group_t, base.post_id == group_t.post_id).select(
        base, dup_group=ibis.coalesce(group_t.dup_group, base.post_id)
    )
    group = ibis.window(group_by=t.dup_group)
    engagement = t.likes.fill_null(0) + t.reshares.fill_null(0) + t.replies.fill_null(0)
    t = t.mutate(
        dup_count=t.post_id.count().over(group),
        group_reach=t.author_followers.fill_null(0).sum().over(group),
        group_engagement=engagement.sum().over(group),
    )
    trusted = [h.lower() for e in catalogue.entities for h in e.handles] if catalogue else []
    flags = author_flags(t.view(), trusted=trusted)
    t = t.left_join(
        flags, [t.platform == flags.platform, t.author_handle == flags.author_handle]
    ).select(t, author_reason=flags.author_reason)
    links = _consented_links(ws)
    t = t.left_join(
        links, [t.platform == links.platform, t.author_handle == links.author_handle]
    ).select(t, customer_id=links.customer_id)
    post_reason = t.post_spam_reason.fill_null("")
    author_reason = t.author_reason.fill_null("")
    reason = ibis.ifelse(
        (post_reason != "") & (author_reason != ""),
        post_reason + ";" + author_reason,
        ibis.ifelse(post_reason != "", post_reason, author_reason),
    )
    lang = ibis.coalesce(t.lang, t.lang_detected)
    return t.select(
        "post_id", "platform", "author_handle", "customer_id", "created_at",
        day=t.created_at.date(), text=t.text, text_clean=t.text_clean, lang=lang,
        sentiment_label=t.sentiment_label, sentiment_score=t.sentiment_score,
        intent=t.intent, topic_id=t.topic_id, topic_similarity=t.topic_similarity,
        mentions=t.mentions, spam_reason=reason, is_spam=reason != "",
        dup_group=t.dup_group, is_duplicate=t.post_id != t.dup_group, dup_count=t.dup_count,
        reach=t.group_reach, engagement=t.group_engagement,
        reply_to_post_id=t.reply_to_post_id, reshare_of_post_id=t.reshare_of_post_id,
        likes=t.likes, reshares=t.reshares, replies=t.replies,
        author_followers=t.author_followers,
    )  # fmt: skip


# -- daily series ------------------------------------------------------------------------------
def counted(enriched: ir.Table) -> ir.Table:
    """Posts that count in volumes: one per duplicate group, spam left out."""
    return enriched.filter(~enriched.is_duplicate & ~enriched.is_spam)


def _aggregate(t: ir.Table, dimension: str, key: ir.Value, label: ir.Value, score: ir.Value,
               sentiment: ir.Value) -> ir.Table:  # fmt: skip
    g = t.mutate(_key=key, _label=label, _score=score, _sent=sentiment)
    out = g.group_by(day=g.day, key=g._key).aggregate(
        label=g._label.max(),
        posts=g.count(),
        reach=g.reach.fill_null(0).sum().cast("int64"),
        negative=(g._sent == "negative").sum().cast("int64"),
        neutral=(g._sent == "neutral").sum().cast("int64"),
        positive=(g._sent == "positive").sum().cast("int64"),
        mean_score=g._score.mean(),
    )
    return out.select(
        "day", dimension=ibis.literal(dimension), key=out.key.cast("string"),
        label=out.label.cast("string"), posts=out.posts.cast("int64"), reach=out.reach,
        negative=out.negative, neutral=out.neutral, positive=out.positive,
        mean_score=out.mean_score.cast("float64"),
        # over the posts that have a mood: the brand's own ("brand") count in posts only
        negative_share=(out.negative / (out.negative + out.neutral + out.positive).nullif(0))
        .cast("float64"),
    )  # fmt: skip


def daily_series(
    enriched: ir.Table,
    mentions: ir.Table,
    topics: TopicModel | None = None,
    catalogue: Catalogue | None = None,
) -> ir.Table:
    """Volume, reach and sentiment per day for: everything, each platform, each entity
    (sentiment *about* the entity), and each topic; share of voice for companies."""
    c = counted(enriched)
    parts = [
        _aggregate(c, "all", ibis.literal("all"), ibis.literal("all posts"), c.sentiment_score,
                   c.sentiment_label),
        _aggregate(c, "platform", c.platform, c.platform, c.sentiment_score, c.sentiment_label),
    ]  # fmt: skip
    m = mentions.join(c.select("post_id", "day", "reach"), "post_id")
    parts.append(
        _aggregate(m, "entity", m.entity_id, m.entity_name, m.sentiment_score, m.sentiment_label)
    )
    if topics is not None and topics.topics:
        labels = ibis.memtable(
            pa.table({"topic_id": [t.id for t in topics.topics],
                      "topic_label": [t.label for t in topics.topics]})
        )  # fmt: skip
        tt = c.filter(c.topic_id >= 0).join(labels, "topic_id")
        parts.append(
            _aggregate(tt, "topic", tt.topic_id, tt.topic_label, tt.sentiment_score,
                       tt.sentiment_label)
        )  # fmt: skip
    daily = ibis.union(*parts)
    companies = daily.key.startswith("brand:") | daily.key.startswith("competitor:")
    company_total = (
        daily.filter(companies).group_by("day").aggregate(company_posts=lambda t: t.posts.sum())
    )
    out = daily.left_join(company_total, daily.day == company_total.day).select(
        daily,
        share_of_voice=ibis.ifelse(
            companies, (daily.posts / company_total.company_posts).cast("float64"), None
        ),
    )
    return out.order_by(["day", "dimension", "key"])


# -- alerts -----------------------------------------------------------------------------------
def find_alerts(
    ws: Workspace,
    daily: ir.Table,
    enriched: ir.Table,
    mentions: ir.Table,
    threshold: float | None = None,
) -> pa.Table:
    """Volume and negative-share spikes per series, each with its top posts by reach."""
    threshold = threshold or ws.settings.listening_spike_threshold
    df = ws.engine.to_arrow(
        daily.select("day", "dimension", "key", "label", "posts", "negative",
                     rated=daily.negative + daily.neutral + daily.positive)
    ).to_pandas()  # fmt: skip
    rows: list[dict[str, Any]] = []
    if df.empty:
        return ALERT_SCHEMA.empty_table()
    first, last = df["day"].min(), df["day"].max()
    days = np.array([first + np.timedelta64(i, "D") for i in range((last - first).days + 1)]
                    if not isinstance(first, date) else
                    [date.fromordinal(first.toordinal() + i)
                     for i in range((last - first).days + 1)])  # fmt: skip
    weekdays = np.array([d.weekday() for d in days])
    pos = {d: i for i, d in enumerate(days)}
    for (dimension, key), g in df.groupby(["dimension", "key"], sort=True):
        posts = np.zeros(len(days))
        negative = np.zeros(len(days))
        rated = np.zeros(len(days))  # posts with a mood: the brand's own left out
        idx = [pos[d] for d in g["day"]]
        posts[idx] = g["posts"].to_numpy()
        negative[idx] = g["negative"].to_numpy()
        rated[idx] = g["rated"].to_numpy()
        label = str(g["label"].iloc[0])
        for s in detect_volume_spikes(posts, weekdays, threshold=threshold):
            rows.append(_alert(days[s.index], dimension, key, label, "volume", s.observed,
                               s.expected, s.z))  # fmt: skip
        for s in detect_negative_share_spikes(negative, rated, threshold=threshold):
            rows.append(_alert(days[s.index], dimension, key, label, "negative_share",
                               s.observed, s.expected, s.z))  # fmt: skip
    c = counted(enriched)
    for row in rows:
        row["post_ids"] = _top_posts(ws, c, mentions, row)
    return pa.Table.from_pylist(rows, schema=ALERT_SCHEMA)


def _alert(day: date, dimension: str, key: str, label: str, metric: str, observed: float,
           expected: float, z: float) -> dict[str, Any]:  # fmt: skip
    if metric == "volume":
        message = (f"{label}: {observed:.0f} posts on {day:%a %d %b %Y}, "
                   f"{expected:.0f} expected for that weekday (z = {z:.1f})")  # fmt: skip
    else:
        message = (f"{label}: {observed:.0%} negative on {day:%a %d %b %Y}, "
                   f"{expected:.0%} usual (z = {z:.1f})")  # fmt: skip
    return {"alert_id": f"{day.isoformat()}:{dimension}:{key}:{metric}", "day": day,
            "dimension": dimension, "key": key, "label": label, "metric": metric,
            "observed": observed, "expected": expected, "z": z, "message": message}  # fmt: skip


def _top_posts(ws: Workspace, c: ir.Table, mentions: ir.Table, alert: dict[str, Any]) -> list[str]:
    day = alert["day"]
    t = c.filter(c.day == day)
    if alert["metric"] == "negative_share":
        t = t.filter(t.sentiment_label == "negative")
    dimension, key = alert["dimension"], alert["key"]
    if dimension == "platform":
        t = t.filter(t.platform == key)
    elif dimension == "topic":
        t = t.filter(t.topic_id == int(key))
    elif dimension == "community":
        t = t.filter(t.community_id == int(key))
    elif dimension == "entity":
        ids = mentions.filter(mentions.entity_id == key).select("post_id")
        t = t.semi_join(ids, "post_id")
    top = t.order_by([ibis.desc(t.reach), t.post_id]).limit(TOP_POSTS).select("post_id")
    posts: list[str] = ws.engine.to_arrow(top).column("post_id").to_pylist()
    return posts
