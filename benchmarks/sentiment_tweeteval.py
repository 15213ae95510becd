"""Sentiment on the TweetEval test set: our two analyzers against vaderSentiment.

Prints, for each of vaderSentiment (its own ±0.05 thresholds), our ``lexicon`` analyzer
and our ``embedding`` analyzer: macro-averaged recall (TweetEval's metric), accuracy,
macro-F1, and posts per second, all measured in this one run on this machine, plus the
ratio of the lexicon's speed to VADER's. Single process; the lexicon and VADER timings
are the best of three passes over the 12,284 tweets; the embedding analyzer is timed on
one pass, embeddings included (nothing cached), on the GPU when there is one.

Usage::

    python benchmarks/sentiment_tweeteval.py [--data DIR] [--embedding-limit N] [--json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score

from socialcrm.listening.lexicon import LABELS, LexiconAnalyzer
from socialcrm.listening.sentiment import EmbeddingAnalyzer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweeteval_sentiment"


def load(data: Path) -> tuple[list[str], np.ndarray]:
    labels = np.array([int(x) for x in (data / "test_labels.txt").read_text().split()])
    texts = (data / "test_text.txt").read_text("utf-8").split("\n")[: len(labels)]
    return texts, labels


def codes(labels: np.ndarray) -> np.ndarray:
    return np.searchsorted(LABELS.astype(str), np.asarray(labels).astype(str))


def timed(fn: Callable[[], np.ndarray], repeat: int) -> tuple[np.ndarray, float]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    assert out is not None
    return out, best


def metrics(y: np.ndarray, pred: np.ndarray, n: int, seconds: float) -> dict[str, float]:
    return {
        "macro_recall": round(float(recall_score(y, pred, average="macro")), 4),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
        "posts_per_s": round(n / seconds, 1),
        "n": n,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument(
        "--embedding-limit",
        type=int,
        default=0,
        help="score only the first N tweets with the embedding analyzer",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()  # fmt: skip
    texts, y = load(args.data)
    results: dict[str, dict[str, float]] = {}

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()

    def run_vader() -> np.ndarray:
        c = np.array([vader.polarity_scores(t)["compound"] for t in texts])
        return np.where(c <= -0.05, 0, np.where(c >= 0.05, 2, 1))

    pred, sec = timed(run_vader, 3)
    results["vaderSentiment"] = metrics(y, pred, len(texts), sec)

    lexicon = LexiconAnalyzer()
    labels, sec = timed(lambda: lexicon.analyze(texts)[0], 3)
    results["lexicon"] = metrics(y, codes(labels), len(texts), sec)

    n = args.embedding_limit or len(texts)
    embedding = EmbeddingAnalyzer()
    embedding.embedder.encode(["warm up"])  # load the model outside the timing
    labels, sec = timed(lambda: embedding.analyze(texts[:n])[0], 1)
    results["embedding"] = metrics(y[:n], codes(labels), n, sec)

    ratio = results["lexicon"]["posts_per_s"] / results["vaderSentiment"]["posts_per_s"]
    if args.json:
        print(json.dumps({"results": results, "lexicon_speed_vs_vader": round(ratio, 2)}))
        return
    print(f"TweetEval sentiment test ({len(texts):,} tweets; embedding on {n:,})")
    print(f"{'analyzer':<16}{'macro-recall':>13}{'accuracy':>10}{'macro-F1':>10}{'posts/s':>11}")
    for name, r in results.items():
        print(f"{name:<16}{r['macro_recall']:>13.3f}{r['accuracy']:>10.3f}"
              f"{r['macro_f1']:>10.3f}{r['posts_per_s']:>11,.0f}")  # fmt: skip
    print(f"lexicon speed / vaderSentiment speed: {ratio:.1f}x")


if __name__ == "__main__":
    main()
