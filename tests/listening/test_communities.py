"""Volumes per community: every counted post of a community member, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from socialcrm.config import Settings
from socialcrm.pipeline import run_pipeline
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from socialcrm.synth.brand import generate_brand

    files = generate_brand(tmp_path_factory.mktemp("brand"), customers=500, seed=11)
    home: Path = tmp_path_factory.mktemp("ws")
    with Workspace.open(Settings(home=home)) as ws:
        for table in ("customers", "identities", "consents", "posts", "follows"):
            ingest_file(ws, table, files.inputs[table])
        steps = ["identities", "listening", "connecting", "communities", "community_listening"]
        run_pipeline(ws, steps)
        yield ws


def test_every_counted_post_of_a_member_is_in_its_community_once(scored: Workspace) -> None:
    posts = scored.warehouse.read_arrow("posts_enriched").to_pandas()
    handles = scored.warehouse.read_arrow("handle_influence").to_pandas()
    daily = scored.warehouse.read_arrow("community_daily").to_pandas()
    counted = posts[~posts.is_duplicate & ~posts.is_spam]
    members = handles[handles.community_id >= 0][["platform", "handle", "community_id"]]
    expected = counted.merge(
        members, left_on=["platform", "author_handle"], right_on=["platform", "handle"]
    )
    assert len(expected) > 0
    want = expected.groupby(expected.community_id.astype(str)).size().to_dict()
    got = daily.groupby("key").posts.sum().to_dict()
    assert got == want
    assert set(daily.dimension) == {"community"}
    assert ((daily.negative_share >= 0) & (daily.negative_share <= 1)).all()
    assert (daily.negative + daily.neutral + daily.positive == daily.posts).all()
    known = set(scored.warehouse.read_arrow("communities").to_pandas().community_id.astype(str))
    assert set(daily.key) <= known


def test_community_alerts_point_at_posts_of_that_community(scored: Workspace) -> None:
    alerts = scored.warehouse.read_arrow("community_alerts").to_pylist()
    posts = scored.warehouse.read_arrow("posts_enriched").to_pandas().set_index("post_id")
    handles = scored.warehouse.read_arrow("handle_influence").to_pandas()
    community = {
        (r.platform, r.handle): str(r.community_id) for r in handles.itertuples(index=False)
    }
    for alert in alerts:
        assert alert["dimension"] == "community"
        for post_id in alert["post_ids"]:
            p = posts.loc[post_id]
            assert community[(p.platform, p.author_handle)] == alert["key"]
