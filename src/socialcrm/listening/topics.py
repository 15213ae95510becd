"""Topics of posts: themes with labels a marketer can read, stable from week to week.

A :class:`TopicModel` is fitted once on a sample of posts and then only *assigns* new
posts, so topic 3 means the same thing next week as this week (refit when the model is
old or too many posts fit no topic). Fitting follows BERTopic's recipe without its heavy
dependencies (UMAP, HDBSCAN, numba):

1. each post's sentence embedding (the shipped MiniLM, see :mod:`.embedding`), computed
   on its :func:`topic_text`: links, handles and the brand's own names taken out, so
   posts group by *what* is said (battery, fit, delivery) rather than by which product
   is named (that is the mentions' job);
2. k-means (cosine) into ``n_topics`` clusters; a post far from every centre is an
   outlier, shown as "other" (:data:`OTHER`), never as "topic -1";
3. each topic's label is its most distinctive words (class-based TF-IDF: frequent in the
   topic, rare in the others) after the stop words of *each post's language* are taken
   out (:mod:`.stopwords`); bigrams are preferred where they are as distinctive as their
   words, and a word that heads one topic's label does not head another's, so labels
   differ (2–4 words, e.g. "battery life, charging").

Without embeddings (tests, tiny corpora) the same steps run on TF-IDF reduced by
truncated SVD. Everything the model needs to assign a post (vocabulary, idf, SVD basis,
centroids) is arrays, saved as one ``.npz`` in the workspace.

Replies and reshares are short ("Will do, cheers."): their topic is their thread's
(:func:`thread_topics`), as a conversation is about one thing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from socialcrm.listening.stopwords import language_codes, stop_words
from socialcrm.listening.text import tokens
from socialcrm.listening.tfidf import Tfidf

NO_TOPIC = -1
"""Topic of a post that is not close enough to any topic's centre."""
OTHER = "other"
"""The label of :data:`NO_TOPIC`."""

_CLAUSE = re.compile(r"[,.;:!?()\"…]+(?:\s|$)|\s[-–—]\s")
_POSSESSIVE = re.compile(r"['’]s$")
EMBEDDING_MIN_SIMILARITY = 0.25
"""Cosine to the nearest centre below which a post is "other" (MiniLM space)."""


def _keyword_ok(term: str, stop: frozenset[str], exclude: frozenset[str] = frozenset()) -> bool:
    parts = term.replace("’", "'").split(" ")
    codes = language_codes()
    return all(
        len(p) > 1
        and p not in stop
        and p.split("'")[0] not in stop  # "that's", "i'm", "don't"
        and p.lstrip("#") not in exclude
        and p.lstrip("#") not in codes
        and not p.startswith("@")
        and any(c.isalpha() for c in p)
        for p in parts
    )


