"""Graph algorithms on a compact edge list: PageRank, Leiden communities, bridges.

igraph (C) does the work: PageRank by PRPACK (an exact sparse solve, not power
iteration; on one thread, so that runs repeat), communities by Leiden (Traag et al. 2019:
like Louvain, but every community it returns is connected; igraph's built-in
implementation, about 30x faster here than the ``leidenalg`` package on the same graph),
seeded so runs repeat. Only the edge list comes back from the engine; nodes are
renumbered densely here.

A social graph is layered: nobody follows across platforms. :func:`layered_communities`
finds communities per platform (at the planted-partition resolution of
:func:`newman_resolution`) and joins them through the people present on several;
:func:`random_followers` finds the accounts (bots) whose ties carry no interest.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import igraph as ig
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_limits

DAMPING = 0.85
RESTARTS = 5
LAYER_RESTARTS = 1
"""Leiden runs per platform and resolution in :func:`layered_communities`."""
LAYER_ITERATIONS = 2
"""Leiden passes per run there (igraph's default). Iterating to convergence found the same
modularity to 1e-4 on the largest platform of a million-person demo brand, in 7 times the
time (52 s instead of 7)."""
MIN_JUDGED_TIES = 20
"""Out-ties a vertex needs before :func:`random_followers` judges how it picks them. Read
off development seed 2 (20,000 people): from 20 up the rule takes the bots and few people
(38 of 27,000); at 10, about 170 people; at 5, about 600."""


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for the block.

    igraph takes and gives edges as Python lists of pairs: a million small containers,
    each counted towards a collection that scans every live object, so building an edge
    list took 5 to 7 times longer than the list itself (and longer the more the process
    held). Nothing in such a list can be part of a cycle; collection resumes after.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def make_graph(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray | None = None,
    directed: bool = False,
) -> ig.Graph:
    """An igraph graph on ``range(n)`` with an edge per (src, dst) pair, in that order, and
    ``weight`` per edge when given."""
    with gc_paused():
        g = ig.Graph(n=n, edges=np.column_stack([src, dst]).tolist(), directed=directed)
        if weight is not None:
            g.es["weight"] = np.asarray(weight, float).tolist()
    return g


def edge_array(g: ig.Graph) -> np.ndarray:
    """The graph's edges as an (m, 2) integer array, in igraph's edge order."""
    if g.ecount() == 0:
        return np.zeros((0, 2), np.int64)
    with gc_paused():
        return np.array(g.get_edgelist(), np.int64)


@dataclass
class Network:
    names: np.ndarray
    """Node id per vertex index."""
    graph: ig.Graph
    """Directed, weighted (``weight``) graph, its edges in the order of ``src``/``dst``."""
    src: np.ndarray | None = None
    """Per edge, the vertex index of its ``src``; edges sorted by (src, dst, layer)."""
    dst: np.ndarray | None = None
    """Per edge, the vertex index of its ``dst``."""
    weight: np.ndarray | None = None
    """Per edge, its weight (to :data:`WEIGHT_DIGITS` significant digits)."""
    layer: np.ndarray | None = None
    """Per edge, the index of its platform in :attr:`layers` (0 without platforms)."""
    layers: tuple[str, ...] = ()
    """The platforms of the edge table, sorted."""

    @property
    def n(self) -> int:
        return int(self.graph.vcount())

    def index(self, names: pa.Array | pa.ChunkedArray) -> np.ndarray:
        """The vertex index of each of ``names`` (-1 for a name not in the graph)."""
        found = pc.index_in(names, pa.array(self.names, pa.string()))
        return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


WEIGHT_DIGITS = 9
"""Significant digits an edge's weight keeps, so that weights that differ only in their last
bits give one graph. ``graph.node_edges`` sums whole units and so gives the same bits on
every engine; an edge table summed as doubles, in whatever order an engine adds, does not,
and last-bit differences in PageRank were enough to swap near-tied nodes' percentiles
(10 of 110,670 handles at 100,000 customers between DuckDB and Spark)."""


def rounded(values: np.ndarray, digits: int = WEIGHT_DIGITS) -> np.ndarray:
    """``values`` to ``digits`` significant digits (0, negatives and non-finite kept)."""
    out = np.array(values, dtype=float)
    ok = np.isfinite(out) & (out > 0)
    v = out[ok]
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(v)))
    out[ok] = np.rint(v * scale) / scale
    return out


def build(edges: pa.Table, nodes: pa.Array | None = None) -> Network:
    """A directed weighted graph from ``src``, ``dst``, ``weight`` (and ``platform``, when
    the table has it) columns, plus isolated ``nodes``, so that every handle gets a score
    even with no edge.

    One graph whatever the engine and the order its rows came in: vertices are the sorted
    names, edges are sorted by (src, dst, platform) and weights rounded to
    :data:`WEIGHT_DIGITS` significant digits, so PageRank's and the ties' sums run in one
    order over the same numbers.
    """
    parts = [edges["src"], edges["dst"]] + ([nodes] if nodes is not None else [])
    chunks = [c.cast(pa.string()) for p in parts for c in pa.chunked_array(p).chunks]
    unique = pc.unique(pa.chunked_array(chunks, pa.string()))
    names = pc.take(unique, pc.array_sort_indices(unique))  # sorted: ids repeat across runs
    src = pc.index_in(edges["src"], names).to_numpy(zero_copy_only=False)
    dst = pc.index_in(edges["dst"], names).to_numpy(zero_copy_only=False)
    weight = rounded(edges["weight"].to_numpy(zero_copy_only=False))
    layers: tuple[str, ...] = ()
    layer = np.zeros(len(src), np.int64)
    if "platform" in edges.column_names:
        platforms = pc.unique(edges["platform"])
        platforms = pc.take(platforms, pc.array_sort_indices(platforms))
        layers = tuple(str(p) for p in platforms.to_pylist())
        found = pc.index_in(edges["platform"], platforms)
        layer = np.asarray(found.to_numpy(zero_copy_only=False), np.int64)
    order = np.lexsort((layer, dst, src))
    src, dst, weight, layer = src[order], dst[order], weight[order], layer[order]
    g = make_graph(len(names), src, dst, weight, directed=True)
    with gc_paused():
        labels = np.asarray(names.to_pylist(), dtype=object)
    return Network(labels, g, src, dst, weight, layer, layers)


def pagerank(net: Network, damping: float = DAMPING) -> np.ndarray:
    """Weighted PageRank (PRPACK); dangling nodes spread their rank uniformly.

    On one OpenMP thread: on several, PRPACK's sums come out in the order its threads
    finish, so two runs on the same graph differed in the last bits (1e-16), which was
    enough to swap near-tied nodes' centrality percentiles (a dozen of a million handles
    between two runs at a million customers). One thread repeats bit for bit, at about
    1.2 times the time (2 s for ten million edges).
    """
    if net.n == 0:
        return np.zeros(0)
    weights = "weight" if net.graph.ecount() else None
    with threadpool_limits(1, user_api="openmp"):
        ranks = net.graph.pagerank(
            damping=damping, weights=weights, directed=True, implementation="prpack"
        )
    return np.asarray(ranks)


def undirected(net: Network) -> ig.Graph:
    """Attention either way ties two nodes; parallel edges' weights add up."""
    g = net.graph.as_undirected(mode="collapse", combine_edges={"weight": "sum"})
    return g


