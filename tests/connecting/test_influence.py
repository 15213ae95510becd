"""The amplifier flag: active *and* listened to, relative to the brand's own data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

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
    assert not out.loc["celebrity", "active"] and out.loc["celebrity", "audience_ratio"] >= 20
    assert out.loc["loudmouth", "active"] and not out.loc["loudmouth", "listened_to"]
    # a network where every audience is 100 times larger flags the same accounts
    big = score_nodes(_crowd_frame(scale=100.0)).set_index("node")
    assert big.amplifier.equals(out.amplifier)
    # an account that is big only in absolute terms is not outstanding among its peers
    peers = _crowd_frame()
    peers.loc[: len(peers) - 4, "followers"] = 150
    assert not score_nodes(peers).set_index("node").loc["star", "amplifier"]
