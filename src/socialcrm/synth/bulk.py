"""A large synthetic brand, written fast: numpy and Arrow, straight to Parquet.

The demo brand (:func:`socialcrm.synth.brand.generate_brand`) models people one by one
and keeps a hidden truth for the accuracy tests; it takes minutes at a million
customers. A scale benchmark needs neither the truth nor that detail, only tables of
the right size and shape, so :func:`generate_bulk` draws every column as a whole array:

* ``customers`` — N customer records of about N / 1.6 people (one to four records each,
  from shop, newsletter, loyalty and support), names from each country's real name
  ranks, an address per person, some names mistyped on one record, so identity
  resolution has both exact and fuzzy work;
* ``identities`` — an email per record (a person's records mostly share it, in varying
  case; some use a second address), mobile phones, loyalty cards shared by the loyalty
  and shop records, and social handles on six networks for about 40 % of people;
* ``consents`` — about three decisions per record (social linking, profiling, email
  marketing, personalised ads);
* ``orders`` — about ten per record (spend rates vary from customer to customer),
  returns and cancellations, a tenth named by email only;
* ``touches`` — newsletter sends and opens, about two per record;
* ``posts`` — about one per record, written by customers' and other handles (a few
  prolific), from templates of product, aspect, sentiment and intent; a quarter are
  replies and a tenth reshares;
* ``follows`` — about ten per record, inside communities of handles on one network plus
  follows of popular accounts and the brand.

Values are written as the exports of :mod:`socialcrm.synth.output` are (strings,
``Z`` timestamps), as Parquet, and are meant to be loaded with
:func:`socialcrm.store.ingest.ingest_file`, which validates every row: the files hold
no invalid row, so nothing is rejected. Deterministic for a ``seed``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

LOAD_ORDER = ("customers", "identities", "consents", "orders", "touches", "posts", "follows")
"""Parents before children, as the demo loads them."""

START = np.datetime64("2024-01-01T00:00:00", "s")
END = np.datetime64("2026-06-30T00:00:00", "s")
SPAN_S = int((END - START) / np.timedelta64(1, "s"))
RECORDS_PER_PERSON = 1.6
PLATFORMS = ("twitter", "instagram", "facebook", "bluesky", "mastodon", "linkedin")
PLATFORM_SHARE = (0.3, 0.3, 0.13, 0.12, 0.08, 0.07)
POST_PREFIX = {
    "twitter": "tw",
    "instagram": "ig",
    "facebook": "fb",
    "bluesky": "bs",
    "mastodon": "md",
    "linkedin": "li",
}
COUNTRIES = ("DE", "FR", "GB", "NL", "ES", "IT", "US")
COUNTRY_SHARE = (0.4, 0.15, 0.12, 0.13, 0.08, 0.07, 0.05)
CITIES = {
    "DE": ("Hamburg", "Berlin", "München", "Köln", "Hannover", "Leipzig"),
    "FR": ("Paris", "Lyon", "Marseille", "Lille"),
    "GB": ("London", "Manchester", "Leeds", "Bristol"),
    "NL": ("Amsterdam", "Utrecht", "Rotterdam", "Groningen"),
    "ES": ("Madrid", "Barcelona", "Valencia"),
    "IT": ("Milano", "Roma", "Torino"),
    "US": ("Boston", "Denver", "Seattle"),
}
STREETS = (
    "Hauptstr.", "Bahnhofstr.", "Eichenweg", "Rue de la Paix", "High Street", "Kerkstraat",
    "Calle Mayor", "Via Roma", "Main Street", "Lindenallee", "Gartenstr.", "Station Road",
)  # fmt: skip
DOMAINS = ("gmail.com", "web.de", "gmx.de", "outlook.com", "yahoo.com", "icloud.com", "orange.fr")
INTERESTS = (
    "running", "hiking", "trail", "climbing", "skiing", "camping", "cycling", "travel",
    "bouldering", "mountaineering", "bikepacking", "kayaking",
)  # fmt: skip
OPENERS = {
    "positive": (
        "Absolutely love my", "Really happy with the", "Five stars for the",
        "Best purchase this year: the", "So impressed by the", "Can't stop recommending the",
    ),
    "negative": (
        "Really disappointed with my", "Not happy at all with the", "Avoid the",
        "Third time my", "Honestly regret buying the", "Terrible experience with the",
    ),
    "neutral": (
        "Just picked up the", "Wearing the", "Took the", "Day three with the",
        "Unboxing the", "Comparing the",
    ),
    "question": (
        "Does anyone know if the", "Quick question: is the", "Anyone tried the",
        "How long does the", "Is it worth upgrading the",
    ),
    "suggestion": (
        "Would love it if the", "Please make the", "Idea: the", "Wish the",
        "It would be great if the",
    ),
}  # fmt: skip
ASPECT_LINES = {
    "positive": "is excellent,",
    "negative": "is awful, broke",
    "neutral": "seems fine so far,",
    "question": "- does it hold up in the rain?",
    "suggestion": "could be better,",
}
EXTRAS = (
    "great on the weekend trip", "after two weeks in the Alps", "on my morning run",
    "during the storm last night", "compared to the old one", "for the price",
    "on the coastal trail", "in minus ten degrees", "on a long bikepacking tour",
    "while camping by the lake", "at the city marathon", "on the commute every day",
)  # fmt: skip
SENTIMENTS = ("positive", "negative", "neutral", "question", "suggestion")
SENTIMENT_SHARE = (0.38, 0.2, 0.27, 0.1, 0.05)


@dataclass(frozen=True)
class BulkFiles:
    """The brand's input files (one Parquet file per input table) and their row counts."""

    inputs: dict[str, Path]
    rows: dict[str, int]