def leiden(
    g: ig.Graph,
    seed: int = 0,
    restarts: int = RESTARTS,
    resolution: float = 1.0,
    iterations: int = -1,
) -> tuple[np.ndarray, float]:
    """Communities maximising modularity; returns (membership, modularity).

    Each run iterates until no move improves the partition (``iterations=-1``; else that
    many passes of Leiden, igraph's default being 2); the best of ``restarts`` seeded runs
    is kept, because one run's local optimum depends on the random node order (on
    ego-Facebook single runs span 0.8350-0.8358). With a
    ``resolution`` other than 1 the modularity maximised and returned is the generalised
    one (Reichardt & Bornholdt), ``Q = sum_c [e_c / m - resolution * (d_c / 2m)^2]``.
    """
    if g.vcount() == 0:
        return np.zeros(0, np.int64), 0.0
    weights = "weight" if "weight" in g.es.attributes() else None
    best: tuple[float, list[int]] | None = None
    try:
        for k in range(restarts):
            ig.set_random_number_generator(random.Random(seed * 1000 + k))
            part = g.community_leiden(
                objective_function="modularity",
                weights=weights,
                resolution=resolution,
                n_iterations=iterations,
            )
            q = g.modularity(part.membership, weights=weights, resolution=resolution)
            if best is None or q > best[0]:
                best = (q, part.membership)
    finally:
        ig.set_random_number_generator(random)
    assert best is not None
    return _relabel_by_size(np.asarray(best[1], np.int64)), float(best[0])


