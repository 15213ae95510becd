"""The demo's names: real frequencies by default, the old hand-written lists on request.

The ranges below come from published figures (cited in ``socialcrm.synth.names`` and
``scripts/extract_names.py``), widened for sampling noise and the law's known error.
They are not fitted to what the generator happens to draw.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import fields

import numpy as np
import pytest

from socialcrm.synth.names import COUNTRIES, NICKNAMES, name_lists, realistic_names
from socialcrm.synth.people import make_persons
from socialcrm.synth.strings import slug, stream

N = 100_000
CODES = [c.code for c in COUNTRIES]


def _people_of(code: str, n: int = N, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` persons of one country, half of them women."""
    rng = np.random.default_rng(seed)
    country = np.full(n, CODES.index(code))
    first, last = realistic_names(stream(seed, "names"), country, rng.random(n) < 0.5)
    return first.tolist(), last.tolist()


@pytest.fixture(scope="module")
def french() -> tuple[list[str], list[str]]:
    return _people_of("FR")


@pytest.fixture(scope="module")
def americans() -> tuple[list[str], list[str]]:
    return _people_of("US")


# -- frequencies against published figures ---------------------------------------------------
def test_commonest_french_surname_holds_its_real_share(french: tuple[list, list]) -> None:
    last = Counter(french[1])
    # Martin: about 230,000 of the French born 1891-1990 (INSEE), 0.32-0.38%.
    assert last.most_common(1)[0][0] == "Martin"
    assert 0.0025 * N <= last["Martin"] <= 0.0045 * N
    # The ten commonest surnames hold 1.9% of the French (eupedia.com); the law may
    # be off by up to two times.
    top10 = sum(k for _, k in last.most_common(10))
    assert 0.0095 * N <= top10 <= 0.038 * N


def test_us_surnames_spread_as_in_the_census(americans: tuple[list, list]) -> None:
    # 2010 Census: the 239 commonest surnames cover 25% of Americans, Smith 0.83%.
    listed = name_lists()["US"]["surnames"].names[:239].tolist()
    last = Counter(americans[1])
    assert 0.20 * N <= sum(last[x] for x in listed) <= 0.30 * N
    assert 0.006 * N <= last.most_common(1)[0][1] <= 0.011 * N


def test_namesakes_at_100k_people_of_one_country(french: tuple[list, list]) -> None:
    full = Counter(zip(*french, strict=True))
    # About 1 French person in 25,000 is a "Thomas Martin": the commonest full name has
    # a few bearers per 100,000 (allowing for the law's error and for chance).
    assert 2 <= full.most_common(1)[0][1] <= 20
    assert full[("Thomas", "Martin")] <= 12
    # 1.3 million surnames, the commonest at 0.34%, and half of all persons outside
    # the 3,000 commonest: most full names are unique, but not all.
    assert 0.90 * N <= len(full) <= 0.995 * N


def test_commonest_us_full_name_is_about_as_common_as_james_smith(
    americans: tuple[list, list],
) -> None:
    # James Smith: about 38,000 Americans, 12 per 100,000 (FiveThirtyEight 2014).
    full = Counter(zip(*americans, strict=True))
    assert 4 <= full.most_common(1)[0][1] <= 30


def test_rare_names_stay_rare(french: tuple[list, list]) -> None:
    lists = name_lists()["FR"]
    listed = set(lists["surnames"].names.tolist())
    last = Counter(french[1])
    made_up = {name: k for name, k in last.items() if name not in listed}
    # Over half of the French bear a surname outside the 3,000 commonest.
    assert sum(made_up.values()) >= 0.4 * N
    # A rank beyond 3,000 holds at most about 1 French person in 30,000.
    assert max(made_up.values()) <= 12
    first = set(french[0]) - set(lists["female"].names.tolist()) - set(lists["male"].names)
    assert first and all("-" in x for x in first), "rare first names are compounds"


def test_names_keep_their_accents_and_still_make_emails() -> None:
    first, last = _people_of("ES", 20_000)
    assert any(x != x.encode("ascii", "ignore").decode() for x in first + last)
    de_first, de_last = _people_of("DE", 20_000)
    assert Counter(de_last).most_common(1)[0][0] == "Müller"
    everyone = set(first) | set(last) | set(de_first) | set(de_last)
    assert all(slug(x) for x in everyone), "every name yields an email local part"
    assert {x for x in de_first if x in NICKNAMES}, "nicknames still apply"


# -- hard names ---------------------------------------------------------------------------------
def test_hard_names_reproduce_the_hand_written_lists() -> None:
    p = make_persons(5000, 0, hard_names=True)
    full = [f"{a} {b}" for a, b in zip(p.first.tolist(), p.last.tolist(), strict=True)]
    # Recorded from the generator before realistic names existed.
    assert full[:6] == [
        "Maxime André",
        "Christopher Harris",
        "Adrián Fernández",
        "Clément Fournier",
        "François Moreau",
        "Julia Schmid",
    ]
    assert (
        hashlib.sha256("\n".join(full).encode()).hexdigest()
        == "3a3662ac394ee535cbd20be50e29767e3a45e93d671be43a8caab592f9c8147f"
    )
    listed = {x for c in COUNTRIES for x in c.female + c.male + c.last}
    assert set(p.first.tolist()) | set(p.last.tolist()) <= listed
    # Records' first names use NICKNAMES: its entries for these lists are unchanged.
    firsts = {x for c in COUNTRIES for x in c.female + c.male}
    hard_nicknames = {k: v for k, v in NICKNAMES.items() if k in firsts}
    assert len(hard_nicknames) == 60 and hard_nicknames["Thomas"] == "Tom"


def test_hard_and_real_names_change_nothing_but_the_names() -> None:
    hard = make_persons(3000, 4, hard_names=True)
    real = make_persons(3000, 4)
    for f in fields(hard):
        a, b = getattr(hard, f.name), getattr(real, f.name)
        if f.name in ("first", "last"):
            assert (np.asarray(a) != np.asarray(b)).mean() > 0.9
        else:
            assert np.array_equal(np.asarray(a), np.asarray(b)), f.name
    fr = real.country == CODES.index("FR")
    hard_fr = Counter(zip(hard.first[fr].tolist(), hard.last[fr].tolist(), strict=True))
    real_fr = Counter(zip(real.first[fr].tolist(), real.last[fr].tolist(), strict=True))
    assert len(hard_fr) < 0.8 * len(real_fr)


def test_names_are_the_same_for_a_seed_and_differ_across_seeds() -> None:
    a, b, c = make_persons(4000, 9), make_persons(4000, 9), make_persons(4000, 10)
    assert a.first.tolist() == b.first.tolist() and a.last.tolist() == b.last.tolist()
    assert (a.last != c.last).mean() > 0.9