def topic_text(text: str, exclude: Iterable[str] = ()) -> str:
    """What a post's topic is read from: no links, no handles, none of ``exclude``.

    >>> topic_text("@ann my #Aurora headlamp died https://x.co/1", ["aurora"])
    'my headlamp died'
    """
    text = re.sub(r"(?:https?://|www\.)\S+|@[\w.@-]+", " ", text)
    english = stop_words("en")
    names = sorted(
        {w.lower().lstrip("#") for w in exclude if len(w) > 2} - english, key=len, reverse=True
    )
    if names:
        pattern = r"(?<![\w@])#?(?:" + "|".join(re.escape(w) for w in names) + r")\b"
        text = re.sub(pattern, " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


@dataclass(frozen=True)
class Topic:
    """One theme: its id, label, keywords, size and most central example posts."""

    id: int
    label: str
    keywords: tuple[str, ...]
    size: int
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class TopicModel:
    """A fitted topic model that assigns posts to topics without refitting."""

    tfidf: Tfidf
    basis: np.ndarray
    """SVD basis (terms × dims); empty when the model runs on sentence embeddings."""
    centroids: np.ndarray
    """Unit-length topic centres (topics × dims)."""
    topics: tuple[Topic, ...]
    min_similarity: float = 0.15
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def uses_embeddings(self) -> bool:
        return self.basis.size == 0

    @property
    def excluded(self) -> tuple[str, ...]:
        """The names kept out of topic texts (see :func:`topic_text`)."""
        return tuple(self.meta.get("exclude", ()))

    def label_of(self, topic_id: int) -> str:
        """A topic's label; "other" for posts in no topic.

        >>> TopicModel.fit(["battery died"] * 4 + ["jacket fit"] * 4, n_topics=2,
        ...                dims=1).label_of(-1)
        'other'
        """
        by_id = {t.id: t.label for t in self.topics}
        return by_id.get(int(topic_id), OTHER)

    # -- fitting ---------------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        n_topics: int = 12,
        dims: int = 64,
        embeddings: np.ndarray | None = None,
        seed: int = 0,
        n_examples: int = 3,
        exclude: Iterable[str] = (),
        langs: Sequence[str | None] | None = None,
    ) -> TopicModel:
        """Fit on normalised texts (on their sentence ``embeddings`` when given, which
        should be of their :func:`topic_text`); ``langs`` (ISO codes) pick each post's
        stop words.

        ``exclude`` lists words kept out of the labels, such as brand and product
        names: which entity a post is about is the mentions' job, so topics come out as
        themes across products (battery, fit, delivery) rather than one per product.

        >>> texts = ["battery died fast", "battery dead again", "battery drains quickly",
        ...          "love the jacket fit", "jacket fits great", "jacket fit is perfect"] * 5
        >>> model = TopicModel.fit(texts, n_topics=2, dims=4)
        >>> sorted(t.keywords[0].split()[0] for t in model.topics)
        ['battery', 'jacket']
        """
        from sklearn.cluster import KMeans

        texts = list(texts)
        excluded = frozenset(w.lower().lstrip("#") for w in exclude)
        langs = list(langs) if langs is not None else [None] * len(texts)
        full = Tfidf.fit(texts, min_df=2 if len(texts) < 5000 else 3, max_terms=30_000)
        english = stop_words("en")
        keep = [i for i, t in enumerate(full.vocab) if _keyword_ok(t, english, excluded)]
        tfidf = Tfidf(tuple(full.vocab[i] for i in keep), full.idf[keep], full.bigrams)
        if embeddings is not None:
            basis = np.zeros((0, 0))
            z = np.asarray(embeddings, dtype=np.float64)
            min_similarity = EMBEDDING_MIN_SIMILARITY
        else:
            x = tfidf.transform(texts)
            basis = _svd_basis(x, min(dims, max(1, min(x.shape) - 1)), seed)
            z = np.asarray(x @ basis)
            min_similarity = 0.15
        z = _unit(z)
        n_topics = max(1, min(n_topics, len(texts)))
        km = KMeans(n_clusters=n_topics, n_init=4, random_state=seed).fit(z)
        centroids = _unit(km.cluster_centers_)
        assigned = km.labels_
        # Order topics by size, biggest first, so ids read as a ranking.
        order = np.argsort(-np.bincount(assigned, minlength=n_topics), kind="stable")
        centroids = centroids[order]
        remap = np.empty_like(order)
        remap[order] = np.arange(n_topics)
        assigned = remap[assigned]
        sims = np.einsum("ij,ij->i", z, centroids[assigned])
        topics = _describe(texts, langs, z, sims, centroids, assigned, excluded, n_examples)
        meta = {"fitted_on": len(texts), "exclude": sorted(excluded)}
        return cls(tfidf, basis, centroids, topics, min_similarity, meta)

    # -- assigning -------------------------------------------------------------------------
    def vectors(self, texts: Sequence[str], embeddings: np.ndarray | None = None) -> np.ndarray:
        """The unit vectors topics are compared in."""
        if self.uses_embeddings:
            if embeddings is None:
                raise ValueError("this topic model was fitted on embeddings: pass them")
            return _unit(np.asarray(embeddings, dtype=np.float64))
        return _unit(np.asarray(self.tfidf.transform(list(texts)) @ self.basis))

    def assign(
        self, texts: Sequence[str], embeddings: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Topic id (or ``NO_TOPIC``) and cosine similarity to it, per text.

        >>> texts = ["battery died fast", "battery dead again", "love the jacket fit",
        ...          "jacket fits great"] * 5
        >>> model = TopicModel.fit(texts, n_topics=2, dims=2)
        >>> ids, _ = model.assign(["my battery died", "what a day"])
        >>> model.topics[ids[0]].label.split()[0], int(ids[1])
        ('battery', -1)
        """
        z = self.vectors(texts, embeddings)
        if len(z) == 0 or len(self.centroids) == 0:
            return np.full(len(z), NO_TOPIC, dtype=np.int64), np.zeros(len(z))
        sim = z @ self.centroids.T
        best = sim.argmax(axis=1)
        best_sim = sim[np.arange(len(best)), best]
        empty = ~np.any(z != 0, axis=1)
        ids = np.where((best_sim < self.min_similarity) | empty, NO_TOPIC, best)
        return ids.astype(np.int64), np.where(empty, 0.0, best_sim)

    # -- storage ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write the model as a compressed ``.npz`` of arrays."""
        path.parent.mkdir(parents=True, exist_ok=True)
        topics = [
            {"id": t.id, "label": t.label, "keywords": list(t.keywords), "size": t.size,
             "examples": list(t.examples)}
            for t in self.topics
        ]  # fmt: skip
        doc = {"topics": topics, "min_similarity": self.min_similarity, "meta": self.meta}
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            allow_pickle=True,  # numpy's default, named so mypy does not bind the arrays to it
            **self.tfidf.to_arrays(),
            basis=self.basis.astype(np.float32),
            centroids=self.centroids.astype(np.float32),
            doc=np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8),
        )
        tmp.replace(path)

    @staticmethod
    def file_digest(path: Path) -> str:
        """A digest of what a model file says, not of its bytes: its arrays and document
        without ``meta.fitted_at``. Two fits of the same posts (on DuckDB and on Spark, or
        a refit that changes nothing) digest the same, so posts enriched under one stay
        valid under the other."""
        h = hashlib.sha256(b"topics/1")
        with np.load(path, allow_pickle=False) as z:
            for name in sorted(z.files):
                value = z[name]
                if name == "doc":
                    doc = json.loads(bytes(value).decode("utf-8"))
                    doc.get("meta", {}).pop("fitted_at", None)
                    value = np.frombuffer(json.dumps(doc, sort_keys=True).encode(), np.uint8)
                h.update(f"{name}|{value.dtype.str}|{value.shape}|".encode())
                h.update(np.ascontiguousarray(value).tobytes())
        return h.hexdigest()[:20]

    @classmethod
    def load(cls, path: Path) -> TopicModel:
        """Read a model written by :meth:`save`."""
        with np.load(path, allow_pickle=False) as z:
            doc = json.loads(bytes(z["doc"]).decode("utf-8"))
            topics = tuple(
                Topic(t["id"], t["label"], tuple(t["keywords"]), t["size"], tuple(t["examples"]))
                for t in doc["topics"]
            )
            return cls(
                Tfidf.from_arrays(z),
                z["basis"].astype(np.float64),
                z["centroids"].astype(np.float64),
                topics,
                float(doc["min_similarity"]),
                doc.get("meta", {}),
            )


