"""The vectorised lexicon analyzer: VADER's rules, checked rule by rule and on TweetEval."""

import csv
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import recall_score

from socialcrm.listening.lexicon import LexiconAnalyzer, lexicon_scores
from socialcrm.listening.sentiment import LABELS, SentimentAnalyzer
from tests.listening.conftest import load_tweeteval


def compound(text: str) -> float:
    return float(lexicon_scores([text]).compound[0])


def test_rules_move_the_score_the_right_way():
    assert compound("good") > 0
    assert compound("not good") < 0  # negation
    assert compound("very good") > compound("good")  # booster
    assert compound("kinda good") < compound("good")  # dampener
    assert compound("GOOD day") > compound("good day")  # caps emphasis, mixed case
    assert compound("good!!!") > compound("good")  # exclamation
    assert compound("bad but good") > compound("good but bad")  # the clause after "but" wins
    assert compound("at least good") == pytest.approx(compound("good"))  # "at least" ≠ "least"
    assert compound("the box is blue") == 0.0


def test_emoji_and_emoticons_carry_sentiment():
    assert compound("new jacket 😍") > 0.3
    assert compound("new jacket 😡") < -0.3
    assert compound("new jacket :(") < 0


def test_empty_and_null_inputs():
    s = lexicon_scores(["", "   ", "good"])
    assert s.compound.tolist()[:2] == [0.0, 0.0]
    assert len(lexicon_scores([]).compound) == 0


def test_analyzer_contract():
    analyzer = LexiconAnalyzer()
    assert isinstance(analyzer, SentimentAnalyzer)
    labels, scores = analyzer.analyze(["love it", "hate it", "it is a box"])
    assert labels.tolist() == ["positive", "negative", "neutral"]
    assert set(labels) <= set(LABELS)
    assert np.all(np.abs(scores) <= 1)


def vader_compound(texts: list[str]) -> np.ndarray:
    """vaderSentiment's own compound scores (the peer, a dev dependency)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    return np.array([vader.polarity_scores(t)["compound"] for t in texts])


def test_agrees_with_vader_on_tweets(tweeteval_test):
    """Same lexicon and rules as vaderSentiment: compound scores nearly identical."""
    texts = tweeteval_test[0][:2000]
    ours = lexicon_scores(texts).compound
    theirs = vader_compound(texts)
    # Measured 0.990 on the whole test set; the differences are emoji (scored directly
    # here, from VADER's own descriptions plus a few social-media overrides).
    assert np.corrcoef(ours, theirs)[0, 1] > 0.97
    assert np.mean(np.abs(ours - theirs) < 0.01) > 0.95


def test_macro_recall_on_tweeteval_test_beats_vader(tweeteval_test):
    """TweetEval's metric on all 12,284 test tweets, against vaderSentiment measured here
    on the same tweets with its own ±0.05 thresholds (0.570 when last measured; ours,
    with thresholds chosen on train, 0.586)."""
    texts, y = tweeteval_test
    c = vader_compound(texts)
    vader = recall_score(y, np.where(c <= -0.05, 0, np.where(c >= 0.05, 2, 1)), average="macro")
    labels, _ = LexiconAnalyzer().analyze(texts)
    assert recall_score(y, codes(labels), average="macro") > vader
    # the same rules with VADER's own thresholds land where VADER does
    vader_like, _ = LexiconAnalyzer(thresholds=(-0.05, 0.05)).analyze(texts)
    assert recall_score(y, codes(vader_like), average="macro") == pytest.approx(vader, abs=0.01)


def test_thresholds_chosen_on_train_do_better_there_than_vaders(tweeteval_train):
    """The shipped thresholds were chosen on TweetEval train: measured there, they give a
    higher macro-recall than VADER's ±0.05 with the same rules (a flipped or arbitrary
    pair would not)."""
    texts, y = tweeteval_train
    ours, _ = LexiconAnalyzer().analyze(texts)
    vader_like, _ = LexiconAnalyzer(thresholds=(-0.05, 0.05)).analyze(texts)
    assert recall_score(y, codes(ours), average="macro") > recall_score(
        y, codes(vader_like), average="macro"
    )


def codes(labels: np.ndarray) -> np.ndarray:
    return np.searchsorted(LABELS.astype(str), labels.astype(str))


# -- negation, contrast and sarcasm beyond VADER -------------------------------------------
def label(text: str) -> str:
    return str(LexiconAnalyzer().analyze([text])[0][0])


@pytest.mark.parametrize(
    "text",
    [
        "nothing special for the price. please fix this",  # issue 19: was positive
        "Love that for me 😒",  # issue 19: was +0.82
        "I love it 🙄",
        "Great service 🙃",
        "never again",
        "Never again. Worst ever",  # the negation stops at the full stop
        "it doesn't work",
        "my order still hasn't arrived",
        "the zip is not fixed",
        "thanks for nothing",
        "yeah right",
        "lost my parcel, thanks a lot",
        "another delay, just what I needed. awful",
        "the colour is nice but the seams are terrible",
        "looks nice, however it broke in a week",
        "a waste of money",
    ],
)
def test_says_the_opposite_of_its_words_negative(text):
    assert label(text) == "negative", (text, compound(text))


@pytest.mark.parametrize(
    "text",
    [
        "Thanks a lot for the quick help!",  # sincere: no complaint in the post
        "great coffee, just what I needed",
        "the seams looked bad but it is great",
        "I love this jacket",
        "not bad at all",
    ],
)
def test_sincere_praise_stays_positive(text):
    assert label(text) == "positive", (text, compound(text))


def test_sarcasm_flips_only_its_own_post():
    s = lexicon_scores(["Love this jacket 😒", "Love this jacket", "love it", "love that for me"])
    assert s.compound[0] < 0 < s.compound[1] and s.compound[2] > 0 > s.compound[3]


CASES = Path(__file__).parents[1] / "data" / "tweeteval_cases" / "cases.tsv"
BASELINE_ACCURACY = 0.4389
"""The lexicon analyzer before the rules above (commit 2cc425e), on the same 221 tweets:
97 right. VADER's rules carry the same mistakes (negation across a full stop)."""


def test_real_tweet_cases_improve_on_the_baseline():
    """221 TweetEval *train* tweets holding the constructions the rules are about (drawn
    by pattern, ``scripts/build_sentiment_cases.py``; labels TweetEval's). The rules must
    get more of them right than the analyzer did before them (97 of 221), and none of the
    constructions may lose more than one tweet."""
    with CASES.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 221
    # the rows name tweets of the shared train split; their text stays out of the repository
    texts, labels = load_tweeteval("train")
    y = np.array([int(r["label"]) for r in rows])
    assert (labels[[int(r["train_row"]) for r in rows]] == y).all()
    pred = codes(LexiconAnalyzer().analyze([texts[int(r["train_row"])] for r in rows])[0])
    right = pred == y
    print(f"{right.sum()} of {len(rows)} right ({right.mean():.3f}; before {BASELINE_ACCURACY})")
    assert right.mean() >= BASELINE_ACCURACY + 0.015  # 101 or more of 221
    before = {"contrast": 35, "negated-context": 2, "negation-sentence": 50, "phrase": 5,
              "sarcasm": 5}  # fmt: skip
    for construction, was in before.items():
        mine = [r["construction"] == construction for r in rows]
        now = int(right[mine].sum())
        assert now >= was - 1, construction
