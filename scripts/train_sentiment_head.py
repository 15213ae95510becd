"""Train the ``embedding`` sentiment analyzer's head on TweetEval and ship it.

Reads ``../shared/data/tweeteval_sentiment/`` (train 45,615 / val 2,000 / test 12,284
tweets; labels 0 negative, 1 neutral, 2 positive), then:

1. normalises the tweets as the analyzer does at run time;
2. runs the bundled MiniLM model over them once (GPU if present) and keeps every
   candidate pooling (:data:`CANDIDATES`: each hidden state's mean over word pieces, the
   last one's max), caching them in ``--cache`` (float16) so a rerun takes seconds
   (one pass over 60k tweets takes 5 to 40 minutes on a small, shared CPU);
3. chooses the lexicon analyzer's two label thresholds on the **train** split
   (maximum macro-averaged recall), for ``socialcrm.listening.lexicon.THRESHOLDS``;
4. fits a TF-IDF vocabulary on train, and a multinomial logistic regression on
   [TF-IDF | pooled embedding blocks | lexicon features] on train, with balanced class
   weights; which pooled blocks, the block weights and C are chosen on **val** from a
   small grid;
5. reports macro-recall, accuracy and macro-F1 on **test** once, for the chosen model,
   and writes ``src/socialcrm/listening/data/sentiment_head.npz`` (plain arrays, with
   this record in its ``meta``) and ``sentiment_head.json`` (the same record, readable).

Usage::

    python scripts/train_sentiment_head.py [--data DIR] [--cache DIR] [--quick]

``--quick`` skips the grid and uses the recorded choice. ``--cache`` defaults to
``.bench/sentiment-emb`` in the checkout (git-ignored).
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

from socialcrm.listening.embedding import DIM, MODEL_NAME, PooledEmbedder
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
CANDIDATES = (*(f"mean:{k}" for k in range(7)), "max:6")
"""Every pooling the grid may pick from, computed in one pass and cached."""
# (pooled blocks, (tfidf weight, embedding weight, lexicon weight, C)): the grid on val.
GRID: list[tuple[tuple[str, ...], tuple[float, float, float, float]]] = [
    (("mean:6",), (1.0, 1.5, 0.5, 1.0)),  # the previous head's choice
    (("mean:6", "max:6"), (1.0, 1.5, 0.5, 1.0)),
    (("mean:6", "mean:5", "mean:4"), (1.0, 1.5, 0.5, 1.0)),
    (("mean:6", "mean:5", "mean:4"), (1.0, 1.0, 0.5, 1.0)),
    (("mean:6", "mean:4", "max:6"), (1.0, 1.5, 0.5, 1.0)),
    (("mean:6", "mean:5", "mean:4", "mean:3", "max:6"), (1.0, 1.5, 0.5, 1.0)),
    (("mean:6", "mean:5", "mean:4", "mean:3", "max:6"), (1.0, 1.0, 0.5, 1.0)),
]
CHOSEN = GRID[3]  # the best on val (see sentiment_head.json)
MIN_DF = 2
MAX_TERMS = 60_000


def load_split(data: Path, split: str) -> tuple[list[str], np.ndarray]:
    text_file, label_file = FILES[split]
    lines = (data / text_file).read_text("utf-8").split("\n")
    labels = np.array([int(x) for x in (data / label_file).read_text().split()])
    texts = lines[: len(labels)]
    return normalise_array(pa.array(texts, pa.string())).to_pylist(), labels


def embed_cached(texts: list[str], cache: Path, split: str,
                 embedder: PooledEmbedder) -> np.ndarray:  # fmt: skip
    """(texts, blocks, 384) float16: every candidate pooling of every text."""
    digest = hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:12]
    path = cache / f"{split}-{MODEL_NAME}-pooled{len(CANDIDATES)}-{digest}.npy"
    if path.exists():
        return np.load(path)
    t0 = time.perf_counter()
    vectors = embedder.encode(texts).astype(np.float16).reshape(len(texts), -1, DIM)
    print(f"embedded {split}: {len(texts)} tweets in {time.perf_counter() - t0:.0f} s")
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def blocks(pooled: np.ndarray, pooling: tuple[str, ...]) -> np.ndarray:
    """The chosen blocks, side by side, as :class:`PooledEmbedder` ``(pooling)`` gives them."""
    return np.hstack([pooled[:, CANDIDATES.index(b)].astype(np.float32) for b in pooling])


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


Scores = dict[str, dict[str, float]]


def grid_cache(cache: Path, splits: dict[str, tuple[list[str], np.ndarray]],
               measured: Scores | None = None) -> Scores:  # fmt: skip
    """Val scores of grid points already fitted on these train and val splits (read, or
    written when ``measured`` is given): a rerun fits only the points it has not seen."""
    digest = hashlib.sha1()
    for split in ("train", "val"):
        texts, labels = splits[split]
        digest.update("\n".join(texts).encode("utf-8") + labels.tobytes())
    path = cache / f"grid-{MODEL_NAME}-{digest.hexdigest()[:12]}.json"
    if measured is not None:
        cache.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(measured, indent=1) + "\n", "utf-8")
        return measured
    return json.loads(path.read_text("utf-8")) if path.exists() else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench" / "sentiment-emb")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="skip the grid search on val")
    args = parser.parse_args()

    splits = {s: load_split(args.data, s) for s in FILES}
    embedder = PooledEmbedder(CANDIDATES)
    pooled = {s: embed_cached(t, args.cache, s, embedder) for s, (t, _) in splits.items()}
    thresholds = tune_lexicon_thresholds(*splits["train"])

    train_texts, y_train = splits["train"]
    tfidf = Tfidf.fit(train_texts, min_df=MIN_DF, max_terms=MAX_TERMS)
    x = {s: tfidf.transform(t) for s, (t, _) in splits.items()}
    lex = {s: lexicon_features(t) for s, (t, _) in splits.items()}

    def fit(pooling: tuple[str, ...], cfg: tuple[float, float, float, float]
            ) -> LogisticRegression:  # fmt: skip
        model = LogisticRegression(C=cfg[3], max_iter=3000, class_weight="balanced")
        emb = blocks(pooled["train"], pooling)
        return model.fit(features(x["train"], emb, lex["train"], cfg[:3]), y_train)

    grid_record = []
    pooling, chosen = CHOSEN
    if not args.quick:
        best = -1.0
        measured = grid_cache(args.cache, splits)
        for pool, cfg in GRID:
            key = json.dumps([list(pool), list(cfg)])
            if key in measured:  # one fit takes minutes on a small CPU
                val = measured[key]
                print(f"grid {pool} {cfg}: val {val} (cached)")
            else:
                t0 = time.perf_counter()
                model = fit(pool, cfg)
                emb_val = blocks(pooled["val"], pool)
                pred = model.predict(features(x["val"], emb_val, lex["val"], cfg[:3]))
                val = scores(splits["val"][1], pred)
                print(f"grid {pool} {cfg}: val {val} "
                      f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
                measured[key] = val
                grid_cache(args.cache, splits, measured)
            r = val["macro_recall"]
            grid_record.append({"pooling": list(pool), "weights_and_C": list(cfg), "val": val})
            if r > best:
                best, pooling, chosen = r, pool, cfg
    model = fit(pooling, chosen)
    emb = {s: blocks(pooled[s], pooling) for s in splits}
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
        "embedding_pooling": list(pooling),
        "features": f"TF-IDF ({v} terms, min_df={MIN_DF}, uni+bigrams) | MiniLM "
        f"{'+'.join(pooling)} ({emb['train'].shape[1]}-d, each block unit length) | "
        "lexicon (compound, log1p pos, log1p |neg|)",
        "classifier": "multinomial logistic regression, class_weight=balanced",
        "block_weights_and_C": list(chosen),
        "chosen_on": "val macro-recall (the grid below); test scored once, after the choice",
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
