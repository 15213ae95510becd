"""Amazon review sentences, read from the PyPI source package that ships them.

``tests/data/idea_posts/amazon_labels.csv`` holds no review text: only each sentence's id
in VADER's ``amazonReviewSnippets_GroundTruth.txt`` (review number ``_`` sentence
number), its stratum, its split and its label. The text comes from that file as shipped
inside ``vaderSentiment`` 3.3.2's source distribution
(``additional_resources/hutto_ICWSM_2014.tar.gz``), downloaded once with ``pip download``
(the package registry is reachable wherever the tests install their dependencies) into
``.bench/wheels`` and checked by its sha256, as ``tests/listening/news_corpus.py`` does
for the TASS articles.

The fresh held-out sample (``fresh_labels.csv``) names its sentences the same way: VADER's
tweets (``tweet:<id>``, ``tweets_GroundTruth.txt`` in the same package) and the posts of
SemEval-2019 Task 9 subtask A's evaluation data (``semeval:<id>``; Negi et al. 2019,
CC BY-NC-SA 4.0), which no package ships: the tests read it from
``SOCIALCRM_TEST_DATA`` or ``../shared/data`` (``semeval2019_task9/``), or else from
``.bench/semeval2019_task9/`` in the repository, sha256 checked, and skip without it.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tarfile
from pathlib import Path

from tests.pypi_files import CorpusUnavailable, package_file
from tests.shared_data import SHARED_DATA

REPO = Path(__file__).resolve().parents[2]
LABELS = REPO / "tests" / "data" / "idea_posts" / "amazon_labels.csv"
SDIST = "vaderSentiment-3.3.2.tar.gz"
SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
INSIDE = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
CORPUS = "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"
TWEETS = "hutto_ICWSM_2014/tweets_GroundTruth.txt"
FRESH = REPO / "tests" / "data" / "idea_posts" / "fresh_labels.csv"
SEMEVAL = "SubtaskA_EvaluationData_labeled.csv"
SEMEVAL_SHA256 = "2ef8e05d79b95665ef495e026c292febc1570ad07745951a7ae5236e3322ade3"
SEMEVAL_DIRS = (SHARED_DATA / "semeval2019_task9", REPO / ".bench" / "semeval2019_task9")


def sdist() -> Path:
    return package_file("vaderSentiment==3.3.2", SDIST, SDIST_SHA256, source=True)


def review_sentences(corpus: str = CORPUS) -> dict[str, str]:
    """Every sentence of one of VADER's corpora (the Amazon reviews unless ``corpus``
    names another file of the package) by its id (``"258_25"``)."""
    with tarfile.open(sdist()) as outer:
        inner = outer.extractfile(INSIDE)
        assert inner is not None
        with tarfile.open(fileobj=io.BytesIO(inner.read())) as resources:
            raw = resources.extractfile(corpus)
            assert raw is not None
            text = raw.read().decode("utf-8")
    out = {}
    for line in text.splitlines():
        if line.strip():
            sid, _, sentence = line.split("\t", 2)
            out[sid] = sentence.strip()
    return out


def semeval_sentences() -> dict[str, str]:
    """SemEval-2019 Task 9 subtask A's evaluation sentences by id (the organisers' label
    column is not read)."""
    for folder in SEMEVAL_DIRS:
        path = folder / SEMEVAL
        if path.exists():
            if hashlib.sha256(path.read_bytes()).hexdigest() != SEMEVAL_SHA256:
                raise CorpusUnavailable(f"{path}: sha256 differs from the one these tests know")
            with path.open(encoding="utf-8", newline="") as f:
                return {sid: text.strip() for sid, text, _label in csv.reader(f)}
    where = " or ".join(str(d) for d in SEMEVAL_DIRS)
    raise CorpusUnavailable(f"{SEMEVAL} (SemEval-2019 Task 9, CC BY-NC-SA) is in neither {where}")


def fresh_sentences() -> list[dict[str, str]]:
    """Rows of ``fresh_labels.csv`` with their ``source`` and ``text``."""
    text = {"tweet": review_sentences(TWEETS), "semeval": semeval_sentences()}
    with FRESH.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    out = []
    for row in rows:
        source, _, sid = row["id"].partition(":")
        out.append({**row, "source": source, "text": text[source][sid]})
    return out


def labelled_sentences() -> list[dict[str, str]]:
    """Rows of ``amazon_labels.csv`` with their ``text``."""
    corpus = review_sentences()
    with LABELS.open(encoding="utf-8", newline="") as f:
        return [{**row, "text": corpus[row["id"]]} for row in csv.DictReader(f)]
