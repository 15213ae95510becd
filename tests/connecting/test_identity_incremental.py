"""Identity resolution of new records against a trained model (issue 21, item 4): under
``incremental_identity_threshold`` a run scores only the pairs with a new or changed
record, with the stored model, keeps every id, and clusters as a full run would."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from socialcrm.config import Settings
from socialcrm.connecting import pairwise_scores
from socialcrm.connecting.identity import (
    LINKS,
    MODEL,
    MODEL_RECORDS,
    identity_records,
    record_digests,
    step_identities,
)
from socialcrm.connecting.resolve import ResolveOptions, resolve_records
from socialcrm.pipeline import run_context
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace
from tests.connecting.conftest import Brand

SHARE = 0.9
"""The first records loaded; the rest (a tenth) arrive the next day."""


def _truth(brand: Brand) -> dict[str, str]:
    with (brand.truth / "persons.csv").open() as fh:
        return {r["customer_id"]: r["person_id"] for r in csv.DictReader(fh)}


def _open(home: Path, threshold: float) -> Workspace:
    return Workspace.open(
        Settings(home=home, phone_region="DE", incremental_identity_threshold=threshold)
    )


def _clusters(ws: Workspace) -> dict[str, str]:
    rows = ws.warehouse.read_arrow("identity_clusters").to_pylist()
    return {r["record_id"]: r["customer_id"] for r in rows}


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory, brand: Brand) -> dict[str, Path]:
    """A workspace resolved on the first 90% of the records, then given the rest."""
    root = tmp_path_factory.mktemp("identity-inc")
    customers = pacsv.read_csv(brand.inputs["customers"]).sort_by("created_at")
    first = root / "customers_first.csv"
    pacsv.write_csv(customers.slice(0, int(customers.num_rows * SHARE)), first)
    home = root / "before"
    with _open(home, 0.2) as ws:
        ingest_file(ws, "customers", first)
        ingest_file(ws, "identities", brand.inputs["identities"])
        step_identities(ws, run_context(ws))
    return {"before": home, "customers": brand.inputs["customers"], "root": root}


def test_a_day_of_new_records_is_scored_with_the_stored_model(
    day: dict[str, Path], brand: Brand
) -> None:
    inc, full = day["root"] / "inc", day["root"] / "full"
    shutil.copytree(day["before"], inc)
    shutil.copytree(day["before"], full)
    with _open(inc, 0.2) as ws:
        model_before = ws.warehouse.read_arrow(MODEL)
        trained_on = ws.warehouse.read_arrow(MODEL_RECORDS)
        before = _clusters(ws)
        ingest_file(ws, "customers", day["customers"])
        step_identities(ws, run_context(ws))
        after = _clusters(ws)
        # not trained again: the model and the records it was trained on are as they were
        assert ws.warehouse.read_arrow(MODEL).equals(model_before)
        assert ws.warehouse.read_arrow(MODEL_RECORDS).equals(trained_on)
        links = ws.warehouse.read_arrow(LINKS)
    with _open(full, 0.0) as ws:
        ingest_file(ws, "customers", day["customers"])
        step_identities(ws, run_context(ws))
        retrained = _clusters(ws)
        assert ws.warehouse.read_arrow(MODEL_RECORDS).num_rows == len(retrained)
    truth = _truth(brand)
    assert set(after) == set(retrained) == set(truth) and len(after) > len(before)
    # every id of the day before is kept (no merge of two known people on this brand)
    assert all(after[r] == c for r, c in before.items())
    # new records were linked to existing people by the stored model ...
    new = set(after) - set(before)
    model_new = [
        (a, b)
        for a, b, m in zip(
            links["record_id_l"].to_pylist(),
            links["record_id_r"].to_pylist(),
            links["method"].to_pylist(),
            strict=True,
        )
        if m == "model" and (a in new or b in new)
    ]
    assert model_new
    # ... and the people found are those a full run with a retrained model finds
    ids = sorted(after)
    agreement = pairwise_scores([after[i] for i in ids], [retrained[i] for i in ids])
    assert agreement["f1"] >= 0.99, agreement
    ours = pairwise_scores([after[i] for i in ids], [truth[i] for i in ids])
    theirs = pairwise_scores([retrained[i] for i in ids], [truth[i] for i in ids])
    assert ours["f1"] >= theirs["f1"] - 0.01, (ours, theirs)


def test_past_the_threshold_the_model_is_trained_again(day: dict[str, Path]) -> None:
    home = day["root"] / "strict"
    shutil.copytree(day["before"], home)
    with _open(home, 0.05) as ws:  # a tenth more records is past 5%
        ingest_file(ws, "customers", day["customers"])
        step_identities(ws, run_context(ws))
        trained_on = ws.warehouse.read_arrow(MODEL_RECORDS)
        assert trained_on.num_rows == len(_clusters(ws))


def test_fresh_pairs_are_exactly_the_full_predictions_pairs_with_a_fresh_record(
    day: dict[str, Path],
) -> None:
    """Scoring only the pairs with a fresh record gives, for them, what scoring all pairs
    with the same model gives: the same pairs, probabilities and explanations."""
    import json

    with _open(day["before"], 0.2) as ws:
        model = json.loads(ws.warehouse.read_arrow(MODEL)["model"][0].as_py())
        records = ws.engine.to_arrow(identity_records(ws)).drop(["created_at", "gender"])
    ids = records["record_id"]
    fresh = pc.take(ids, pa.array(range(0, len(ids), 7)))
    options = ResolveOptions()
    whole = resolve_records(records, options, model=model).links
    part = resolve_records(records, options, model=model, fresh=fresh).links
    is_fresh = pc.or_(pc.is_in(whole["record_id_l"], fresh), pc.is_in(whole["record_id_r"], fresh))
    expected = whole.filter(pc.and_(is_fresh, pc.equal(whole["method"], "model")))
    got = part.filter(pc.equal(part["method"], "model"))
    assert expected.num_rows > 0
    key = [("record_id_l", "ascending"), ("record_id_r", "ascending")]
    assert got.sort_by(key).equals(expected.sort_by(key))
    # the deterministic rules still see every record
    rules = pc.starts_with(whole["method"], "rule:")
    assert part.filter(pc.starts_with(part["method"], "rule:")).num_rows == pc.sum(rules).as_py()


def test_a_record_whose_fields_change_gets_a_new_digest() -> None:
    records = pa.table(
        {"record_id": ["a", "b"], "first_name": ["Ann", None], "last_name": ["Lee", "Lee"]}
    )
    changed = records.set_column(1, "first_name", pa.array(["Anne", None]))
    nulled = records.set_column(1, "first_name", pa.array([None, None], pa.string()))
    d0, d1, d2 = (record_digests(t)["digest"].to_pylist() for t in (records, changed, nulled))
    assert d0[1] == d1[1] == d2[1] and len({d0[0], d1[0], d2[0]}) == 3


def test_a_run_without_new_records_scores_nothing_and_keeps_every_link(
    day: dict[str, Path],
) -> None:
    home = day["root"] / "again"
    shutil.copytree(day["before"], home)
    with _open(home, 0.2) as ws:
        before = ws.warehouse.read_arrow(LINKS)
        clusters = _clusters(ws)
        step_identities(ws, run_context(ws))
        key = [("record_id_l", "ascending"), ("record_id_r", "ascending")]
        assert ws.warehouse.read_arrow(LINKS).sort_by(key).equals(before.sort_by(key))
        assert _clusters(ws) == clusters