def _catalogue() -> dict[str, Any]:
    text = resources.files("socialcrm.synth").joinpath("catalogue.json").read_text()
    return dict(json.loads(text))


def _names() -> dict[str, Any]:
    text = resources.files("socialcrm.synth").joinpath("name_frequencies.json").read_text()
    countries: dict[str, Any] = json.loads(text)["countries"]
    return countries


def _s(values: np.ndarray | list[str]) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), pa.string())


def _take(vocab: tuple[str, ...] | list[str] | np.ndarray, index: np.ndarray) -> pa.Array:
    return _s(np.asarray(vocab, dtype=object)).take(pa.array(np.asarray(index, np.int64)))


def _join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and constants."""
    return pc.binary_join_element_wise(*parts, "")


def _num(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, np.int64)).cast(pa.string())


def _padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(_num(values), width=width, padding="0")


def _null_where(arr: pa.Array, missing: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(missing, bool)), pa.scalar(None, arr.type), arr)


def _timestamps(seconds: np.ndarray) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SSZ`` strings of seconds since :data:`START`."""
    ts = pa.array((START + np.asarray(seconds, np.int64)).astype("datetime64[s]"))
    # a cast and a replace: many times faster than strftime
    return _join(pc.replace_substring(pc.cast(ts, pa.string()), " ", "T"), "Z")


def _zipf_pick(rng: np.random.Generator, n_items: int, size: int, a: float = 1.1) -> np.ndarray:
    """``size`` draws from ``range(n_items)`` with weight ``1 / (rank+1)**a`` (rank = index)."""
    w = 1.0 / np.arange(1, n_items + 1, dtype=np.float64) ** a
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(size)), n_items - 1)


