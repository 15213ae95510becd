"""Exact and near-duplicate posts: reshares and copy-paste campaigns counted once.

Two posts are *exact* duplicates when their skeletons (words only: no case, links,
handles, digits, punctuation or emoji; see :func:`~socialcrm.listening.text.skeleton`)
are equal, and *near* duplicates when their skeletons' character 4-gram sets are very
similar, found with MinHash and locality-sensitive hashing:

- each skeleton gets ``NUM_PERM`` min-hashes of its 4-grams (computed for a whole batch
  at once over the concatenated bytes, with numpy);
- the signature is cut into ``BANDS`` bands of ``ROWS`` hashes; posts that share any
  band key are candidates. With 8 bands of 5 rows, a pair with Jaccard similarity 0.9
  is a candidate with probability 0.999, one at 0.7 with 0.77, one at 0.3 with 0.02.

Linking is done star-wise (each post to the first post with the same band key), never
pairwise, so a campaign of 10,000 identical posts costs 10,000 links, not 50 million.
Each candidate link is then verified: the two signatures must agree on at least
``NEAR_JACCARD`` of their min-hashes (an unbiased estimate of the Jaccard similarity),
so posts written from the same template about different products ("for what it costs
the X is a steal") are not merged. The groups are the connected components. Explicit
reshares (``reshare_of_post_id``)
join their original's group. A group's *reach* is the sum of its members' audiences,
so deduplicating counts a campaign once without losing how far it went.

Skeletons shorter than ``MIN_WORDS`` words ("thank you", "love it") are only grouped
when exactly equal *and* from the same author: different people saying "love it" are
not a campaign.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.listening.text import as_arrow, skeleton_array

NUM_PERM = 40
BANDS = 8
ROWS = 5
SHINGLE = 4
MIN_WORDS = 5
NEAR_JACCARD = 0.7
_SEEDS = np.random.default_rng(20240917).integers(1, 1 << 63, NUM_PERM, dtype=np.uint64)
_BAND_MIX = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijective, well-mixed 64-bit hash (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


def minhash_signatures(skeletons: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``NUM_PERM`` min-hashes of each text's byte 4-grams (rows of uint64).

    A text shorter than one shingle is hashed whole; empty texts get all-max rows.

    >>> sig = minhash_signatures(pa.array(["win a free phone now", "win a free phone now!",
    ...                                    "completely different words here"]))
    >>> bool((sig[0] == sig[1]).all()), float((sig[0] == sig[2]).mean()) < 0.2
    (True, True)
    """
    arr = skeletons.combine_chunks() if isinstance(skeletons, pa.ChunkedArray) else skeletons
    arr = pc.utf8_trim(pc.fill_null(arr, ""), "!?.,;: ").cast(pa.large_string())
    n = len(arr)
    _, offset_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offset_buf, dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf else np.zeros(0, np.uint8)
    start, end = offsets[:-1], offsets[1:]
    data = data[offsets[0] : offsets[-1]]
    start, end = start - offsets[0], end - offsets[0]
    lengths = end - start
    sig = np.full((n, NUM_PERM), np.iinfo(np.int64).max, dtype=np.uint64)
    if len(data) == 0:
        return sig
    # Polynomial hash of every SHINGLE-byte window of the whole buffer.
    padded = np.concatenate([data, np.zeros(SHINGLE, np.uint8)]).astype(np.uint64)
    h = np.zeros(len(data), dtype=np.uint64)
    for k in range(SHINGLE):
        h = h * np.uint64(257) + padded[k : k + len(data)]
    # A window belongs to the text it starts in, if it ends inside that text; a text
    # shorter than a shingle keeps its first window (hashing the whole text).
    owner = np.repeat(np.arange(n), lengths)
    pos = np.arange(len(data)) - np.repeat(start, lengths)
    keep = (pos + SHINGLE <= lengths[owner]) | ((lengths[owner] < SHINGLE) & (pos == 0))
    h, owner = h[keep], owner[keep]
    if len(h) == 0:
        return sig
    seg_start = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    docs = owner[seg_start]
    # hashes stay below 2**63 so that they fit in int64 columns unchanged
    for j in range(NUM_PERM):
        v = _mix(h ^ _SEEDS[j]) >> np.uint64(1)
        sig[docs, j] = np.minimum.reduceat(v, seg_start)
    return sig


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """``BANDS`` 63-bit keys per row: posts sharing a key are near-duplicate candidates.

    >>> band_keys(np.zeros((1, NUM_PERM), dtype=np.uint64)).shape
    (1, 8)
    """
    keys = np.zeros((len(signatures), BANDS), dtype=np.uint64)
    for b in range(BANDS):
        acc = np.full(len(signatures), b + 1, dtype=np.uint64)
        for r in range(ROWS):
            acc = (acc ^ signatures[:, b * ROWS + r]) * _BAND_MIX
        keys[:, b] = acc
    return (keys >> np.uint64(1)).astype(np.int64)


