"""Train the ``embedding`` sentiment analyzer's head on TweetEval and ship it.

Reads ``../shared/data/tweeteval_sentiment/`` (train 45,615 / val 2,000 / test 12,284
tweets; labels 0 negative, 1 neutral, 2 positive), then:

1. normalises the tweets as the analyzer does at run time;
2. embeds them with the bundled MiniLM model (GPU if present), caching the vectors in
   ``--cache`` so a rerun takes seconds (embedding 60k tweets takes minutes to tens of
   minutes on a small CPU);
3. chooses the lexicon analyzer's two label thresholds on the **train** split
   (maximum macro-averaged recall), for ``socialcrm.listening.lexicon.THRESHOLDS``;
4. fits a TF-IDF vocabulary on train, and a multinomial logistic regression on
   [TF-IDF | embedding | lexicon features] on train, with balanced class weights; the
   block weights and C are chosen on **val** from a small grid;
5. reports macro-recall, accuracy and macro-F1 on **test** once, for the chosen model,
   and writes ``src/socialcrm/listening/data/sentiment_head.npz`` (plain arrays, with
   this record in its ``meta``) and ``sentiment_head.json`` (the same record, readable).

Usage::

    python scripts/train_sentiment_head.py [--data DIR] [--cache DIR] [--quick]

``--quick`` skips the grid and uses the recorded choice.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, recall_score

from socialcrm.listening.embedding import MODEL_NAME, Embedder
from socialcrm.listening.lexicon import lexicon_scores
from socialcrm.listening.sentiment import SentimentHead, lexicon_features
from socialcrm.listening.text import normalise_array
from socialcrm.listening.tfidf import Tfidf

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tweeteval_sentiment"
OUT = ROOT / "src" / "socialcrm" / "listening" / "data" / "sentiment_head.npz"
FILES = {
    "train": ("train_text.reconstructed.txt", "train_labels.txt"),
    "val": ("val_text.txt", "val_labels.txt"),
    "test": ("test_text.txt", "test_labels.txt"),
}
# (tfidf weight, embedding weight, lexicon weight, C): the grid searched on val.
GRID = [(1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 2.0), (1.0, 2.0, 1.0, 1.0),
        (0.7, 1.5, 1.0, 1.0), (1.0, 1.5, 0.5, 1.0)]  # fmt: skip
CHOSEN = (1.0, 1.5, 0.5, 1.0)
MIN_DF = 2
MAX_TERMS = 60_000


def load_split(data: Path, split: str) -> tuple[list[str], np.ndarray]:
    text_file, label_file = FILES[split]
    lines = (data / text_file).read_text("utf-8").split("\n")
    labels = np.array([int(x) for x in (data / label_file).read_text().split()])
    texts = lines[: len(labels)]
    return normalise_array(pa.array(texts, pa.string())).to_pylist(), labels


def embed_cached(texts: list[str], cache: Path, split: str, embedder: Embedder) -> np.ndarray:
    digest = hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:12]
    path = cache / f"{split}-{MODEL_NAME}-{digest}.npy"
    if path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    vectors = embedder.encode(texts)
    print(f"embedded {split}: {len(texts)} tweets in {time.perf_counter() - t0:.0f} s")
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "macro_recall": round(float(recall_score(y, pred, average="macro")), 4),
        "accuracy": round(float(accuracy_score(y, pred)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro")), 4),
    }


def tune_lexicon_thresholds(texts: list[str], y: np.ndarray) -> tuple[float, float]:
    compound = lexicon_scores(texts).compound
    best = (-1.0, 0.0, 0.0)
    for low in np.round(np.arange(-0.5, 0.3, 0.01), 2):
        for high in np.round(np.arange(-0.2, 0.6, 0.01), 2):
            if high < low:
                continue
            pred = np.where(compound < low, 0, np.where(compound > high, 2, 1))
            r = recall_score(y, pred, average="macro")
            if r > best[0]:
                best = (r, float(low), float(high))
    print(f"lexicon thresholds on train: {best[1:]} (train macro-recall {best[0]:.4f})")
    return best[1], best[2]


def features(x_tfidf: sp.csr_matrix, emb: np.ndarray, lex: np.ndarray,
             weights: tuple[float, float, float]) -> sp.csr_matrix:  # fmt: skip
    a, b, c = weights
    return sp.hstack([x_tfidf * a, sp.csr_matrix(emb * b), sp.csr_matrix(lex * c)]).tocsr()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/socialcrm-tweeteval-emb"))
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="skip the grid search on val")
    args = parser.parse_args()

    splits = {s: load_split(args.data, s) for s in FILES}
    embedder = Embedder()
    emb = {s: embed_cached(t, args.cache, s, embedder) for s, (t, _) in splits.items()}
    thresholds = tune_lexicon_thresholds(*splits["train"])

    train_texts, y_train = splits["train"]
    tfidf = Tfidf.fit(train_texts, min_df=MIN_DF, max_terms=MAX_TERMS)
    x = {s: tfidf.transform(t) for s, (t, _) in splits.items()}
    lex = {s: lexicon_features(t) for s, (t, _) in splits.items()}

    def fit(cfg: tuple[float, float, float, float]) -> LogisticRegression:
        model = LogisticRegression(C=cfg[3], max_iter=3000, class_weight="balanced")
        return model.fit(features(x["train"], emb["train"], lex["train"], cfg[:3]), y_train)

    grid_record = []
    chosen = CHOSEN
    if not args.quick:
        best = -1.0
        for cfg in GRID:
            model = fit(cfg)
            pred = model.predict(features(x["val"], emb["val"], lex["val"], cfg[:3]))
            r = scores(splits["val"][1], pred)["macro_recall"]
            grid_record.append({"weights_and_C": list(cfg), "val_macro_recall": r})
            print(f"grid {cfg}: val macro-recall {r:.4f}")
            if r > best:
                best, chosen = r, cfg
    model = fit(chosen)
    a, b, c, _ = chosen
    v = len(tfidf.vocab)
    coef = model.coef_.T  # features × classes
    head = SentimentHead(
        tfidf=tfidf,
        w_tfidf=coef[:v] * a,
        w_embedding=coef[v : v + emb["train"].shape[1]] * b,
        w_lexicon=coef[v + emb["train"].shape[1] :] * c,
        bias=model.intercept_,
    )
    result = {}
    for split in ("val", "test"):
        p = head.predict_proba(splits[split][0], emb[split])
        result[split] = scores(splits[split][1], p.argmax(axis=1))
    record = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": "TweetEval sentiment (SemEval-2017 4A): train 45,615 (reconstructed text), "
        "val 2,000, test 12,284",
        "embedding_model": MODEL_NAME,
        "features": f"TF-IDF ({v} terms, min_df={MIN_DF}, uni+bigrams) | "
        "MiniLM mean-pooled 384-d | lexicon (compound, log1p pos, log1p |neg|)",
        "classifier": "multinomial logistic regression, class_weight=balanced",
        "block_weights_and_C": list(chosen),
        "grid_on_val": grid_record,
        "lexicon_thresholds_on_train": list(thresholds),
        "val": result["val"],
        "test": result["test"],
    }
    head = SentimentHead(head.tfidf, head.w_tfidf, head.w_embedding, head.w_lexicon,
                         head.bias, record)  # fmt: skip
    head.save(args.out)
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")
    print(json.dumps(record, indent=2))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
