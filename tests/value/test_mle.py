"""Compact sufficient statistics: the same rows, counts and inverse as ``np.unique``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.value.mle import compact


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 400),
    levels=st.tuples(st.integers(1, 6), st.integers(1, 40), st.integers(1, 3000)),
    seed=st.integers(0, 2**32 - 1),
    weighted=st.booleans(),
)
def test_compact_groups_equal_rows_like_np_unique(
    n: int, levels: tuple[int, int, int], seed: int, weighted: bool
) -> None:
    # few levels give keys that fill their range (direct addressing), many give sparse
    # keys (hashing): both must agree with sorting
    rng = np.random.default_rng(seed)
    cols = [rng.integers(0, k, n) / 7.0 for k in levels]
    w = rng.integers(1, 5, n).astype(float) if weighted else None
    c = compact(*cols, weights=w)
    rows, inverse = np.unique(np.column_stack(cols), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    assert np.array_equal(c.rows, rows)
    assert np.array_equal(c.inverse, inverse)
    expected = np.bincount(inverse, weights=w, minlength=len(rows))
    assert np.array_equal(c.weights, expected)
    assert np.array_equal(c.rows[c.inverse], np.column_stack(cols))