def similar(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Whether paired signature rows agree on at least ``NEAR_JACCARD`` of their hashes.

    >>> a = np.zeros((2, NUM_PERM), dtype=np.uint64)
    >>> b = a.copy(); b[1, :20] = 1
    >>> similar(a, b).tolist()
    [True, False]
    """
    return np.asarray((sig_a == sig_b).mean(axis=1) >= NEAR_JACCARD)


def word_counts(skeletons: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Number of words per skeleton."""
    split = pc.utf8_split_whitespace(pc.fill_null(skeletons, ""))
    return np.asarray(pc.list_value_length(split).fill_null(0), dtype=np.int64)


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of ``n`` nodes under the edges ``left[i] — right[i]``;
    each node's label is the smallest node in its component.

    >>> components(5, np.array([0, 3]), np.array([1, 4])).tolist()
    [0, 0, 2, 3, 3]
    """
    parent = np.arange(n)
    if len(left):
        # Vectorised pointer jumping: repeat "attach to the smaller root" until stable.
        left = np.asarray(left, dtype=np.int64)
        right = np.asarray(right, dtype=np.int64)
        while True:
            rl, rr = parent[left], parent[right]
            lo = np.minimum(rl, rr)
            before = parent.copy()
            np.minimum.at(parent, rl, lo)
            np.minimum.at(parent, rr, lo)
            while True:
                jumped = parent[parent]
                if np.array_equal(jumped, parent):
                    break
                parent = jumped
            if np.array_equal(parent, before):
                break
    return parent


def duplicate_groups(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    authors: Sequence[str] | None = None,
    reshare_of: Sequence[int | None] | None = None,
) -> np.ndarray:
    """Group label per post (the index of the group's first post), in memory.

    ``reshare_of[i]`` is the index of the post that post ``i`` reshares, if any. The
    pipeline does the same on the engine for large tables; this is the small form.

    >>> duplicate_groups([
    ...     "Win a FREE Polaris jacket!! Follow and RT #nordlicht https://t.co/a",
    ...     "RT @bot7: Win a FREE Polaris jacket!! Follow and RT #nordlicht https://t.co/b",
    ...     "love it", "love it", "My Zephyr shoes arrived today and they fit perfectly",
    ... ], authors=["a", "b", "c", "d", "e"]).tolist()
    [0, 0, 2, 3, 4]
    """
    arr = as_arrow(texts)
    skel = skeleton_array(arr)
    n = len(arr)
    sig = minhash_signatures(skel)
    keys = band_keys(sig)
    long_enough = word_counts(skel) >= MIN_WORDS
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    idx = np.flatnonzero(long_enough)
    for b in range(BANDS):
        _, first, inverse = np.unique(keys[idx, b], return_index=True, return_inverse=True)
        a, c = idx, idx[first[inverse]]
        ok = similar(sig[a], sig[c])
        left.append(a[ok])
        right.append(c[ok])
    # Short skeletons: exact match by the same author only.
    short = np.flatnonzero(~long_enough & (word_counts(skel) > 0))
    if len(short):
        who = np.asarray(authors, dtype=object)[short] if authors is not None else short
        text_of = np.asarray(skel.to_pylist(), dtype=object)[short]
        pair_key = np.array([f"{a}\x00{t}" for a, t in zip(who, text_of, strict=True)])
        _, first, inverse = np.unique(pair_key, return_index=True, return_inverse=True)
        left.append(short)
        right.append(short[first[inverse]])
    if reshare_of is not None:
        src = np.array([i for i, r in enumerate(reshare_of) if r is not None], dtype=np.int64)
        dst = np.array([r for r in reshare_of if r is not None], dtype=np.int64)
        left.append(src)
        right.append(dst)
    return components(
        n,
        np.concatenate(left) if left else np.zeros(0, np.int64),
        np.concatenate(right) if right else np.zeros(0, np.int64),
    )
