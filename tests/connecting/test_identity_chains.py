"""Identity resolution never chains strangers: namesakes, weak records and conflicts."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from socialcrm.connecting import cluster_links
from socialcrm.connecting.clusters import same_birth_date
from socialcrm.connecting.identity import step_identities
from socialcrm.pipeline import run_context
from tests.connecting.conftest import Brand, load

CITIES = [
    ("Paris", "75011"),
    ("Bordeaux", "33000"),
    ("Toulouse", "31000"),
    ("Rennes", "35000"),
    ("Marseille", "13001"),
]


def _namesakes() -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Customers and contact points: the "Marie Bernard" chain of the issue."""
    customers, ids = [], []

    def add(cid: str, contact: str, **cols: str) -> None:
        row = {"customer_id": cid, "source": "shop", "created_at": "2025-01-05T10:00:00Z"}
        customers.append({**row, **cols})
        ids.append(
            {
                "customer_id": cid,
                "kind": "email",
                "value": contact,
                "source": "checkout",
                "first_seen": "2025-01-05T10:00:00Z",
                "verified": "true",
            }
        )

    # seven women called Marie Bernard, each with her own birth date and address
    for k, (city, postcode) in enumerate(CITIES + CITIES[:2]):
        add(
            f"shop:9{k:05d}",
            f"mb{k}.{city.lower()}@example.org",
            first_name="Marie",
            last_name="Bernard",
            birth_date=f"19{60 + 3 * k}-0{1 + k}-1{k}",
            gender="female",
            street=f"{10 + k} rue Victor Hugo",
            city=city,
            postcode=postcode,
            country="FR",
        )
    # weak records: a name and a city, or a first name only
    for k, (city, postcode) in enumerate(CITIES):
        add(
            f"newsletter:9{k:05d}",
            f"marie.b.{k}@example.net",
            source="newsletter",
            first_name="Marie",
            last_name="Bernard",
            city=city,
            postcode=postcode,
            country="FR",
        )
        add(f"newsletter:91{k:04d}", f"m{k}@example.com", source="newsletter", first_name="Marie")
    # a true second record of the first Marie: another mailbox, same birth date and street
    add(
        "support:900000",
        "marie.bernard.pro@example.fr",
        source="support",
        first_name="Marie",
        last_name="Bernard",
        birth_date="1960-01-10",
        street="10 rue Victor-Hugo",
        city="Paris",
        postcode="75011",
        country="FR",
    )
    return customers, ids