def _write(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", row_group_size=256_000)


def generate_bulk(out_dir: Path, customers: int = 100_000, seed: int = 0) -> BulkFiles:
    """Write a brand of about ``customers`` customer records to ``out_dir`` as Parquet.

    Orders, follows and posts come to about 10, 10 and 1 per customer record.
    """
    if customers < 100:
        raise ValueError("customers must be at least 100")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cat = _catalogue()
    n = int(customers)
    people = _people(rng, int(np.ceil(n / RECORDS_PER_PERSON)))
    rec = _records(rng, n, people)
    files: dict[str, Path] = {}
    rows: dict[str, int] = {}

    def put(name: str, table: pa.Table) -> None:
        path = out / f"{name}.parquet"
        _write(table, path)
        files[name], rows[name] = path, table.num_rows

    put("customers", _customers_table(rng, rec, people))
    identities, handles = _identities(rng, rec, people)
    put("identities", identities)
    put("consents", _consents(rng, rec))
    put("orders", _orders(rng, rec, people, cat))
    put("touches", _touches(rng, rec))
    everyone = _all_handles(rng, handles, cat)
    put("follows", _follows(rng, everyone, 10 * n))
    put("posts", _posts(rng, everyone, n, cat))
    return BulkFiles({t: files[t] for t in LOAD_ORDER}, rows)


@dataclass
class _People:
    n: int
    country: np.ndarray
    first: pa.Array
    last: pa.Array
    gender: np.ndarray
    birth: pa.Array
    street: pa.Array
    city: pa.Array
    postcode: pa.Array
    email: pa.Array
    email2: pa.Array
    phone: pa.Array
    has_phone: np.ndarray
    loyalty: pa.Array


def _people(rng: np.random.Generator, p: int) -> _People:
    names = _names()
    country = rng.choice(len(COUNTRIES), size=p, p=COUNTRY_SHARE)
    gender = rng.random(p) < 0.5  # True: female
    first = np.empty(p, dtype=object)
    last = np.empty(p, dtype=object)
    city = np.empty(p, dtype=object)
    for ci, code in enumerate(COUNTRIES):
        at = np.flatnonzero(country == ci)
        if not len(at):
            continue
        src = names[code]
        for g, key in ((True, "female"), (False, "male")):
            sub = at[gender[at] == g]
            vocab = np.asarray(src[key]["names"], dtype=object)
            first[sub] = vocab[_zipf_pick(rng, len(vocab), len(sub), 0.9)]
        vocab = np.asarray(src["surnames"]["names"], dtype=object)
        last[at] = vocab[_zipf_pick(rng, len(vocab), len(at), 0.8)]
        cities = np.asarray(CITIES[code], dtype=object)
        city[at] = cities[rng.integers(0, len(cities), len(at))]
    first_a, last_a = _s(first), _s(last)
    days = rng.integers(0, 365 * 55, p)
    birth = pc.strftime(
        pa.array(np.datetime64("1950-01-01") + days.astype("timedelta64[D]")), format="%Y-%m-%d"
    )
    street = _join(
        _take(STREETS, rng.integers(0, len(STREETS), p)), " ", _num(rng.integers(1, 120, p))
    )
    postcode = _padded(rng.integers(1000, 99999, p), 5)
    # ascii local parts: the names folded, plus the person's number to keep them unique
    local = pc.utf8_lower(pc.replace_substring_regex(_join(first_a, last_a), r"[^A-Za-z]", ""))
    ids = np.arange(p)
    email = _join(local, _num(ids), "@", _take(DOMAINS, rng.integers(0, len(DOMAINS), p)))
    email2 = _join(pc.utf8_slice_codeunits(local, 0, 6), ".", _num(ids), "@mail.example.org")
    mobile = ("151", "152", "160", "170", "171", "176")  # German mobile ranges: all valid
    phone = _join("+49 ", _take(mobile, rng.integers(0, len(mobile), p)), " ", _padded(ids, 8))
    loyalty = _join("NL-", _padded(ids // 10000, 4), " ", _padded(ids % 10000, 4))
    return _People(
        p,
        country,
        first_a,
        last_a,
        gender,
        birth,
        street,
        _s(city),
        postcode,
        email,
        email2,
        phone,
        rng.random(p) < 0.55,
        loyalty,
    )


@dataclass
class _Records:
    n: int
    person: np.ndarray
    source: np.ndarray
    customer_id: pa.Array
    created: np.ndarray
    email: pa.Array
    has_email: np.ndarray
    spend_rate: np.ndarray


SOURCES = ("shop", "newsletter", "loyalty", "support")
SOURCE_SHARE = (0.55, 0.2, 0.15, 0.1)
"""Where each record comes from (the demo's mix: shop 54 %, newsletter 21 %, ...)."""


def _records(rng: np.random.Generator, n: int, people: _People) -> _Records:
    p = people.n
    # every person has a record; the rest go to people at random (1-4 records each)
    person = np.concatenate([np.arange(p), rng.integers(0, p, n - p)])
    rng.shuffle(person)
    source = rng.choice(len(SOURCES), size=n, p=SOURCE_SHARE)
    number = np.arange(1, n + 1)
    customer_id = _join(_take(SOURCES, source), ":", _padded(number, 7))
    created = rng.integers(0, SPAN_S - 86_400 * 30, n)
    # a person's records mostly share an email (in the case each source wrote it)
    second = rng.random(n) < 0.12
    email = pc.if_else(
        pa.array(second), people.email2.take(pa.array(person)), people.email.take(pa.array(person))
    )
    upper = rng.random(n) < 0.15
    email = pc.if_else(pa.array(upper), pc.utf8_capitalize(email), email)
    has_email = (source != 3) | (rng.random(n) < 0.6)
    spend_rate = rng.gamma(0.8, 12.5, n)
    return _Records(n, person, source, customer_id, created, email, has_email, spend_rate)


def _customers_table(rng: np.random.Generator, rec: _Records, people: _People) -> pa.Table:
    n, person = rec.n, pa.array(rec.person)
    first = people.first.take(person)
    # one record in twenty has its first name mistyped (two letters swapped)
    typo = rng.random(n) < 0.05
    swapped = _join(
        pc.utf8_slice_codeunits(first, 0, 1),
        pc.utf8_slice_codeunits(first, 2, 3),
        pc.utf8_slice_codeunits(first, 1, 2),
        pc.utf8_slice_codeunits(first, 3, 100),
    )
    first = pc.if_else(pa.array(typo), swapped, first)
    address = (rec.source != 1) & (rng.random(n) < 0.8)
    gender = np.where(people.gender[rec.person], "female", "male")
    gender = np.where(rng.random(n) < 0.1, "undisclosed", gender)
    interests = _join(
        _take(INTERESTS, rng.integers(0, len(INTERESTS), n)),
        ";",
        _take(INTERESTS, rng.integers(0, len(INTERESTS), n)),
    )
    country = _take(COUNTRIES, people.country[rec.person])
    return pa.table(
        {
            "customer_id": rec.customer_id,
            "source": _take(SOURCES, rec.source),
            "created_at": _timestamps(rec.created),
            "first_name": first,
            "last_name": people.last.take(person),
            "birth_date": _null_where(people.birth.take(person), rng.random(n) < 0.4),
            "gender": _null_where(_s(gender), rng.random(n) < 0.3),
            "street": _null_where(people.street.take(person), ~address),
            "city": _null_where(people.city.take(person), ~address),
            "postcode": _null_where(people.postcode.take(person), ~address),
            "country": _null_where(country, rng.random(n) < 0.1),
            "interests": _null_where(interests, rng.random(n) < 0.6),
            "occupation": pa.nulls(n, pa.string()),
            "preferred_channel": _null_where(
                _take(("email", "sms", "mail", "social"), rng.integers(0, 4, n)),
                rng.random(n) < 0.6,
            ),
            "preferred_social_sites": _null_where(
                _take(PLATFORMS, rng.integers(0, len(PLATFORMS), n)), rng.random(n) < 0.8
            ),
            "contact_frequency": _null_where(
                _take(("weekly", "monthly", "quarterly"), rng.integers(0, 3, n)),
                rng.random(n) < 0.6,
            ),
            "reviews_written": _num(rng.poisson(0.3, n)),
            "surveys_answered": _num(rng.poisson(0.5, n)),
        }
    )


IDENTITY_SOURCE = {0: "checkout", 1: "signup_form", 2: "loyalty_form", 3: "support_ticket"}


def _identities(
    rng: np.random.Generator, rec: _Records, people: _People
) -> tuple[pa.Table, dict[str, pa.Array]]:
    """Identities of every record, and the customers' handles per platform."""
    n = rec.n
    parts: list[pa.Table] = []
    src = _take([IDENTITY_SOURCE[i] for i in range(4)], rec.source)

    def block(at: np.ndarray, kind: str, value: pa.Array, source: pa.Array) -> None:
        first = rng.integers(0, SPAN_S // 2, len(at))
        last = first + rng.integers(0, SPAN_S // 2, len(at))
        parts.append(
            pa.table(
                {
                    "customer_id": rec.customer_id.take(pa.array(at)),
                    "kind": pa.array([kind] * len(at), pa.string()),
                    "value": value,
                    "source": source,
                    "first_seen": _timestamps(first),
                    "last_seen": _timestamps(last),
                    "verified": pa.array(rng.random(len(at)) < 0.4),
                }
            )
        )

    at = np.flatnonzero(rec.has_email)
    block(at, "email", rec.email.take(pa.array(at)), src.take(pa.array(at)))
    at = np.flatnonzero(people.has_phone[rec.person] & (rec.source != 1) & (rng.random(n) < 0.7))
    block(at, "phone", people.phone.take(pa.array(rec.person[at])), src.take(pa.array(at)))
    at = np.flatnonzero((rec.source == 2) | ((rec.source == 0) & (rng.random(n) < 0.1)))
    block(
        at,
        "loyalty_id",
        people.loyalty.take(pa.array(rec.person[at])),
        _take(("loyalty_card",), np.zeros(len(at), np.int64)),
    )
    # social handles: 40 % of people, on one or two networks, given on one of their records
    p = people.n
    social = rng.random(p) < 0.4
    handles: dict[str, pa.Array] = {}
    owner_record = np.empty(p, np.int64)
    owner_record[rec.person] = np.arange(n)  # some record of each person
    local = pc.utf8_lower(
        pc.replace_substring_regex(_join(people.first, "_", people.last), r"[^A-Za-z_]", "")
    )
    for k, platform in enumerate(PLATFORMS):
        share = PLATFORM_SHARE[k] * 2.2
        who = np.flatnonzero(social & (rng.random(p) < share))
        handle = _handle(platform, pc.utf8_slice_codeunits(local.take(pa.array(who)), 0, 18), who)
        handles[platform] = handle
        block(
            owner_record[who],
            platform,
            handle,
            _take(("profile_form", "social_login", "contest_entry"), rng.integers(0, 3, len(who))),
        )
    return pa.concat_tables(parts), handles


def _handle(platform: str, local: pa.Array, number: np.ndarray) -> pa.Array:
    base = _join(local, _num(number))
    if platform in ("facebook", "linkedin"):
        return pc.replace_substring(base, "_", "-")
    if platform == "mastodon":
        return _join(base, "@mastodon.social")
    if platform == "bluesky":
        return _join(pc.replace_substring(base, "_", "-"), ".bsky.social")
    return base


PURPOSES = ("social_linking", "profiling", "email_marketing", "personalised_ads")
PURPOSE_SHARE = (0.85, 0.85, 0.75, 0.6)
GRANTED = (0.65, 0.7, 0.75, 0.5)


def _consents(rng: np.random.Generator, rec: _Records) -> pa.Table:
    parts = []
    for k, purpose in enumerate(PURPOSES):
        at = np.flatnonzero(rng.random(rec.n) < PURPOSE_SHARE[k])
        status = np.where(rng.random(len(at)) < GRANTED[k], 0, 1)
        status = np.where(rng.random(len(at)) < 0.04, 2, status)
        parts.append(
            pa.table(
                {
                    "customer_id": rec.customer_id.take(pa.array(at)),
                    "purpose": pa.array([purpose] * len(at), pa.string()),
                    "status": _take(("granted", "refused", "withdrawn"), status),
                    "recorded_at": _timestamps(rec.created[at] + 10 * (k + 1)),
                    "source": _take(("store", "web", "app"), rng.integers(0, 3, len(at))),
                }
            )
        )
    return pa.concat_tables(parts)


def _orders(
    rng: np.random.Generator, rec: _Records, people: _People, cat: dict[str, Any]
) -> pa.Table:
    counts = rng.poisson(rec.spend_rate)
    r = np.repeat(np.arange(rec.n), counts)
    m = len(r)
    # each order between its record's creation and the end of the window
    start = rec.created[r]
    at = start + (rng.random(m) * (SPAN_S - start)).astype(np.int64)
    order = np.argsort(at, kind="stable")
    r, at = r[order], at[order]
    products = cat["products"]
    product = rng.integers(0, len(products), m)
    price = np.array([p["price_eur"] for p in products])[product]
    quantity = rng.integers(1, 4, m)
    amount = np.round(price * quantity * rng.uniform(0.7, 1.0, m), 2)
    status = rng.choice(3, size=m, p=(0.94, 0.04, 0.02))
    amount = np.where(status == 1, -amount, amount)
    by_email = (rng.random(m) < 0.1) & rec.has_email[r]
    customer = _null_where(rec.customer_id.take(pa.array(r)), by_email)
    email = _null_where(rec.email.take(pa.array(r)), ~by_email)
    return pa.table(
        {
            "order_id": _join("W-", _padded(np.arange(1, m + 1), 9)),
            "customer_id": customer,
            "email": email,
            "ordered_at": _timestamps(at),
            "amount": pc.cast(pa.array(amount), pa.string()),
            "currency": pa.array(["EUR"] * m, pa.string()),
            "status": _take(("completed", "returned", "cancelled"), status),
            "quantity": _num(quantity),
            "product_id": _take([p["id"] for p in products], product),
            "channel": _take(("online", "store", "app"), rng.choice(3, size=m, p=(0.7, 0.2, 0.1))),
        }
    )


def _touches(rng: np.random.Generator, rec: _Records) -> pa.Table:
    """A newsletter per record with an email, every 3 months on average: sent, some opened."""
    at = np.flatnonzero(rec.has_email & (rng.random(rec.n) < 0.8))
    sent_at = rng.integers(0, SPAN_S, len(at))
    opened = rng.random(len(at)) < 0.35
    o = at[opened]
    customer = np.concatenate([at, o])
    when = np.concatenate([sent_at, sent_at[opened] + rng.integers(60, 86_400 * 3, len(o))])
    event = np.concatenate([np.zeros(len(at), np.int64), np.ones(len(o), np.int64)])
    month = (START + sent_at.astype("timedelta64[s]")).astype("datetime64[M]")
    campaign = pc.strftime(pa.array(month.astype("datetime64[s]")), format="NEWS-%Y-%m")
    campaign = pa.concat_arrays([campaign, campaign.filter(pa.array(opened))])
    m = len(customer)
    return pa.table(
        {
            "touch_id": _join("T", _padded(np.arange(1, m + 1), 10)),
            "customer_id": rec.customer_id.take(pa.array(customer)),
            "channel": pa.array(["email"] * m, pa.string()),
            "campaign_id": campaign,
            "event": _take(("sent", "open"), event),
            "at": _timestamps(when),
        }
    )


@dataclass
class _Handles:
    platform: np.ndarray
    handle: pa.Array
    community: np.ndarray
    """Each handle's community (numbered across platforms)."""


def _all_handles(
    rng: np.random.Generator, customer: dict[str, pa.Array], cat: dict[str, Any]
) -> _Handles:
    """The customers' handles, as many other people's, and the brand's, with communities."""
    platforms, names, community = [], [], []
    next_community = 0
    for k, platform in enumerate(PLATFORMS):
        own = customer[platform]
        others = _handle(platform, pa.array(["fan"] * len(own)), np.arange(len(own)))
        brand = pa.array([cat["brand"]["handles"][platform]], pa.string())
        h = pa.concat_arrays([brand, own, others])
        # communities of about 300 handles (the brand in none of them: community -1)
        size = len(h) - 1
        groups = max(1, size // 300)
        c = np.concatenate([[-1], next_community + rng.integers(0, groups, size)])
        next_community += groups
        platforms.append(np.full(len(h), k))
        names.append(h)
        community.append(c)
    return _Handles(np.concatenate(platforms), pa.concat_arrays(names), np.concatenate(community))


def _follows(rng: np.random.Generator, h: _Handles, total: int) -> pa.Table:
    n = len(h.platform)
    m = int(total * 1.4)
    follower = rng.integers(0, n, m)
    # inside the community (by popularity within it), else someone popular on the network
    inside = rng.random(m) < 0.75
    order = np.lexsort((np.arange(n), h.community))  # handles by community
    comm_sorted = h.community[order]
    first_of = np.searchsorted(comm_sorted, h.community[follower], side="left")
    size_of = np.searchsorted(comm_sorted, h.community[follower], side="right") - first_of
    rank = np.minimum((rng.pareto(1.2, m) * 3).astype(np.int64), size_of - 1)
    followed = np.where(inside, order[first_of + rank], -1)
    # outside: the brand (a tenth) or a handle of the network by popularity (low index)
    plat_first = np.searchsorted(h.platform, h.platform[follower], side="left")
    plat_size = np.searchsorted(h.platform, h.platform[follower], side="right") - plat_first
    popular = np.minimum((rng.pareto(1.0, m) * 20).astype(np.int64), plat_size - 1)
    brand = rng.random(m) < 0.1
    outside = np.where(brand, plat_first, plat_first + popular)
    followed = np.where(inside & (h.community[follower] >= 0), followed, outside)
    keep = follower != followed
    pairs = np.unique(follower[keep].astype(np.int64) * n + followed[keep])
    pairs = pairs[rng.permutation(len(pairs))[:total]]
    f, g = pairs // n, pairs % n
    k = len(f)
    since = rng.integers(-SPAN_S, SPAN_S, k)
    return pa.table(
        {
            "platform": _take(PLATFORMS, h.platform[f]),
            "follower_handle": h.handle.take(pa.array(f)),
            "followed_handle": h.handle.take(pa.array(g)),
            "since": _null_where(_timestamps(since), rng.random(k) < 0.2),
        }
    )


def _posts(rng: np.random.Generator, h: _Handles, total: int, cat: dict[str, Any]) -> pa.Table:
    n = len(h.platform)
    m = total
    # a few prolific authors: by a heavy-tailed weight over a random order of handles
    weight = rng.pareto(1.5, n) + 0.2
    weight /= weight.sum()
    author = rng.choice(n, size=m, p=weight)
    when = np.sort(rng.integers(0, SPAN_S, m))
    platform = h.platform[author]
    # a quarter reply to and a tenth reshare an earlier post of the same network
    kind = rng.choice(3, size=m, p=(0.65, 0.25, 0.1))
    kind[0] = 0
    by_platform = np.argsort(platform, kind="stable")  # stable: in time within a network
    position = np.empty(m, np.int64)
    position[by_platform] = np.arange(m)
    plat_first = np.searchsorted(platform[by_platform], platform, side="left")
    # an earlier post of the same network: up to 50 posts back on that network
    back = rng.integers(1, 50, m)
    target_pos = position - back
    valid = (kind > 0) & (target_pos >= plat_first)
    kind = np.where(valid, kind, 0)
    target = np.where(valid, by_platform[np.maximum(target_pos, 0)], -1)
    # reshares of a reshare point at the original
    reshare = kind == 2
    for _ in range(3):
        hop = reshare & (target >= 0) & (kind[np.maximum(target, 0)] == 2)
        target = np.where(hop, target[np.maximum(target, 0)], target)
    products = cat["products"]
    prod = rng.integers(0, len(products), m)
    aliases = [[p["name"], *p["aliases"]] for p in products]
    pick = rng.integers(0, 4, m)
    alias = np.array([a[min(i, len(a) - 1)] for a in aliases for i in range(4)], dtype=object)
    named = alias[prod * 4 + pick]
    aspects = [p["aspects"] for p in products]
    width = max(len(a) for a in aspects)
    aspect_table = np.array(
        [a[i % len(a)] for a in aspects for i in range(width)], dtype=object
    ).reshape(len(products), width)
    aspect = aspect_table[prod, rng.integers(0, width, m)]
    sentiment = rng.choice(len(SENTIMENTS), size=m, p=SENTIMENT_SHARE)
    opener = np.empty(m, dtype=object)
    line = np.empty(m, dtype=object)
    for si, s in enumerate(SENTIMENTS):
        at = np.flatnonzero(sentiment == si)
        opener[at] = np.asarray(OPENERS[s], dtype=object)[rng.integers(0, len(OPENERS[s]), len(at))]
        line[at] = ASPECT_LINES[s]
    extra = np.asarray(EXTRAS, dtype=object)[rng.integers(0, len(EXTRAS), m)]
    tags = np.array([(p["hashtags"] or ["#nordlicht"])[0] for p in products], dtype=object)
    text = _join(
        _s(opener), " ", _s(named), ": the ", _s(aspect), " ", _s(line), " ", _s(extra), " ",
        _take(tags, prod),
    )  # fmt: skip
    mention = rng.random(m) < 0.08
    text = pc.if_else(pa.array(mention), _join(text, " @", h.handle.take(pa.array(author))), text)
    tgt = pa.array(np.maximum(target, 0))
    is_reply, is_reshare = kind == 1, kind == 2
    text = pc.if_else(pa.array(is_reshare), text.take(tgt), text)
    reply_text = _join(
        "@",
        h.handle.take(pa.array(author[np.maximum(target, 0)])),
        " ",
        _s(opener),
        " ",
        _s(named),
        ", ",
        _s(extra),
    )
    text = pc.if_else(pa.array(is_reply), reply_text, text)
    prefix = np.array([POST_PREFIX[p] for p in PLATFORMS], dtype=object)
    post_id = _join(_take(prefix, platform), "-", _padded(np.arange(1, m + 1), 10))
    followers = rng.poisson(30, m)
    return pa.table(
        {
            "post_id": post_id,
            "platform": _take(PLATFORMS, platform),
            "author_handle": h.handle.take(pa.array(author)),
            "created_at": _timestamps(when),
            "text": text,
            "lang": _take(("en",), np.zeros(m, np.int64)),
            "reply_to_post_id": _null_where(post_id.take(tgt), ~is_reply),
            "reshare_of_post_id": _null_where(post_id.take(tgt), ~is_reshare),
            "likes": _num(rng.poisson(2, m)),
            "reshares": _num(rng.poisson(0.4, m)),
            "replies": _num(rng.poisson(0.5, m)),
            "author_followers": _num(followers),
        }
    )
