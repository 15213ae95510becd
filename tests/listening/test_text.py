import pyarrow as pa

from socialcrm.listening.text import normalise, normalise_array, skeleton, skeleton_array, tokens


def test_normalise_keeps_emoji_and_hides_people_and_links():
    out = normalise("OMG @Nordlicht_UK the Polaris is 🔥🔥 https://t.co/x1 &amp; cheap!!")
    assert out == "OMG @user the Polaris is 🔥 🔥 http & cheap!!"


def test_normalise_handles_of_federated_networks():
    assert normalise("hi @anna@mastodon.social and @bob.bsky.social!") == "hi @user and @user!"


def test_normalise_array_keeps_nulls_and_order():
    out = normalise_array(pa.array(["a  b", None, "c\n😀d"])).to_pylist()
    assert out == ["a b", None, "c 😀 d"]


def test_skeleton_equal_for_reshare_and_copy_paste():
    a = "RT @bot: Win a FREE jacket!!! https://t.co/1 🎉"
    b = "win a free jacket https://t.co/2"
    assert skeleton(a) == skeleton(b) == "win a free jacket"
    assert skeleton_array(pa.array([a, b])).to_pylist() == [skeleton(a)] * 2


def test_tokens_keep_emoticons_hashtags_and_marks():
    assert tokens("So good :) #win!!") == ["so", "good", ":)", "#win", "!", "!"]


def test_public_api_is_pinned():
    import socialcrm.listening as listening

    assert sorted(listening.__all__) == [
        "Catalogue", "EmbeddingAnalyzer", "INTENTS", "LABELS", "LexiconAnalyzer",
        "SentimentAnalyzer", "TopicModel", "classify_intent", "detect_languages",
        "detect_negative_share_spikes", "detect_volume_spikes", "duplicate_groups",
        "find_mentions", "get_analyzer", "mention_sentiment", "normalise", "post_reasons",
        "skeleton",
    ]  # fmt: skip
