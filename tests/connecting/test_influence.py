"""The amplifier flag: active *and* listened to, relative to the brand's own data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.config import Settings
from socialcrm.connecting.influence import AUDIENCE_RATIO, RESPONSE_RATIO, score_nodes
from socialcrm.connecting.step import step_connecting
from socialcrm.pipeline import run_context
from socialcrm.store.schemas import FOLLOWS, POSTS
from socialcrm.store.workspace import Workspace

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CROWD = [f"u{i:02d}" for i in range(60)]


def _graph() -> tuple[list[dict], list[dict]]:
    """A crowd of 60 ordinary accounts (2 followers each, 2 posts each) and four others:

    - ``star``: followed by the whole crowd, posts 6 times, 3 replies to every post;
    - ``celebrity``: followed by the whole crowd, never posts;
    - ``loudmouth``: followed by the whole crowd, posts 20 times, nobody answers;
    - ``chatty``: posts 20 times and gets as many replies as the star (18, far more per post
      than the average post), but is followed by two accounts, like anyone in the crowd.
    """
    follows = [
        {"platform": "twitter", "follower_handle": u, "followed_handle": CROWD[(i + k) % 60]}
        for i, u in enumerate(CROWD)
        for k in (1, 2)
    ]
    for big in ("star", "celebrity", "loudmouth"):
        follows += [
            {"platform": "twitter", "follower_handle": u, "followed_handle": big} for u in CROWD
        ]
    follows += [
        {"platform": "twitter", "follower_handle": u, "followed_handle": "chatty"}
        for u in CROWD[:2]
    ]
    posts: list[dict] = []

    def post(author: str, day: float, reply_to: str | None = None) -> str:
        pid = f"p{len(posts)}"
        posts.append(
            {
                "post_id": pid,
                "platform": "twitter",
                "author_handle": author,
                "created_at": T0 + timedelta(days=day),
                "text": f"a post by {author}",
                "reply_to_post_id": reply_to,
            }
        )
        return pid

    for i, u in enumerate(CROWD):
        post(u, i), post(u, i + 30)
    repliers = iter(CROWD * 2)
    for author, n in (("star", 6), ("chatty", 20)):
        for j in range(n):
            root = post(author, 3 * j + 1)
            if author == "star" or j < 6:  # the same 18 replies each
                for _ in range(3):
                    post(next(repliers), 3 * j + 2, reply_to=root)
    for j in range(20):
        post("loudmouth", 4 * j)
    return posts, follows


def test_amplifier_needs_activity_audience_and_answers(tmp_path: Path) -> None:
    posts, follows = _graph()
    with Workspace.open(Settings(home=tmp_path / "ws")) as ws:
        ws.warehouse.write("posts", pa.Table.from_pylist(posts, schema=POSTS.arrow_schema))
        ws.warehouse.write("follows", pa.Table.from_pylist(follows, schema=FOLLOWS.arrow_schema))
        step_connecting(ws, run_context(ws))
        h = ws.warehouse.read_arrow("handle_influence").to_pandas().set_index("handle")
    # the scene is as described: three big audiences, two of them posting
    assert (h.loc[["star", "celebrity", "loudmouth"], "followers"] == 60).all()
    assert h.loc[CROWD, "followers"].median() == 2 and h.loc["chatty", "followers"] == 2
    assert h.loc["celebrity", "posts"] == 0 and h.loc["loudmouth", "responses"] == 0
    assert h.loc["star", "responses_per_post"] == h.loc["chatty", "responses"] / 6 == 3
    average = h.responses.sum() / h.posts.sum()
    assert h.loc["chatty", "responses_per_post"] >= RESPONSE_RATIO * average
    # only the account that is active, widely followed and answered is an amplifier
    assert h.index[h.amplifier].tolist() == ["star"]


def _crowd_frame(scale: float = 1.0) -> pd.DataFrame:
    """Node metrics: 40 ordinary nodes, a star, a silent celebrity and a loudmouth."""
    rng = np.random.default_rng(0)
    n = 40
    nodes = pd.DataFrame(
        {
            "node": [f"u{i}" for i in range(n)] + ["star", "celebrity", "loudmouth"],
            "followers": np.r_[rng.integers(1, 6, n), 200, 200, 200] * scale,
            "posts": np.r_[rng.integers(1, 4, n), 8, 0, 30],
            "responses_per_post": np.r_[rng.uniform(0, 0.8, n), 4.0, 0.0, 0.1],
        }
    )
    nodes["posts_per_month"] = nodes.posts / 3.0
    nodes["responses"] = nodes.posts * nodes.responses_per_post
    for c in ("cascade_reach", "pagerank", "participation", "within_z", "degree"):
        nodes[c] = 0.0
    return nodes


def test_amplifier_flag_is_relative_to_the_brands_data() -> None:
    out = score_nodes(_crowd_frame()).set_index("node")
    assert out.index[out.amplifier].tolist() == ["star"]
    assert out.loc["star", "audience_ratio"] >= AUDIENCE_RATIO
    assert out.loc["star", "response_ratio"] >= RESPONSE_RATIO
    assert not out.loc["celebrity", "active"] and out.loc["celebrity", "audience_ratio"] >= 1
    assert out.loc["loudmouth", "active"] and not out.loc["loudmouth", "listened_to"]
    # a network where every audience is 100 times larger flags the same accounts
    big = score_nodes(_crowd_frame(scale=100.0)).set_index("node")
    assert big.amplifier.equals(out.amplifier)
    # an audience big in absolute terms but under the network's structural cutoff is not a
    # hub's: here 400 peers have 150 followers each (cutoff sqrt(60,600) = 246)
    peers = pd.concat([_crowd_frame()] + [_crowd_frame().iloc[:40]] * 9, ignore_index=True)
    peers.loc[peers.node.str.startswith("u"), "followers"] = 150
    flagged = score_nodes(peers)
    assert not flagged.amplifier.any()
    assert flagged.set_index("node").loc["star", "audience_ratio"] < AUDIENCE_RATIO
    # the cutoff is that of the network the node is on, when the frame says
    cut = _crowd_frame().assign(audience_cutoff=250.0)
    assert not score_nodes(cut).amplifier.any()


def _planted_brand(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """A node table of ``n`` ordinary accounts and ``0.5 sqrt(n)`` planted amplifiers.

    Ordinary audiences are log-normal (median 3, sigma 1.2: the demo brands' shape), so the
    largest of them grow with ``n``; a third of the accounts post (Poisson 2, at least 1)
    and get ``Exp(1) * sqrt(followers / 3)`` responses per post (bigger audiences answer
    more). Amplifiers are planted at 1.5-10 times the
    network's structural cutoff ``sqrt(all follows)`` and 2-10 times the average responses
    per post, posting 3-15 times."""
    rng = np.random.default_rng(seed)
    k = int(np.ceil(0.5 * np.sqrt(n)))
    followers = np.round(rng.lognormal(np.log(3.0), 1.2, n))
    cutoff = np.sqrt(followers.sum())
    posts = np.where(rng.random(n) < 1 / 3, np.maximum(rng.poisson(2.0, n), 1), 0)
    rpp = np.where(posts > 0, rng.exponential(1.0, n) * np.sqrt(followers / 3.0), 0.0)
    amp_followers = np.round(rng.uniform(1.5, 10.0, k) * cutoff)
    amp_posts = rng.integers(3, 16, k)
    average = float((rpp * posts).sum() / posts.sum())
    amp_rpp = rng.uniform(2.0, 10.0, k) * average
    nodes = pd.DataFrame(
        {
            "node": [f"u{i}" for i in range(n)] + [f"amp{i}" for i in range(k)],
            "followers": np.r_[followers, amp_followers],
            "posts": np.r_[posts, amp_posts],
            "responses_per_post": np.r_[rpp, amp_rpp],
        }
    )
    nodes["posts_per_month"] = nodes.posts / 3.0
    nodes["responses"] = nodes.posts * nodes.responses_per_post
    for c in ("cascade_reach", "pagerank", "participation", "within_z", "degree"):
        nodes[c] = 0.0
    return nodes, np.r_[np.zeros(n, bool), np.ones(k, bool)]


@pytest.mark.parametrize("n", [2_000, 200_000])
def test_amplifier_flag_keeps_precision_and_recall_at_any_size(n: int) -> None:
    nodes, planted = _planted_brand(n)
    flagged = score_nodes(nodes).amplifier.to_numpy()
    hits = int((flagged & planted).sum())
    assert hits / max(int(flagged.sum()), 1) >= 0.9  # precision
    assert hits / int(planted.sum()) >= 0.85  # recall
    if n >= 200_000:
        # a fixed multiple of the median audience (x20 and x3 the responses, the previous
        # rule) is passed by more ordinary accounts the larger the brand: here by about as
        # many as there are amplifiers
        median = np.median(nodes.followers[nodes.followers > 0])
        answered = score_nodes(nodes).response_ratio >= 3.0
        old = ((nodes.followers >= 20 * median) & answered & (nodes.posts > 0)).to_numpy()
        assert (old & planted).sum() / old.sum() < 0.6
