"""The workspace's influence graph: edge direction, learned probabilities, consent."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.pipeline import run_context
from socialcrm.programs.maximization import select_seeds
from socialcrm.programs.social_graph import reshare_probabilities, workspace_graph
from socialcrm.store.schemas import CONSENTS, FOLLOWS, IDENTITIES, POSTS

T = datetime(2026, 1, 1)


def _t(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture
def social(ws):
    follows = [("star", f"fan{i}") for i in range(6)] + [("fan0", "x"), ("quiet", "star")]
    ws.warehouse.write(
        "follows",
        _t(
            FOLLOWS.arrow_schema,
            [
                {"platform": "twitter", "follower_handle": b, "followed_handle": a}
                for a, b in follows
            ],
        ),
    )
    posts = [
        {
            "post_id": f"s{i}",
            "platform": "twitter",
            "author_handle": "star",
            "created_at": T,
            "text": "hello",
        }
        for i in range(4)
    ]
    posts += [
        {
            "post_id": f"r{i}",
            "platform": "twitter",
            "author_handle": "fan1",
            "created_at": T,
            "text": "RT",
            "reshare_of_post_id": f"s{i}",
        }
        for i in range(3)
    ]
    posts += [
        {
            "post_id": "r9",
            "platform": "twitter",
            "author_handle": "fan9",
            "created_at": T,
            "text": "RT",
            "reshare_of_post_id": "s0",
        }
    ]
    ws.warehouse.write("posts", _t(POSTS.arrow_schema, posts))
    ids = [("c_star", "star"), ("c_fan0", "fan0"), ("c_quiet", "quiet"), ("c_fan0b", "fan0")]
    ws.warehouse.write(
        "identities",
        _t(
            IDENTITIES.arrow_schema,
            [
                {
                    "customer_id": c,
                    "kind": "twitter",
                    "value": h,
                    "source": "shop",
                    "verified": True,
                }
                for c, h in ids
            ],
        ),
    )
    consents = [
        ("c_star", "granted", T),
        ("c_fan0", "granted", T),
        ("c_fan0b", "withdrawn", T),  # a second record of fan0 withdrew: fan0 is out
        ("c_quiet", "granted", T),
        ("c_quiet", "withdrawn", datetime(2026, 2, 1)),  # latest row wins
    ]
    ws.warehouse.write(
        "consents",
        _t(
            CONSENTS.arrow_schema,
            [
                {"customer_id": c, "purpose": "social_linking", "status": s, "recorded_at": at}
                for c, s, at in consents
            ],
        ),
    )
    return ws


def test_edges_point_from_the_followed_and_the_reshared(social):
    wg = workspace_graph(social, "wc")
    e = wg.edges.set_index(["source", "target"])
    assert ("twitter:star", "twitter:fan3") in e.index
    assert ("twitter:fan3", "twitter:star") not in e.index
    assert e.loc[("twitter:star", "twitter:fan1"), "reshares"] == 3
    assert e.loc[("twitter:star", "twitter:fan9"), "follows"] == 0  # reshare without follow


def test_only_consented_customers_may_be_seeds(social):
    wg = workspace_graph(social, "wc")
    allowed = {str(lab) for lab, ok in zip(wg.graph.labels, wg.eligible, strict=True) if ok}
    assert allowed == {"twitter:star"}
    assert wg.customer_of == {"twitter:star": "c_star"}
    got = select_seeds(wg.graph, 2, eligible=wg.eligible)
    assert [str(x) for x in got.labels] == ["twitter:star"]


def test_learned_probabilities_follow_goyal(social):
    wg = workspace_graph(social, "learned", prior_strength=1.0)
    g = wg.graph
    fan1, star = g.index_of(["twitter:fan1", "twitter:star"])
    j = next(j for j in range(g.in_ptr[fan1], g.in_ptr[fan1 + 1]) if g.in_src[j] == star)
    # star posted 4 originals, fan1 reshared 3; prior 1/in-degree(fan1) = 1
    assert g.in_p[j] == pytest.approx((3 + 1.0) / (4 + 1.0))


def test_reshare_probability_needs_no_posts_to_fall_back_on_the_prior():
    e = pd.DataFrame({"source": ["a", "b"], "target": ["c", "c"], "reshares": [0, 0]})
    p = reshare_probabilities(e, pd.DataFrame({"node": [], "posts": []}), prior_strength=2.0)
    assert np.allclose(p, 0.5)


def test_pipeline_step_writes_consented_seeds(social):
    from socialcrm.programs.step import step_amplifiers

    assert step_amplifiers(social, run_context(social)) == {"amplifier_seeds": 1}
    rows = social.warehouse.read_arrow("amplifier_seeds").to_pylist()
    assert rows[0]["customer_id"] == "c_star" and rows[0]["rank"] == 1
    assert rows[0]["marginal_gain"] == pytest.approx(rows[0]["cumulative_spread"])


def test_the_graph_is_the_same_whatever_the_row_order(social):
    """Nodes are numbered by name, not by the engine's row order, so the graph and the
    seeds drawn on it repeat from run to run."""
    first = workspace_graph(social, "learned").graph
    follows = social.warehouse.read_arrow("follows")
    social.warehouse.write("follows", follows.take(list(range(follows.num_rows))[::-1]))
    again = workspace_graph(social, "learned").graph
    assert list(first.labels) == sorted(first.labels)
    for name in ("labels", "in_ptr", "in_src", "in_p", "out_ptr", "out_dst", "out_p"):
        assert np.array_equal(getattr(first, name), getattr(again, name)), name


def test_compiled_reshare_probabilities_equal_the_pandas_ones():
    from socialcrm.programs import kernels

    rng = np.random.default_rng(5)
    pairs = np.unique(rng.integers(0, 30, (400, 2)), axis=0)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    u, v = pairs[:, 0], pairs[:, 1]
    reshares = rng.integers(0, 6, len(u))
    posts = rng.integers(0, 5, 30).astype(float)
    names = np.array([f"n{i}" for i in range(30)], dtype=object)
    e = pd.DataFrame({"source": names[u], "target": names[v], "reshares": reshares})
    expected = reshare_probabilities(e, pd.DataFrame({"node": names, "posts": posts}), 2.0)
    got = kernels.reshare_probabilities(u, v, reshares, posts, 2.0)
    assert np.array_equal(got, expected)
