"""Graph algorithms on SNAP ego-Facebook and on small graphs with known answers."""

from __future__ import annotations

import gzip

import igraph as ig
import networkx as nx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.connecting.influence import cascade_reach, positive_percentile
from socialcrm.connecting.network import (
    build,
    external_share,
    leiden,
    pagerank,
    participation,
    undirected,
)
from tests.shared_data import shared_file


@pytest.fixture(scope="module")
def facebook() -> np.ndarray:
    with gzip.open(shared_file("graphs", "facebook_combined.txt.gz"), "rt") as fh:
        return np.loadtxt(fh, dtype=np.int64)


def _both_ways(rows: np.ndarray) -> pa.Table:
    a, b = rows[:, 0].astype(str), rows[:, 1].astype(str)
    return pa.table(
        {
            "src": np.concatenate([a, b]),
            "dst": np.concatenate([b, a]),
            "weight": np.ones(2 * len(rows)),
        }
    )


def test_facebook_leiden_modularity(facebook: np.ndarray) -> None:
    net = build(_both_ways(facebook))
    assert net.n == 4039 and net.graph.ecount() == 2 * 88234
    membership, q = leiden(undirected(net))
    assert q >= 0.835
    # the modularity reported is the partition's, recomputed independently by networkx
    g = nx.Graph(facebook.tolist())
    names = net.names.astype(int)
    groups: dict[int, set[int]] = {}
    for node, c in zip(names, membership, strict=True):
        groups.setdefault(int(c), set()).add(int(node))
    assert nx.community.modularity(g, groups.values()) == pytest.approx(q, abs=1e-9)


def test_facebook_pagerank_matches_prpack_and_networkx(facebook: np.ndarray) -> None:
    net = build(_both_ways(facebook))
    ours = pagerank(net)
    idx = net.names.astype(int)
    prpack = np.asarray(
        ig.Graph(n=4039, edges=facebook.tolist()).pagerank(implementation="prpack")
    )[idx]
    assert np.abs(ours - prpack).sum() <= 1e-6
    nx_pr = nx.pagerank(nx.Graph(facebook.tolist()), alpha=0.85, tol=1e-12)
    assert np.abs(ours - np.array([nx_pr[i] for i in idx])).sum() <= 1e-6


def test_weighted_directed_pagerank_with_dangling_nodes() -> None:
    # b and c point at a; a points nowhere (dangling): a must rank first, and the ranks
    # must be networkx's for the same weighted graph
    edges = pa.table({"src": ["b", "c", "c"], "dst": ["a", "a", "b"], "weight": [1.0, 3.0, 1.0]})
    net = build(edges, pa.array(["d"]))
    pr = dict(zip(net.names, pagerank(net), strict=True))
    g = nx.DiGraph()
    g.add_nodes_from("abcd")
    g.add_weighted_edges_from([("b", "a", 1.0), ("c", "a", 3.0), ("c", "b", 1.0)])
    ref = nx.pagerank(g, alpha=0.85, tol=1e-12)
    assert max(abs(pr[k] - ref[k]) for k in "abcd") < 1e-9
    assert max(pr, key=pr.get) == "a"


def test_bridges_have_high_participation() -> None:
    # two triangles joined through "x": x's ties split evenly between two communities
    pairs = [("a", "b"), ("b", "c"), ("a", "c"), ("d", "e"), ("e", "f"), ("d", "f"),
             ("x", "a"), ("x", "b"), ("x", "d"), ("x", "e")]  # fmt: skip
    rows = np.array(pairs)
    net = build(pa.table({"src": rows[:, 0], "dst": rows[:, 1], "weight": np.ones(len(rows))}))
    g = undirected(net)
    membership, _ = leiden(g)
    part = dict(zip(net.names, participation(g, membership), strict=True))
    assert max(part, key=part.get) == "x"
    assert part["x"] == pytest.approx(0.5)
    assert part["c"] == 0.0
    ext = external_share(g, membership)
    assert ((ext > 0) & (ext < 1)).all()


def test_cascade_reach_follows_reshares_of_reshares() -> None:
    reshares = pd.DataFrame(
        {
            "post_id": ["r1", "r2", "r3", "r4"],
            "author": ["u1", "u2", "u1", "u3"],
            "parent_id": ["p", "r1", "r2", "q"],
        }
    )
    out = cascade_reach(reshares)
    assert out.loc["p", "reached"] == 2  # u1 twice counts once
    assert out.loc["p", "depth"] == 3
    assert out.loc["q", "reached"] == 1


def test_positive_percentile_ignores_zeros() -> None:
    p = positive_percentile(pd.Series([0.0, 2.0, 1.0, 3.0]))
    assert p.tolist() == [0.0, 2 / 3, 1 / 3, 1.0]


def test_amplifier_is_active_and_listened_to_and_not_a_spammer() -> None:
    from socialcrm.connecting.influence import score_nodes

    base = {"followers": 100, "cascade_reach": 0, "pagerank": 0.1, "participation": 0.0,
            "within_z": 0.0, "degree": 3}  # fmt: skip
    nodes = pd.DataFrame(
        [
            {**base, "posts": 10, "posts_per_month": 2.0, "responses_per_post": 3.0,
             "spam_share": 0.0},  # active, answered: an amplifier
            {**base, "posts": 10, "posts_per_month": 2.0, "responses_per_post": 3.0,
             "spam_share": 0.9},  # the same, but a spammer
            {**base, "posts": 10, "posts_per_month": 2.0, "responses_per_post": 0.0,
             "spam_share": 0.0},  # active, nobody answers, ordinary centrality
            {**base, "posts": 1, "posts_per_month": 0.1, "responses_per_post": 5.0,
             "spam_share": 0.0},  # answered, but posts once
        ]
        # the crowd they are measured against: 2 followers, 2 posts, few answers
        + [{**base, "followers": 2, "posts": 2, "posts_per_month": 1.0,
            "responses_per_post": 0.1, "spam_share": 0.0}] * 40
    )  # fmt: skip
    nodes.loc[2, "pagerank"] = 0.01
    out = score_nodes(nodes)
    assert out.amplifier.tolist()[:4] == [True, False, False, False]
    assert not out.amplifier[4:].any()
    contrib = out[[c for c in out.columns if c.startswith("contrib_")]].sum(axis=1)
    assert np.allclose(contrib, out.influence_score)
