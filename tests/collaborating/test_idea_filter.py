"""The idea filter measured on hand-labelled posts (tests/data/idea_posts/README.md says how
they were written and split): ideas are listening's suggestions that pass the filter."""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from socialcrm.appdb.models import Idea
from socialcrm.collaborating import ideas
from socialcrm.collaborating.idea_filter import content_words, is_idea
from socialcrm.collaborating.people import Value
from socialcrm.listening.intent import classify_intent
from socialcrm.listening.sentiment import get_analyzer
from tests.collaborating.review_corpus import (
    FRESH,
    CorpusUnavailable,
    fresh_sentences,
    labelled_sentences,
)
from tests.listening.conftest import load_tweeteval

LABELLED = Path(__file__).parents[1] / "data" / "idea_posts" / "labelled.csv"


def _scores(split: str) -> dict[str, tuple[float, float, int]]:
    """Precision, recall and false positives, before (suggestion intent alone) and after
    (suggestion intent and the filter), on one split."""
    rows = [r for r in csv.DictReader(LABELLED.open()) if r["split"] == split]
    texts = [r["text"] for r in rows]
    _, sentiment = get_analyzer("lexicon").analyze(texts)
    intents = classify_intent(texts, np.asarray(sentiment))
    truth = [r["is_idea"] == "1" for r in rows]
    before = [str(i) == "suggestion" for i in intents]
    after = [b and is_idea(t) for b, t in zip(before, texts, strict=True)]
    out = {}
    for name, pred in (("before", before), ("after", after)):
        tp = sum(p and y for p, y in zip(pred, truth, strict=True))
        fp = sum(p and not y for p, y in zip(pred, truth, strict=True))
        out[name] = (tp / max(tp + fp, 1), tp / sum(truth), fp)
    return out


@pytest.mark.parametrize("split", ["dev", "test"])
def test_the_filter_drops_praise_and_keeps_the_ideas(split: str) -> None:
    s = _scores(split)
    (p0, r0, fp0), (p1, r1, fp1) = s["before"], s["after"]
    assert r1 == r0  # no labelled idea the classifier found is lost
    assert fp0 >= 4 and fp1 <= fp0 // 4  # most agreement and praise is gone
    assert p1 >= 0.9 > p0


def test_what_is_left_is_the_request() -> None:
    assert content_words("Yes please! 😍 @brand") == []
    assert content_words("Love it, but please add a timer") == ["timer"]
    assert not is_idea("Please let me know when my order ships")
    assert is_idea("Yes please, and in blue too!")


def test_sync_proposes_no_idea_from_agreement(world) -> None:
    db, _ = world
    posts = [
        {"platform": "mastodon", "post_id": f"x{i}", "text": t, "customer_id": None}
        for i, t in enumerate(["Yes please!", "love it. pls", "Please add a bigger size"])
    ]
    with db.session() as s:
        done = ideas.sync_from_posts(s, posts, {"": Value()}, followers_floor=10)
        titles = list(s.scalars(select(Idea.title)))
    assert done == {"proposed": 1, "skipped": 0, "not_ideas": 2}
    assert titles == ["Please add a bigger size"]


def test_a_proposed_idea_declined_leaves_the_list_and_is_not_proposed_again(world) -> None:
    db, rm = world
    with db.session() as s:
        ideas.sync(s, rm, followers_floor=10_000)
        first = s.scalars(select(Idea).where(Idea.proposed.is_(True))).first()
        assert first is not None
        ideas.decline(s, first.id, "agent@test.io")
        with pytest.raises(ideas.IdeaError):
            ideas.decline(s, first.id, "agent@test.io")  # only once, only proposed ones
    with db.session() as s:
        waiting = ideas.board(s, lambda ids: {}, status="new", proposed=True)
        assert first.id not in [i["id"] for i in waiting]
        assert ideas.sync(s, rm, followers_floor=10_000)["proposed"] == 0
        assert ideas.get(s, first.id).status == "declined"


REAL = Path(__file__).parents[1] / "data" / "idea_posts" / "real_tweets.csv"


_ESCAPE = re.compile(r"\\+u([0-9a-fA-F]{4})")


@cache
def _texts(split: str) -> list[str]:
    return load_tweeteval(split)[0]


