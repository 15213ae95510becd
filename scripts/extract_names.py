"""Build ``src/socialcrm/synth/name_frequencies.json`` from the ``names-dataset`` package.

The demo brand draws its persons' names from that file (see ``socialcrm.synth.names``).

Source: ``names-dataset`` 3.3.1 on PyPI (Philippe Remy, Apache License 2.0), which ranks
first and last names per country. Its author derived the ranks from the 2021 Facebook
leak (533M accounts). This script keeps only aggregate rank lists of common names, no
person. The package holds 55 MB of pickles and needs 3 GB of RAM to load, so it is
not a dependency: download the wheel and point this script at it::

    pip download names-dataset==3.3.1 --no-deps -d /tmp/nd
    python scripts/extract_names.py /tmp/nd/names_dataset-3.3.1-py3-none-any.whl

(The pickles come from that wheel, so reading them runs no more code than installing
it would.)

names-dataset gives ranks, not counts. Each list gets frequencies from a Zipf-Mandelbrot
law, ``p(r) = A / (r + q)``, exponent 1. Family names across a population follow it
(Zanette & Manrubia, "Vertical transmission of culture and the distribution of family
names", Physica A 295, 2001: the number of names borne by n people falls as n^-2,
which is Zipf's law with exponent 1 in rank). Two published figures per list set
``A`` and ``q``:

- the share of the most common name. The source may split it by accents, as with
  "Garcia" and "García", so the share goes to all of that name's spellings together;
- for surnames, the number of distinct surnames in the country, ``V``
  (``sum_{r<=V} p(r) = 1``); for first names, the share of the 1,000 commonest names
  of a sex (``FIRST_TOP1000``).

The figures and their sources are in ``SURNAMES`` and ``FIRST`` below. The file keeps
each country's top ``N_LAST`` surnames and ``N_FIRST`` first names per sex in rank
order, plus the law's parameters. The generator gives ranks beyond the stored lists
their real weight with names it makes up (see ``socialcrm.synth.names``).

Cleaning: Latin script only. Names with digits or other symbols are dropped, and so
are "names" with no vowel (initials and keyboard noise). The source title-cases every
name, so this script lower-cases Dutch surname particles ("van den Berg") and writes
"McDonald" for "Mcdonald". Lone particles ("Ben", "Da", "Van") are dropped as
surnames; they are pieces of compound names. Accents are kept exactly as the source
spells them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import pickle
import re
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).parents[1] / "src/socialcrm/synth/name_frequencies.json"
COUNTRIES = ("FR", "DE", "GB", "ES", "US", "IT", "NL")
N_LAST = 3000
N_FIRST = 1000
GENDER_MIN = 0.5
"""A first name goes in a sex's list when at least this share of its bearers are of
that sex. The source gives one split for all countries together, so a name that
changes sex across borders (Andrea: a man in Italy, a woman in Germany) follows its
majority everywhere, as names-dataset's own ``get_top_names`` does."""

