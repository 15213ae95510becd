"""Rules, messy values, explanations and clustering on small hand-made records."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pyarrow as pa

from socialcrm.connecting import ResolveOptions, cluster_links, pairwise_scores, resolve_records
from socialcrm.connecting.clusters import DECISIONS_SCHEMA
from tests.shared_data import shared_file


def _records() -> pa.Table:
    return pa.table(
        {
            "record_id": ["s1", "n1", "l1", "x1", "x2", "m1"],
            "first_name": ["Anna", "anna", None, "Bob", "Rob", "Zoë"],
            "last_name": ["Berg", "Berg", "Berg", "Stone", "Stone", None],
            "birth_date": ["1980-01-20", "19800120", "1980-13-45", None, "not a date", ""],
            "email": [
                "Anna.Berg+shop@gmail.com",
                "annaberg@gmail.com",
                None,
                "bob@stone.io",
                "rob@stone.io",
                "???",
            ],
            "phone": [None, None, "+49 30 901820", None, None, None],
            "twitter": [None, None, None, "@BobStone", "bobstone", None],
        }
    )


def test_rules_link_same_mailbox_and_handle_and_messy_values_are_kept() -> None:
    res = resolve_records(_records(), ResolveOptions(review_floor=0.0))
    links = {(r["record_id_l"], r["record_id_r"]): r for r in res.links.to_pylist()}
    # Gmail dots and +tags reach one mailbox: a rule, certain, explained
    assert links[("n1", "s1")]["method"] == "rule:email"
    assert links[("n1", "s1")]["match_probability"] == 1.0
    assert links[("n1", "s1")]["explanation"] == "same email"
    # the same handle written two ways
    assert links[("x1", "x2")]["method"] == "rule:handle"
    clusters = cluster_links(_records()["record_id"], res.links, 0.9).clusters
    assert clusters.num_rows == 6  # nothing rejected, not even "???" or an impossible date
    cid = dict(
        zip(clusters["record_id"].to_pylist(), clusters["customer_id"].to_pylist(), strict=True)
    )
    assert cid["s1"] == cid["n1"]
    assert cid["m1"] == "m1"


def test_model_links_explain_each_field_with_its_weight() -> None:
    with shared_file("febrl", "dataset3.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh, skipinitialspace=True))[:1500]
    records = pa.table(
        {
            "record_id": [r["rec_id"] for r in rows],
            "first_name": [r["given_name"] for r in rows],
            "last_name": [r["surname"] for r in rows],
            "birth_date": [r["date_of_birth"] for r in rows],
            "postal_code": [r["postcode"] for r in rows],
            "city": [r["suburb"] for r in rows],
        }
    )
    res = resolve_records(records, ResolveOptions(review_floor=0.5))
    model = [r for r in res.links.to_pylist() if r["method"] == "model"]
    assert len(model) >= 100
    offsets = []
    for r in model:
        parts = r["explanation"].split("; ")
        fields = {p.split(":")[0] for p in parts}
        assert fields <= {"first_name", "last_name", "birth_date", "address"}
        weights = [float(p.rsplit("(", 1)[1].rstrip(")")) for p in parts]
        offsets.append(r["match_weight"] - sum(weights))
    # field weights (rounded to 0.1) plus one prior weight give each pair's match weight
    assert max(offsets) - min(offsets) <= 0.05 * 4 * 2 + 1e-9


def test_decisions_override_the_model_and_the_rules() -> None:
    ids = ["a", "b", "c"]
    links = pa.table(
        {"record_id_l": ["a", "b"], "record_id_r": ["b", "c"], "match_probability": [1.0, 0.2]}
    )
    t = datetime(2026, 1, 1, tzinfo=UTC)
    decisions = pa.Table.from_pylist(
        [
            {"record_id_l": "b", "record_id_r": "a", "decision": "no_match", "decided_at": t},
            {"record_id_l": "c", "record_id_r": "b", "decision": "match", "decided_at": t},
        ],
        schema=DECISIONS_SCHEMA,
    )
    c = cluster_links(ids, links, 0.9, decisions=decisions).clusters
    assert c["customer_id"].to_pylist() == ["a", "b", "b"]


def test_stable_ids_merge_keeps_oldest_and_split_is_recorded() -> None:
    t0, t1 = datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    none = pa.table(
        {
            "record_id_l": pa.array([], pa.string()),
            "record_id_r": pa.array([], pa.string()),
            "match_probability": pa.array([], pa.float64()),
        }
    )
    first = cluster_links(["a", "b", "c"], none, 0.9, created_rank=["c", "b", "a"], now=t0)
    assert first.clusters["customer_id"].to_pylist() == ["a", "b", "c"]
    # a new record "d" bridges b and c: the oldest id (b and c both from t0; c is ranked
    # oldest by created order only for new ids, so the tie goes to the smaller id) survives
    links = pa.table(
        {"record_id_l": ["b", "c"], "record_id_r": ["d", "d"], "match_probability": [0.99, 0.95]}
    )
    second = cluster_links(["a", "b", "c", "d"], links, 0.9, previous=first.clusters, now=t1)
    ids = second.clusters["customer_id"].to_pylist()
    assert ids[0] == "a" and ids[1] == ids[2] == ids[3] == "b"
    assert second.lineage.to_pylist()[0] | {"at": None} == {
        "event": "merge",
        "customer_id": "b",
        "other_id": "c",
        "records": 1,
        "at": None,
    }
    # the merged cluster loses "c" again (a reviewer splits it): "b" stays, "c" gets an id
    links2 = pa.table({"record_id_l": ["b"], "record_id_r": ["d"], "match_probability": [0.99]})
    third = cluster_links(["a", "b", "c", "d"], links2, 0.9, previous=second.clusters, now=t1)
    assert third.clusters["customer_id"].to_pylist() == ["a", "b", "c", "b"]
    assert third.lineage.to_pylist()[0]["event"] == "split"


def test_pairwise_scores_count_pairs() -> None:
    s = pairwise_scores(["x", "x", "x", "y"], [1, 1, 2, 2])
    assert s["true_pairs"] == 2 and s["predicted_pairs"] == 3
    assert s["precision"] == 1 / 3 and s["recall"] == 1 / 2
