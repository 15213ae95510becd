"""Community recommendations: numbers that add up, and advice that names them."""

from __future__ import annotations

import pandas as pd

from tests.targeting.brand import ScoredBrand


def test_one_recommendation_per_community_with_its_numbers(brand: ScoredBrand) -> None:
    with brand.open() as ws:
        rec = ws.warehouse.read_arrow("community_recommendations").to_pandas()
        comm = ws.warehouse.read_arrow("communities").to_pandas()
        scores = ws.warehouse.read_arrow("customer_scores").to_pandas()
        seg = ws.warehouse.read_arrow("customer_segments").to_pandas()
    assert sorted(rec.community_id) == sorted(comm.community_id)
    members = scores[scores.social_linking & scores.community_id.notna()].merge(
        seg[["customer_id", "segment"]], on="customer_id"
    )
    risky = members[members.segment.isin(["at_risk_high_value", "dormant"])]
    expected = risky.groupby("community_id").size()
    got = rec.set_index("community_id").at_risk_members
    assert (got.reindex(expected.index) == expected).all()
    assert got.drop(expected.index, errors="ignore").eq(0).all()
    assert (rec.private_cost <= rec.broadcast_cost).all()
    with_risk = rec[rec.at_risk_members > 0]
    assert len(with_risk) and with_risk.recommendation.str.contains("privately").all()
    peaks = rec[rec.peak_weekday.notna()]
    assert len(peaks) and all(
        f"on {r.peak_weekday}s" in r.recommendation for r in peaks.itertuples()
    )
    assert rec.peak_share.dropna().between(1 / 7, 1).all()  # the busiest of seven days
    assert pd.Series(rec.recommendation).str.endswith(".").all()
