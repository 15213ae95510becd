"""Vectorised string helpers on NumPy's variable-width ``StringDType``.

Names, emails, handles and post texts are built for hundreds of thousands of rows at a
time; composing them with ``np.strings`` keeps the loops in C.
"""

from __future__ import annotations

import re
import unicodedata
import zlib
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

S = np.dtypes.StringDType()
_SLOT = re.compile(r"\{(\w+)\}")


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per (seed, concept), so that changing how one
    table is generated leaves every other table byte-identical."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def sarr(values: object) -> np.ndarray:
    return np.asarray(values, dtype=S)


def cat(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise concatenation of arrays and scalars."""
    out = sarr(parts[0])
    for p in parts[1:]:
        out = np.strings.add(out, sarr(p) if not isinstance(p, str) else p)
    return out


def fill(pattern: str, slots: dict[str, np.ndarray | str], n: int) -> np.ndarray:
    """Fill ``{name}`` slots of one pattern from arrays of length ``n``."""
    pieces: list[np.ndarray | str] = []
    pos = 0
    for m in _SLOT.finditer(pattern):
        if m.start() > pos:
            pieces.append(pattern[pos : m.start()])
        pieces.append(slots[m.group(1)])
        pos = m.end()
    if pos < len(pattern):
        pieces.append(pattern[pos:])
    out: np.ndarray = np.full(n, "", dtype=S)
    for p in pieces:
        out = np.strings.add(out, p if isinstance(p, str) else sarr(p))
    return out


def slot_names(pattern: str) -> list[str]:
    return _SLOT.findall(pattern)


def pick(
    rng: np.random.Generator,
    options: Sequence[str],
    n: int,
    p: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    return sarr(np.asarray(options, dtype=object)[rng.choice(len(options), n, p=p)])


def zpad(values: np.ndarray, width: int) -> np.ndarray:
    return np.strings.zfill(sarr(np.asarray(values, np.int64).astype(str)), width)


def map_unique(values: np.ndarray, fn: Callable[[str], str]) -> np.ndarray:
    """Apply a Python function once per distinct value (names and streets repeat a lot)."""
    codes, uniq = pd.factorize(np.asarray(values, dtype=object))
    out: np.ndarray = sarr([fn(u) for u in uniq])[codes]
    return out


def duplicated(values: np.ndarray) -> np.ndarray:
    """True for every repeat of an earlier value (hash-based; sorting strings is slow)."""
    arr = values if values.dtype.kind in "iub" else np.asarray(values, dtype=object)
    out: np.ndarray = pd.Series(arr).duplicated().to_numpy()
    return out


def fold_ascii(text: str) -> str:
    """``Jürgen Müller`` -> ``Jurgen Muller``; ``ß`` -> ``ss``."""
    text = text.replace("ß", "ss")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def german_fold(text: str) -> str:
    """``Müller`` -> ``Mueller``: the other way people type umlauts."""
    for a, b in (
        ("ä", "ae"),
        ("ö", "oe"),
        ("ü", "ue"),
        ("Ä", "Ae"),
        ("Ö", "Oe"),
        ("Ü", "Ue"),
        ("ß", "ss"),
    ):
        text = text.replace(a, b)
    return text


def slug(text: str) -> str:
    """Lower-case ASCII letters and digits only: the raw material of emails and handles."""
    return re.sub(r"[^a-z0-9]", "", fold_ascii(text).lower())


def typo(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """One keyboard slip per value: two letters swapped, one dropped, or one doubled."""
    a = sarr(values)
    n = len(a)
    length = np.strings.str_len(a)
    pos = np.floor(rng.random(n) * np.maximum(length - 1, 1)).astype(np.int64)
    pos = np.clip(pos, 0, np.maximum(length - 2, 0))
    kind = rng.integers(0, 3, n)
    head = np.strings.slice(a, 0, pos)
    c1 = np.strings.slice(a, pos, pos + 1)
    c2 = np.strings.slice(a, pos + 1, pos + 2)
    tail = np.strings.slice(a, pos + 2, np.maximum(length, pos + 2))
    swapped = cat(head, c2, c1, tail)
    dropped = cat(head, c2, tail)
    doubled = cat(head, c1, c1, c2, tail)
    out = np.where(kind == 0, swapped, np.where(kind == 1, dropped, doubled))
    return np.where(length >= 3, out, a).astype(S)


def partition(values: np.ndarray, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """(before, after) the first ``sep``; ``after`` is '' where there is none."""
    head, _, tail = np.strings.partition(sarr(values), np.asarray(sep, dtype=S))
    return head, tail


def capitalise_words(values: np.ndarray) -> np.ndarray:
    return np.strings.title(sarr(values))
