"""Fine-tune MiniLM's top layers for the ``embedding`` sentiment analyzer (LoRA, CPU).

The shipped head (``scripts/train_sentiment_head.py``) is a logistic regression on
[TF-IDF | means of MiniLM's hidden states 6, 5, 4 | lexicon] over a *frozen* MiniLM. This
script keeps that head's TF-IDF and lexicon weights fixed and trains, jointly, low-rank
adapters (``W + B @ A``, rank ``--rank``) on every linear layer (attention query, key,
value, output; feed-forward in and out) of MiniLM's top ``--layers`` layers and a
correction to the head's embedding weights and bias. It starts from the shipped head
exactly (``B = 0``), so step 0 scores what the head scores, and it learns what the
frozen encoder could not give the head.

Cheap enough for a small, shared CPU:

1. train tweets are streamed in a seeded random order (each seen once; the run stops at
   ``--until`` UTC or after ``--max-train`` tweets): the frozen lower layers run without
   gradients, only the adapted layers forward and backward; batches are sorted by length;
2. class-balanced cross-entropy (the head's ``class_weight=balanced``);
3. every ``--eval-every`` tweets the model is scored on **val** (its lower layers' states
   cached once), and the best val macro-recall is kept (early stopping on val; step 0,
   the shipped head, is a candidate too);
4. the chosen delta is written as plain arrays (``sentiment_delta.npz``, merged into the
   loaded weights at run time by ``PooledEmbedder(delta=...)``), with the new head; both
   are scored through the run-time analyzer on val, then **once** on test; a few fixed
   tweets' probabilities are saved in the record for the tests.

The delta and head replace the shipped ones (``--out``) only when the chosen model beats
the shipped head on val; otherwise they stay in ``--cache``.

Usage::

    nice -n 19 python scripts/finetune_sentiment.py --until 16:00 [--rank 8] [--layers 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_sentiment_head import DATA, ROOT, load_split, scores

from socialcrm.listening.embedding import MAX_TOKENS, MODEL_NAME, PooledEmbedder
from socialcrm.listening.sentiment import (
    EmbeddingAnalyzer,
    SentimentHead,
    lexicon_features,
    shipped_head,
)

OUT = ROOT / "src" / "socialcrm" / "listening" / "data"
ADAPTED = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)
FIXED_TWEETS = [
    "I love this jacket, best purchase this year",
    "my order still hasn't arrived and nobody answers",
    "the store opens at 9 on Monday",
    "not bad at all, though the battery could be better",
    "Love that for me 😒",
]
"""Tweets whose probabilities the record keeps (the tests recompute them)."""


class LoRALinear(nn.Module):
    """``base(x) + scale * x @ A.T @ B.T``; only A and B train."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.A = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def additive_mask(mask: torch.Tensor) -> torch.Tensor:
    return ((1.0 - mask.float()) * -1e9)[:, None, None, :]


def run_layers(layers: Any, h: torch.Tensor, mask: torch.Tensor) -> list[torch.Tensor]:
    """Hidden states after each layer (a transformers BertLayer returns a tensor or tuple)."""
    add = additive_mask(mask)
    out = []
    for layer in layers:
        h = layer(h, add)
        h = h[0] if isinstance(h, tuple) else h
        out.append(h)
    return out


