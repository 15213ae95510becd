"""Intent against a hand-labelled sample (guide in data/) and the demo brand's truth."""

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pj
from sklearn.metrics import f1_score

from socialcrm.listening.enrich import Enricher
from socialcrm.listening.intent import INTENTS, classify_intent
from socialcrm.listening.lexicon import LexiconAnalyzer
from socialcrm.listening.mentions import Catalogue

from .conftest import intent_sample


def macro_f1(split: str) -> float:
    rows = [r for r in intent_sample() if r["split"] == split]
    pred = classify_intent([r["text"] for r in rows])
    return float(f1_score([r["intent"] for r in rows], pred, average="macro"))


def test_sample_is_large_and_labelled_by_the_guide():
    rows = intent_sample()
    assert len(rows) >= 150
    assert {r["intent"] for r in rows} == set(INTENTS)
    assert {r["split"] for r in rows} == {"dev", "holdout"}
    assert len({r["id"] for r in rows}) == len(rows)


def test_intent_on_hand_labelled_holdout():
    """The holdout rows were not looked at while the rules were written: macro-F1 0.82
    there (0.86 on the dev rows the rules were written against)."""
    assert macro_f1("holdout") >= 0.75
    assert macro_f1("dev") >= 0.80


def test_precedence_follows_the_guide():
    out = classify_intent(
        [
            "Love the app, but please add a dark mode",  # suggestion beats praise
            "Why is my order STILL not here?? 3 weeks",  # complaint beats question
            "Can't wait! When's it out?",  # question beats praise
            "Nordlicht opens a new store in Oslo",  # news is other
        ]
    ).tolist()
    assert out == ["suggestion", "complaint", "question", "other"]


def test_intent_on_demo_brand_truth(demo_brand):
    """Macro-F1 against the demo's hidden intents (original posts and replies, spam and
    reshares left out): 0.65 measured (0.64 before issue 19's review and forum cues). The
    demo is written to be hard: sarcasm ("Thanks Nordlicht, looks nothing like the photos.
    Best purchase ever 🤡"), complaints without a complaint word, chat that praises
    nothing in particular."""
    posts = pj.read_json(demo_brand / "inputs" / "posts.jsonl")
    truth = pcsv.read_csv(demo_brand / "truth" / "posts.csv").to_pandas().set_index("post_id")
    df = posts.to_pandas().set_index("post_id").join(truth[["intent", "is_spam"]])
    df = df[df.reshare_of_post_id.isna() & ~df.is_spam]
    batch = pa.table(
        {
            "post_id": df.index.tolist(),
            "text": df.text.tolist(),
            "author_handle": df.author_handle.tolist(),
        }
    )
    enriched, _ = Enricher(LexiconAnalyzer(), Catalogue.demo()).enrich_batch(batch)
    pred = np.asarray(enriched.column("intent").to_pylist())
    f1 = f1_score(df.intent, pred, average="macro")
    print(f"intent macro-F1 on {len(df)} demo posts: {f1:.3f}")
    assert f1 >= 0.58
