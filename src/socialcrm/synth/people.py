"""The true persons behind the demo brand's customer records.

Everything the other tables show (records, contacts, orders, posts) derives from these
latent attributes: engagement drives email opens, reviews and posting; attitude makes
promoters and detractors; the community shapes interests and the follower graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from socialcrm.synth.catalogue import load_catalogue
from socialcrm.synth.clock import DAY, END, START, YEAR_DAYS
from socialcrm.synth.names import COMMUNITY_INTERESTS, COUNTRIES, OCCUPATIONS, realistic_names
from socialcrm.synth.strings import S, cat, fill, sarr, stream, zpad

GENDERS = ("female", "male", "non_binary", "undisclosed")
PROMOTER, NEUTRAL, DETRACTOR = 0, 1, 2
_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))


@dataclass
class Persons:
    n: int
    person_id: np.ndarray
    country: np.ndarray
    """Index into ``names.COUNTRIES``."""
    gender: np.ndarray
    first: np.ndarray
    last: np.ndarray
    birth: np.ndarray
    """Seconds since epoch."""
    house: np.ndarray
    street_type: np.ndarray
    """Index into the country's street types."""
    street_name: np.ndarray
    city: np.ndarray
    postcode: np.ndarray
    community: np.ndarray
    """Index into the catalogue's communities."""
    interests: np.ndarray
    occupation: np.ndarray
    engagement: np.ndarray
    """0..1: how much the person interacts with the brand's own channels and socials."""
    attitude: np.ndarray
    """PROMOTER, NEUTRAL or DETRACTOR."""
    buyer: np.ndarray
    join: np.ndarray
    """First contact with the brand (first order for buyers), seconds since epoch."""


def _skewed_index(rng: np.random.Generator, sizes: np.ndarray, power: float = 1.6) -> np.ndarray:
    """Index in ``[0, size)`` where the first entries of each list are more common."""
    out: np.ndarray = np.minimum(
        (rng.random(len(sizes)) ** power * sizes).astype(np.int64), sizes - 1
    )
    return out


def _choose_from_lists(
    rng: np.random.Generator, lists: list[tuple[str, ...]], which: np.ndarray, power: float = 1.6
) -> np.ndarray:
    flat = sarr([x for lst in lists for x in lst])
    sizes = np.array([len(lst) for lst in lists])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out: np.ndarray = flat[offsets[which] + _skewed_index(rng, sizes[which], power)]
    return out


def postcodes(rng: np.random.Generator, country: np.ndarray, prefix: np.ndarray) -> np.ndarray:
    """Postal codes in each country's own shape (``75011``, ``SW1 4QT``, ``1017 KX``)."""
    n = len(country)
    out = np.full(n, "", dtype=S)
    for ci, c in enumerate(COUNTRIES):
        m = country == ci
        k = int(m.sum())
        if not k:
            continue
        pre = prefix[m]
        if c.code == "GB":
            inward = cat(
                sarr(rng.integers(1, 10, k).astype(str)),
                sarr(_LETTERS[rng.integers(0, len(_LETTERS), k)]),
                sarr(_LETTERS[rng.integers(0, len(_LETTERS), k)]),
            )
            out[m] = cat(pre, " ", inward)
        elif c.code == "NL":
            letters = cat(
                sarr(_LETTERS[rng.integers(0, len(_LETTERS), k)]),
                sarr(_LETTERS[rng.integers(0, len(_LETTERS), k)]),
            )
            out[m] = cat(pre, zpad(rng.integers(0, 100, k), 2), " ", letters)
        else:
            plen = np.strings.str_len(pre)
            rest = 5 - plen
            digits = rng.integers(0, 10 ** rest.max(), k) % (10**rest)
            pad = np.strings.zfill(sarr(digits.astype(str)), rest)
            if c.code == "FR":  # arrondissements and small towns end in 0 or a low number
                digits = rng.integers(1, 21, k) % (10**rest)
                pad = np.strings.zfill(sarr(digits.astype(str)), rest)
            out[m] = cat(pre, pad)
    return out


def render_streets(
    country: np.ndarray,
    house: np.ndarray,
    type_idx: np.ndarray,
    name: np.ndarray,
    abbreviated: np.ndarray,
) -> np.ndarray:
    """Street lines in each country's order (``12 rue Pasteur``, ``Lindenweg 3``)."""
    out = np.full(len(country), "", dtype=S)
    for ci, c in enumerate(COUNTRIES):
        m = country == ci
        if not m.any():
            continue
        full = sarr([t[0] for t in c.street_types])[type_idx[m]]
        short = sarr([t[1] for t in c.street_types])[type_idx[m]]
        kind = np.where(abbreviated[m], short, full)
        if c.code == "FR":  # "Rue" at the start of a line is capitalised by most forms
            kind = np.where(abbreviated[m], kind, np.strings.capitalize(kind))
        out[m] = fill(
            c.street_pattern, {"n": house[m], "type": kind, "name": name[m]}, int(m.sum())
        )
    return out


