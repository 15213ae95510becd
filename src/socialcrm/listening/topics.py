"""Topics of posts: themes with readable labels, stable from week to week.

A :class:`TopicModel` is fitted once on a sample of posts and then only *assigns* new
posts, so topic 3 means the same thing next week as this week (refit when the model is
old or too many posts fit no topic). Fitting is plain and inspectable:

1. TF-IDF over words, hashtags and bigrams (stop words, handles and links dropped);
2. latent semantic analysis (truncated SVD) to a few dozen dimensions, rows normalised,
   or the posts' MiniLM sentence embeddings when they are at hand;
3. k-means (cosine) into ``n_topics`` clusters;
4. each topic's label is its most distinctive keywords (class-based TF-IDF: terms
   frequent in the topic and rare elsewhere), with its most central posts as examples.

Everything the model needs to assign a post (vocabulary, idf, SVD basis, centroids) is
arrays, saved as one ``.npz`` in the workspace.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from socialcrm.listening.text import tokens, words
from socialcrm.listening.tfidf import Tfidf

STOP_WORDS = frozenset(
    words(
        "a about above after again against all also am an and any are aren't as at be because "
        "been before being below between both but by can can't cannot could couldn't did "
        "didn't do does doesn't doing don't down during each few for from further get got had "
        "hadn't has hasn't have haven't having he he'd he'll he's her here here's hers "
        "herself him himself his how how's i i'd i'll i'm i've if in into is isn't it it's "
        "its itself just let's like me more most mustn't my myself no nor not now of off on "
        "once only or other ought our ours ourselves out over own really same shan't she "
        "she'd she'll she's should shouldn't so some such than that that's the their theirs "
        "them themselves then there there's these they they'd they'll they're they've this "
        "those through to too under until up us very was wasn't we we'd we'll we're we've "
        "were weren't what what's when when's where where's which while who who's whom why "
        "why's will with won't would wouldn't you you'd you'll you're you've your yours "
        "yourself yourselves im dont cant ive youre thats its u ur r lol rt amp via one day "
        "today new still even much back go going gonna know see want got get make made think "
        "day time ever every http @user"
    )
)

NO_TOPIC = -1
"""Topic of a post that is not close enough to any topic's centre."""


def _keyword_ok(term: str, exclude: frozenset[str] = frozenset()) -> bool:
    parts = term.split(" ")
    return all(
        len(p) > 1
        and p not in STOP_WORDS
        and p.lstrip("#") not in exclude
        and not p.startswith("@")
        and any(c.isalpha() for c in p)
        for p in parts
    )


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
    ) -> TopicModel:
        """Fit on normalised texts (optionally on their sentence ``embeddings``).

        ``exclude`` lists words kept out of the vocabulary, such as brand and product
        names: which entity a post is about is the mentions' job, so topics come out as
        themes across products (battery, fit, delivery) rather than one per product.

        >>> texts = ["battery died fast", "battery dead again", "battery drains quickly",
        ...          "love the jacket fit", "jacket fits great", "jacket fit is perfect"] * 5
        >>> model = TopicModel.fit(texts, n_topics=2, dims=4)
        >>> sorted(t.keywords[0] for t in model.topics)
        ['battery', 'jacket']
        """
        from sklearn.cluster import KMeans

        texts = list(texts)
        full = Tfidf.fit(texts, min_df=2 if len(texts) < 5000 else 3, max_terms=30_000)
        excluded = frozenset(w.lower().lstrip("#") for w in exclude)
        keep = [i for i, t in enumerate(full.vocab) if _keyword_ok(t, excluded)]
        tfidf = Tfidf(tuple(full.vocab[i] for i in keep), full.idf[keep], full.bigrams)
        x = tfidf.transform(texts)
        if embeddings is not None:
            basis = np.zeros((0, 0))
            z = np.asarray(embeddings, dtype=np.float64)
        else:
            basis = _svd_basis(x, min(dims, max(1, min(x.shape) - 1)), seed)
            z = np.asarray(x @ basis)
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
        topics = _describe(texts, x, z, centroids, assigned, tfidf.vocab, n_examples)
        return cls(tfidf, basis, centroids, topics, meta={"fitted_on": len(texts)})

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
        >>> model.topics[ids[0]].keywords[0], int(ids[1])
        ('battery', -1)
        """
        z = self.vectors(texts, embeddings)
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


def _unit(z: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(z, axis=1, keepdims=True)
    return np.asarray(z / np.where(norms == 0, 1.0, norms))


def _svd_basis(x: sp.csr_matrix, dims: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD

    svd = TruncatedSVD(n_components=dims, random_state=seed, algorithm="randomized")
    svd.fit(x)
    return np.asarray(svd.components_.T)


def _describe(
    texts: list[str],
    x: sp.csr_matrix,
    z: np.ndarray,
    centroids: np.ndarray,
    assigned: np.ndarray,
    vocab: tuple[str, ...],
    n_examples: int,
) -> tuple[Topic, ...]:
    n_topics = len(centroids)
    member = sp.csr_matrix(
        (np.ones(len(assigned)), (assigned, np.arange(len(assigned)))),
        shape=(n_topics, len(assigned)),
    )
    # Class-based TF-IDF: term weight within the topic × log(1 + average topic mass / term mass).
    per_topic = np.asarray((member @ x).todense())
    term_total = per_topic.sum(axis=0) + 1e-12
    avg = per_topic.sum() / max(n_topics, 1)
    ctfidf = per_topic * np.log1p(avg / term_total)
    topics = []
    for t in range(n_topics):
        top = [vocab[i] for i in np.argsort(-ctfidf[t])[:8] if ctfidf[t, i] > 0]
        keywords = _dedupe_keywords(top)[:4]
        idx = np.flatnonzero(assigned == t)
        sims = z[idx] @ centroids[t]
        examples: list[str] = []
        for i in idx[np.argsort(-sims)]:
            if texts[i] not in examples:
                examples.append(texts[i])
            if len(examples) == n_examples:
                break
        label = " · ".join(keywords[:3]) if keywords else f"topic {t}"
        topics.append(Topic(t, label, tuple(keywords), len(idx), tuple(examples)))
    return tuple(topics)


def _dedupe_keywords(terms: list[str]) -> list[str]:
    """Drop a unigram already inside a kept bigram, and a bigram of two kept words."""
    kept: list[str] = []
    for term in terms:
        words = term.split(" ")
        if any(w in kept for w in words) and len(words) > 1:
            continue
        if any(term in k.split(" ") for k in kept):
            continue
        kept.append(term)
    return kept


def keywords_of(text: str) -> list[str]:
    """Content words of a text, as topic labels use them.

    >>> keywords_of("My new Aurora headlamp died after 2 hours 😡")
    ['aurora', 'headlamp', 'died', 'hours']
    """
    return [t for t in tokens(text) if _keyword_ok(t)]