SURNAMES: dict[str, dict[str, Any]] = {
    "FR": {
        "head_share": 0.0034,
        "distinct": 1_300_000,
        "cited": "Martin: about 230,000 people born 1891-1990 (INSEE, fichier des noms), "
        "3.2 per thousand of births in 1990 (Filae); about 1.3 million distinct surnames "
        "in France (INSEE births 1891-1990, as reported by Géopatronyme)",
    },
    "DE": {
        "head_share": 0.0086,
        "distinct": 850_000,
        "cited": "Müller: 256,003 phone-book entries in 2018, times 2.8 people per entry "
        "(Digitales Familiennamenwörterbuch Deutschlands, Akademie der Wissenschaften "
        "Mainz), about 717,000 of 83 million; about 850,000 distinct surnames",
    },
    "GB": {
        "head_share": 0.0120,
        "distinct": 330_000,
        "cited": "Smith: 1.20% of the 1996 UK electoral register (surnamestudies.org.uk, "
        "comparative tables); distinct surnames estimated from the UK Info Disc 2000 "
        "(Guild of One-Name Studies): about 200,000 names borne once, falling as n^-2, "
        "so about 200,000 x pi^2/6 = 330,000",
    },
    "ES": {
        "head_share": 0.0306,
        "distinct": 200_000,
        "cited": "García: 1,449,474 people with it as first surname of 47.4 million (INE, "
        "2023); distinct surnames not published as one figure: 200,000 is an "
        "assumption (Spain has far fewer surnames than France)",
    },
    "US": {
        "head_share": 0.0083,
        "distinct": 6_300_000,
        "cited": "Smith: 2,442,977 of the 294.9 million people with a surname in the 2010 "
        "Census; 6.3 million distinct surnames (U.S. Census Bureau, Comenetz 2016, "
        "'Frequently occurring surnames in the 2010 Census')",
    },
    "IT": {
        "head_share": 0.0013,
        "distinct": 350_000,
        "cited": "Rossi: about 78,000 people (cognomix.it); the ten commonest surnames "
        "cover 0.67% of Italians (eupedia.com); about 350,000 distinct surnames "
        "(E. Caffarelli, Rivista italiana di onomastica, in La Stampa 1999)",
    },
    "NL": {
        "head_share": 0.0053,
        "distinct": 314_000,
        "cited": "De Jong: 86,534 people in the 2007 municipal register of 16.4 million; "
        "314,000 distinct surnames (Nederlandse Familienamenbank, Meertens Instituut)",
    },
}
"""Published figures per country: the commonest surname's share and the number of
distinct surnames."""

FIRST_TOP1000 = 0.85
"""Assumed share of a sex's adults who bear one of its 1,000 commonest first names. For
comparison, in U.S. Social Security baby-name data the top 1,000 names cover roughly
75% (2010s) to over 90% (1950s) of births."""

FIRST: dict[str, dict[str, float]] = {
    "FR": {"female": 0.020, "male": 0.025},
    "DE": {"female": 0.020, "male": 0.025},
    "GB": {"female": 0.020, "male": 0.025},
    "ES": {"female": 0.030, "male": 0.030},
    "US": {"female": 0.020, "male": 0.030},
    "IT": {"female": 0.020, "male": 0.025},
    "NL": {"female": 0.020, "male": 0.025},
}
"""Share of a sex's adults who bear its commonest first name. U.S.: James ~3% of men
(FiveThirtyEight 2014: ~38,000 James Smiths with Smith at 0.83%). Spain: Antonio and
María Carmen ~3% of men and women (INE). Elsewhere: 2-2.5%. In one birth year the
leading name takes 1-2%, and adults span sixty birth years whose leaders differ, with
older cohorts more concentrated (in the 1950s the ten commonest U.S. boys' names took
30% of births)."""

FIRST_CITED = (
    "Commonest first name: James about 3% of U.S. men (FiveThirtyEight 2014, ~38,000 "
    "James Smiths); Antonio and María Carmen about 3% of Spanish men and women (INE); "
    "2-2.5% elsewhere (the leading name of one birth year takes 1-2%). Top 1,000 names "
    "of a sex: 85% of adults (assumed; U.S. SSA birth data: 75-90% by decade)."
)

_LETTERS = re.compile(r"^[^\W\d_]+(?:[ '\-][^\W\d_]+)*$")
_VOWELS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")
_LONE_PARTICLES = {
    "Ben", "Bin", "El", "Al", "Da", "De", "Del", "Della", "Di", "Do", "Dos", "Das", "Du",
    "La", "Le", "Van", "Von", "Der", "Den", "Ter", "Ten", "Mac", "Mc", "Abu", "Ibn", "Het",
}  # fmt: skip
_NL_PARTICLES = {"Van", "De", "Der", "Den", "Het", "Ten", "Ter", "Te", "In", "Op", "'T", "Vd"}
_NOT_NAMES = {"Ma Vie"}  # "my life": a profile motto, not a surname
FIRST_NAME_RANK_OK = 300
"""A surname ranked below this that ranks better as a first name in the same country
("Justine", "Hicham") is a first name typed into the surname field, and is dropped.
The surnames above it ("Martin", "Nicolas", "Thomas") are real."""


