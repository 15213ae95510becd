"""The idea filter measured on hand-labelled posts (tests/data/idea_posts/README.md says how
they were written and split): ideas are listening's suggestions that pass the filter."""

from __future__ import annotations

import csv
import re
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
    texts = [_tweet(r["tweeteval_split"], int(r["row"])) for r in rows]
    _, sentiment = get_analyzer("lexicon").analyze(texts)
    intents = classify_intent(texts, np.asarray(sentiment))
    pred = [str(i) == "suggestion" and is_idea(t) for i, t in zip(intents, texts, strict=True)]
    truth = [r["is_idea"] == "1" for r in rows]
    tp = sum(p and y for p, y in zip(pred, truth, strict=True))
    return sum(truth), sum(pred), tp


def test_on_real_tweets_what_is_proposed_is_mostly_an_idea() -> None:
    """Measured: dev (71 tweets, 10 ideas, the rules written on it) 4 proposed, 4 right;
    test (69, 9) 3 proposed, 1 right (1 of 1 before the last change, see the README);
    fresh (9 proposals among 2,527 company-naming tweets) 2 right. On public tweets that
    merely name a company the precision is far below 0.8 off the split the rules were
    written on; in the product a post must also address the brand (its account, a
    product, a reply: socialcrm.listening.addressed) and an agent confirms each idea."""
    ideas_dev, proposed_dev, right_dev = _real("dev")
    assert (ideas_dev, proposed_dev) == (10, 4) and right_dev / proposed_dev >= 0.8
    ideas_test, proposed_test, right_test = _real("test")
    assert ideas_test == 9 and proposed_test <= 3 and right_test >= 1
    _, proposed_fresh, right_fresh = _real("fresh")
    assert proposed_fresh == 9 and right_fresh == 2
    # the filter keeps few posts: of 149 real tweets with request words, at most 16 go
    assert proposed_dev + proposed_test + proposed_fresh <= 16