def random_followers(
    src: np.ndarray, dst: np.ndarray, layer: np.ndarray, n: int, min_out: int = MIN_JUDGED_TIES
) -> np.ndarray:
    """Vertices that attend to accounts as if picked at random (spam bots, follow-for-follow).

    People follow accounts in proportion to how popular they are, so the accounts a person
    follows have, on average, ``<k^2>/<k>`` followers (the friendship paradox: hundreds on
    a demo platform); accounts picked at random have the mean ``<k>`` (a handful). A
    vertex is flagged when, on some layer, it has at least ``min_out`` distinct out-ties
    and the mean in-degree of the vertices it ties to is below the layer's root mean
    square in-degree ``sqrt(<k^2>)`` -- the geometric middle of the two, i.e. closer to
    random than to popularity. Fewer ties than ``min_out`` do not tell the two apart.
    Each (layer, src, dst) tie is counted once: pass distinct ties.
    """
    flagged = np.zeros(n, bool)
    for value in np.unique(layer):
        on = layer == value
        s, d = src[on], dst[on]
        k_in = np.bincount(d, minlength=n).astype(float)
        present = np.zeros(n, bool)
        present[s] = present[d] = True
        rms = float(np.sqrt((k_in[present] ** 2).mean()))
        k_out = np.bincount(s, minlength=n)
        followed = np.bincount(s, k_in[d], minlength=n) / np.maximum(k_out, 1)
        flagged |= (k_out >= min_out) & (followed < rms)
    return flagged


def newman_resolution(g: ig.Graph, membership: np.ndarray) -> float:
    """The resolution at which modularity is the likelihood of a degree-corrected planted
    partition fitted to ``membership`` (Newman 2016, PRE 94, 052315).

    ``w_in = 2 m_in / (sum_c d_c^2 / 2m)`` and ``w_out = (2m - 2 m_in) / (2m - sum_c d_c^2
    / 2m)`` are the in- and between-group edge rates relative to the configuration model,
    and ``gamma = (w_in - w_out) / (ln w_in - ln w_out)``. 1.0 when undefined.
    """
    if g.ecount() == 0:
        return 1.0
    el = edge_array(g)
    w = np.asarray(g.es["weight"], float) if "weight" in g.es.attributes() else np.ones(len(el))
    two_m = 2.0 * w.sum()
    inside = w[membership[el[:, 0]] == membership[el[:, 1]]].sum()
    d = np.bincount(membership[el[:, 0]], w, membership.max() + 1)
    d += np.bincount(membership[el[:, 1]], w, membership.max() + 1)
    expected = float((d**2).sum() / two_m)
    if expected <= 0 or expected >= two_m:
        return 1.0
    w_in, w_out = 2.0 * inside / expected, (two_m - 2.0 * inside) / (two_m - expected)
    if w_in <= 0 or w_out <= 0 or w_in == w_out:
        return 1.0
    return float((w_in - w_out) / (np.log(w_in) - np.log(w_out)))


def _planted_partition(
    g: ig.Graph, seed: int, restarts: int, resolution: float | None
) -> np.ndarray:
    """Leiden at ``resolution``; or (None) at the resolution :func:`newman_resolution`
    estimates from Leiden's partition at resolution 1 (one step, not iterated to a fixed
    point: on sparse, noisy graphs the iteration runs away, each finer partition raising
    the estimate that splits it further)."""
    runs = {"seed": seed, "restarts": restarts, "iterations": LAYER_ITERATIONS}
    if resolution is not None:
        return leiden(g, resolution=resolution, **runs)[0]
    first = leiden(g, **runs)[0]
    return leiden(g, resolution=newman_resolution(g, first), **runs)[0]