def _latin(name: str) -> bool:
    latin = all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in name)
    return latin and bool(_LETTERS.match(name))


def _clean(name: str, country: str, surname: bool) -> str | None:
    name = name.strip()
    if len(name) < 2 or not _latin(name) or len(name.split()) > 3:
        return None
    if not _VOWELS & set(name.lower()):
        return None
    if surname:
        if name in _LONE_PARTICLES or name in _NOT_NAMES:
            return None
        if country == "NL":  # the source lost the apostrophe of 't ("in 't Veld")
            words = name.split(" ")
            words = [
                "'t" if w == "T" else w.lower() if w in _NL_PARTICLES else w for w in words[:-1]
            ] + words[-1:]
            name = " ".join(words)
        if country in ("GB", "US"):
            name = re.sub(r"\bMc([a-z])", lambda m: "Mc" + m.group(1).upper(), name)
    return name


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _harmonic(q: float, n: int) -> float:
    """sum_{r=1..n} 1 / (r + q)."""
    return float(np.sum(1.0 / (np.arange(1, n + 1, dtype=np.float64) + q)))


def _solve_q(head: float, top_positions: list[int], n: int, target: float) -> float:
    """q such that the law with the top name's spellings holding ``head`` has
    ``sum_{r<=n} p(r) = target``."""

    def mass(q: float) -> float:
        scale = head / sum(1.0 / (g + q) for g in top_positions)
        return scale * _harmonic(q, n) - target

    lo, hi = 1e-6, 1e6
    if mass(lo) > 0:  # even the steepest law holds more than the target: no fit
        raise ValueError(f"no fit for head share {head} over {n} names")
    for _ in range(200):
        mid = (lo * hi) ** 0.5
        if mass(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo * hi) ** 0.5


def _spellings(names: list[str]) -> list[int]:
    """1-based positions of every spelling of the first name (same letters, accents
    aside)."""
    key = _fold(names[0])
    return [i + 1 for i, n in enumerate(names) if _fold(n) == key]


def _law_for_surnames(names: list[str], head: float, distinct: int) -> dict[str, Any]:
    top = _spellings(names)
    q = _solve_q(head, top, distinct, 1.0)
    scale = head / sum(1.0 / (g + q) for g in top)
    return {"q": round(q, 6), "scale": round(scale, 9), "distinct": distinct}


def _law_for_first(names: list[str], head: float) -> dict[str, Any]:
    top = _spellings(names)
    q = _solve_q(head, top, 1000, FIRST_TOP1000)
    scale = head / sum(1.0 / (g + q) for g in top)
    # Distinct names: where the law's mass reaches 1.
    cum = scale * np.cumsum(1.0 / (np.arange(1, 5_000_001) + q))
    distinct = int(np.searchsorted(cum, 1.0)) + 1
    return {"q": round(q, 6), "scale": round(scale, 9), "distinct": distinct}


def _coverage(law: dict[str, Any], k: int) -> float:
    return float(law["scale"] * _harmonic(law["q"], k))


def _load(wheel: Path, kind: str) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as z, z.open(f"names_dataset/v3/{kind}_names.pkl.gz") as f:
        data: dict[str, Any] = pickle.loads(gzip.decompress(f.read()))
    return data


def _first_ranks(data: dict[str, Any], country: str) -> dict[str, int]:
    return {
        name: info["rank"][country]
        for name, info in data.items()
        if info.get("rank", {}).get(country) is not None
    }