def _tweet(split: str, row: int) -> str:
    """A TweetEval tweet, read from the shared folder (its text stays out of the
    repository); the reconstructed train file writes some characters as ``\\uXXXX``."""
    text = _texts(split)[row]
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text).strip()


def _real(split: str) -> tuple[int, int, int]:
    """Labelled ideas, posts proposed as ideas, and correct proposals, on one split of
    the real tweets (tests/data/idea_posts/README.md)."""
    rows = [r for r in csv.DictReader(REAL.open(encoding="utf-8")) if r["split"] == split]
    return _proposals([r | {"text": _tweet(r["tweeteval_split"], int(r["row"]))} for r in rows])


def test_on_real_tweets_what_is_proposed_is_mostly_an_idea() -> None:
    """Measured: dev (71 tweets, 10 ideas, the rules written on it) 4 proposed, 4 right;
    test (69, 9) 3 proposed, 1 right (1 of 1 before the last change, see the README);
    fresh (9 proposals among 2,527 company-naming tweets) 2 right. Since issue 19's
    product-word gate (idea_filter.PRODUCT_WORDS: "how about", "why not", a bare
    "please" need a product or feature named with them), written on TweetEval's train and
    validation chat: dev 2 proposed, 2 right ("They should have all the Friday movies on
    netflix" names no product word and is lost); test 1 of 1; fresh 3 proposed, 1 right.
    In the product a post must also address the brand (its account, a product, a reply:
    socialcrm.listening.addressed) and an agent confirms each idea."""
    assert _real("dev") == (10, 2, 2)
    assert _real("test") == (9, 1, 1)
    _, proposed_fresh, right_fresh = _real("fresh")
    assert (proposed_fresh, right_fresh) == (3, 1)


