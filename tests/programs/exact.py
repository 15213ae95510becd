"""Exact expected spread on tiny graphs, by enumerating every possible world.

Independent of the package's samplers: IC worlds are the 2^m live/blocked edge patterns;
LT worlds are each node's choice of at most one incoming edge (Kempe et al. 2003). Each
world's reachability is computed once, so any seed set's spread is a weighted sum.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

Edges = tuple[tuple[int, int, float], ...]


def _closure(n: int, live: list[tuple[int, int]]) -> np.ndarray:
    reach = np.eye(n, dtype=bool)
    for u, v in live:
        reach[u, v] = True
    for m in range(n):  # Warshall
        reach |= reach[:, [m]] & reach[[m], :]
    return reach


@lru_cache(maxsize=8)
def _worlds(n: int, edges: Edges, lt: bool) -> tuple[np.ndarray, np.ndarray]:
    probs, reaches = [], []
    if lt:
        incoming: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        for u, v, w in edges:
            incoming[v].append((u, w))
        options = [
            [(u, w, v) for u, w in incoming[v]] + [(None, 1.0 - sum(w for _, w in incoming[v]), v)]
            for v in range(n)
        ]
        for world in itertools.product(*options):
            p = float(np.prod([w for _, w, _ in world]))
            if p > 0:
                probs.append(p)
                reaches.append(_closure(n, [(u, v) for u, _, v in world if u is not None]))
    else:
        for pattern in itertools.product((0, 1), repeat=len(edges)):
            p = 1.0
            live = []
            for on, (u, v, q) in zip(pattern, edges, strict=True):
                p *= q if on else 1 - q
                if on:
                    live.append((u, v))
            if p > 0:
                probs.append(p)
                reaches.append(_closure(n, live))
    return np.array(probs), np.array(reaches)


def _spread(n: int, edges, seeds, lt: bool) -> float:
    probs, reaches = _worlds(n, tuple(edges), lt)
    hit = reaches[:, list(seeds), :].any(axis=1).sum(axis=1)
    return float(probs @ hit)


def exact_ic(n: int, edges, seeds) -> float:
    return _spread(n, edges, seeds, lt=False)


def exact_lt(n: int, edges, seeds) -> float:
    return _spread(n, edges, seeds, lt=True)


def best_set(n: int, k: int, spread) -> tuple[tuple[int, ...], float]:
    best = max(itertools.combinations(range(n), k), key=spread)
    return best, spread(best)
