"""Topics: readable labels, assignment of new posts without refitting, stability."""

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pj
from sklearn.metrics import normalized_mutual_info_score

from socialcrm.listening.mentions import Catalogue
from socialcrm.listening.text import normalise_array
from socialcrm.listening.topics import NO_TOPIC, TopicModel

NAMES = Catalogue.demo().words()


def demo_posts(demo_brand):
    posts = pj.read_json(demo_brand / "inputs" / "posts.jsonl").to_pandas()
    truth = pcsv.read_csv(demo_brand / "truth" / "posts.csv").to_pandas()
    df = posts.merge(truth[["post_id", "topic", "is_spam"]], on="post_id")
    df = df[df.reshare_of_post_id.isna() & df.reply_to_post_id.isna() & ~df.is_spam]
    df = df.assign(clean=normalise_array(pa.array(df.text.tolist())).to_pylist())
    return df.sort_values("post_id").reset_index(drop=True)


def test_topics_recover_the_demo_themes(demo_brand, tmp_path):
    df = demo_posts(demo_brand)
    half = len(df) // 2
    model = TopicModel.fit(df.clean[:half].tolist(), n_topics=12, exclude=NAMES)
    assert len(model.topics) == 12
    for topic in model.topics:
        assert 2 <= len(topic.keywords) <= 4
        assert topic.label and topic.examples
        assert all(len(k) > 1 for k in topic.keywords)

    # new posts are assigned without refitting, and agree with the hidden themes
    ids, sims = model.assign(df.clean[half:].tolist())
    known = ids != NO_TOPIC
    nmi = normalized_mutual_info_score(df.topic[half:][known], ids[known])
    print(f"NMI with the demo's topics on unseen posts: {nmi:.3f}, assigned {known.mean():.2f}")
    # Short posts make unsupervised themes hard: 0.17 measured here (0.25 when product
    # names stay in the vocabulary, but then topics merely repeat the products).
    assert known.mean() > 0.8
    assert nmi > 0.12
    assert not any(set(t.keywords) & NAMES for t in model.topics)

    # saved and loaded, the model assigns exactly the same topics
    model.save(tmp_path / "topics.npz")
    again = TopicModel.load(tmp_path / "topics.npz")
    ids2, sims2 = again.assign(df.clean[half:].tolist())
    assert np.array_equal(ids, ids2)
    assert np.allclose(sims, sims2, atol=1e-5)
    assert [t.label for t in again.topics] == [t.label for t in model.topics]


def test_a_campaign_theme_gets_its_own_labelled_topic(demo_brand):
    df = demo_posts(demo_brand)
    model = TopicModel.fit(df.clean.tolist(), n_topics=12, exclude=NAMES)
    ids, _ = model.assign(df.clean[df.topic == "packaging"].tolist() or ["plastic packaging"])
    plastic = [t for t in model.topics if any("plastic" in k for k in t.keywords)]
    assert plastic, [t.label for t in model.topics]
    ids, _ = model.assign(["every order still comes wrapped in plastic, go plastic-free"])
    assert ids[0] == plastic[0].id