def thread_topics(
    post_ids: Sequence[str],
    parents: Sequence[str | None],
    topic_ids: np.ndarray,
    similarities: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Each reply or reshare takes the topic of its thread's first post, when that post
    is among ``post_ids`` (``parents`` holds what each post replies to or reshares).

    >>> ids, _ = thread_topics(["a", "b", "c", "d"], [None, "a", "b", "zz"],
    ...                        np.array([3, -1, 5, 2]), np.ones(4))
    >>> ids.tolist()
    [3, 3, 3, 2]
    """
    index = {p: i for i, p in enumerate(post_ids)}
    out_ids = np.asarray(topic_ids, dtype=np.int64).copy()
    out_sims = np.asarray(similarities, dtype=np.float64).copy()
    for i, parent in enumerate(parents):
        root, hops = i, 0
        while parent is not None and parent in index and hops < 100:
            root = index[parent]
            parent = parents[root]
            hops += 1
        if root != i:
            out_ids[i], out_sims[i] = topic_ids[root], similarities[root]
    return out_ids, out_sims


def emerging(recent: Mapping[int, int], previous: Mapping[int, int], min_posts: int = 5,
             growth: float = 2.0) -> set[int]:  # fmt: skip
    """Topics whose posts in the latest period are at least ``min_posts`` and ``growth``
    times those of the period before (a topic new this period counts as growing).

    >>> sorted(emerging({1: 12, 2: 10, 3: 4}, {1: 3, 2: 8}))
    [1]
    """
    return {
        t
        for t, n in recent.items()
        if t != NO_TOPIC and n >= min_posts and n >= growth * previous.get(t, 0)
    }


def _unit(z: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return np.asarray(z / np.where(norms == 0, 1.0, norms))


def _svd_basis(x: sp.csr_matrix, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD

    svd = TruncatedSVD(n_components=dims, random_state=seed, algorithm="randomized")
    svd.fit(x)
    return np.asarray(svd.components_.T)


def _label_terms(text: str, lang: str | None, excluded: frozenset[str]) -> list[str]:
    """Words and bigrams of a post that may stand in a label (its language's stop words,
    handles, names and language codes out)."""
    stop = stop_words(lang)
    unigrams: list[str] = []
    bigrams: list[str] = []
    # a bigram never spans a comma or a full stop ("last year, different mountain")
    for clause in _CLAUSE.split(text):
        toks = [_POSSESSIVE.sub("", t) for t in tokens(clause) if t not in "!?" and len(t) > 1]
        ok = [_keyword_ok(t, stop, excluded) for t in toks]
        unigrams.extend(t for t, good in zip(toks, ok, strict=True) if good)
        bigrams.extend(
            f"{a} {b}"
            for (a, ga), (b, gb) in pairwise(zip(toks, ok, strict=True))
            if ga and gb and a != b and not a.startswith("#") and not b.startswith("#")
        )
    return unigrams + bigrams


def ctfidf(
    texts: Sequence[str],
    langs: Sequence[str | None],
    assigned: np.ndarray,
    n_topics: int,
    excluded: frozenset[str] = frozenset(),
) -> tuple[list[str], np.ndarray]:
    """BERTopic's class-based TF-IDF: for term t and topic c,
    ``tf(t, c) / |c| × log(1 + A / f(t))`` where ``A`` is the mean number of terms per
    topic and ``f(t)`` the term's frequency over all topics; a term counts once per post.
    Returns the vocabulary and the topics × terms matrix (outliers left out)."""
    counts: list[Counter[str]] = [Counter() for _ in range(n_topics)]
    for text, lang, t in zip(texts, langs, assigned, strict=True):
        if 0 <= t < n_topics:
            counts[t].update(set(_label_terms(text, lang, excluded)))
    df: Counter[str] = Counter()
    for c in counts:
        df.update(c)
    # a label word must be said by at least two posts
    vocab = sorted(t for t, n in df.items() if n >= 2)
    col = {t: i for i, t in enumerate(vocab)}
    m = np.zeros((n_topics, len(vocab)))
    for k, c in enumerate(counts):
        for term, n in c.items():
            if term in col:
                m[k, col[term]] = n
    if not vocab:
        return vocab, m
    totals = m.sum(axis=1, keepdims=True)
    tf = m / np.where(totals == 0, 1.0, totals)
    avg = m.sum() / max(n_topics, 1)
    idf = np.log1p(avg / np.maximum(m.sum(axis=0), 1e-12))
    return vocab, tf * idf


def labels(vocab: list[str], weights: np.ndarray, max_words: int = 4) -> list[list[str]]:
    """2–4-word keyword lists per topic that differ between topics.

    Topics are labelled biggest first. A bigram beats its words when it is at least 60 %
    as distinctive as the better of them; a word already in a bigger topic's label is
    passed over when the topic has another candidate nearly as strong (a maximal-marginal
    -relevance step, so two topics are not both "battery").

    >>> labels(["battery", "battery life", "life", "fit", "size"],
    ...        np.array([[0.5, 0.4, 0.3, 0.0, 0.0], [0.3, 0.0, 0.0, 0.4, 0.35]]))
    [['battery life'], ['fit', 'size']]
    """
    used: Counter[str] = Counter()
    out: list[list[str]] = []
    for row in weights:
        order = [i for i in np.argsort(-row, kind="stable")[:20] if row[i] > 0]
        if not order:
            out.append([])
            continue
        top = row[order[0]]
        scored = []
        for i in order:
            term = vocab[i]
            penalty = sum(used[w] for w in term.split(" "))
            score = row[i] * (0.5 if penalty else 1.0)
            if " " in term:
                parts = [row[vocab.index(w)] if w in vocab else 0.0 for w in term.split(" ")]
                if row[i] >= 0.6 * max(parts):
                    score = max(score, max(parts) * (0.5 if penalty else 1.0) + 1e-9)
            scored.append((score, penalty > 0, term))
        scored.sort(key=lambda st: -st[0])
        chosen: list[str] = []
        words_in: list[str] = []
        for score, repeated, term in scored:
            parts = term.split(" ")
            if any(p in words_in for p in parts) or score < 0.25 * top:
                continue
            if repeated and chosen:  # a bigger topic's word only to head a label
                continue
            if len(words_in) + len(parts) > max_words:
                continue
            chosen.append(term)
            words_in.extend(parts)
            if len(chosen) == 3 or len(words_in) >= max_words:
                break
        used.update(words_in[:2])
        out.append(chosen)
    return out


def _describe(
    texts: list[str],
    langs: list[str | None],
    z: np.ndarray,
    sims: np.ndarray,
    centroids: np.ndarray,
    assigned: np.ndarray,
    excluded: frozenset[str],
    n_examples: int,
) -> tuple[Topic, ...]:
    n_topics = len(centroids)
    vocab, weights = ctfidf(texts, langs, assigned, n_topics, excluded)
    kws = labels(vocab, weights)
    topics = []
    seen_labels: Counter[str] = Counter()
    for t in range(n_topics):
        keywords = kws[t]
        idx = np.flatnonzero(assigned == t)
        examples: list[str] = []
        for i in idx[np.argsort(-sims[idx])]:
            if texts[i] not in examples:
                examples.append(texts[i])
            if len(examples) == n_examples:
                break
        label = ", ".join(keywords) if keywords else "mixed posts"
        seen_labels[label] += 1
        if seen_labels[label] > 1:  # never two topics of the same name
            label = f"{label} ({seen_labels[label]})"
        topics.append(Topic(t, label, tuple(keywords), len(idx), tuple(examples)))
    return tuple(topics)


def keywords_of(text: str, lang: str | None = None) -> list[str]:
    """Content words of a text, as topic labels use them.

    >>> keywords_of("My new Aurora headlamp died after 2 hours 😡")
    ['aurora', 'headlamp', 'died', 'hours']
    """
    return [t for t in tokens(text) if _keyword_ok(t, stop_words(lang))]
