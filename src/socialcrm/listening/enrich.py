"""Enrich one batch of posts: everything listening computes per post, column-wise.

The pipeline streams the posts table through :func:`enrich_batch` in Arrow record
batches (tens of thousands of rows), so a million posts never sit in memory as Python
objects; the relational steps that need the whole table (duplicate groups, author
flags, customer links, daily series) then run on the engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.listening.dedupe import MIN_WORDS, band_keys, minhash_signatures, word_counts
from socialcrm.listening.intent import classify_intent
from socialcrm.listening.language import detect_languages
from socialcrm.listening.mentions import Catalogue, mention_sentiment
from socialcrm.listening.sentiment import EmbeddingAnalyzer, SentimentAnalyzer
from socialcrm.listening.spam import post_reasons
from socialcrm.listening.text import normalise_array, skeleton_array
from socialcrm.listening.topics import TopicModel

ENRICHED_COLUMNS = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("text_clean", pa.string()),
        pa.field("skeleton", pa.string()),
        pa.field("dup_bands", pa.list_(pa.int64())),
        pa.field("dup_signature", pa.list_(pa.int64())),
        pa.field("lang_detected", pa.string()),
        pa.field("sentiment_label", pa.string()),
        pa.field("sentiment_score", pa.float64()),
        pa.field("intent", pa.string()),
        pa.field("topic_id", pa.int64()),
        pa.field("topic_similarity", pa.float64()),
        pa.field("mentions", pa.list_(pa.string())),
        pa.field("post_spam_reason", pa.string()),
    ]
)
"""What :func:`enrich_batch` adds, keyed by ``post_id``."""

BRAND = "brand"
"""The sentiment label of the brand's own posts and replies (their score is null)."""

MENTION_COLUMNS = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("entity_id", pa.string(), nullable=False),
        pa.field("entity_kind", pa.string(), nullable=False),
        pa.field("entity_name", pa.string(), nullable=False),
        pa.field("sentiment_label", pa.string()),
        pa.field("sentiment_score", pa.float64()),
        pa.field("aspects", pa.list_(pa.string())),
    ]
)
"""One row per (post, entity named in it), with the sentiment about that entity."""