def _ranked(
    data: dict[str, Any],
    country: str,
    surname: bool,
    sex: str | None = None,
    first_ranks: dict[str, int] | None = None,
) -> list[str]:
    rows: list[tuple[float, str]] = []
    for raw, info in data.items():
        rank = info.get("rank", {}).get(country)
        if rank is None:
            continue
        if first_ranks and rank > FIRST_NAME_RANK_OK and first_ranks.get(raw, rank) < rank:
            continue
        if sex is not None:
            share = info.get("gender", {}).get(sex, 0.0)
            if share < GENDER_MIN:
                continue
            rank = rank / share  # a name mostly of the other sex ranks lower in this one
        name = _clean(raw, country, surname)
        if name is not None:
            rows.append((rank, name))
    rows.sort()
    seen: set[str] = set()
    out = []
    for _, name in rows:
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _dump(doc: dict[str, Any]) -> str:
    """Indented JSON with each name list on one line: readable, diffable and small."""
    lists: list[str] = []

    def stub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: stub(v) for k, v in node.items()}
        if isinstance(node, list):
            lists.append(json.dumps(node, ensure_ascii=False, separators=(",", ":")))
            return f"@@{len(lists) - 1}@@"
        return node

    text = json.dumps(stub(doc), ensure_ascii=False, indent=1)
    return re.sub(r'"@@(\d+)@@"', lambda m: lists[int(m.group(1))], text) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="names_dataset-3.3.1-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    countries: dict[str, Any] = {}
    first = _load(args.wheel, "first")
    first_ranks = {c: _first_ranks(first, c) for c in COUNTRIES}
    del first
    last = _load(args.wheel, "last")
    for c in COUNTRIES:
        names = _ranked(last, c, surname=True, first_ranks=first_ranks[c])[:N_LAST]
        spec = SURNAMES[c]
        law = _law_for_surnames(names, spec["head_share"], spec["distinct"])
        countries[c] = {
            "surnames": {
                "names": names,
                "head_share": spec["head_share"],
                **law,
                "cited": spec["cited"],
            }
        }
        print(
            f"{c} surnames: {names[:4]} q={law['q']:.2f} "
            f"top10={_coverage(law, 10):.3f} top25={_coverage(law, 25):.3f} "
            f"top239={_coverage(law, 239):.3f} top500={_coverage(law, 500):.3f} "
            f"stored={_coverage(law, len(names)):.3f}"
        )
    del last
    first = _load(args.wheel, "first")
    for c in COUNTRIES:
        for sex, key in (("female", "F"), ("male", "M")):
            names = _ranked(first, c, surname=False, sex=key)[:N_FIRST]
            law = _law_for_first(names, FIRST[c][sex])
            countries[c][sex] = {"names": names, "head_share": FIRST[c][sex], **law}
            print(f"{c} {sex}: {names[:5]} q={law['q']:.2f} distinct={law['distinct']}")
    del first

    doc = {
        "source": "names-dataset 3.3.1 (https://pypi.org/project/names-dataset/, Philippe "
        "Remy): per-country ranks of first and last names, which its author derived from "
        "the 2021 Facebook leak (533M accounts). Only aggregate rank lists of common names "
        "are kept here.",
        "licence": "names-dataset is distributed under the Apache License 2.0; lists of "
        "names are facts. Built by scripts/extract_names.py.",
        "model": "Names are in rank order (1 = commonest). Frequency of rank r: "
        "scale / (r + q) for r = 1..distinct (Zipf-Mandelbrot, exponent 1). The scale "
        "makes all spellings of the top name hold head_share. For surnames, distinct is "
        "the published number of surnames. For first names, q makes the top 1,000 hold "
        f"{FIRST_TOP1000:.0%} and distinct is where the mass reaches 1. Ranks beyond the "
        "stored list get made-up names (socialcrm.synth.names).",
        "first_names_cited": FIRST_CITED,
        "countries": countries,
    }
    text = _dump(doc)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text.encode()) / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
