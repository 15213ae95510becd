"""Households: resolved people who live together, never merged into one person.

Identity resolution answers *who is one person*; people who share an address or a
landline but differ in first name and birth date are several persons, and often one
household: a family, a couple, flatmates. This step groups resolved persons
(``identity_clusters.customer_id``; record ids before resolution has run) that share

- a **postal address**: each person's most recent address (the street line of their
  newest record that has one), normalised — case, accents, punctuation and the common
  street-type abbreviations (``av.``/``avenue``, ``str.``/``straße``, ``St``/``Street``) —
  and keyed by street line + postcode within a country, or street line + city where a
  postcode is missing;
- a **landline**: a phone identity on records of different persons that ``phonenumbers``
  says is a fixed line. A shared *mobile* never makes a household (a parent's number
  typed into a child's account is not a home), nor does a number it cannot tell apart
  (North American numbers are "fixed line or mobile").

Groups of two or more persons are households; each person is in at most one. Groups
that cannot be a home are kept out, each with its reason, in ``household_exclusions``:
more than :data:`MAX_HOUSEHOLD` persons (a shop's own address, an office, a pick-up point,
a switchboard), a PO box or parcel locker, a placeholder (``unknown``), a street line
without a house number, a landline whose holders now live at different addresses.

Household ids are stable across runs, as person ids are (:mod:`.clusters`): a household
keeps the previous run's id when it holds most of that household's previous members;
otherwise it takes ``hh:`` + the id of its oldest member.

Relational work (records to persons, latest address, shared phones) runs on the engine;
normalising addresses and grouping run locally on one row per person with an address.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import ibis
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr import types as ir

from socialcrm.store.run import RunContext
from socialcrm.store.schemas import IDENTITIES
from socialcrm.store.workspace import Workspace

HOUSEHOLDS = "households"
EXCLUSIONS = "household_exclusions"
CLUSTERS = "identity_clusters"

ADDRESS = ("street", "postcode", "city", "country")
"""The columns of ``customers`` that make an address."""

MAX_HOUSEHOLD = 12
"""More persons than this at one address (or on one landline) is not a household."""

HOUSEHOLDS_SCHEMA = pa.schema(
    [
        pa.field("household_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("household_size", pa.int64(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),
        pa.field("address", pa.string()),
        pa.field("first_seen", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""One row per member: ``customer_id`` is the resolved person; ``evidence`` what they
share, in words (``same address``, ``same landline``, ``same address and landline``);
``address`` the shared address as written on the oldest member's record (null when only
a landline is shared); ``first_seen`` when the household id was first given."""