@dataclass(frozen=True)
class Enricher:
    """The models a batch is enriched with."""

    analyzer: SentimentAnalyzer
    catalogue: Catalogue | None = None
    topics: TopicModel | None = None
    thresholds: tuple[float, float] = (-0.05, 0.05)
    """Score cut-offs for the label of a per-entity (clause) sentiment."""

    def enrich_batch(self, batch: pa.RecordBatch | pa.Table) -> tuple[pa.Table, pa.Table]:
        """Per-post columns (:data:`ENRICHED_COLUMNS`) and mention rows
        (:data:`MENTION_COLUMNS`) for a batch with ``post_id``, ``text`` and optionally
        ``lang``, ``author_handle``, ``author_followers``.

        >>> from socialcrm.listening.lexicon import LexiconAnalyzer
        >>> batch = pa.table({"post_id": ["p1", "p2"],
        ...                   "text": ["Love my Polaris jacket!", "Where is my order??"]})
        >>> cat = Catalogue.from_dict({"brand": {"name": "Nordlicht"},
        ...     "products": [{"id": "POL", "name": "Polaris Jacket", "aliases": ["Polaris"]}]})
        >>> posts, mentions = Enricher(LexiconAnalyzer(), cat).enrich_batch(batch)
        >>> posts.column("intent").to_pylist(), mentions.column("entity_id").to_pylist()
        (['praise', 'question'], ['product:POL'])
        """
        table = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        n = table.num_rows
        ids = table.column("post_id")
        text = pc.fill_null(table.column("text"), "").combine_chunks()
        clean = normalise_array(text)
        skel = skeleton_array(text)

        signatures = minhash_signatures(skel)
        keys = band_keys(signatures)
        long_enough = word_counts(skel) >= MIN_WORDS
        bands = _lists(keys, long_enough)
        # min-hashes are below 2**63, so they fit in int64 unchanged
        sigs = _lists(signatures.astype(np.int64), long_enough)

        handles = table.column("author_handle") if "author_handle" in table.column_names else None
        given = table.column("lang") if "lang" in table.column_names else None
        lang = detect_languages(clean, given)

        if isinstance(self.analyzer, EmbeddingAnalyzer):
            labels, scores = self.analyzer.analyze(text, keys=ids.to_pylist())
        else:
            labels, scores = self.analyzer.analyze(text)
        intent = classify_intent(text, scores)
        by_brand = np.zeros(n, dtype=bool)
        if handles is not None and self.catalogue is not None:
            # The brand's own posts and replies are its voice, not a customer's intent
            # nor a customer's mood: they count in volume with the label "brand" and no
            # score, so no sentiment aggregate (mean, shares, spikes) includes them.
            own = self.catalogue.brand_handles()
            if own:
                lowered = pc.utf8_lower(pc.fill_null(handles, "")).to_pylist()
                by_brand = np.array([h.lstrip("@").split("@")[0] in own for h in lowered])
                intent = np.where(by_brand, "other", intent)

        if self.topics is not None and not self.topics.uses_embeddings:
            topic_id, topic_sim = self.topics.assign(clean.to_pylist())
        else:
            topic_id, topic_sim = np.full(n, -1), np.zeros(n)

        followers = (
            table.column("author_followers") if "author_followers" in table.column_names else None
        )
        reasons = post_reasons(text, handles, followers)

        mention_lists: list[list[str]] = [[] for _ in range(n)]
        mention_rows: dict[str, list[str | float | list[str] | None]] = {
            f.name: [] for f in MENTION_COLUMNS
        }
        if self.catalogue is not None and self.catalogue.entities:
            by_id = {e.id: e for e in self.catalogue.entities}
            id_list = ids.to_pylist()
            low, high = self.thresholds
            for row in mention_sentiment(text, self.catalogue, scores):
                entity = by_id[row.entity_id]
                mention_lists[row.row].append(row.entity_id)
                mention_rows["post_id"].append(id_list[row.row])
                mention_rows["entity_id"].append(entity.id)
                mention_rows["entity_kind"].append(entity.kind)
                mention_rows["entity_name"].append(entity.name)
                label = (
                    "negative" if row.score < low else "positive" if row.score > high else "neutral"
                )
                mention_rows["sentiment_label"].append("brand" if by_brand[row.row] else label)
                mention_rows["sentiment_score"].append(None if by_brand[row.row] else row.score)
                mention_rows["aspects"].append(list(row.aspects))

        posts = pa.table(
            {
                "post_id": ids,
                "text_clean": clean,
                "skeleton": skel,
                "dup_bands": bands,
                "dup_signature": sigs,
                "lang_detected": pa.array(lang.tolist(), pa.string()),
                "sentiment_label": pa.array(
                    np.where(by_brand, BRAND, labels).tolist(), pa.string()
                ),
                "sentiment_score": pa.array(np.asarray(scores, dtype=np.float64), mask=by_brand),
                "intent": pa.array(intent.tolist(), pa.string()),
                "topic_id": pa.array(np.asarray(topic_id, dtype=np.int64)),
                "topic_similarity": pa.array(np.asarray(topic_sim, dtype=np.float64)),
                "mentions": pa.array(mention_lists, pa.list_(pa.string())),
                "post_spam_reason": pa.array(reasons.tolist(), pa.string()),
            },
            schema=ENRICHED_COLUMNS,
        )
        return posts, pa.table(mention_rows, schema=MENTION_COLUMNS)


def _lists(rows: np.ndarray, keep: np.ndarray) -> pa.Array:
    """Rows of an int64 matrix as an Arrow list column, null where ``keep`` is false."""
    n, width = rows.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    values = pa.array(rows.astype(np.int64).ravel())
    lists = pa.ListArray.from_arrays(pa.array(offsets), values)
    return pc.if_else(pa.array(keep), lists, pa.nulls(n, lists.type))


