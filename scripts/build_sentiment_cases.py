"""Draw the real-tweet case set for the lexicon's negation, contrast and sarcasm rules.

Reads TweetEval's **train** split (never test) from ``../shared/data/tweeteval_sentiment``
and keeps the tweets in which one of the constructions the rules of
``socialcrm.listening.lexicon`` are about occurs, found by plain patterns (not by what any
analyzer says about them):

- ``negation-sentence``: a negation word, then the end of a sentence within three words
  (VADER lets "not"/"never" flip words of the next sentence);
- ``negated-context``: a negation shortly before "arrived", "fixed", "working", ...;
- ``phrase``: "never again", "doesn't work", "please fix", "nothing special", ...;
- ``sarcasm``: 😒 🙄 🙃 or a sarcastic formula ("thanks a lot", "yeah right", ...);
- ``contrast``: "however", or "but" after a first clause.

Up to ``CAP`` tweets per construction, drawn with a fixed seed, at most 300 in all; the
label is TweetEval's. Writes ``tests/data/tweeteval_cases/cases.tsv`` (row in the train
file, label, construction, text).

    python scripts/build_sentiment_cases.py [--data DIR]
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "tweeteval_sentiment"
OUT = ROOT / "tests" / "data" / "tweeteval_cases" / "cases.tsv"
NEG = r"(?:not|never|no|nothing|nobody|none|cannot|\w+n['’]?t)"
PATTERNS = {
    "negation-sentence": rf"\b{NEG}\b(?:\s+\S+){{0,2}}?[.!?;](?:\s|$)+\S",
    "negated-context": rf"\b{NEG}\b(?:\s+\S+){{0,2}}\s+"
    r"(?:arrived|arrive|fixed|working|delivered)\b",
    "phrase": r"\b(?:never again|doesn['’]?t work|didn['’]t work|won['’]t work|stopped working|"
    r"please fix|thanks for nothing|nothing special|waste of (?:money|time))\b",
    "sarcasm": r"😒|🙄|🙃|\b(?:thanks a lot|yeah right|just what i needed|love that for me|"
    r"oh great|just great|so glad i paid)\b",
    "contrast": r"\bhowever\b|\w\W*\s+but\b",
}
CAP = {"negation-sentence": 110, "negated-context": 40, "phrase": 40, "sarcasm": 30,
       "contrast": 80}  # fmt: skip
SEED = 19


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    labels = [int(x) for x in (args.data / "train_labels.txt").read_text().split()]
    texts = (args.data / "train_text.reconstructed.txt").read_text("utf-8").split("\n")
    rng = np.random.default_rng(SEED)
    taken: set[int] = set()
    rows = []
    for name, pattern in PATTERNS.items():
        rx = re.compile(pattern, re.IGNORECASE)
        hits = [i for i, t in enumerate(texts[: len(labels)]) if rx.search(t) and i not in taken]
        pick = sorted(rng.choice(hits, size=min(CAP[name], len(hits)), replace=False).tolist())
        taken.update(pick)
        rows += [(i, labels[i], name) for i in pick]
        print(f"{name}: {len(hits)} train tweets, {len(pick)} kept")
    assert len(rows) <= 300
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        w.writerow(["train_row", "label", "construction"])
        w.writerows(rows)
    print(f"wrote {len(rows)} tweets to {args.out}")


if __name__ == "__main__":
    main()
