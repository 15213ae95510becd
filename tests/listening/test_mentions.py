"""Mentions from the catalogue, entity-targeted sentiment, share of voice."""

import numpy as np
import pyarrow.csv as pcsv
import pyarrow.json as pj

from socialcrm.listening.mentions import Catalogue, find_mentions, mention_sentiment, share_of_voice

CAT = Catalogue.demo()


def test_aliases_hashtags_and_handles():
    found = find_mentions(
        [
            "Just got the Polaris shell and the #Fjord30 pack from @nordlicht",
            "Trollberg Gear or Kestrel? #trollberg",
            "the aurora last night was unreal",  # the sky, not the headlamp
            "My Aurora HL died after an hour",
            "NORDLICHT customer service is fast",
        ],
        CAT,
    )
    assert found[0] == ["brand:nordlicht", "product:NL-POL", "product:NL-FJO"]
    assert found[1] == ["competitor:trollberg", "competitor:kestrel-athletics"]
    assert found[2] == []
    assert found[3] == ["product:NL-AUR"]
    assert found[4] == ["brand:nordlicht"]


def test_sentiment_is_about_each_entity():
    rows = mention_sentiment(
        ["I love Nordlicht, but my Aurora headlamp battery died after a week"], CAT
    )
    by_entity = {r.entity_id: r for r in rows}
    assert by_entity["brand:nordlicht"].score > 0.3
    assert by_entity["product:NL-AUR"].score < 0
    assert "battery" in by_entity["product:NL-AUR"].aspects


def test_single_entity_takes_the_post_score():
    rows = mention_sentiment(["the Polaris is fine"], CAT, post_scores=np.array([-0.9]))
    assert [(r.entity_id, r.score) for r in rows] == [("product:NL-POL", -0.9)]


def test_share_of_voice_sums_to_one():
    sov = share_of_voice({"brand:nordlicht": 60, "competitor:trollberg": 30, "competitor:k": 10})
    assert sov == {"brand:nordlicht": 0.6, "competitor:trollberg": 0.3, "competitor:k": 0.1}
    assert share_of_voice({"a": 0}) == {"a": 0.0}


def test_mentions_recall_on_demo_posts(demo_brand):
    """The demo truth names the entity each post is about. Replies inherit it from their
    thread without naming it, so only original posts are checked."""
    posts = pj.read_json(demo_brand / "inputs" / "posts.jsonl").to_pandas()
    truth = pcsv.read_csv(demo_brand / "truth" / "posts.csv").to_pandas()
    df = posts.merge(truth[["post_id", "entity", "is_spam"]], on="post_id")
    df = df[df.reshare_of_post_id.isna() & df.reply_to_post_id.isna() & ~df.is_spam]
    df = df[df.entity.notna()]
    names = {e.name: e.id for e in CAT.entities}
    df = df[df.entity.isin(list(names))]
    found = find_mentions(df.text.tolist(), CAT)
    hit = np.array([names[e] in f for e, f in zip(df.entity, found, strict=True)])
    assert len(df) > 500
    print(f"entity recall on {len(df)} demo posts: {hit.mean():.3f}")
    assert hit.mean() > 0.8