def layered_communities(
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    layer: np.ndarray,
    n: int,
    seed: int = 0,
    restarts: int = LAYER_RESTARTS,
    resolution: float | None = None,
) -> np.ndarray:
    """Communities of a graph whose edges each belong to one layer (a platform).

    ``src``/``dst`` are vertex indices in ``range(n)``, ``layer`` an integer per edge. A
    vertex may have edges in several layers (a person's merged handles); no edge joins two
    layers. Returns a membership per vertex, largest community 0, -1 for a vertex without
    an edge.

    1. **Per layer**, Leiden maximising modularity on that layer's edges alone, so that
       whether two accounts are tied more than chance is judged against their own
       platform's edges. On the union of all layers modularity's null model expects edges
       between platforms that can never exist, and every platform looks like one community
       (the resolution limit: a community's expected internal weight is measured against
       the whole graph's, not its platform's). The resolution is ``resolution``, or by
       default the one at which modularity is the likelihood of a degree-corrected planted
       partition (:func:`newman_resolution`, estimated from the layer's partition at 1).
    2. **Across layers**, through vertices present in several: a block graph whose nodes
       are the per-layer communities, with an edge of weight 1 between the two blocks a
       multi-layer vertex sits in, per such vertex and pair of its layers; Leiden
       (modularity) on that graph joins the blocks that share people into one community.
       A block sharing nobody stays a community of its own.
    3. Each vertex takes the community that holds most of its edge weight over its layers.
    """
    keep = src != dst
    src, dst, weight, layer = src[keep], dst[keep], weight[keep], layer[keep]
    if n == 0 or len(src) == 0:
        return np.full(n, -1, np.int64)
    vertex_parts, block_parts, strength_parts = [], [], []
    blocks = 0
    for value in np.unique(layer):
        on = layer == value
        local, inverse = np.unique(np.concatenate([src[on], dst[on]]), return_inverse=True)
        k = int(on.sum())
        g = make_graph(len(local), inverse[:k], inverse[k:], weight[on])
        g = g.simplify(combine_edges={"weight": "sum"})
        membership = _planted_partition(g, seed, restarts, resolution)
        vertex_parts.append(local)
        block_parts.append(membership + blocks)
        strength_parts.append(np.asarray(g.strength(weights="weight"), float))
        blocks += int(membership.max()) + 1
    vertex = np.concatenate(vertex_parts)
    block = np.concatenate(block_parts)
    strength = np.concatenate(strength_parts)
    # blocks joined by the vertices that sit in several of them (each pair once per vertex)
    order = np.argsort(vertex, kind="stable")
    v_sorted, b_sorted = vertex[order], block[order]
    starts = np.flatnonzero(np.r_[True, v_sorted[1:] != v_sorted[:-1]])
    counts = np.diff(np.r_[starts, len(v_sorted)])
    position = np.arange(len(v_sorted)) - np.repeat(starts, counts)
    size = np.repeat(counts, counts)
    pairs = [np.empty((0, 2), np.int64)]
    for offset in range(1, int(counts.max())):
        at = np.flatnonzero(position + offset < size)
        pairs.append(np.column_stack([b_sorted[at], b_sorted[at + offset]]))
    pair = np.concatenate(pairs)
    super_block = np.arange(blocks, dtype=np.int64)
    if len(pair):
        bg = make_graph(blocks, pair[:, 0], pair[:, 1], np.ones(len(pair)))
        bg = bg.simplify(combine_edges={"weight": "sum"})
        super_block, _ = leiden(bg, seed=seed)
    # each vertex: the community with most of its weight over its layers (ties: lowest id)
    label = super_block[block]
    frame = pd.DataFrame({"v": vertex, "c": label, "w": strength})
    per = frame.groupby(["v", "c"], as_index=False).w.sum()
    per = per.sort_values(["v", "w", "c"], ascending=[True, False, True], kind="stable")
    best = per.drop_duplicates("v")
    out = np.full(n, -1, np.int64)
    out[best.v.to_numpy()] = best.c.to_numpy()
    assigned = out >= 0
    out[assigned] = _relabel_by_size(out[assigned])
    return out