# -- the per-post cache ----------------------------------------------------------------------
INPUT_COLUMNS = ("post_id", "text", "lang", "author_handle", "author_followers")
"""The fields of a post the enricher reads: a change to any of them re-enriches it."""

CACHE_SCHEMA = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("input_hash", pa.string()),
        pa.field("version", pa.string()),
        *[f for f in ENRICHED_COLUMNS if f.name != "post_id"],
        pa.field(
            "mention_rows",
            pa.list_(pa.struct([f for f in MENTION_COLUMNS if f.name != "post_id"])),
        ),
    ]
)
"""A post's enrichment as kept between runs (``post_enrichment_cache``): everything
:meth:`Enricher.enrich_batch` gives for it, its mention rows as a list, the hash of its
:data:`INPUT_COLUMNS` and the :func:`enrichment_version` it was made under."""

_VERSIONED_PACKAGES = ("pyarrow", "numpy", "py3langid")
_EMBEDDING_ONLY = ("sentiment_head", "sentiment_delta")
"""Data files only the embedding analyzer reads: retraining it keeps the lexicon's cache."""


def enrichment_version(analyzer: str, files: Iterable[Path], *, extra: str = "") -> str:
    """A digest of everything a post's enrichment depends on besides the post: this
    package's listening code and data (lexicon, sentiment head, cue rules), the analyzer,
    the model files given (the catalogue, a TF-IDF topic model) and the versions of the
    libraries that compute it. Any change re-enriches every post, so it errs towards
    changing: editing any listening module counts."""
    h = hashlib.sha256(f"enrich/1|{analyzer}|{extra}".encode())
    here = Path(__file__).parent
    data = sorted((here / "data").glob("*"))
    if analyzer != "embedding":  # the embedding analyzer's head and encoder delta
        data = [p for p in data if not p.name.startswith(_EMBEDDING_ONLY)]
    for path in [*sorted(here.glob("*.py")), *data, *files]:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for dist in _VERSIONED_PACKAGES:
        try:
            h.update(f"{dist}={metadata.version(dist)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{dist}=-".encode())
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class EnrichPosts:
    """Batch of posts (:data:`INPUT_COLUMNS` and ``input_hash``) → :data:`CACHE_SCHEMA`
    rows; what :meth:`~socialcrm.store.engine.Engine.map_batches` runs, on Spark's
    executors too (the enricher's models pickle to a few tens of kB)."""

    enricher: Enricher
    version: str

    def __call__(self, batch: pa.RecordBatch) -> pa.Table:
        table = pa.Table.from_batches([batch])
        posts, mentions = self.enricher.enrich_batch(table)
        cols: dict[str, pa.Array | pa.ChunkedArray] = {
            "post_id": posts.column("post_id"),
            "input_hash": table.column("input_hash"),
            "version": pa.array([self.version] * posts.num_rows, pa.string()),
        }
        for f in ENRICHED_COLUMNS:
            if f.name != "post_id":
                cols[f.name] = posts.column(f.name)
        cols["mention_rows"] = mention_lists(posts.column("post_id"), mentions)
        return pa.table(cols, schema=CACHE_SCHEMA)


def mention_lists(post_ids: pa.ChunkedArray | pa.Array, mentions: pa.Table) -> pa.Array:
    """Each post's mention rows as one list (in their order), empty where it has none."""
    field = CACHE_SCHEMA.field("mention_rows")
    row = pc.index_in(mentions.column("post_id"), value_set=post_ids).to_numpy(zero_copy_only=False)
    order = np.argsort(row, kind="stable")
    counts = np.bincount(row, minlength=len(post_ids)) if len(row) else np.zeros(len(post_ids))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    names = [f.name for f in field.type.value_type]
    values = pa.StructArray.from_arrays(
        [mentions.column(n).combine_chunks().take(pa.array(order)) for n in names],
        fields=list(field.type.value_type),
    )
    return pa.ListArray.from_arrays(pa.array(offsets), values, type=field.type)
