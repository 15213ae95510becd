"""Households: people at one address (or on one landline) stay several people in one
household; shared mobiles, shops and PO boxes make none; ids stay put across runs."""

from __future__ import annotations

import csv
import doctest
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.config import Settings
from socialcrm.connecting import households as hh
from socialcrm.connecting.households import (
    MAX_HOUSEHOLD,
    assign_ids,
    group_households,
    step_households,
    street_keys,
)
from socialcrm.connecting.identity import step_identities
from socialcrm.pipeline import run_context
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace

CUSTOMER_COLUMNS = [
    "customer_id", "source", "created_at", "first_name", "last_name", "birth_date", "gender",
    "street", "postcode", "city", "country",
]  # fmt: skip

# People unrelated to anyone: a background for the model to learn what a stranger is.
FIRST = ["Lena", "Jonas", "Mia", "Paul", "Emma", "Felix", "Hanna", "Lukas", "Sofia", "Noah"]
LAST = ["Schmidt", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Klein"]
STREETS = ["Lindenweg", "Bahnhofstraße", "Gartenstraße", "Schillerplatz", "Rosenallee"]


def _strangers(n: int = 40) -> list[dict[str, str]]:
    return [
        {
            "customer_id": f"bg:{i:03d}",
            "source": "shop",
            "created_at": f"2023-{1 + i % 12:02d}-{1 + i % 27:02d}T10:00:00Z",
            "first_name": FIRST[i % len(FIRST)],
            "last_name": LAST[(i * 3) % len(LAST)] + ("" if i < len(LAST) * 2 else f"-{i}"),
            "birth_date": f"{1950 + i}-{1 + (i * 5) % 12:02d}-{1 + (i * 7) % 28:02d}",
            "street": f"{STREETS[i % len(STREETS)]} {10 + i}",
            "postcode": f"{10115 + 37 * i}",
            "city": "Berlin",
            "country": "DE",
        }
        for i in range(n)
    ]


def _family() -> list[dict[str, str]]:
    """Four people at one address: one surname, four first names, four birth dates, four
    mailboxes; the address written three ways."""
    people = [
        ("berg:anna", "Anna", "1978-03-14", "female", "12 rue Pasteur", "2021-01-05"),
        ("berg:marc", "Marc", "1975-11-02", "male", "12, R. Pasteur", "2021-02-10"),
        ("berg:lea", "Léa", "2004-06-21", "female", "12 Rue  Pasteur", "2022-05-01"),
        ("berg:hugo", "Hugo", "2007-09-30", "male", "12 RUE PASTEUR", "2023-08-15"),
    ]
    return [
        {
            "customer_id": cid,
            "source": "shop",
            "created_at": f"{created}T09:00:00Z",
            "first_name": first,
            "last_name": "Berger",
            "birth_date": born,
            "gender": gender,
            "street": street,
            "postcode": "75002",
            "city": "Paris",
            "country": "FR",
        }
        for cid, first, born, gender, street, created in people
    ]


def _flatmates() -> list[dict[str, str]]:
    return [
        {
            "customer_id": "flat:ines",
            "source": "shop",
            "created_at": "2022-03-01T09:00:00Z",
            "first_name": "Inès",
            "last_name": "Moreau",
            "birth_date": "1996-02-11",
            "street": "Hauptstraße 7",
            "postcode": "50667",
            "city": "Köln",
            "country": "DE",
        },
        {
            "customer_id": "flat:tom",
            "source": "newsletter",
            "created_at": "2022-07-01T09:00:00Z",
            "first_name": "Tom",
            "last_name": "Okafor",
            "birth_date": "1994-08-23",
            "street": "Hauptstr. 7",
            "postcode": "50667",
            "city": "Köln",
            "country": "DE",
        },
    ]


def _emails(customers: list[dict[str, str]]) -> list[dict[str, str]]:
    return [
        {
            "customer_id": c["customer_id"],
            "kind": "email",
            "value": c["customer_id"].replace(":", ".") + "@example.org",
            "source": "checkout",
            "verified": "true",
        }
        for c in customers
    ]


def _write(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace.open(Settings(home=tmp_path / "ws", phone_region="DE"))
    yield w
    w.close()


def _load(ws: Workspace, customers: list[dict[str, str]], identities: list[dict[str, str]]) -> None:
    folder = ws.settings.home.parent
    ingest_file(ws, "customers", _write(folder / "c.csv", customers, CUSTOMER_COLUMNS))
    if identities:
        cols = ["customer_id", "kind", "value", "source", "verified"]
        ingest_file(ws, "identities", _write(folder / "i.csv", identities, cols))


def _households(ws: Workspace) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for r in ws.warehouse.read_arrow("households").to_pylist():
        out.setdefault(str(r["household_id"]), []).append(r)
    return out


def _members(ws: Workspace) -> list[set[str]]:
    return sorted(
        ({str(r["customer_id"]) for r in rows} for rows in _households(ws).values()), key=min
    )


def _person(ws: Workspace) -> dict[str, str]:
    rows = ws.warehouse.read_arrow("identity_clusters").to_pylist()
    return {r["record_id"]: r["customer_id"] for r in rows}


def test_a_family_of_four_stays_four_people_in_one_household(ws: Workspace) -> None:
    customers = _strangers() + _family() + _flatmates()
    _load(ws, customers, _emails(customers))
    ctx = run_context(ws)
    step_identities(ws, ctx)
    person = _person(ws)
    family = [c["customer_id"] for c in _family()]
    # identity resolution keeps them apart: four first names, four birth dates
    assert len({person[r] for r in family}) == 4, {r: person[r] for r in family}
    written = step_households(ws, ctx)
    assert written["households"] == 6
    groups = _households(ws)
    by_member = {r["customer_id"]: hid for hid, rows in groups.items() for r in rows}
    (home,) = {by_member[person[r]] for r in family}
    rows = groups[home]
    assert {r["customer_id"] for r in rows} == {person[r] for r in family}
    assert {r["household_size"] for r in rows} == {4}
    assert {r["evidence"] for r in rows} == {"same address"}
    # the oldest member's id and address as she wrote it
    assert home == "hh:" + person["berg:anna"]
    assert {r["address"] for r in rows} == {"12 rue Pasteur, 75002 Paris, FR"}
    # two people with different surnames at one address ("Hauptstr." = "Hauptstraße")
    flat = {person["flat:ines"], person["flat:tom"]}
    assert flat in _members(ws)
    # nobody else shares a home
    assert len(groups) == 2


def test_a_shared_mobile_makes_no_household_and_a_shared_landline_does(
    ws: Workspace,
) -> None:
    a, b, c, d = (dict(x, customer_id=f"p:{k}") for k, x in zip("abcd", _strangers(4), strict=True))
    b["street"] = ""  # b has no address on record: nothing contradicts the landline
    identities = [
        # a and c: one mobile (a parent's number on a child's account), different homes
        {"customer_id": "p:a", "kind": "phone", "value": "+49 151 12345678", "source": "shop",
         "verified": "true"},
        {"customer_id": "p:c", "kind": "phone", "value": "0151 12345678", "source": "shop",
         "verified": "false"},
        # a and b: one Berlin landline
        {"customer_id": "p:a", "kind": "phone", "value": "030 901820", "source": "shop",
         "verified": "false"},
        {"customer_id": "p:b", "kind": "phone", "value": "+49 30 901820", "source": "shop",
         "verified": "false"},
        # c and d: one landline, but they live at different addresses now
        {"customer_id": "p:c", "kind": "phone", "value": "+49 89 1234567", "source": "shop",
         "verified": "false"},
        {"customer_id": "p:d", "kind": "phone", "value": "+49 89 1234567", "source": "shop",
         "verified": "false"},
    ]  # fmt: skip
    _load(ws, [a, b, c, d], identities)
    # no identity resolution yet: every record is a person
    step_households(ws, run_context(ws))
    assert _members(ws) == [{"p:a", "p:b"}]
    assert {r["evidence"] for rows in _households(ws).values() for r in rows} == {"same landline"}
    assert {r["address"] for rows in _households(ws).values() for r in rows} == {None}
    out = ws.warehouse.read_arrow("household_exclusions").to_pylist()
    assert [(r["evidence"], r["shared"], r["persons"]) for r in out] == [
        ("same landline", "+49891234567", 2)
    ]
    assert "different addresses" in out[0]["reason"]


def test_a_crowd_at_one_address_or_a_po_box_is_not_a_household(ws: Workspace) -> None:
    n = MAX_HOUSEHOLD + 3
    shop = [
        dict(x, customer_id=f"shop:{i:03d}", street="1 Market Square", postcode="CB2 3QJ",
             city="Cambridge", country="GB")
        for i, x in enumerate(_strangers(n))
    ]  # fmt: skip
    box = [
        dict(x, customer_id=f"box:{i}", street="Postfach 1234", postcode="10117", city="Berlin")
        for i, x in enumerate(_strangers(2))
    ]
    nowhere = [
        dict(x, customer_id=f"unk:{i}", street="unknown", postcode="10115")
        for i, x in enumerate(_strangers(3))
    ]
    _load(ws, shop + box + nowhere, [])
    assert step_households(ws, run_context(ws))["households"] == 0
    out = {r["shared"]: r for r in ws.warehouse.read_arrow("household_exclusions").to_pylist()}
    crowd = out["1 Market Square, CB2 3QJ Cambridge, GB"]
    assert crowd["persons"] == n and f"more than {MAX_HOUSEHOLD}" in crowd["reason"]
    assert "PO box" in out["Postfach 1234, 10117 Berlin, DE"]["reason"]
    assert any("placeholder" in r["reason"] for r in out.values())


def test_household_ids_stay_when_a_member_joins(ws: Workspace, tmp_path: Path) -> None:
    family = _family()
    first = _strangers() + family[1:]  # Marc, Léa and Hugo first
    _load(ws, first, _emails(first))
    step_identities(ws, run_context(ws))
    step_households(ws, run_context(ws))
    (before,) = [h for h, rows in _households(ws).items() if len(rows) == 3]
    since = _households(ws)[before][0]["first_seen"]
    assert before == "hh:" + _person(ws)["berg:marc"]
    # Anna's record arrives: she is the oldest member (her record was created first),
    # yet the household keeps its id, because it holds all of its previous members
    everyone = first + family[:1]
    _load(ws, everyone, _emails(everyone))
    step_identities(ws, run_context(ws))
    step_households(ws, run_context(ws))
    person = _person(ws)
    after = _households(ws)
    assert before in after
    assert {r["customer_id"] for r in after[before]} == {person[f["customer_id"]] for f in family}
    assert {r["household_size"] for r in after[before]} == {4}
    assert {r["first_seen"] for r in after[before]} == {since}


def test_grouping_and_ids_without_a_workspace() -> None:
    addresses = pa.table(
        {
            "person": ["a", "b", "c", "d", "e"],
            "street": ["5 Elm St.", "5 elm street", "5 Elm Street", "9 Oak Rd", "9 Oak Road"],
            "postcode": ["02139", "02139", None, "02139", "02140"],
            "city": ["Cambridge", "Cambridge", "Cambridge", "Cambridge", "Cambridge"],
            "country": ["US"] * 5,
        }
    )
    phones = pa.table({"person": pa.array([], pa.string()), "phone": pa.array([], pa.string())})
    g = group_households(addresses, phones, {})
    # c has no postcode: the one postcode of 5 Elm Street in Cambridge is theirs
    # d and e: one street line, two postcodes, so two places
    assert g.households == [(["a", "b", "c"], "same address", "5 Elm St., 02139 Cambridge, US")]
    from datetime import UTC, datetime

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    one = assign_ids(g.households, None, t0)
    # the household splits: the part with most of the old members keeps the id
    two = assign_ids(
        [(["c", "x"], "same address", None), (["a", "b"], "same address", None)], one, t0
    )
    ids = dict(zip(two["customer_id"].to_pylist(), two["household_id"].to_pylist(), strict=True))
    assert ids["a"] == ids["b"] == "hh:a" and ids["c"] == "hh:c"
    assert street_keys(["Kerkstraat 3", "Kerkstr. 3"]).to_pylist() == ["kerk str 3"] * 2


def test_the_clock_is_read_only_when_a_household_id_is_new() -> None:
    """A run that gives no new id does not depend on the time it ran (so an incremental
    run can skip the step while the customers are unchanged)."""
    from datetime import UTC, datetime

    t0, t1 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
    reads: list[datetime] = []

    def clock(at: datetime):
        return lambda: reads.append(at) or at

    one = assign_ids([(["a", "b"], "same address", None)], None, clock(t0))
    assert reads == [t0] and set(one["first_seen"].to_pylist()) == {t0}
    same = assign_ids([(["a", "b"], "same address", None)], one, clock(t1))
    assert reads == [t0] and same.equals(one)
    grown = assign_ids(
        [(["a", "b"], "same address", None), (["c", "d"], "same landline", None)], one, clock(t1)
    )
    assert reads == [t0, t1]  # once for the new household, not per row
    since = dict(
        zip(grown["customer_id"].to_pylist(), grown["first_seen"].to_pylist(), strict=True)
    )
    assert since == {"a": t0, "b": t0, "c": t1, "d": t1}


def test_doctests() -> None:
    assert doctest.testmod(hh).failed == 0


def test_address_and_landline_join_and_a_chain_beyond_the_cap_is_left_out() -> None:
    addresses = pa.table(
        {
            "person": ["a", "b", "d", "e"],
            "street": ["Lindenweg 3", "Lindenweg 3", "Ring 9", "Ring 9"],
            "postcode": ["04109"] * 4,
            "city": ["Leipzig"] * 4,
            "country": ["DE"] * 4,
        }
    )
    # c has no address: the Leipzig landline ties them to a and b's home
    phones = pa.table({"person": ["b", "c"], "phone": ["+493411234567"] * 2})
    g = group_households(addresses, phones, {})
    assert g.households == [
        (["a", "b", "c"], "same address and landline", "Lindenweg 3, 04109 Leipzig, DE"),
        (["d", "e"], "same address", "Ring 9, 04109 Leipzig, DE"),
    ]
    capped = group_households(addresses, phones, {}, max_size=2)
    assert capped.households == [(["d", "e"], "same address", "Ring 9, 04109 Leipzig, DE")]
    assert capped.exclusions["reason"].to_pylist() == [
        "3 people linked by shared addresses and landlines, more than 2: not one household"
    ]
