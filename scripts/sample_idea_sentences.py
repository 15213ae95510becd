"""Draw the Amazon review sentences labelled idea / not an idea (issue 19).

Reads VADER's ``amazonReviewSnippets_GroundTruth.txt`` (vaderSentiment 3.3.2 source
package, ``additional_resources/hutto_ICWSM_2014``; MIT) and writes the sample, with an
empty ``is_idea`` column, to stdout. Two strata:

- ``cue``: every sentence with a word that a proposal often carries (:data:`CUE`: should,
  wish, would, could, need, hope, option, instead, …) — a census, not a sample;
- ``random``: :data:`N_RANDOM` of the other sentences, drawn with ``random.Random(19)``.

The split is by review (the number before ``_`` in the sentence id), so sentences of one
review never sit on both sides: review numbers shuffled with ``random.Random(19)``, the
first half ``dev``, the rest ``test``. Drawn before any labelling and before the idea
filter was run on any of it.

    python scripts/sample_idea_sentences.py PATH/amazonReviewSnippets_GroundTruth.txt
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


if __name__ == "__main__":
    main(sys.argv[1])
