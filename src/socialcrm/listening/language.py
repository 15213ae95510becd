"""Language of posts: the platform's code when it gives one, otherwise detected offline.

Detection uses py3langid (a naive Bayes model over byte n-grams, shipped in the
package) limited to the languages social listening mostly meets, so that short posts
are not labelled with rare languages. Two shortcuts keep bulk runs fast: a post with
fewer than two words is ``und`` (undetermined: "lol", "🔥🔥"), and a post made of
common English function words is ``en`` without asking the model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa

from socialcrm.listening.text import as_arrow, as_list, normalise_array, words

LANGUAGES = words(
    "en de fr es it pt nl sv da no fi pl cs tr ru uk ar he fa hi id ms tl ja ko zh el hu "
    "ro bg hr sk sl et lv lt ca eu gl cy ga is vi th"
)
UNDETERMINED = "und"

_ENGLISH = frozenset(
    words(
        "the and is are was were be been to of in on for with at by from this that it its my "
        "your our their you we they i me he she him her not no but or so if just have has had "
        "do does did can could would should will what when where why how who all get got "
        "there here an a still again about after before than then too very really"
    )
)
_WORD = re.compile(r"[^\W\d_]{2,}", re.UNICODE)


@cache
def _identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages(LANGUAGES)
    return ident


def detect_languages(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    given: Sequence[str | None] | pa.Array | pa.ChunkedArray | None = None,
) -> np.ndarray:
    """ISO 639-1 code per post (``und`` when too short to tell).

    ``given`` holds the platform's codes; where one is present it is kept (lower-cased).

    >>> texts = ["Die Jacke ist wirklich super, danke!", "my order is late", "lol", "La chaqueta"]
    >>> detect_languages(texts, given=[None, None, None, "ES"]).tolist()
    ['de', 'en', 'und', 'es']
    """
    clean = as_list(normalise_array(as_arrow(texts)))
    codes = [None] * len(clean) if given is None else as_list_optional(given)
    out = np.empty(len(clean), dtype=object)
    for i, (text, code) in enumerate(zip(clean, codes, strict=True)):
        if code:
            out[i] = re.split(r"[-_]", code.strip().lower())[0]
            continue
        words = [w.lower() for w in _WORD.findall(text)]
        if len(words) < 2:
            out[i] = UNDETERMINED
        elif text.isascii() and sum(w in _ENGLISH for w in words) >= max(1, len(words) // 4):
            out[i] = "en"
        else:
            out[i] = _identifier().classify(text)[0]
    return out


def as_list_optional(values: Sequence[str | None] | pa.Array | pa.ChunkedArray) -> list[str | None]:
    """Values as a list, keeping nulls as ``None``."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return list(values.to_pylist())
    return list(values)
