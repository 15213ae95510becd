"""Sentiment of posts: negative / neutral / positive with a score in [-1, 1].

Two analyzers stand behind one interface, :class:`SentimentAnalyzer`, whose
``analyze(texts)`` takes a whole batch (a list or an Arrow column) and returns two
aligned arrays, labels and scores:

``lexicon`` (:class:`~socialcrm.listening.lexicon.LexiconAnalyzer`)
    VADER's lexicon and rules, vectorised: hundreds of thousands of posts a second,
    no model to load. The default for bulk volumes.
``embedding`` (:class:`EmbeddingAnalyzer`)
    MiniLM states (the means over word pieces of its last three layers, one pass; the
    head's record names the pooling, :func:`head_encoder`) plus TF-IDF and lexicon
    features, combined by a linear head trained on TweetEval's training split
    (``scripts/train_sentiment_head.py``; the weights ship as
    ``data/sentiment_head.npz``, plain arrays). MiniLM's top layers may be fine-tuned
    with the head (``scripts/finetune_sentiment.py``): the head's record then names a
    low-rank weight delta, ``data/sentiment_delta.npz``, added to the weights as the
    model loads, so it runs as fast as the frozen one. More accurate,
    about a hundred times slower on a CPU; vectors are cached by post. Where the lexicon
    finds a sarcasm cue, the head's positive and negative probabilities swap when it
    called the post positive (the training tweets hold almost no such cue).

>>> labels, scores = get_analyzer("lexicon").analyze(["I love it", "a box", "worst day ever"])
>>> labels.tolist()
['positive', 'neutral', 'negative']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, TypeAlias, runtime_checkable

import numpy as np
import pyarrow as pa

from socialcrm.listening.embedding import Embedder, EmbeddingCache, Encoder, PooledEmbedder
from socialcrm.listening.lexicon import LABELS, LexiconAnalyzer, lexicon_scores
from socialcrm.listening.text import as_arrow, as_list, normalise_array
from socialcrm.listening.tfidf import Tfidf

AnalyzerName = Literal["lexicon", "embedding"]
Texts: TypeAlias = Sequence[str] | pa.Array | pa.ChunkedArray


@runtime_checkable
class SentimentAnalyzer(Protocol):
    """Anything that labels a batch of texts.

    ``analyze`` returns ``(labels, scores)``: an object array of ``negative`` /
    ``neutral`` / ``positive`` and a float array in [-1, 1], both in input order.
    """

    name: ClassVar[str]

    def analyze(self, texts: Texts) -> tuple[np.ndarray, np.ndarray]: ...


def lexicon_features(texts: Texts) -> np.ndarray:
    """The lexicon's view of each post, as three columns for a learned head.

    Columns: compound score, log(1 + positive valence), log(1 + |negative valence|).

    >>> lexicon_features(["good", "bad"]).round(2).tolist()
    [[0.44, 1.36, 0.0], [-0.54, 0.0, 1.5]]
    """
    s = lexicon_scores(texts)
    return np.column_stack([s.compound, np.log1p(s.positive), np.log1p(np.abs(s.negative))])


@dataclass(frozen=True)
class SentimentHead:
    """A linear softmax classifier over [TF-IDF | embedding | lexicon] features.

    ``logits = tfidf @ w_tfidf + embedding @ w_embedding + lexicon @ w_lexicon + bias``.
    Stored as plain arrays in an ``.npz`` (no pickle), with its training record in
    ``meta`` (data, settings, scores).
    """

    tfidf: Tfidf
    w_tfidf: np.ndarray
    w_embedding: np.ndarray
    w_lexicon: np.ndarray
    bias: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, texts: list[str], embeddings: np.ndarray) -> np.ndarray:
        """Class scores before the softmax, one row per text."""
        x_tfidf = self.tfidf.transform(texts)
        return np.asarray(
            x_tfidf @ self.w_tfidf
            + embeddings.astype(np.float64) @ self.w_embedding
            + lexicon_features(texts) @ self.w_lexicon
            + self.bias
        )

    def predict_proba(self, texts: list[str], embeddings: np.ndarray) -> np.ndarray:
        """Class probabilities (negative, neutral, positive), one row per text."""
        z = self.logits(texts, embeddings)
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    def save(self, path: Path) -> None:
        """Write the head as a compressed ``.npz`` of arrays."""
        np.savez_compressed(
            path,
            allow_pickle=True,  # numpy's default, named so mypy does not bind the arrays to it
            **self.tfidf.to_arrays(),
            w_tfidf=self.w_tfidf.astype(np.float32),
            w_embedding=self.w_embedding.astype(np.float32),
            w_lexicon=self.w_lexicon.astype(np.float32),
            bias=self.bias.astype(np.float32),
            meta=np.frombuffer(json.dumps(self.meta).encode("utf-8"), dtype=np.uint8),
        )

    @classmethod
    def load(cls, path: Path) -> SentimentHead:
        """Read a head written by :meth:`save` (``allow_pickle`` stays off)."""
        with np.load(path, allow_pickle=False) as z:
            return cls(
                tfidf=Tfidf.from_arrays(z),
                w_tfidf=z["w_tfidf"].astype(np.float64),
                w_embedding=z["w_embedding"].astype(np.float64),
                w_lexicon=z["w_lexicon"].astype(np.float64),
                bias=z["bias"].astype(np.float64),
                meta=json.loads(bytes(z["meta"]).decode("utf-8")),
            )


DATA_DIR = "data"
HEAD_FILE = f"{DATA_DIR}/sentiment_head.npz"


@cache
def shipped_head() -> SentimentHead:
    """The head trained on TweetEval that ships with the package.

    >>> shipped_head().w_embedding.shape  # three 384-d MiniLM blocks
    (1152, 3)
    """
    with as_file(files("socialcrm.listening").joinpath(HEAD_FILE)) as path:
        return SentimentHead.load(path)


def head_encoder(head: SentimentHead) -> Encoder:
    """The encoder a head was trained on: the pooling named in its record
    (``embedding_pooling``; MiniLM's mean-pooled sentence vector when absent) and the
    fine-tuned weight delta it names (``encoder_delta``, a file beside the head, merged
    into MiniLM at load time; its version must be the one recorded at training).

    >>> head_encoder(shipped_head()).dim == shipped_head().w_embedding.shape[0]
    True
    """
    pooling = tuple(head.meta.get("embedding_pooling", ("mean:6",)))
    delta = head.meta.get("encoder_delta")
    if delta is None:
        return Embedder() if pooling == ("mean:6",) else PooledEmbedder(pooling)
    path = Path(str(files("socialcrm.listening").joinpath(DATA_DIR, delta["file"])))
    encoder = PooledEmbedder(pooling, delta=path)
    if encoder.version != delta["version"]:
        raise ValueError(f"{path} is not the delta the head was trained with "
                         f"({encoder.version} != {delta['version']})")  # fmt: skip
    return encoder


class EmbeddingAnalyzer:
    """The ``embedding`` analyzer: MiniLM vectors + TF-IDF + lexicon, one linear head.

    Pass ``cache`` (an :class:`EmbeddingCache`) and ``keys`` (post ids) to
    :meth:`analyze` to embed each post once across runs.

    >>> labels, scores = EmbeddingAnalyzer().analyze(["I love this jacket", "it leaks. again."])
    >>> labels.tolist()
    ['positive', 'negative']
    """

    name: ClassVar[str] = "embedding"

    def __init__(
        self,
        head: SentimentHead | None = None,
        embedder: Encoder | None = None,
        cache: EmbeddingCache | None = None,
    ) -> None:
        self.head = head or shipped_head()
        self.embedder = embedder or head_encoder(self.head)
        self.cache = cache

    def embed(self, texts: list[str], keys: Sequence[str] | None = None) -> np.ndarray:
        """Vectors of normalised texts, through the cache when keys are given."""
        if self.cache is not None and keys is not None:
            return self.cache.embed(list(keys), texts, self.embedder)
        return self.embedder.encode(texts)

    def predict_proba(self, texts: Texts, keys: Sequence[str] | None = None) -> np.ndarray:
        """Class probabilities (negative, neutral, positive), one row per text."""
        clean = as_list(normalise_array(as_arrow(texts)))
        vectors = self.embed(clean, keys)
        dim = self.head.w_embedding.shape[0]
        if vectors.shape[1] != dim:
            raise ValueError(f"expected {dim}-dimensional embeddings, got {vectors.shape[1]}")
        p = self.head.predict_proba(clean, vectors)
        # Sarcasm cues (😒, "love that for me") are all but absent from TweetEval, so the
        # head never learnt them: where the lexicon finds one, praise reads as its opposite.
        sarcastic = lexicon_scores(clean).sarcastic
        flip = np.asarray(sarcastic, dtype=bool) & (p[:, 2] > p[:, 0])
        p[flip] = p[flip][:, ::-1]
        return p

    def analyze(
        self, texts: Texts, keys: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels and scores (P(positive) − P(negative)) for a batch of texts."""
        p = self.predict_proba(texts, keys)
        return LABELS[p.argmax(axis=1)], p[:, 2] - p[:, 0]


def get_analyzer(name: AnalyzerName, **kwargs: Any) -> SentimentAnalyzer:
    """The analyzer called ``name`` (``lexicon`` or ``embedding``).

    >>> get_analyzer("lexicon").name
    'lexicon'
    """
    if name == "lexicon":
        return LexiconAnalyzer(**kwargs)
    if name == "embedding":
        return EmbeddingAnalyzer(**kwargs)
    raise ValueError(f"unknown sentiment analyzer {name!r}; use 'lexicon' or 'embedding'")
