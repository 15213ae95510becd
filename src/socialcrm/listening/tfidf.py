"""TF-IDF features of posts with a vocabulary that is plain data (tokens and idf weights).

The vocabulary is fitted once (by the sentiment training script, or by the topic model)
and stored as arrays in an ``.npz`` file, so a shipped model needs neither pickle nor
scikit-learn to run. Features are word and hashtag unigrams, emoji, emoticons and ``!``
/``?`` marks, plus word bigrams; term frequencies are sublinear (``1 + log tf``) and rows
are L2-normalised, as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)`` does.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

from socialcrm.listening.text import tokens


def terms(text: str, bigrams: bool = True) -> list[str]:
    """Unigram and bigram terms of a normalised text.

    >>> terms("not good at all!")
    ['not', 'good', 'at', 'all', '!', 'not good', 'good at', 'at all', 'all !']
    """
    toks = tokens(text)
    if not bigrams:
        return toks
    return toks + [f"{a} {b}" for a, b in pairwise(toks)]


@dataclass(frozen=True)
class Tfidf:
    """A fitted vocabulary: ``vocab[i]`` has inverse document frequency ``idf[i]``."""

    vocab: tuple[str, ...]
    idf: np.ndarray
    bigrams: bool = True

    @classmethod
    def fit(
        cls, texts: Iterable[str], min_df: int = 3, max_terms: int = 50_000, bigrams: bool = True
    ) -> Tfidf:
        """Keep terms seen in at least ``min_df`` texts, the ``max_terms`` most frequent.

        >>> t = Tfidf.fit(["good day", "bad day", "a good one"], min_df=2)
        >>> t.vocab
        ('day', 'good')
        """
        df: Counter[str] = Counter()
        n = 0
        for text in texts:
            n += 1
            df.update(set(terms(text, bigrams)))
        kept = sorted((t for t, c in df.items() if c >= min_df), key=lambda t: (-df[t], t))[
            :max_terms
        ]
        kept.sort()
        idf = np.array([math.log((1 + n) / (1 + df[t])) + 1.0 for t in kept])
        return cls(tuple(kept), idf, bigrams)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Rows of sublinear, L2-normalised TF-IDF weights.

        >>> t = Tfidf.fit(["good day", "bad day", "a good one"], min_df=2)
        >>> t.transform(["good good day"]).toarray().round(2).tolist()
        [[0.51, 0.86]]
        """
        index = self._index
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for text in texts:
            counts = Counter(
                i for t in terms(text, self.bigrams) if (i := index.get(t)) is not None
            )
            indices.extend(counts)
            data.extend(1.0 + math.log(c) for c in counts.values())
            indptr.append(len(indices))
        x = sp.csr_matrix(
            (np.asarray(data, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
            shape=(len(indptr) - 1, len(self.vocab)),
        )
        x = x @ sp.diags(self.idf)
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        return sp.csr_matrix(sp.diags(1.0 / norms) @ x)

    @property
    def _index(self) -> dict[str, int]:
        cached = self.__dict__.get("_index_cache")
        if cached is None:
            cached = {t: i for i, t in enumerate(self.vocab)}
            object.__setattr__(self, "_index_cache", cached)
        return cached

    def to_arrays(self, prefix: str = "tfidf_") -> dict[str, np.ndarray]:
        """Arrays for ``np.savez`` (vocabulary as UTF-8 bytes joined by newlines)."""
        joined = "\n".join(self.vocab).encode("utf-8")
        return {
            f"{prefix}vocab": np.frombuffer(joined, dtype=np.uint8),
            f"{prefix}idf": self.idf.astype(np.float32),
            f"{prefix}bigrams": np.array(self.bigrams),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray] | np.lib.npyio.NpzFile,
                    prefix: str = "tfidf_") -> Tfidf:  # fmt: skip
        """The inverse of :meth:`to_arrays`.

        >>> t = Tfidf.fit(["good day", "bad day"], min_df=1)
        >>> Tfidf.from_arrays(t.to_arrays()).vocab == t.vocab
        True
        """
        raw = bytes(np.asarray(arrays[f"{prefix}vocab"], dtype=np.uint8))
        vocab = tuple(raw.decode("utf-8").split("\n")) if raw else ()
        return cls(
            vocab,
            np.asarray(arrays[f"{prefix}idf"], dtype=np.float64),
            bool(arrays[f"{prefix}bigrams"]),
        )