def mean_unit(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(h.dtype)
    v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return nn.functional.normalize(v, dim=1)


class Tuner:
    """MiniLM with adapters on its top layers and the head's embedding part."""

    def __init__(self, head: SentimentHead, pooling: tuple[str, ...], layers: int,
                 rank: int, alpha: float) -> None:  # fmt: skip
        st = PooledEmbedder(pooling).model
        self.tokenizer = st.tokenizer
        self.bert: Any = st[0].auto_model
        for p in self.bert.parameters():
            p.requires_grad_(False)
        n = len(self.bert.encoder.layer)
        self.first = n - layers  # index of the first adapted layer
        self.pool_layers = [int(b.split(":")[1]) for b in pooling]
        if any(not b.startswith("mean:") for b in pooling) or min(self.pool_layers) < self.first:
            raise ValueError("pooling must be means of the adapted layers' input or outputs")
        self.adapters: dict[str, LoRALinear] = {}
        for i in range(self.first, n):
            for name in ADAPTED:
                full = f"encoder.layer.{i}.{name}"
                parent_name, _, attr = full.rpartition(".")
                parent = self.bert.get_submodule(parent_name)
                lora = LoRALinear(getattr(parent, attr), rank, alpha)
                setattr(parent, attr, lora)
                self.adapters[full] = lora
        self.w = torch.tensor(head.w_embedding, dtype=torch.float32)
        self.dw = nn.Parameter(torch.zeros_like(self.w))
        self.db = nn.Parameter(torch.zeros(3))

    def lora_params(self) -> list[nn.Parameter]:
        return [p for a in self.adapters.values() for p in (a.A, a.B)]

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return dict(self.tokenizer(texts, padding=True, truncation=True,
                                   max_length=MAX_TOKENS, return_tensors="pt"))  # fmt: skip

    @torch.no_grad()
    def lower(self, enc: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """Frozen part: hidden states 0 .. first (embedding layer's output, then layers)."""
        h = self.bert.embeddings(input_ids=enc["input_ids"], token_type_ids=enc["token_type_ids"])
        states = [h]
        states += run_layers(self.bert.encoder.layer[: self.first], h, enc["attention_mask"])
        return states

    def pooled(self, states_in: torch.Tensor, frozen: dict[int, torch.Tensor],
               mask: torch.Tensor) -> torch.Tensor:  # fmt: skip
        upper = run_layers(self.bert.encoder.layer[self.first :], states_in, mask)
        blocks = []
        for k in self.pool_layers:
            if k > self.first:
                blocks.append(mean_unit(upper[k - self.first - 1], mask))
            else:
                blocks.append(frozen[k])
        return torch.cat(blocks, 1)

    def logits(self, emb: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        return offset + emb @ (self.w + self.dw) + self.db

    def delta_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for name, a in self.adapters.items():
            out[f"{name}.A"] = a.A.detach().numpy().astype(np.float32)
            out[f"{name}.B"] = (a.B.detach() * a.scale).numpy().astype(np.float32)
        return out

    def state(self) -> dict[str, torch.Tensor]:
        s = {f"{n}.{k}": getattr(a, k).detach().clone()
             for n, a in self.adapters.items() for k in ("A", "B")}  # fmt: skip
        s["dw"], s["db"] = self.dw.detach().clone(), self.db.detach().clone()
        return s

    def load_state(self, s: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for n, a in self.adapters.items():
                a.A.copy_(s[f"{n}.A"])
                a.B.copy_(s[f"{n}.B"])
            self.dw.copy_(s["dw"])
            self.db.copy_(s["db"])


def offsets(head: SentimentHead, texts: list[str]) -> np.ndarray:
    """The head's class scores without its embedding part (TF-IDF + lexicon + bias)."""
    x = head.tfidf.transform(texts)
    return np.asarray(x @ head.w_tfidf + lexicon_features(texts) @ head.w_lexicon + head.bias)


def batches_by_length(lengths: np.ndarray, size: int, rng: np.random.Generator
                      ) -> list[np.ndarray]:  # fmt: skip
    order = np.argsort(lengths, kind="stable")
    out = [order[s : s + size] for s in range(0, len(order), size)]
    rng.shuffle(out)  # type: ignore[arg-type]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cache", type=Path, default=ROOT / ".bench" / "sentiment-ft")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--until", default=None, help="stop training at HH:MM UTC today")
    parser.add_argument("--max-train", type=int, default=45_615)
    parser.add_argument("--layers", type=int, default=2, help="top layers adapted")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--lr", type=float, default=4e-4, help="adapters' learning rate")
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--chunk", type=int, default=512, help="tweets sorted by length at once")
    parser.add_argument("--eval-every", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a minute's check: 200 val tweets, 64 train, no test, --cache only",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    deadline = None
    if args.until:
        hh, mm = (int(x) for x in args.until.split(":"))
        now = datetime.now(UTC)
        deadline = now.replace(hour=hh, minute=mm, second=0, microsecond=0).timestamp()
    t_start, c_start = time.perf_counter(), cpu_seconds()
    load_start = os.getloadavg()

    head = shipped_head()
    pooling = tuple(head.meta["embedding_pooling"])
    splits = {s: load_split(args.data, s) for s in ("train", "val", "test")}
    if args.smoke:
        splits = {s: (t[:200], y[:200]) for s, (t, y) in splits.items()}
        args.max_train, args.eval_every, args.out = 64, 32, args.cache / "smoke"
    tuner = Tuner(head, pooling, args.layers, args.rank, args.alpha)
    counts = np.bincount(splits["train"][1], minlength=3)
    class_w = torch.tensor(len(splits["train"][1]) / (3 * counts), dtype=torch.float32)
    off = {s: torch.tensor(offsets(head, splits[s][0]), dtype=torch.float32)
           for s in ("train", "val")}  # fmt: skip

    # val: the frozen lower layers' states, cached once (batches by length)
    val_texts, y_val = splits["val"]
    val_batches = []
    order = np.argsort([len(t) for t in val_texts], kind="stable")
    for s in range(0, len(order), 64):
        idx = order[s : s + 64]
        enc = tuner.tokenize([val_texts[i] for i in idx])
        states = tuner.lower(enc)
        frozen = {k: mean_unit(states[k], enc["attention_mask"])
                  for k in tuner.pool_layers if k <= tuner.first}  # fmt: skip
        val_batches.append((idx, states[tuner.first], frozen, enc["attention_mask"]))
    print(f"val states cached: {time.perf_counter() - t_start:.0f} s, load {os.getloadavg()}",
          flush=True)  # fmt: skip

    def evaluate() -> tuple[dict[str, float], np.ndarray]:
        tuner.bert.eval()
        p = np.zeros((len(val_texts), 3))
        with torch.no_grad():
            for idx, h, frozen, mask in val_batches:
                z = tuner.logits(tuner.pooled(h, frozen, mask), off["val"][idx])
                p[idx] = torch.softmax(z, 1).numpy()
        return scores(y_val, p.argmax(1)), p

    history: list[dict[str, Any]] = []
    val0, _ = evaluate()
    best = (val0["macro_recall"], 0, tuner.state())
    history.append({"train_tweets": 0, "val": val0})
    print(f"step 0 (the shipped head): val {val0}", flush=True)

    optim = torch.optim.AdamW([
        {"params": tuner.lora_params(), "lr": args.lr, "weight_decay": 0.0},
        {"params": [tuner.dw, tuner.db], "lr": args.head_lr, "weight_decay": 0.0},
    ])  # fmt: skip
    train_texts, y_train = splits["train"]
    stream = rng.permutation(len(train_texts))[: args.max_train]
    seen, since_eval, step, loss_sum = 0, 0, 0, 0.0
    y_t = torch.tensor(y_train)
    stopped = "all training tweets seen once"
    for c in range(0, len(stream), args.chunk):
        if deadline is not None and time.time() > deadline:
            stopped = f"deadline {args.until} UTC"
            break
        chunk = stream[c : c + args.chunk]
        lengths = np.array([len(train_texts[i]) for i in chunk])
        for b in batches_by_length(lengths, args.batch, rng):
            idx = chunk[b]
            enc = tuner.tokenize([train_texts[i] for i in idx])
            states = tuner.lower(enc)
            mask = enc["attention_mask"]
            frozen = {k: mean_unit(states[k], mask) for k in tuner.pool_layers if k <= tuner.first}
            tuner.bert.train()
            z = tuner.logits(tuner.pooled(states[tuner.first], frozen, mask), off["train"][idx])
            loss = nn.functional.cross_entropy(z, y_t[idx], weight=class_w)
            optim.zero_grad()
            loss.backward()
            warm = min(1.0, (step + 1) / 30)  # a short linear warm-up
            for g, lr in zip(optim.param_groups, (args.lr, args.head_lr), strict=True):
                g["lr"] = lr * warm
            optim.step()
            step += 1
            loss_sum += float(loss)
            seen += len(idx)
            since_eval += len(idx)
        if since_eval >= args.eval_every:
            val, _ = evaluate()
            history.append({"train_tweets": seen, "val": val, "loss": round(loss_sum / step, 4)})
            print(f"{seen} tweets, {step} steps, loss {loss_sum / step:.4f}: val {val} "
                  f"({time.perf_counter() - t_start:.0f} s wall, "
                  f"{cpu_seconds() - c_start:.0f} s CPU, load {os.getloadavg()})",
                  flush=True)  # fmt: skip
            since_eval = 0
            if val["macro_recall"] > best[0]:
                best = (val["macro_recall"], seen, tuner.state())
                args.cache.mkdir(parents=True, exist_ok=True)
                torch.save(best[2], args.cache / "best-state.pt")
    if since_eval:
        val, _ = evaluate()
        history.append({"train_tweets": seen, "val": val, "loss": round(loss_sum / step, 4)})
        print(f"{seen} tweets (end): val {val}", flush=True)
        if val["macro_recall"] > best[0]:
            best = (val["macro_recall"], seen, tuner.state())
    train_wall, train_cpu = time.perf_counter() - t_start, cpu_seconds() - c_start
    print(f"training stopped ({stopped}) after {seen} tweets: best val macro-recall {best[0]} "
          f"at {best[1]} tweets", flush=True)  # fmt: skip
    tuner.load_state(best[2])
    improved = best[1] > 0
    target = args.out if improved else args.cache / "not-shipped"
    target.mkdir(parents=True, exist_ok=True)
    delta_path = target / "sentiment_delta.npz"
    head_path = target / "sentiment_head.npz"
    np.savez_compressed(delta_path, allow_pickle=False, **tuner.delta_arrays())
    new_head = SentimentHead(
        tfidf=head.tfidf,
        w_tfidf=head.w_tfidf,
        w_embedding=(tuner.w + tuner.dw).detach().numpy().astype(np.float64),
        w_lexicon=head.w_lexicon,
        bias=head.bias + tuner.db.detach().numpy().astype(np.float64),
    )
    encoder = PooledEmbedder(pooling, delta=delta_path)
    analyzer = EmbeddingAnalyzer(new_head, encoder)
    result = {}
    for split in ("val", "test"):  # the run-time path; test once, after the choice
        texts, y = splits[split]
        p = analyzer.predict_proba(texts)
        result[split] = scores(y, p.argmax(1))
        print(f"{split} through the analyzer: {result[split]}", flush=True)
    fixed = analyzer.predict_proba(FIXED_TWEETS)
    old = head.meta
    record = {
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": old["data"],
        "embedding_model": MODEL_NAME,
        "embedding_pooling": list(pooling),
        "encoder_delta": {
            "file": "sentiment_delta.npz",
            "version": encoder.version,
            "how": f"LoRA rank {args.rank} (alpha {args.alpha}) on {', '.join(ADAPTED)} of "
            f"MiniLM layers {tuner.first + 1}-{len(tuner.bert.encoder.layer)}; "
            "W + B @ A merged at load time",
            "bytes": delta_path.stat().st_size,
        },
        "features": old["features"],
        "classifier": "the previous head (logistic regression on frozen MiniLM, chosen on "
        "val, see previous_head) with its TF-IDF and lexicon weights kept; its embedding "
        "weights and bias fine-tuned jointly with the adapters",
        "training": {
            "train_tweets_seen": seen,
            "stopped": stopped,
            "loss": "cross-entropy, balanced class weights",
            "batch": args.batch,
            "lr_adapters": args.lr,
            "lr_head": args.head_lr,
            "seed": args.seed,
            "eval_every": args.eval_every,
            "wall_s": round(train_wall),
            "cpu_s": round(train_cpu),
            "load_avg_start": [round(x, 1) for x in load_start],
            "load_avg_end": [round(x, 1) for x in os.getloadavg()],
            "threads": args.threads,
        },
        "chosen_on": "val macro-recall, checked every eval_every train tweets (step 0 = the "
        "previous head); test scored once, after the choice",
        "val_history": history,
        "chosen_at_train_tweets": best[1],
        "block_weights_and_C": old["block_weights_and_C"],
        "grid_on_val": old["grid_on_val"],
        "lexicon_thresholds_on_train": old["lexicon_thresholds_on_train"],
        "previous_head": {"val": old["val"], "test": old["test"], "trained_at": old["trained_at"]},
        "val": result["val"],
        "test": result["test"],
        "fixed_tweets": {"texts": FIXED_TWEETS, "proba": fixed.round(6).tolist()},
    }
    new_head = SentimentHead(new_head.tfidf, new_head.w_tfidf, new_head.w_embedding,
                             new_head.w_lexicon, new_head.bias, record)  # fmt: skip
    new_head.save(head_path)
    head_path.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n", "utf-8")
    print(json.dumps({k: record[k] for k in ("val", "test", "training", "val_history")}))
    print(
        f"wrote {delta_path} ({delta_path.stat().st_size / 1e6:.2f} MB) and {head_path}"
        f"{'' if improved else ' (not better on val than the shipped head: not shipped)'}"
    )


if __name__ == "__main__":
    main()