def random_addresses(rng: np.random.Generator, country: np.ndarray) -> dict[str, np.ndarray]:
    """House, street type, street name, city and postcode for people in ``country``."""
    n = len(country)
    house = np.full(n, "", dtype=S)
    type_idx = np.zeros(n, np.int64)
    name = np.full(n, "", dtype=S)
    city = np.full(n, "", dtype=S)
    prefix = np.full(n, "", dtype=S)
    for ci, c in enumerate(COUNTRIES):
        m = country == ci
        k = int(m.sum())
        if not k:
            continue
        top = 400 if c.code == "US" else 80
        house[m] = sarr((1 + rng.pareto(1.2, k) * 6).clip(1, top * 20).astype(np.int64).astype(str))
        type_idx[m] = _skewed_index(rng, np.full(k, len(c.street_types)), 2.0)
        name[m] = sarr(
            np.asarray(c.street_names, dtype=object)[rng.integers(0, len(c.street_names), k)]
        )
        ci_idx = _skewed_index(rng, np.full(k, len(c.cities)), 1.8)
        city[m] = sarr([x[0] for x in c.cities])[ci_idx]
        prefix[m] = sarr([x[1] for x in c.cities])[ci_idx]
    return {
        "house": house,
        "street_type": type_idx,
        "street_name": name,
        "city": city,
        "postcode": postcodes(rng, country, prefix),
    }


def make_persons(n: int, seed: int, hard_names: bool = False) -> Persons:
    """``n`` true persons. Names follow each country's real frequencies
    (``names.realistic_names``, from their own random stream), or with ``hard_names``
    the small hand-written lists of ``names.COUNTRIES``, commonest first, for far more
    namesakes than life has. Everything but the names is the same either way."""
    rng = stream(seed, "persons")
    cat_ = load_catalogue()
    weights = np.array([c.weight for c in COUNTRIES])
    country = rng.choice(len(COUNTRIES), n, p=weights / weights.sum())
    gender_idx = rng.choice(4, n, p=[0.48, 0.46, 0.02, 0.04])
    gender = sarr(GENDERS)[gender_idx]
    female_name = np.where(gender_idx >= 2, rng.random(n) < 0.5, gender_idx == 0)
    # The hand-written lists are drawn from in both modes, so the persons' stream (and
    # every attribute after the names) is the same with and without hard_names.
    firsts = _choose_from_lists(rng, [c.female for c in COUNTRIES], country)
    males = _choose_from_lists(rng, [c.male for c in COUNTRIES], country)
    first = np.where(female_name, firsts, males).astype(S)
    last = _choose_from_lists(rng, [c.last for c in COUNTRIES], country, power=1.3)
    if not hard_names:
        first, last = realistic_names(stream(seed, "names"), country, female_name)
    age_years = np.clip(18 + rng.gamma(4.0, 5.0, n), 18, 82)
    birth = (START - age_years * YEAR_DAYS * DAY).astype(np.int64)
    birth = (birth // DAY) * DAY
    addr = random_addresses(rng, country)

    # Households: a few persons share a family name and an address with another person.
    household = rng.random(n) < 0.06
    order = np.argsort(country, kind="stable")
    pos_in_order = np.empty(n, np.int64)
    pos_in_order[order] = np.arange(n)
    starts = np.searchsorted(country[order], np.arange(len(COUNTRIES)))
    ends = np.searchsorted(country[order], np.arange(len(COUNTRIES)), side="right")
    partner = order[starts[country] + (rng.random(n) * (ends - starts)[country]).astype(np.int64)]
    h = np.flatnonzero(household & (partner != np.arange(n)))
    last[h] = last[partner[h]]
    for key in addr:
        addr[key][h] = addr[key][partner[h]]

    communities = cat_.communities
    community_weights = np.array([1.6, 1.8, 1.1, 0.8, 1.0, 0.9, 0.8, 0.7, 0.7, 0.9, 0.9, 0.6])
    community_weights = community_weights[: len(communities)]
    community = rng.choice(len(communities), n, p=community_weights / community_weights.sum())
    # Interests: mostly the community's own, plus one drawn from anywhere.
    own = [COMMUNITY_INTERESTS[c] for c in communities]
    i1 = sarr([o[0] for o in own])[community]
    i2 = sarr([o[1] for o in own])[community]
    i3 = sarr([o[2] for o in own])[community]
    any_interest = sarr(sorted({x for o in own for x in o}))
    extra = any_interest[rng.integers(0, len(any_interest), n)]
    k = rng.choice([1, 2, 3, 4], n, p=[0.25, 0.4, 0.25, 0.1])
    interests = np.where(
        k == 1,
        i1,
        np.where(
            k == 2,
            cat(i1, ";", i2),
            np.where(k == 3, cat(i1, ";", i2, ";", extra), cat(i1, ";", i2, ";", i3, ";", extra)),
        ),
    ).astype(S)
    # An extra interest may repeat one of the community's own; de-duplicate cheaply.
    interests = np.where(
        np.strings.count(interests, extra) > 1,
        np.strings.replace(interests, cat(";", extra), "", 1),
        interests,
    )
    occupation = sarr(np.asarray(OCCUPATIONS, dtype=object)[rng.integers(0, len(OCCUPATIONS), n)])
    occupation[age_years > 66] = "retired"
    occupation[(age_years < 23) & (rng.random(n) < 0.6)] = "student"
    engagement = rng.beta(1.6, 4.0, n)
    attitude = rng.choice(3, n, p=[0.33, 0.56, 0.11])
    buyer = rng.random(n) < 0.86
    span = END - START
    early = rng.random(n) < 0.3
    join = np.where(
        early,
        START + rng.random(n) * 90 * DAY,
        START + rng.beta(1.35, 1.0, n) * (span - 2 * DAY),
    ).astype(np.int64)
    return Persons(
        n=n,
        person_id=cat("P", zpad(np.arange(1, n + 1), 6)),
        country=country,
        gender=gender,
        first=first,
        last=last,
        birth=birth,
        house=addr["house"],
        street_type=addr["street_type"],
        street_name=addr["street_name"],
        city=addr["city"],
        postcode=addr["postcode"],
        community=community,
        interests=interests,
        occupation=occupation,
        engagement=engagement,
        attitude=attitude,
        buyer=buyer,
        join=join,
    )