@cache
def _amazon_rows() -> list[dict[str, str]]:
    """The labelled review sentences with their text, from the vaderSentiment sdist."""
    return labelled_sentences()


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval (95%) of a proportion ``k / n``."""
    p, d = k / n, 1 + z * z / n
    mid, half = (p + z * z / (2 * n)) / d, z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return mid - half, mid + half


def _amazon(split: str) -> tuple[int, int, int]:
    """Labelled ideas, sentences proposed as ideas (suggestion intent and the filter), and
    correct proposals, on one split of the Amazon review sentences (README.md there)."""
    return _proposals([r for r in _amazon_rows() if r["split"] == split])


def _proposals(rows: list[dict[str, str]]) -> tuple[int, int, int]:
    """Labelled ideas, sentences proposed as ideas (suggestion intent and the filter), and
    correct proposals among labelled ``rows``."""
    texts = [r["text"] for r in rows]
    _, sentiment = get_analyzer("lexicon").analyze(texts)
    intents = classify_intent(texts, np.asarray(sentiment))
    pred = [str(i) == "suggestion" and is_idea(t) for i, t in zip(intents, texts, strict=True)]
    truth = [r["is_idea"] == "1" for r in rows]
    tp = sum(p and y for p, y in zip(pred, truth, strict=True))
    return sum(truth), sum(pred), tp


def test_the_amazon_sentences_are_the_labelled_sample() -> None:
    rows = _amazon_rows()
    assert len(rows) == len({r["id"] for r in rows}) == 701
    count = Counter((r["split"], r["stratum"], r["is_idea"]) for r in rows)
    assert count == {
        ("dev", "cue", "0"): 225,
        ("dev", "cue", "1"): 38,
        ("dev", "random", "0"): 87,
        ("dev", "random", "1"): 2,
        ("test", "cue", "0"): 217,
        ("test", "cue", "1"): 21,
        ("test", "random", "0"): 111,
    }
    # one review's sentences sit on one side only
    split_of = {r["id"].split("_")[0]: r["split"] for r in rows}
    assert all(split_of[r["id"].split("_")[0]] == r["split"] for r in rows)


def test_on_amazon_review_sentences_precision_is_stated_with_its_sample() -> None:
    """Measured on 701 real Amazon review sentences labelled before the classifier was run
    on them (tests/data/idea_posts/README.md), each proposed one counted as addressing the
    brand (the address check is listening.addressed's). Before issue 19's rules for
    reviews: dev 14 proposed, 8 right (precision 0.57, recall 8/40); test 8 proposed, 3
    right (0.38, 3/21). With ``WISH_CUES`` and the exclusions for advice to other buyers,
    written on dev: dev 35 proposed, 34 right; test, measured once, 17 proposed, 12 right
    (precision 0.71, Wilson 95% 0.47-0.87): 0.8 not met off the tuning split. Both splits
    are development data since (the held-out measurement is the fresh sample's, below).
    Now (the forum cues, the product-word gate): dev 33 of 33 (recall 33/40), test 12 of
    14 (recall 12/21)."""
    assert _amazon("dev") == (40, 33, 33)
    assert _amazon("test") == (21, 14, 12)


@cache
def _fresh_rows() -> list[dict[str, str]]:
    """The fresh held-out sample with its text (SemEval's data: skip when it is absent)."""
    try:
        return fresh_sentences()
    except CorpusUnavailable as why:
        pytest.skip(str(why))


def _fresh(source: str | None = None) -> tuple[int, int, int]:
    """Labelled ideas, sentences proposed as ideas, and correct proposals, on the fresh
    held-out sample (or one of its sources)."""
    return _proposals([r for r in _fresh_rows() if source in (None, r["source"])])


def test_the_fresh_sample_is_the_labelled_one() -> None:
    with FRESH.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len({r["id"] for r in rows}) == 1360
    count = Counter((r["id"].split(":")[0], r["stratum"], r["is_idea"]) for r in rows)
    assert count == {
        ("semeval", "census", "0"): 710,
        ("semeval", "census", "1"): 123,
        ("tweet", "cue", "0"): 422,
        ("tweet", "cue", "1"): 5,
        ("tweet", "random", "0"): 100,
    }


def test_on_the_fresh_held_out_sample_precision_is_stated_with_its_sample() -> None:
    """Issue 19's held-out measurement: 1,360 real posts no rule was written on
    (tests/data/idea_posts/README.md: all 833 posts of SemEval-2019 Task 9's evaluation
    data, a software maker's suggestion forum, and 527 of VADER's tweets), labelled and
    committed before the classifier ran on them, scored once with the final rules, each
    post counted as addressing the brand. All: 36 proposed, 26 right, **precision 0.72,
    Wilson 95% 0.56-0.84**, recall 26/128: issue 19's 0.8 is not met on the sample as
    drawn. Forum posts (addressed to the maker): 29 proposed, 26 right, 0.90 (0.74-0.96),
    recall 26/123. Tweets (addressed to no maker; in the product listening.addressed
    keeps them from ``ideas sync``): 7 proposed, none an idea. A change to the rules
    makes this sample development data: state a new fresh one then."""
    assert _fresh() == (128, 36, 26)
    assert _fresh("semeval") == (123, 29, 26)
    assert _fresh("tweet") == (5, 7, 0)
    lo, hi = _wilson(26, 36)
    assert (round(lo, 2), round(26 / 36, 2), round(hi, 2)) == (0.56, 0.72, 0.84)
    lo, hi = _wilson(26, 29)
    assert (round(lo, 2), round(26 / 29, 2), round(hi, 2)) == (0.74, 0.9, 0.96)


@pytest.mark.parametrize(
    ("text", "idea"),
    [
        ("A spare battery would have been great.", True),
        ("The only thing missing is a timer on the oven.", True),
        ("They could have thrown in a case at that price", True),
        ("I would have preferred a matte finish", True),
        ("The strap should feel a bit more solid", True),
        ("I would have liked to give it five stars, but it broke", False),
        ("You should consider this one before buying anything else", False),
        ("Great kettle, I'd buy another", False),
        ("This would make a great gift for a new dad", False),
        ("You would be better off with the cheaper model", False),
        # a request as a product's forum writes it, and what chat says instead
        ("Allow apps to pin a single photo as a tile.", True),
        ("Please provide an API to read the battery temperature.", True),
        ("I would like to be able to export my playlists as a file.", True),
        ("It would be great to have a dark theme in the settings app.", True),
        ("This would be very useful for field workers.", False),
        ("Please consider it.", False),
        ("Two options would be useful:", False),
        ("How about Friday at the park?", False),
        ("Would love to see them play live again", False),
        ("Hurry up, Saturday, please!", False),
    ],
)
def test_a_wish_said_as_a_review_or_a_forum_says_it(text: str, idea: bool) -> None:
    proposed = str(classify_intent([text])[0]) == "suggestion" and is_idea(text)
    assert proposed is idea
