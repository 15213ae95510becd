"""Customer records: what each source system (shop, newsletter, loyalty, support) knows.

One person leaves 1-3 records. Duplicates carry nicknames, typos, folded accents,
abbreviated or outdated addresses and missing fields, so that finding the person behind
them takes more than an exact join.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from socialcrm.store.schemas import CHANNELS, PLATFORMS
from socialcrm.synth.accounts import Accounts
from socialcrm.synth.clock import DAY, END, START
from socialcrm.synth.names import COUNTRIES, NICKNAMES
from socialcrm.synth.people import Persons, random_addresses, render_streets
from socialcrm.synth.strings import (
    S,
    cat,
    fold_ascii,
    german_fold,
    map_unique,
    partition,
    sarr,
    stream,
    typo,
    zpad,
)

SOURCES = ("shop", "newsletter", "loyalty", "support")
SHOP, NEWSLETTER, LOYALTY, SUPPORT = range(4)


@dataclass
class Records:
    person: np.ndarray
    source: np.ndarray
    """Index into ``SOURCES``."""
    primary: np.ndarray
    created_at: np.ndarray
    customer_id: np.ndarray
    id_rank: np.ndarray
    """Position of ``customer_id`` in sorted order, for writing files sorted by id."""
    columns: dict[str, np.ndarray]
    """Customers-table columns (strings; ``None``-free, masks in ``missing``)."""
    missing: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.person)


def _maybe(rng: np.random.Generator, n: int, p: np.ndarray | float) -> np.ndarray:
    return rng.random(n) < p


def _by_source(
    source: np.ndarray, shop: float, newsletter: float, loyalty: float, support: float
) -> np.ndarray:
    out: np.ndarray = np.array([shop, newsletter, loyalty, support])[source]
    return out


def person_platforms(accounts: Accounts, n_persons: int) -> list[np.ndarray]:
    """For each platform, a boolean per person: does the person have an account there?"""
    out = []
    for p in range(len(PLATFORMS)):
        has = np.zeros(n_persons, bool)
        m = (accounts.platform == p) & (accounts.person >= 0)
        has[accounts.person[m]] = True
        out.append(has)
    return out


def make_records(persons: Persons, accounts: Accounts, seed: int) -> Records:
    rng = stream(seed, "records")
    n = persons.n
    k = rng.choice([1, 2, 3], n, p=[0.46, 0.37, 0.17])
    person = np.repeat(np.arange(n), k)
    rank = np.arange(len(person)) - np.repeat(np.cumsum(k) - k, k)
    m = len(person)
    primary = rank == 0
    extra_source = rng.choice(4, m, p=[0.1, 0.38, 0.3, 0.22])
    primary_source = np.where(persons.buyer[person], SHOP, NEWSLETTER)
    source = np.where(primary, primary_source, extra_source)
    # A second newsletter sign-up of the same person is rare; make it a loyalty card.
    source = np.where(
        ~primary & (source == NEWSLETTER) & (primary_source == NEWSLETTER), LOYALTY, source
    )

    join = persons.join[person]
    delay = np.select(
        [source == NEWSLETTER, source == LOYALTY, source == SUPPORT],
        [
            np.where(rng.random(m) < 0.5, -rng.exponential(60, m), rng.exponential(90, m)),
            rng.exponential(120, m),
            rng.exponential(150, m),
        ],
        rng.exponential(220, m),
    )
    created = np.where(primary, join - rng.integers(60, 3 * 3600, m), join + delay * DAY).astype(
        np.int64
    )
    created = np.clip(created, START + rng.integers(0, 3600, m), END - 3600)

    # Record ids run in creation order within each source, as a real system's would.
    order = np.lexsort((person, created, source))
    seq = np.empty(m, np.int64)
    src_sorted = source[order]
    starts = np.searchsorted(src_sorted, np.arange(4))
    seq[order] = np.arange(m) - starts[src_sorted] + 1
    customer_id = cat(sarr(SOURCES)[source], ":", zpad(seq, 6))
    # Where each id falls in sorted order (sources alphabetically, then number).
    alpha = np.argsort(np.argsort(np.array(SOURCES)))
    id_rank = np.empty(m, np.int64)
    id_rank[np.lexsort((seq, alpha[source]))] = np.arange(m)

    cols, missing = _customer_columns(rng, persons, accounts, person, source, primary)
    return Records(
        person=person,
        source=source,
        primary=primary,
        created_at=created,
        customer_id=customer_id,
        id_rank=id_rank,
        columns=cols,
        missing=missing,
    )


def _name_variants(
    rng: np.random.Generator, names: np.ndarray, primary: np.ndarray, nicknames: bool
) -> np.ndarray:
    m = len(names)
    out = names.copy()
    if nicknames:
        nick = map_unique(names, lambda x: NICKNAMES.get(x, x))
        use = ~primary & _maybe(rng, m, 0.22)
        out = np.where(use, nick, out).astype(S)
    folded = map_unique(out, fold_ascii)
    de_folded = map_unique(out, german_fold)
    r = rng.random(m)
    out = np.where(~primary & (r < 0.12), folded, out)
    out = np.where(~primary & (r >= 0.12) & (r < 0.17), de_folded, out).astype(S)
    slip = _maybe(rng, m, np.where(primary, 0.01, 0.045))
    out[slip] = typo(rng, out[slip])
    case = rng.random(m)
    out = np.where(
        case < 0.04, np.strings.upper(out), np.where(case < 0.08, np.strings.lower(out), out)
    ).astype(S)
    return out


def _customer_columns(
    rng: np.random.Generator,
    persons: Persons,
    accounts: Accounts,
    person: np.ndarray,
    source: np.ndarray,
    primary: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    m = len(person)
    country = persons.country[person]
    cols: dict[str, np.ndarray] = {}
    miss: dict[str, np.ndarray] = {}

    cols["first_name"] = _name_variants(rng, persons.first[person], primary, nicknames=True)
    miss["first_name"] = _maybe(rng, m, _by_source(source, 0.01, 0.35, 0.0, 0.08))
    cols["last_name"] = _name_variants(rng, persons.last[person], primary, nicknames=False)
    miss["last_name"] = _maybe(rng, m, _by_source(source, 0.01, 0.6, 0.0, 0.15))

    birth = persons.birth[person].copy()
    wrong = ~primary & _maybe(rng, m, 0.03)
    birth[wrong] += rng.choice([-365, 365, -1, 1, 30], int(wrong.sum())) * DAY
    cols["birth_date"] = birth  # seconds; formatted by the writer
    miss["birth_date"] = ~_maybe(rng, m, _by_source(source, 0.35, 0.1, 0.85, 0.05))
    gender = persons.gender[person].copy()
    gender[_maybe(rng, m, 0.02)] = "undisclosed"
    cols["gender"] = gender
    miss["gender"] = ~_maybe(rng, m, _by_source(source, 0.6, 0.2, 0.9, 0.3))

    # Addresses: abbreviated, lower-cased, or outdated (the person moved) on duplicates.
    house = persons.house[person].copy()
    type_idx = persons.street_type[person].copy()
    sname = persons.street_name[person].copy()
    city = persons.city[person].copy()
    postcode = persons.postcode[person].copy()
    moved = ~primary & _maybe(rng, m, 0.06)
    if moved.any():
        new = random_addresses(rng, country[moved])
        same_city = rng.random(int(moved.sum())) < 0.6
        house[moved] = new["house"]
        type_idx[moved] = new["street_type"]
        sname[moved] = new["street_name"]
        city[moved] = np.where(same_city, city[moved], new["city"])
        postcode[moved] = np.where(same_city, postcode[moved], new["postcode"])
    abbreviated = _maybe(rng, m, np.where(primary, 0.12, 0.35))
    street = render_streets(country, house, type_idx, sname, abbreviated)
    lower = _maybe(rng, m, 0.08)
    street = np.where(lower, np.strings.lower(street), street).astype(S)
    street = np.where(_maybe(rng, m, 0.1), map_unique(street, fold_ascii), street).astype(S)
    slip = ~primary & _maybe(rng, m, 0.03)
    street[slip] = typo(rng, street[slip])
    cols["street"] = street
    city = np.where(_maybe(rng, m, 0.07), np.strings.upper(city), city).astype(S)
    city = np.where(_maybe(rng, m, 0.1), map_unique(city, fold_ascii), city).astype(S)
    cols["city"] = city
    spaced = np.strings.find(postcode, " ") > 0
    squash = spaced & _maybe(rng, m, 0.3)
    postcode = np.where(squash, np.strings.replace(postcode, " ", ""), postcode).astype(S)
    postcode = np.where(spaced & _maybe(rng, m, 0.08), np.strings.lower(postcode), postcode)
    cols["postcode"] = postcode.astype(S)
    has_address = _maybe(rng, m, _by_source(source, 0.97, 0.03, 0.85, 0.25))
    for c in ("street", "city", "postcode"):
        miss[c] = ~has_address
    miss["street"] = miss["street"] | _maybe(rng, m, 0.02)
    cols["country"] = sarr([c.code for c in COUNTRIES])[country]
    miss["country"] = ~(has_address | _maybe(rng, m, 0.5))

    # Profile: interests and occupation.
    interests = persons.interests[person]
    first_only = _maybe(rng, m, 0.3)
    interests = np.where(first_only, partition(interests, ";")[0], interests)
    interests = np.where(_maybe(rng, m, 0.15), np.strings.title(interests), interests)
    cols["interests"] = interests.astype(S)
    miss["interests"] = ~_maybe(rng, m, _by_source(source, 0.4, 0.7, 0.6, 0.0))
    cols["occupation"] = persons.occupation[person]
    miss["occupation"] = ~_maybe(rng, m, _by_source(source, 0.15, 0.05, 0.5, 0.0))

    # Preferential: channel, social sites, contact frequency.
    has = person_platforms(accounts, persons.n)
    social_user = np.zeros(m, bool)
    for h in has:
        social_user |= h[person]
    w = np.array([0.5, 0.12, 0.05, 0.05, 0.1, 0.12, 0.06])
    channel = rng.choice(len(CHANNELS), m, p=w / w.sum())
    channel = np.where(
        ~social_user & (channel == CHANNELS.index("social")), CHANNELS.index("email"), channel
    )
    channel = np.where(source == NEWSLETTER, CHANNELS.index("email"), channel)
    cols["preferred_channel"] = sarr(CHANNELS)[channel]
    miss["preferred_channel"] = ~_maybe(rng, m, _by_source(source, 0.5, 0.3, 0.7, 0.4))

    sites: np.ndarray = np.full(m, "", dtype=S)
    for p, h in enumerate(has):
        said = h[person] & _maybe(rng, m, 0.85)
        sites = np.where(
            said, np.where(sites == "", PLATFORMS[p], cat(sites, ";", PLATFORMS[p])), sites
        )
    cols["preferred_social_sites"] = sites.astype(S)
    miss["preferred_social_sites"] = (sites == "") | ~_maybe(
        rng, m, _by_source(source, 0.45, 0.3, 0.55, 0.1)
    )

    eng = persons.engagement[person]
    freq_idx = np.clip((rng.normal(2.2 - 2.5 * eng, 0.8)).round(), 0, 4).astype(np.int64)
    freq = sarr(("weekly", "monthly", "quarterly", "never", "never"))[freq_idx]
    freq = np.where(eng > 0.75, "daily", freq)
    cols["contact_frequency"] = freq.astype(S)
    miss["contact_frequency"] = ~_maybe(rng, m, _by_source(source, 0.35, 0.5, 0.4, 0.1))

    # Performance: reviews and surveys, only where the source can know them.
    buyer = persons.buyer[person]
    cols["reviews_written"] = np.where(buyer, rng.poisson(eng * 2.5), 0)
    miss["reviews_written"] = ~np.isin(source, [SHOP])
    cols["surveys_answered"] = rng.poisson(eng * 2.0)
    miss["surveys_answered"] = ~np.isin(source, [SHOP, LOYALTY])
    cols["source"] = sarr(SOURCES)[source]
    miss["source"] = np.zeros(m, bool)
    return cols, miss