def _relabel_by_size(membership: np.ndarray) -> np.ndarray:
    """Community 0 is the largest, then 1, ... (ties by smallest member index)."""
    if len(membership) == 0:
        return membership
    labels, first, counts = np.unique(membership, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    remap = np.empty(labels.max() + 1, np.int64)
    remap[labels[order]] = np.arange(len(labels))
    relabelled: np.ndarray = remap[membership]
    return relabelled


@dataclass(frozen=True)
class Ties:
    """An undirected weighted graph as arrays: each tied pair of vertices once (``a <= b``,
    sorted), the weights of every edge between them, either way, summed.

    What igraph's ``as_undirected(mode="collapse")`` gives, without its graph: the
    strengths, degrees, modularity and participation read off it need only the arrays,
    and at a million people collapsing ten million edges in igraph and reading them back
    as Python pairs took 15 of the connecting step's seconds.
    """

    n: int
    a: np.ndarray
    b: np.ndarray
    w: np.ndarray

    @classmethod
    def of_network(cls, net: Network) -> Ties:
        """The attention graph's edges, direction and platform dropped."""
        if net.src is None or net.dst is None or net.weight is None:
            return cls.of_graph(net.graph)
        return cls.collapse(net.n, net.src, net.dst, net.weight)

    @classmethod
    def of_graph(cls, g: ig.Graph) -> Ties:
        el = edge_array(g)
        w = np.asarray(g.es["weight"], float) if "weight" in g.es.attributes() else None
        return cls.collapse(g.vcount(), el[:, 0], el[:, 1], w)

    @classmethod
    def collapse(
        cls, n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None = None
    ) -> Ties:
        src, dst = np.asarray(src, np.int64), np.asarray(dst, np.int64)
        w = np.ones(len(src)) if weight is None else np.asarray(weight, float)
        if len(src) == 0:
            empty = np.zeros(0, np.int64)
            return cls(n, empty, empty, np.zeros(0))
        key = np.minimum(src, dst) * n + np.maximum(src, dst)
        pairs, inverse = np.unique(key, return_inverse=True)
        return cls(n, pairs // n, pairs % n, np.bincount(inverse, w, len(pairs)))

    def __len__(self) -> int:
        return len(self.a)

    def strength(self) -> np.ndarray:
        """Per vertex, the summed weight of its ties (a loop counts twice, as in igraph)."""
        return np.bincount(self.a, self.w, self.n) + np.bincount(self.b, self.w, self.n)

    def degree(self) -> np.ndarray:
        """Per vertex, how many others it is tied to (a loop counts twice)."""
        return np.bincount(self.a, minlength=self.n) + np.bincount(self.b, minlength=self.n)

    def modularity(self, membership: np.ndarray) -> float:
        """Newman's weighted modularity ``sum_c [in_c / m - (k_c / 2m)^2]``, as igraph's
        ``Graph.modularity`` (resolution 1) computes it; 0.0 without ties."""
        m = float(self.w.sum())
        if len(self) == 0 or m == 0:
            return 0.0
        ca, cb = membership[self.a], membership[self.b]
        size = int(membership.max()) + 1
        inside = np.bincount(ca[ca == cb], self.w[ca == cb], size)
        k = np.bincount(ca, self.w, size) + np.bincount(cb, self.w, size)
        return float((inside / m).sum() - ((k / (2.0 * m)) ** 2).sum())


def participation(ties: Ties, membership: np.ndarray) -> np.ndarray:
    """Guimerà–Amaral participation coefficient: 1 - sum_s (k_is / k_i)^2.

    0 when all of a node's (weighted) ties stay in its community; towards 1 when they
    are spread over many communities — the node is a bridge between them.
    """
    n = ties.n
    if n == 0 or len(ties) == 0:
        return np.zeros(n)
    a, b, w = ties.a, ties.b, ties.w
    k = ties.strength()
    # weight per (node, community of the other end), summed sparsely: a dense node x
    # community matrix would not fit at a million nodes
    n_comm = int(membership.max()) + 1
    node = np.concatenate([a, b])
    key = node * n_comm + np.concatenate([membership[b], membership[a]])
    pairs, inverse = np.unique(key, return_inverse=True)
    per = np.bincount(inverse, np.concatenate([w, w]), len(pairs))
    owner = pairs // n_comm
    with np.errstate(invalid="ignore", divide="ignore"):
        share = per / k[owner]
    out: np.ndarray = 1.0 - np.bincount(owner, np.nan_to_num(share**2), n)
    out[k == 0] = 0.0
    return out


def external_share(ties: Ties, membership: np.ndarray) -> np.ndarray:
    """Per community: share of its members' tie weight that leads to other communities."""
    n_comm = int(membership.max()) + 1 if len(membership) else 0
    if len(ties) == 0:
        return np.zeros(n_comm)
    w = ties.w
    a, b = membership[ties.a], membership[ties.b]
    total = np.bincount(a, w, n_comm) + np.bincount(b, w, n_comm)
    cross = a != b
    external = np.bincount(a[cross], w[cross], n_comm) + np.bincount(b[cross], w[cross], n_comm)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, external / total, 0.0)
