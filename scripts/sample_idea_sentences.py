"""Draw the Amazon review sentences labelled idea / not an idea (issue 19).

Reads VADER's ``amazonReviewSnippets_GroundTruth.txt`` (vaderSentiment 3.3.2 source
package, ``additional_resources/hutto_ICWSM_2014.tar.gz``) and writes the sample, with
its text and an empty ``is_idea`` column, to stdout, for labelling by reading. The labels
are kept in ``tests/data/idea_posts/amazon_labels.csv`` without the text (the sentences
are Amazon customers' reviews, collected by Hu & Liu 2004; the tests read them from the
package, ``tests/collaborating/review_corpus.py``). Two strata:

- ``cue``: every sentence with a word that a proposal often carries (:data:`CUE`: should,
  wish, would, could, need, hope, option, instead, …) — a census, not a sample;
- ``random``: :data:`N_RANDOM` of the other sentences, drawn with ``random.Random(19)``.

The split is by review (the number before ``_`` in the sentence id), so sentences of one
review never sit on both sides: review numbers shuffled with ``random.Random(19)``, the
first half ``dev``, the rest ``test``. Drawn before any labelling and before the idea
filter was run on any of it.

    python scripts/sample_idea_sentences.py PATH/amazonReviewSnippets_GroundTruth.txt

**The fresh sample** (``fresh``; ``tests/data/idea_posts/fresh_labels.csv``), drawn after
the Amazon sample had been used for development (both of its splits), for a held-out
measurement on posts that no rule was written on. Two sources, nothing of either used
before:

- ``semeval``: every sentence (a census) of the final evaluation data of SemEval-2019 Task 9
  subtask A (Negi et al. 2019; ``SubtaskA_EvaluationData_labeled.csv``): posts on a
  public suggestion forum for a software maker's developer platform, so posts that
  address the maker and its products, as an ideas board's are. The organisers' label
  column is not written out (the sentences were labelled without it);
- ``tweet``: every sentence with a :data:`CUE` word (stratum ``cue``) of VADER's
  ``tweets_GroundTruth.txt`` (same package as the reviews), plus :data:`N_RANDOM_TWEETS`
  of the others at random (stratum ``random``, ``random.Random(19)``): everyday public
  posts, almost none addressed to a maker, where a proposal is a false idea.

    python scripts/sample_idea_sentences.py fresh SubtaskA_EvaluationData_labeled.csv \
        PATH/tweets_GroundTruth.txt
"""

from __future__ import annotations

import csv
import random
import re
import sys
from pathlib import Path

CUE = re.compile(
    r"\b(?:should|shouldn't|wish|would|if only|needs?|could|please|i'd|it'd|suggest|suggestion"
    r"|hope|why not|why don't|how about|ought|prefer|would've|missing|lacks?|lacking"
    r"|only (?:complaint|gripe|wish|thing)|improve|improvement"
    r"|next (?:version|model|generation|release)|future|option|instead)\b",
    re.IGNORECASE,
)
N_RANDOM = 200
N_RANDOM_TWEETS = 100


def main(path: str) -> None:
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            sid, _, text = line.split("\t", 2)
            rows.append((sid, text.strip()))
    cue = [r for r in rows if CUE.search(r[1])]
    rest = [r for r in rows if not CUE.search(r[1])]
    drawn = random.Random(19).sample(rest, N_RANDOM)
    reviews = sorted({sid.split("_")[0] for sid, _ in rows}, key=int)
    random.Random(19).shuffle(reviews)
    dev = set(reviews[: len(reviews) // 2])
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id", "stratum", "split", "is_idea", "text"])
    chosen = [(r, "cue") for r in cue] + [(r, "random") for r in drawn]
    key = lambda x: tuple(int(p) for p in x[0][0].split("_"))  # noqa: E731
    for (sid, text), stratum in sorted(chosen, key=key):
        split = "dev" if sid.split("_")[0] in dev else "test"
        out.writerow([sid, stratum, split, "", text])


def fresh(semeval_path: str, tweets_path: str) -> None:
    """Write the fresh sample (module docstring), text included, ``is_idea`` empty."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id", "source", "stratum", "is_idea", "text"])
    with Path(semeval_path).open(encoding="utf-8", newline="") as f:
        for sid, text, _label in csv.reader(f):  # the organisers' label is left out
            out.writerow([f"semeval:{sid}", "semeval", "census", "", text.strip()])
    tweets = []
    for line in Path(tweets_path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            sid, _, text = line.split("\t", 2)
            tweets.append((sid, text.strip()))
    cue = [t for t in tweets if CUE.search(t[1])]
    drawn = random.Random(19).sample([t for t in tweets if not CUE.search(t[1])], N_RANDOM_TWEETS)
    chosen = [(t, "cue") for t in cue] + [(t, "random") for t in drawn]
    for (sid, text), stratum in sorted(chosen, key=lambda x: int(x[0][0])):
        out.writerow([f"tweet:{sid}", "tweet", stratum, "", text])


if __name__ == "__main__":
    if sys.argv[1] == "fresh":
        fresh(sys.argv[2], sys.argv[3])
    else:
        main(sys.argv[1])
