"""Influence in readable parts, a 0-100 composite, and the amplifier flag.

A node (an anonymous handle, or a person who consented to social linking, whose handles
on every network count together) is scored on six parts, each turned into a percentile
among the nodes that have any of it (0 for none):

| part | raw measure |
|---|---|
| frequency | own posts (not reshares) per 30 days over the observed window |
| audience | followers (the larger of the follows table and the platform's count) |
| responsiveness | replies and reshares received per own post |
| reach | distinct accounts their posts reached through reshare cascades (any depth) |
| centrality | weighted PageRank of the attention graph |
| role | participation coefficient: how evenly ties spread over communities (bridges) |

``influence_score = 100 * sum(weight[p] * part[p])`` with :data:`WEIGHTS`; each part's
contribution (``contrib_<part>``) is kept so a user sees why a score is high. An
**amplifier** is active (at least :data:`ACTIVE_MIN_POSTS` own posts, publishing at least
as often as the median poster) *and* listened to (on average at least
:data:`LISTENED_RESPONSES_PER_POST` response per post, or in the top decile of
centrality), and not a spammer (under half of its posts marked spam by listening, when
listening has run). Activity is relative to the brand's own audience, because how often people
post differs by orders of magnitude between networks and brands.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WEIGHTS = {
    "frequency": 0.15,
    "audience": 0.20,
    "responsiveness": 0.20,
    "reach": 0.15,
    "centrality": 0.20,
    "role": 0.10,
}
ACTIVE_MIN_POSTS = 3
ACTIVE_FREQUENCY_PART = 0.5
LISTENED_RESPONSES_PER_POST = 1.0
LISTENED_CENTRALITY_PART = 0.9
BRIDGE_PARTICIPATION = 0.5
MAX_SPAM_SHARE = 0.5
HUB_Z = 2.5


def positive_percentile(values: pd.Series) -> pd.Series:
    """Share of the positive values at or below each value, in (0, 1]; 0 for none.

    >>> positive_percentile(pd.Series([0.0, 5.0, 1.0, 5.0])).tolist()
    [0.0, 1.0, 0.3333333333333333, 1.0]

    A node with none of a thing is not ranked above anyone (plain percentiles would
    give every zero the same middling rank).
    """
    v = values.fillna(0.0).astype(float)
    pos = v > 0
    out = pd.Series(0.0, index=v.index)
    if pos.any():
        out[pos] = v[pos].rank(method="max") / pos.sum()
    return out


def cascade_reach(reshares: pd.DataFrame) -> pd.DataFrame:
    """Per original post: distinct accounts that reshared it at any depth, and the depth.

    ``reshares`` has post_id, author, parent_id (the post reshared, which may itself be
    a reshare). Pointer jumping finds each reshare's root in O(log depth) rounds.
    """
    if reshares.empty:
        return pd.DataFrame(columns=["root_id", "reached", "depth"])
    parent = dict(zip(reshares.post_id, reshares.parent_id, strict=True))
    root = reshares.parent_id.to_numpy(dtype=object).copy()
    depth = np.ones(len(root), np.int64)
    for _ in range(64):
        nxt = np.array([parent.get(r, r) for r in root], dtype=object)
        moved = nxt != root
        if not moved.any():
            break
        depth += moved
        root = nxt
    frame = pd.DataFrame({"root_id": root, "author": reshares.author.to_numpy(), "depth": depth})
    return frame.groupby("root_id").agg(reached=("author", "nunique"), depth=("depth", "max"))


def score_nodes(nodes: pd.DataFrame) -> pd.DataFrame:
    """Add parts, contributions, ``influence_score``, ``amplifier`` and ``community_role``.

    ``nodes`` needs posts_per_month, followers, responses_per_post, cascade_reach,
    pagerank, participation, posts, responses, within_z, degree.
    """
    raw = {
        "frequency": nodes.posts_per_month,
        "audience": nodes.followers,
        "responsiveness": nodes.responses_per_post,
        "reach": nodes.cascade_reach,
        "centrality": nodes.pagerank,
        "role": nodes.participation,
    }
    out = nodes.copy()
    score = np.zeros(len(out))
    for part, series in raw.items():
        p = positive_percentile(series)
        out[f"part_{part}"] = p.to_numpy()
        out[f"contrib_{part}"] = (100 * WEIGHTS[part] * p).to_numpy()
        score += out[f"contrib_{part}"].to_numpy()
    out["influence_score"] = np.clip(score, 0.0, 100.0)
    active = (out.posts >= ACTIVE_MIN_POSTS) & (out.part_frequency >= ACTIVE_FREQUENCY_PART)
    listened = (out.responses_per_post >= LISTENED_RESPONSES_PER_POST) | (
        out.part_centrality >= LISTENED_CENTRALITY_PART
    )
    out["active"] = active.to_numpy()
    out["listened_to"] = listened.to_numpy()
    # an account whose posts are mostly spam is not an earned-media partner, however loud
    genuine = out.spam_share < MAX_SPAM_SHARE if "spam_share" in out else True
    out["amplifier"] = (active & listened & genuine).to_numpy()
    role = np.where(
        out.degree == 0,
        "isolated",
        np.where(
            out.within_z >= HUB_Z,
            "hub",
            np.where(out.participation >= BRIDGE_PARTICIPATION, "bridge", "member"),
        ),
    )
    out["community_role"] = role
    return out


def within_module_z(degree_in: np.ndarray, membership: np.ndarray) -> np.ndarray:
    """Guimerà–Amaral within-community degree z-score (hubs stand out in their own)."""
    z = np.zeros(len(degree_in))
    frame = pd.DataFrame({"k": degree_in, "c": membership})
    g = frame.groupby("c").k
    mean, std = g.transform("mean").to_numpy(), g.transform("std").fillna(0).to_numpy()
    ok = std > 0
    z[ok] = (degree_in[ok] - mean[ok]) / std[ok]
    return z
