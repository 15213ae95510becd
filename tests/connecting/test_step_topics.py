"""The communities' topic rows are split once, as filtering them per community did."""

from __future__ import annotations

import numpy as np
import pandas as pd

from socialcrm.connecting.communities import _topics_by_community


def test_topic_rows_per_community_match_a_filter_per_community() -> None:
    rng = np.random.default_rng(7)
    handles = pd.DataFrame(
        {
            "platform": rng.choice(["twitter", "bluesky"], 300),
            "handle": [f"h{i}" for i in range(300)],
        }
    )
    handles["node"] = [f"c:{i // 2}" if i % 3 else f"h:{i}" for i in range(300)]
    nodes = handles.node.drop_duplicates()
    members = pd.DataFrame(
        {"node": nodes.to_numpy(), "community_id": rng.integers(-1, 6, len(nodes))}
    )
    members = members[members.community_id >= 0]
    pick = rng.integers(0, 300, 900)
    topics = pd.DataFrame(
        {
            "platform": handles.platform.to_numpy()[pick],
            "handle": handles.handle.to_numpy()[pick],
            "topic_id": rng.integers(0, 9, 900),
            "n": rng.integers(1, 5, 900),
            "sentiment": rng.normal(size=900),
        }
    )
    owned = handles.merge(members, on="node")[["platform", "handle", "community_id"]]
    split = _topics_by_community(topics, owned)
    for cid in sorted(members.community_id.unique()):
        m = members[members.community_id == cid]
        hs = handles[handles.node.isin(set(m.node))][["platform", "handle"]]
        expected = topics.merge(hs, on=["platform", "handle"])
        got = split.get(int(cid), expected.iloc[:0])
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)
        assert got.sentiment.sum() == expected.sentiment.sum()  # same rows, same order
    assert set(split) <= set(members.community_id.tolist())
    assert _topics_by_community(None, owned) == {}