EXCLUSIONS_SCHEMA = pa.schema(
    [
        pa.field("evidence", pa.string(), nullable=False),
        pa.field("shared", pa.string(), nullable=False),
        pa.field("persons", pa.int64(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)
"""Groups of two or more persons that share an address or a landline but were not made a
household: what they share (``shared``: the address as written, or the number) and why."""

# -- addresses ------------------------------------------------------------------------------
_FOLD = {"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "đ": "d", "ł": "l", "ı": "i", "þ": "th"}

_TOKENS: dict[str, str] = {
    # every spelling of a street type becomes one short token: equal keys are all that
    # matter (the country is part of the key), so "pl" may stand for place, platz, plein
    **dict.fromkeys(("street", "st", "saint", "ste"), "st"),
    **dict.fromkeys(("road", "rd"), "rd"),
    **dict.fromkeys(("avenue", "ave", "av", "avda", "avenida", "avinguda"), "av"),
    **dict.fromkeys(("boulevard", "blvd", "bd", "boul", "bld"), "bd"),
    **dict.fromkeys(("drive", "dr"), "dr"),
    **dict.fromkeys(("lane", "ln", "laan"), "ln"),
    **dict.fromkeys(("close", "cl"), "cl"),
    **dict.fromkeys(("court", "ct"), "ct"),
    **dict.fromkeys(("square", "sq"), "sq"),
    **dict.fromkeys(("terrace", "ter", "terr"), "ter"),
    **dict.fromkeys(("crescent", "cres"), "cres"),
    **dict.fromkeys(("highway", "hwy"), "hwy"),
    **dict.fromkeys(("parkway", "pkwy"), "pkwy"),
    **dict.fromkeys(("place", "pl", "platz", "plein", "plaza", "pza", "piazza", "pzza"), "pl"),
    **dict.fromkeys(("rue", "r"), "rue"),
    **dict.fromkeys(("chemin", "ch", "chem"), "ch"),
    **dict.fromkeys(("allee", "all"), "allee"),
    **dict.fromkeys(("route", "rte"), "rte"),
    **dict.fromkeys(("faubourg", "fbg"), "fbg"),
    **dict.fromkeys(("impasse", "imp"), "imp"),
    **dict.fromkeys(("calle", "c"), "c"),
    **dict.fromkeys(("paseo", "po"), "po"),
    **dict.fromkeys(("via", "v"), "via"),
    **dict.fromkeys(("viale", "vle"), "vle"),
    **dict.fromkeys(("corso", "cso"), "cso"),
    **dict.fromkeys(("gracht", "gr"), "gr"),
    **dict.fromkeys(("strasse", "str", "straat"), "str"),
    **dict.fromkeys(("apartment", "apt", "flat", "unit"), "apt"),
    # words that carry nothing: "Nr. 5", "no 5", "numéro 5"
    **dict.fromkeys(("nr", "no", "num", "numero", "n"), ""),
}

_PHRASES = (
    # abbreviations written with a dot inside one word ("P.zza", "V.le", "C.so", "C/")
    (r" p zza ", " pzza "),
    (r" v le ", " vle "),
    (r" c so ", " cso "),
)

_PLACEHOLDERS = frozenset(
    {
        "",
        "unknown",
        "unbekannt",
        "inconnu",
        "inconnue",
        "desconocido",
        "sconosciuto",
        "onbekend",
        "na",
        "n a",
        "none",
        "null",
        "nil",
        "test",
        "x",
        "xx",
        "xxx",
        "no address",
        "sans adresse",
        "keine",
        "keine angabe",
        "tbd",
        "tba",
    }
)

_NOT_A_HOME = (
    r"(^| )(po box|p o box|pobox|post office box|postfach|boite postale|bp|b p|"
    r"apartado|apdo|casella postale|cp|c p|postbus|antwoordnummer|packstation|paketshop|"
    r"postfiliale|point relais|relais colis|pickup|pick up|parcel locker|parcel shop|"
    r"locker|poste restante|postlagernd|lista de correos|fermo posta|general delivery)( |$)"
)


def _text(values: pa.Array) -> pa.Array:
    """Lower case, no accents, letters and digits only, single spaces."""
    s = pc.utf8_lower(values)
    for k, v in _FOLD.items():
        s = pc.replace_substring(s, k, v)
    s = pc.utf8_normalize(s, "NFKD")
    s = pc.replace_substring_regex(s, r"\p{M}+", "")
    s = pc.replace_substring_regex(s, r"[^\p{L}\p{N}]+", " ")
    return pc.utf8_trim_whitespace(s)


def street_keys(streets: pa.Array | pa.ChunkedArray | Iterable[str | None]) -> pa.Array:
    """Street lines in one comparable form: the same home written two ways gets one key.

    >>> street_keys(["Hauptstraße 5", "Hauptstr. 5", "12, Av. de la Gare"]).to_pylist()
    ['haupt str 5', 'haupt str 5', '12 av de la gare']
    >>> street_keys(["12 avenue de la gare", "12 R. Pasteur", "3 St Mary's St.", None]).to_pylist()
    ['12 av de la gare', '12 rue pasteur', '3 st mary s st', None]
    """
    if isinstance(streets, pa.ChunkedArray):
        streets = streets.combine_chunks()
    arr = streets if isinstance(streets, pa.Array) else pa.array(list(streets), pa.string())
    s = _text(arr.cast(pa.string()))
    s = pc.replace_substring_regex(s, r"(\p{N})(\p{L})", r"\1 \2")  # 12a -> 12 a
    s = pc.replace_substring_regex(s, r"(\p{L})(\p{N})", r"\1 \2")
    # German and Dutch compounds: "Hauptstraße", "Hauptstr", "Kerkstraat" -> "... str"
    s = pc.replace_substring_regex(s, r"(\p{L}{2,})(strasse|straat|str)( |$)", r"\1 str\3")
    s = pc.binary_join_element_wise(" ", s, " ", "")
    for pattern, repl in _PHRASES:
        s = pc.replace_substring_regex(s, pattern, repl)
    parts = pc.split_pattern(pc.utf8_trim_whitespace(s), " ")
    flat = pc.list_flatten(parts)
    keys = pa.array(list(_TOKENS), pa.string())
    found = pc.index_in(flat, value_set=keys)
    mapped = pc.if_else(
        pc.is_null(found), flat, pc.take(pa.array(list(_TOKENS.values())), pc.fill_null(found, 0))
    )
    rebuilt = pa.ListArray.from_arrays(parts.offsets, mapped, mask=pc.is_null(parts))
    joined = pc.binary_join(rebuilt, " ")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(joined, " +", " "))


def _postcodes(values: pa.Array) -> pa.Array:
    s = pc.replace_substring_regex(pc.utf8_upper(values.cast(pa.string())), "[^A-Z0-9]", "")
    return pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)


def _not_a_home(key: str) -> str | None:
    """Why a normalised street line names no one home, or None."""
    if key in _PLACEHOLDERS:
        return "a placeholder, not an address"
    if re.search(_NOT_A_HOME, key):
        return "a PO box or pick-up point, not a home"
    if not re.search(r"\d", key):
        return "no house number: the street line does not name one home"
    return None


def display_address(
    street: str | None, postcode: str | None, city: str | None, country: str | None
) -> str:
    """The address as a person wrote it, on one line.

    >>> display_address("12 rue Pasteur", "75002", "Paris", "FR")
    '12 rue Pasteur, 75002 Paris, FR'
    """
    place = " ".join(p.strip() for p in (postcode, city) if p and p.strip())
    return ", ".join(p for p in ((street or "").strip(), place, (country or "").strip()) if p)


# -- phones ---------------------------------------------------------------------------------
def is_landline(e164: str) -> bool:
    """Whether a number is a fixed line for certain (not a mobile, not "either").

    >>> is_landline("+4930901820"), is_landline("+4915112345678"), is_landline("+12125550123")
    (True, False, False)
    """
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return bool(phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE)


# -- engine work ----------------------------------------------------------------------------
def person_records(ws: Workspace) -> ir.Table:
    """Every customer record (record_id, person, created_at, street, postcode, city,
    country) with its person: ``identity_clusters.customer_id``, or the record's own id
    when it is not resolved yet."""
    cust = ws.warehouse.table("customers")
    missing = {c: ibis.null("string") for c in ADDRESS if c not in cust.columns}
    cust = cust.mutate(**missing) if missing else cust
    if ws.warehouse.exists(CLUSTERS):
        k = ws.warehouse.table(CLUSTERS).select(rid="record_id", pid="customer_id")
        j = cust.left_join(k, cust.customer_id == k.rid)
        person = ibis.coalesce(j.pid, j.customer_id)
    else:
        j, person = cust, cust.customer_id
    return j.select(
        record_id=j.customer_id,
        person=person,
        created_at=j.created_at,
        **{c: j[c].cast("string") for c in ADDRESS},
    )


def _with_since(records: ir.Table, t: ir.Table) -> ir.Table:
    """``t`` with ``since``: when the person's first record was created (who is oldest)."""
    firsts = records.group_by(p="person").aggregate(since=records.created_at.min())
    j = t.inner_join(firsts, t.person == firsts.p)
    return j.select(*t.columns, "since")


def latest_addresses(records: ir.Table) -> ir.Table:
    """Per person, the address of their newest record that has a street line."""
    has = records.filter(records.street.notnull() & (records.street.strip() != ""))
    w = ibis.window(
        group_by=has.person, order_by=[ibis.desc(has.created_at), ibis.desc(has.record_id)]
    )
    ranked = has.mutate(rn=ibis.row_number().over(w))
    top = ranked.filter(ranked.rn == 0).select("person", *ADDRESS)
    return _with_since(records, top)


def shared_phones(ws: Workspace, records: ir.Table) -> ir.Table:
    """(person, phone, since) for every phone held by records of two or more persons."""
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    phones = ids.filter(ids.kind == "phone")
    r = records.select(rid=records.record_id, person=records.person)
    j = phones.inner_join(r, phones.customer_id == r.rid)
    held = j.select(person=j.person, phone=j.value).distinct()
    counts = held.group_by("phone").aggregate(n=held.person.count())
    many = counts.filter(counts.n >= 2).select(shared="phone")
    found = held.inner_join(many, held.phone == many.shared).select("person", "phone")
    return _with_since(records, found)


# -- grouping -------------------------------------------------------------------------------
@dataclass
class _Group:
    evidence: str
    shared: str
    members: list[str]
    address: str | None = None


@dataclass
class Grouping:
    """Households (member lists, with evidence and address) and the groups left out."""

    households: list[tuple[list[str], str, str | None]]
    exclusions: pa.Table


def _address_keys(addresses: pa.Table) -> tuple[list[str | None], list[str]]:
    """Each person's normalised address key (None: not enough to name a place) and the
    address as written, one line.

    The key is country + street line + postcode; without a postcode, street line + city
    stand in, unless that street line has several postcodes in the city (then it is left
    unkeyed rather than guessed), and a person with one known postcode there joins it."""
    streets = street_keys(addresses["street"].combine_chunks()).to_pylist()
    postcodes = _postcodes(addresses["postcode"].combine_chunks()).to_pylist()
    cities = _text(addresses["city"].combine_chunks().cast(pa.string())).to_pylist()
    countries = _text(addresses["country"].combine_chunks().cast(pa.string())).to_pylist()
    rows = zip(streets, postcodes, cities, countries, strict=True)
    by_city: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for st, code, ci, co in zip(streets, postcodes, cities, countries, strict=True):
        if st is not None and code and ci:
            by_city[(co or "", st, ci)].add(code)
    keys: list[str | None] = []
    for st, code, ci, co in rows:
        key = None
        if st is not None and code:
            key = f"p:{code}"
        elif st is not None and ci:
            known = by_city.get((co or "", st, ci), set())
            key = f"p:{next(iter(known))}" if len(known) == 1 else None if known else f"c:{ci}"
        keys.append(None if key is None else f"{co or ''}|{st}|{key}")
    shown = [
        display_address(r["street"], r["postcode"], r["city"], r["country"])
        for r in addresses.select(["street", "postcode", "city", "country"]).to_pylist()
    ]
    return keys, shown


def group_households(
    addresses: pa.Table,
    phones: pa.Table,
    oldest: dict[str, tuple[object, str]],
    max_size: int = MAX_HOUSEHOLD,
) -> Grouping:
    """Households from persons' latest addresses (one row per person: person, street,
    postcode, city, country) and shared phones (person, phone).

    ``oldest`` orders persons (the earliest creation of their records, then their id):
    members are listed oldest first, and a household's address is shown as its oldest
    member wrote it.
    """
    excluded: list[dict[str, object]] = []

    def exclude(g: _Group, reason: str) -> None:
        excluded.append(
            {
                "evidence": g.evidence,
                "shared": g.address or g.shared,
                "persons": len(g.members),
                "reason": reason,
            }
        )

    def rank(p: str) -> tuple[bool, tuple[object, str]]:
        found = oldest.get(p, (None, p))
        return found[0] is None, found

    def order(members: Iterable[str]) -> list[str]:
        return sorted(set(members), key=rank)

    persons = addresses["person"].to_pylist()
    keys, shown = _address_keys(addresses) if persons else ([], [])
    lives = {p: k for p, k in zip(persons, keys, strict=True) if k is not None}
    written = dict(zip(persons, shown, strict=True))
    at: dict[str, list[str]] = defaultdict(list)
    for p, k in lives.items():
        at[k].append(p)
    usable: list[_Group] = []
    for key in sorted(at):
        if len(at[key]) < 2:
            continue
        members = order(at[key])
        g = _Group("same address", key.split("|")[1], members, written[members[0]])
        why = _not_a_home(g.shared)
        if why is None and len(members) > max_size:
            why = (
                f"{len(members)} people at one address, more than {max_size}: a shop, an "
                "office or a pick-up point, not a household"
            )
        if why:
            exclude(g, why)
        else:
            usable.append(g)
    by_phone: dict[str, list[str]] = defaultdict(list)
    for p, ph in zip(phones["person"].to_pylist(), phones["phone"].to_pylist(), strict=True):
        by_phone[ph].append(p)
    for ph in sorted(by_phone):
        members = order(by_phone[ph])
        if len(members) < 2 or not is_landline(ph):
            continue  # a mobile is a person's, not a home's
        g = _Group("same landline", ph, members)
        if len(members) > max_size:
            exclude(
                g,
                f"{len(members)} people share one landline, more than {max_size}: a "
                "switchboard or a shop's number, not a household",
            )
        elif len({lives[p] for p in members if p in lives}) > 1:
            exclude(g, "the people with this landline live at different addresses now")
        else:
            usable.append(g)

    # the usable groups joined where they share a person: each person in one household
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for g in usable:
        for p in g.members[1:]:
            a, b = find(g.members[0]), find(p)
            if a != b:
                parent[max(a, b)] = min(a, b)
    comps: dict[str, list[str]] = defaultdict(list)
    for p in list(parent):
        comps[find(p)].append(p)
    evidence: dict[str, set[str]] = defaultdict(set)
    shared_at: dict[str, str] = {}
    for g in usable:
        evidence[find(g.members[0])].add(g.evidence)
        if g.address:
            shared_at.update(dict.fromkeys(g.members, g.address))
    households = []
    for root, members in comps.items():
        ordered = order(members)
        said = "same address and landline" if len(evidence[root]) > 1 else min(evidence[root])
        # the shared address, as the oldest member of its group wrote it
        address = next((shared_at[p] for p in ordered if p in shared_at), None)
        if len(ordered) > max_size:
            exclude(
                _Group(said, address or ordered[0], ordered),
                f"{len(ordered)} people linked by shared addresses and landlines, more "
                f"than {max_size}: not one household",
            )
            continue
        households.append((ordered, said, address))
    households.sort(key=lambda h: rank(h[0][0]))
    table = (
        pa.Table.from_pylist(excluded, schema=EXCLUSIONS_SCHEMA)
        if excluded
        else EXCLUSIONS_SCHEMA.empty_table()
    )
    return Grouping(households, table.sort_by([("evidence", "ascending"), ("shared", "ascending")]))


# -- stable ids -----------------------------------------------------------------------------
def assign_ids(
    households: list[tuple[list[str], str, str | None]],
    previous: pa.Table | None,
    now: datetime | Callable[[], datetime],
    renamed: dict[str, str] | None = None,
) -> pa.Table:
    """Household rows with stable ids.

    A previous household id goes to the household holding most of its previous members
    (ties: the household listed first, i.e. whose oldest member is oldest); a household
    that wins several keeps the one first seen earliest; one that wins none takes ``hh:``
    + its oldest member's id (``~2``, ``~3``… if that is taken). ``renamed`` maps a
    previous person id to the person it belongs to now (after identity merges). ``now``
    (the first-seen time of new ids) may be a function, called only if an id is new: a
    run that gives no new id then does not depend on the clock, and an incremental run
    the next day can skip the step while the customers are unchanged.

    >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
    >>> first = assign_ids([(["a", "b"], "same address", "1 Main St")], None, t0)
    >>> first["household_id"].to_pylist()
    ['hh:a', 'hh:a']
    >>> again = assign_ids([(["c", "a", "b"], "same address", "1 Main St")], first, t0)
    >>> again["household_id"].to_pylist(), again["household_size"].to_pylist()
    (['hh:a', 'hh:a', 'hh:a'], [3, 3, 3])
    """
    renamed = renamed or {}
    clock = now if callable(now) else (lambda: now)
    read: list[datetime] = []

    def first_seen(hid: str) -> datetime:
        if hid in old_since:
            return old_since[hid]
        if not read:
            read.append(clock())
        return read[0]

    old_id: dict[str, str] = {}
    old_since: dict[str, datetime] = {}
    if previous is not None and previous.num_rows:
        for r in previous.select(["household_id", "customer_id", "first_seen"]).to_pylist():
            person = renamed.get(r["customer_id"], r["customer_id"])
            old_id.setdefault(person, r["household_id"])
            seen = r["first_seen"]
            if r["household_id"] not in old_since or seen < old_since[r["household_id"]]:
                old_since[r["household_id"]] = seen
    claims: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for k, (members, _, _) in enumerate(households):
        for hid, count in Counter(old_id[p] for p in members if p in old_id).items():
            claims[hid].append((count, -k))
    won_by: dict[int, list[str]] = defaultdict(list)
    for hid, cs in claims.items():
        won_by[-max(cs)[1]].append(hid)
    taken = set(old_since)
    rows = []
    for k, (members, evidence, address) in enumerate(households):
        won = won_by.get(k)
        if won:
            hid = min(won, key=lambda h: (first_seen(h), h))
            since = first_seen(hid)
        else:
            base, n = "hh:" + members[0], 2
            hid = base
            while hid in taken:
                hid, n = f"{base}~{n}", n + 1
            since = first_seen(hid)
        taken.add(hid)
        for p in members:
            rows.append(
                {
                    "household_id": hid,
                    "customer_id": p,
                    "household_size": len(members),
                    "evidence": evidence,
                    "address": address,
                    "first_seen": since,
                }
            )
    if not rows:
        return HOUSEHOLDS_SCHEMA.empty_table()
    return pa.Table.from_pylist(rows, schema=HOUSEHOLDS_SCHEMA)


# -- the step -------------------------------------------------------------------------------
def step_households(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Write ``households`` (one row per member) and ``household_exclusions``."""
    wh, eng = ws.warehouse, ws.engine
    records = person_records(ws)
    addresses = eng.to_arrow(latest_addresses(records)).sort_by("person")
    phones = eng.to_arrow(shared_phones(ws, records)).sort_by(
        [("phone", "ascending"), ("person", "ascending")]
    )
    oldest: dict[str, tuple[object, str]] = {
        p: (s, p)
        for t in (addresses, phones)
        for p, s in zip(t["person"].to_pylist(), t["since"].to_pylist(), strict=True)
    }
    grouping = group_households(addresses, phones, oldest)
    previous = wh.read_arrow(HOUSEHOLDS) if wh.exists(HOUSEHOLDS) else None
    renamed: dict[str, str] = {}
    if previous is not None and wh.exists(CLUSTERS):
        old = sorted(set(previous["customer_id"].to_pylist()))
        k = wh.table(CLUSTERS)
        now_of = eng.to_arrow(
            k.filter(k.record_id.isin(eng.values(old))).select("record_id", "customer_id")
        ).to_pylist()
        renamed = {r["record_id"]: r["customer_id"] for r in now_of}
    table = assign_ids(
        grouping.households, previous, lambda: ctx.started_at.astimezone(UTC), renamed
    )
    return {
        HOUSEHOLDS: wh.write(HOUSEHOLDS, table),
        EXCLUSIONS: wh.write(EXCLUSIONS, grouping.exclusions),
    }


__all__ = [
    "EXCLUSIONS",
    "EXCLUSIONS_SCHEMA",
    "HOUSEHOLDS",
    "HOUSEHOLDS_SCHEMA",
    "MAX_HOUSEHOLD",
    "assign_ids",
    "display_address",
    "group_households",
    "is_landline",
    "step_households",
    "street_keys",
]
