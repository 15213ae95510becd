"""Phone numbers from real numbering ranges, written the many ways people write them.

Every number is valid for ``phonenumbers`` (mobile ranges of each country, checked by a
test). Ingestion reads numbers without a ``+code`` in one configured region (US by
default), so only US numbers are written in national format; the others carry their
country code as ``+33``, ``0033`` or ``+33 (0)``.
"""

from __future__ import annotations

import numpy as np

from socialcrm.synth.names import COUNTRIES
from socialcrm.synth.strings import S, cat, sarr, zpad

# (country calling code, national prefixes, national significant number length, groups)
_PLANS: dict[str, tuple[str, tuple[str, ...], int, tuple[int, ...]]] = {
    "FR": (
        "33",
        ("60", "61", "62", "64", "65", "66", "67", "68", "73", "74", "75", "76", "77", "78"),
        9,
        (1, 2, 2, 2, 2),
    ),
    "DE": (
        "49",
        (
            "151",
            "152",
            "155",
            "157",
            "159",
            "160",
            "162",
            "163",
            "170",
            "171",
            "172",
            "173",
            "174",
            "175",
            "176",
            "177",
            "178",
            "179",
        ),
        0,
        (3, 4, 4),
    ),
    "GB": (
        "44",
        ("74", "75", "78", "790", "792", "793", "794", "795", "796", "797", "798"),
        10,
        (4, 6),
    ),
    "ES": ("34", ("6", "71", "72", "73", "74"), 9, (3, 2, 2, 2)),
    "US": (
        "1",
        ("212", "415", "312", "617", "206", "303", "512", "646", "718", "305", "720", "503", "801"),
        10,
        (3, 3, 4),
    ),
    "IT": (
        "39",
        (
            "320",
            "328",
            "329",
            "333",
            "334",
            "335",
            "336",
            "338",
            "339",
            "340",
            "347",
            "348",
            "349",
            "366",
            "388",
            "389",
            "391",
            "392",
            "393",
        ),
        10,
        (3, 3, 4),
    ),
    "NL": ("31", ("61", "62", "63", "64", "65"), 9, (1, 4, 4)),
}
"""German mobile numbers have 10 or 11 digits; length 0 marks "prefix-dependent"."""


def national_numbers(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """National significant numbers (no trunk 0), as digit strings."""
    out = np.full(len(country), "", dtype=S)
    for ci, c in enumerate(COUNTRIES):
        m = country == ci
        k = int(m.sum())
        if not k:
            continue
        _, prefixes, length, _ = _PLANS[c.code]
        pre = sarr(np.asarray(prefixes, dtype=object)[rng.integers(0, len(prefixes), k)])
        plen = np.strings.str_len(pre)
        if c.code == "DE":
            total = np.where(np.strings.startswith(pre, "15"), 11, 10)
        else:
            total = np.full(k, length)
        rest = total - plen
        digits = rng.integers(0, 10 ** rest.max(), k, dtype=np.int64) % (10**rest)
        body = np.strings.zfill(sarr(digits.astype(str)), rest)
        if c.code == "US":  # exchange codes never start with 0 or 1, and 555 is fiction
            exch = rng.integers(200, 1000, k)
            exch = np.where((exch % 100 == 11) | (exch == 555), exch - 1, exch)
            body = cat(sarr(exch.astype(str)), zpad(rng.integers(0, 10000, k), 4))
        out[m] = cat(pre, body)
    return out


def _grouped(nsn: np.ndarray, groups: tuple[int, ...], sep: str) -> np.ndarray:
    parts = []
    pos = 0
    for i, g in enumerate(groups):
        stop = pos + g if i < len(groups) - 1 else 99
        parts.append(np.strings.slice(nsn, pos, stop))
        pos += g
    out = parts[0]
    for p in parts[1:]:
        out = cat(out, sep, p)
    return out


def format_phones(rng: np.random.Generator, country: np.ndarray, nsn: np.ndarray) -> np.ndarray:
    """The same numbers as customers type them: spaced, dotted, +code, 00code, (0)."""
    out = np.full(len(nsn), "", dtype=S)
    for ci, c in enumerate(COUNTRIES):
        m = country == ci
        k = int(m.sum())
        if not k:
            continue
        cc, _, _, groups = _PLANS[c.code]
        x = nsn[m]
        spaced = _grouped(x, groups, " ")
        if c.code == "US":
            area = np.strings.slice(x, 0, 3)
            exch = np.strings.slice(x, 3, 6)
            line = np.strings.slice(x, 6, 10)
            forms = [
                cat("(", area, ") ", exch, "-", line),
                cat(area, "-", exch, "-", line),
                cat(area, ".", exch, ".", line),
                cat("+1 ", area, " ", exch, " ", line),
                cat("+1", x),
                cat("1-", area, "-", exch, "-", line),
            ]
            p = [0.3, 0.25, 0.1, 0.15, 0.12, 0.08]
        else:
            forms = [
                cat("+", cc, x),
                cat("+", cc, " ", spaced),
                cat("00", cc, " ", spaced),
                cat("+", cc, " (0)", spaced),
                cat("+", cc, ".", _grouped(x, groups, ".")),
                cat("+", cc, "-", _grouped(x, groups, "-")),
            ]
            p = [0.3, 0.3, 0.12, 0.12, 0.08, 0.08]
            if c.code not in ("FR", "DE", "GB", "NL"):  # no trunk 0 to put in brackets
                p = [0.36, 0.36, 0.12, 0.0, 0.08, 0.08]
        which = rng.choice(len(forms), k, p=p)
        res = np.full(k, "", dtype=S)
        for i, f in enumerate(forms):
            res[which == i] = f[which == i]
        out[m] = res
    return out


def e164(country: np.ndarray, nsn: np.ndarray) -> np.ndarray:
    codes = sarr([_PLANS[c.code][0] for c in COUNTRIES])[country]
    return cat("+", codes, nsn)