def _append(path: Path, rows: list[dict[str, str]], out: Path) -> Path:
    with path.open(newline="") as fh:
        header = next(csv.reader(fh))
    pacsv.write_csv(pacsv.read_csv(path), out)
    with out.open("a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, quoting=csv.QUOTE_MINIMAL)
        for r in rows:
            w.writerow({h: r.get(h, "") for h in header})
    return out


def _resolve(
    tmp_path: Path, brand: Brand, customers: list[dict[str, str]], ids: list[dict[str, str]]
) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The brand's records plus ``customers`` (and their contact points ``ids``), resolved:
    record -> person, and every link."""
    inputs = {
        **brand.inputs,
        "customers": _append(brand.inputs["customers"], customers, tmp_path / "c.csv"),
        "identities": _append(brand.inputs["identities"], ids, tmp_path / "i.csv"),
    }
    ws = load(tmp_path / "ws", Brand(inputs, brand.truth), ("customers", "identities"))
    try:
        step_identities(ws, run_context(ws))
        person = {
            r["record_id"]: r["customer_id"]
            for r in ws.warehouse.read_arrow("identity_clusters").to_pylist()
        }
        return person, ws.warehouse.read_arrow("identity_links").to_pylist()
    finally:
        ws.close()


def test_the_marie_bernard_chain_never_becomes_one_person(tmp_path: Path, brand: Brand) -> None:
    customers, ids = _namesakes()
    person, links = _resolve(tmp_path, brand, customers, ids)
    ours = [c["customer_id"] for c in customers]
    # the true pair is found: same birth date and street line, different mailboxes
    assert person["support:900000"] == person["shop:900000"]
    # every other record stays a person of its own
    alone = [r for r in ours if r not in ("support:900000", "shop:900000")]
    people = [person[r] for r in alone]
    assert len(set(people)) == len(alone), {r: person[r] for r in alone}
    assert person["shop:900000"] not in people
    # high-scoring namesake pairs wait for a person instead of linking
    mine = set(ours)
    ours_links = [lk for lk in links if lk["record_id_l"] in mine and lk["record_id_r"] in mine]
    linked = {
        (lk["record_id_l"], lk["record_id_r"]) for lk in ours_links if lk["status"] == "linked"
    }
    assert linked == {("shop:900000", "support:900000")}
    waiting = [lk for lk in ours_links if lk["status"] == "review"]
    assert all(
        "not linked" in lk["explanation"] for lk in waiting if lk["match_probability"] >= 0.9
    )


def _links(*rows: tuple[str, str, float, str | None]) -> pa.Table:
    return pa.table(
        {
            "record_id_l": [r[0] for r in rows],
            "record_id_r": [r[1] for r in rows],
            "match_probability": [r[2] for r in rows],
            "evidence": pa.array([r[3] for r in rows], pa.string()),
        }
    )


def test_a_chain_stops_at_a_conflicting_birth_date() -> None:
    traits = pa.table(
        {
            "record_id": ["a", "b", "c", "d"],
            "birth_date": ["1970-03-02", None, "1982-11-30", "1970-03-12"],
            "gender": ["female", None, None, "female"],
        }
    )
    links = _links(
        ("a", "b", 0.99, "email"), ("b", "c", 0.98, "phone"), ("a", "d", 0.95, "street address")
    )
    result = cluster_links(["a", "b", "c", "d"], links, 0.9, attributes=traits)
    c = result.clusters
    person = dict(zip(c["record_id"].to_pylist(), c["customer_id"].to_pylist(), strict=True))
    # b joins a (the stronger link); c's other birth date keeps it apart
    assert person["a"] == person["b"] == person["d"] != person["c"]
    assert result.refused == [("b", "c")]


def test_links_without_distinguishing_evidence_never_join() -> None:
    links = _links(("a", "b", 0.999, None), ("b", "c", 0.95, "birth date"))
    result = cluster_links(["a", "b", "c"], links, 0.9)
    assert result.clusters["customer_id"].to_pylist() == ["a", "b", "b"]


def test_declared_genders_and_a_reviewers_no_match_keep_people_apart() -> None:
    traits = pa.table({"record_id": ["a", "b", "c"], "gender": ["female", "male", None]})
    links = _links(("a", "b", 0.99, "email"), ("a", "c", 0.97, "email"), ("b", "c", 0.96, "phone"))
    # a and b declare different genders: whoever c joins first, the other stays apart
    result = cluster_links(["a", "b", "c"], links, 0.9, attributes=traits)
    assert result.clusters["customer_id"].to_pylist() == ["a", "b", "a"]
    decisions = pa.table(
        {
            "record_id_l": ["a"],
            "record_id_r": ["c"],
            "decision": ["no_match"],
            "decided_at": pa.array([0], pa.timestamp("us", tz="UTC")),
        }
    )
    # a reviewer split a from c: no path through b may join them again
    apart = cluster_links(["a", "b", "c"], links, 0.9, decisions=decisions)
    ids = apart.clusters["customer_id"].to_pylist()
    assert ids[0] != ids[2]


def test_birth_dates_one_slip_apart_are_the_same() -> None:
    assert same_birth_date("19800120", "19800121")  # a day
    assert same_birth_date("19800120", "19810120")  # a year
    assert same_birth_date("19800102", "19800201")  # day and month swapped
    assert same_birth_date("19800120", "18900120")  # two digits transposed
    assert not same_birth_date("19800120", "19860715")


def test_an_address_attaches_a_record_but_never_joins_two_people() -> None:
    # a-b and c-d: two people, each known by two records (a shared mailbox each)
    rules = [("a", "b", 1.0, "email"), ("c", "d", 1.0, "email")]
    household = _links(*rules, ("a", "c", 0.99, "street address"))
    result = cluster_links(["a", "b", "c", "d"], household, 0.9)
    assert result.clusters["customer_id"].to_pylist() == ["a", "a", "c", "c"]
    assert result.refused == [("a", "c")]
    # a lone record with the same name at the same address is attached
    lone = _links(*rules, ("a", "e", 0.99, "street address"))
    ids = cluster_links(["a", "b", "c", "d", "e"], lone, 0.9).clusters["customer_id"]
    assert ids.to_pylist()[-1] == "a"
    # and a birth date next to the address is more than a household shares
    dated = _links(*rules, ("a", "c", 0.99, "birth date, street address"))
    ids = cluster_links(["a", "b", "c", "d"], dated, 0.9).clusters["customer_id"]
    assert len(set(ids.to_pylist())) == 1


def test_a_shared_landline_is_a_household_a_shared_mobile_one_person(
    tmp_path: Path, brand: Brand
) -> None:
    def person(
        cid: str, first: str, born: str, phone: str
    ) -> tuple[dict[str, str], dict[str, str]]:
        row = {
            "customer_id": cid,
            "source": "shop",
            "created_at": "2025-02-01T10:00:00Z",
            "first_name": first,
            "last_name": "Vogelsang",
            "birth_date": born,
            "street": "Lindenweg 3",
            "city": "Berlin",
            "postcode": "10115",
            "country": "DE",
        }
        contact = {
            "customer_id": cid,
            "kind": "phone",
            "value": phone,
            "source": "checkout",
            "first_seen": "2025-02-01T10:00:00Z",
            "verified": "false",
        }
        return row, contact

    # no birth dates on file: only the kind of phone tells the couple apart from a person
    landline = "+4930901820"  # Berlin, a fixed line
    mobile = "+4915112345678"
    rows = [
        person("shop:980001", "Anke", "", landline),
        person("shop:980002", "Jonas", "", landline),
        person("shop:980003", "Greta", "1999-12-30", mobile),
        person("support:980004", "Greta", "1999-12-30", mobile),
    ]
    person_of, _ = _resolve(tmp_path, brand, [r for r, _ in rows], [c for _, c in rows])
    assert person_of["shop:980001"] != person_of["shop:980002"]
    assert person_of["shop:980003"] == person_of["support:980004"]
