"""Segments on the demo brand, checked against its truth (Spark parity: tests/parity/)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.pipeline import run_context
from socialcrm.targeting.rules import load_rules
from socialcrm.targeting.segments import assign_segments, step_segments
from tests.targeting.brand import ScoredBrand

AT_RISK = ("at_risk_high_value", "dormant")


@pytest.fixture(scope="module")
def segments(brand: ScoredBrand) -> pd.DataFrame:
    with brand.open() as ws:
        return ws.warehouse.read_arrow("customer_segments").to_pandas()


def test_every_customer_has_one_segment_with_its_reason(
    brand: ScoredBrand, segments: pd.DataFrame
) -> None:
    with brand.open() as ws:
        n = ws.warehouse.rows("customer_scores")
    assert len(segments) == segments.customer_id.nunique() == n
    assert segments.segment.notna().all() and segments.tier.notna().all()
    assert segments.reason.str.len().gt(0).all()
    shipped = {s.name for s in load_rules().segments}
    assert set(segments.segment) <= shipped
    at_risk = segments[segments.segment == "at_risk_high_value"]
    assert at_risk.risk_band.isin(["high", "very_high"]).all()
    assert at_risk.reason.str.contains("risk_band=").all()


def test_at_risk_customers_really_drop_out_more(brand: ScoredBrand, segments) -> None:
    truth = pd.read_csv(brand.truth / "dropout.csv", dtype={"person_id": str})
    s = segments[segments.clv.notna()].copy()
    s["person_id"] = s.customer_id.map(brand.person_of())
    s = s.merge(truth, on="person_id")
    dropped = s.dropped_at.notna()
    flagged = s.segment.isin(AT_RISK)
    assert flagged.sum() >= 10
    lift = dropped[flagged].mean() / dropped.mean()
    assert lift > 1.5


def test_summary_accumulates_by_run_date(brand: ScoredBrand, tmp_path) -> None:
    copy = brand.copy(tmp_path / "ws")
    with copy.open() as ws:
        ws.warehouse.drop("segment_summary")
        # runs on two days, the second day twice: its block is replaced, not added
        for day in (datetime(2026, 1, 1), datetime(2026, 2, 1), datetime(2026, 2, 1)):
            step_segments(ws, run_context(ws, day.astimezone()))
        summary = ws.warehouse.read_arrow("segment_summary").to_pandas()
        n = ws.warehouse.rows("customer_segments")
    by_day = summary.groupby("run_date").customers.sum()
    assert list(by_day) == [n, n]
    assert summary.share_at_risk.between(0, 1).all()
    seg = summary[summary.segment == "at_risk_high_value"]
    assert (seg.share_at_risk == 1).all()


TINY = pa.table(
    {
        "customer_id": ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
        "transaction_score": [95.0, 70.0, 85.0, 10.0, None, 50.0, 30.0, 30.0, 30.0],
        "risk_band": ["low", "very_high", "low", "very_high", None, "medium", "low", "low", "low"],
        "frequency": [5, 3, 4, 1, None, 0, 1, 1, 1],
        "T": [300.0, 200.0, 50.0, 400.0, None, 30.0, 300.0, 300.0, 300.0],
        "amplifier": [False, False, True, None, None, False, False, False, False],
        "influence_score": [10.0, 20.0, 90.0, None, None, 60.0, 20.0, 20.0, 20.0],
        "complaints": [0, 0, 0, None, None, 3, 0, 0, 1],
        "praise": [0, 0, 0, None, None, 1, 2, 4, 3],
        "suggestions": [0, 0, 1, None, None, 0, 0, 0, 0],
        # g praises us in two posts of their own; h mostly in replies to others; i praises
        # us three times but also complained once
        "original_praise": [0, 0, 0, None, None, 1, 2, 1, 3],
        "original_complaints": [0, 0, 0, None, None, 3, 0, 0, 1],
        "trinity_score": [80.0, 50.0, 90.0, 5.0, None, 55.0, 30.0, 30.0, 30.0],
        "clv": [300.0, 90.0, 250.0, 1.0, None, 40.0, 20.0, 20.0, 20.0],
        "p_alive": [0.9, 0.2, 0.95, 0.1, None, 0.8, 0.7, 0.7, 0.7],
    }
)
EXPECTED = {
    "a": "high_value_buyer",
    "b": "at_risk_high_value",
    "c": "social_connector",
    "d": "dormant",
    "e": "regular",
    "f": "detractor",
    "g": "evangelist",
    "h": "regular",
    "i": "regular",
}


def _run(ws) -> pd.DataFrame:
    # through Parquet, as the pipeline reads it (Spark memtables lose nullable ints)
    ws.warehouse.write("targeting_tiny", TINY)
    t = ws.warehouse.table("targeting_tiny")
    out = ws.engine.to_arrow(assign_segments(t, load_rules())).to_pandas()
    return out.sort_values("customer_id").reset_index(drop=True)


def test_tiny_table_on_duckdb(ws) -> None:
    out = _run(ws)
    assert dict(zip(out.customer_id, out.segment, strict=True)) == EXPECTED


def test_social_segments_only_for_social_linking_consent(brand: ScoredBrand) -> None:
    from socialcrm.targeting.segments import segment_inputs, social_activity

    with brand.open() as ws:
        inputs = ws.engine.to_arrow(
            segment_inputs(ws.warehouse.table("customer_scores"), social_activity(ws))
        ).to_pandas()
        seg = ws.warehouse.read_arrow("customer_segments").to_pandas()
    off = inputs[~inputs.social_linking]
    counts = ["posts", "complaints", "praise", "suggestions", "original_posts", "original_praise"]
    assert len(off) and off[counts].isna().all().all()
    on = inputs[inputs.social_linking]
    assert on[counts].notna().all().all()
    # original posts are a part of the own posts: replies are left out
    assert (on.original_posts <= on.posts).all() and (on.original_praise <= on.praise).all()
    assert (on.original_posts < on.posts).any()
    social = {"detractor", "social_connector", "evangelist", "contributor"}
    ids = set(seg[seg.segment.isin(social)].customer_id)
    assert ids and ids <= set(inputs[inputs.social_linking].customer_id)
