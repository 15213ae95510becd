"""Tiny graphs whose spreads can be enumerated exactly."""

from __future__ import annotations

import numpy as np
import pytest

from socialcrm.programs.diffusion import DiffusionGraph, build_graph

# 8 nodes, 12 directed edges; node ids are their indices (labels 0..7 in first-seen order)
TINY = [
    (0, 1, 0.6),
    (0, 2, 0.5),
    (1, 3, 0.4),
    (2, 3, 0.3),
    (3, 4, 0.7),
    (4, 5, 0.5),
    (5, 0, 0.2),
    (6, 7, 0.9),
    (7, 5, 0.4),
    (6, 2, 0.3),
    (4, 6, 0.2),
    (1, 7, 0.5),
]


def tiny_graph(model: str = "weighted") -> tuple[DiffusionGraph, list[tuple[int, int, float]]]:
    """The graph and its edges in node-index space (exact helpers need the latter)."""
    src = np.array([u for u, _, _ in TINY])
    dst = np.array([v for _, v, _ in TINY])
    w = np.array([p for _, _, p in TINY])
    g = build_graph(src, dst, model, weights=w, nodes=np.arange(8))  # type: ignore[arg-type]
    pos = {int(lab): i for i, lab in enumerate(g.labels)}
    edges = []
    for v in range(g.n):
        for j in range(g.in_ptr[v], g.in_ptr[v + 1]):
            edges.append((int(g.in_src[j]), v, float(g.in_p[j])))
    assert sorted(pos) == list(range(8))
    return g, edges


@pytest.fixture(scope="session")
def tiny_ic():
    return tiny_graph("weighted")


@pytest.fixture(scope="session")
def tiny_lt():
    return tiny_graph("lt")
