"""The TRInity: percentiles, composite, consent-gated influence, and CDNOW's unknowns."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.config import Settings
from socialcrm.pipeline import run_context
from socialcrm.store.schemas import CONSENTS, ORDERS
from socialcrm.store.workspace import Workspace
from socialcrm.value.transaction import step_transaction_scores
from socialcrm.value.trinity import AXES, step_trinity, trinity_scores
from tests.targeting.brand import ScoredBrand, scored_brand

W = {"transaction": 0.5, "relationship": 0.2, "influence": 0.3}


@pytest.fixture(scope="module")
def brand(tmp_path_factory: pytest.TempPathFactory) -> ScoredBrand:
    return scored_brand(tmp_path_factory.mktemp("trinity"))


@pytest.fixture(scope="module")
def scores(brand: ScoredBrand) -> pd.DataFrame:
    with brand.open() as ws:
        return ws.warehouse.read_arrow("customer_scores").to_pandas()


def test_percentiles_and_composite(scores: pd.DataFrame) -> None:
    for a in AXES:
        known = scores[scores[f"{a}_known"]]
        pct = known[f"{a}_score"]
        assert pct.min() == 0 and pct.max() == 100
        # a higher value never has a lower percentile
        o = known.sort_values(f"{a}_value")
        assert (np.diff(o[f"{a}_score"].to_numpy()) >= -1e-9).all()
        assert scores.loc[~scores[f"{a}_known"], f"{a}_score"].isna().all()
    num = sum(scores[f"{a}_score"].fillna(0) * W[a] * scores[f"{a}_known"] for a in AXES)
    den = sum(W[a] * scores[f"{a}_known"] for a in AXES)
    assert np.allclose(scores.trinity_score, (num / den).round(2), atol=0.011)


def test_influence_only_with_social_linking_consent(scores: pd.DataFrame) -> None:
    assert scores.influence_known.any() and (~scores.influence_known).any()
    assert (scores.influence_known == scores.social_linking).all()
    without = scores[~scores.social_linking]
    assert without.influence_score.isna().all() and without.amplifier.isna().all()
    assert (without.unknown == "influence: no social_linking consent").all()


def test_withdrawing_social_linking_unscores_influence(
    brand: ScoredBrand, scores: pd.DataFrame, tmp_path
) -> None:
    top = scores[scores.influence_known].sort_values("influence_value").customer_id.iloc[-1]
    copy = brand.copy(tmp_path / "ws")
    with copy.open() as ws:
        records = (
            ws.warehouse.table("identity_clusters")
            .filter(lambda t: t.customer_id == top)
            .record_id.execute()
            .tolist()
        )
        old = ws.warehouse.read_arrow("consents")
        later = datetime(2100, 1, 1, tzinfo=UTC)
        withdrawn = pa.Table.from_pylist(
            [
                {"customer_id": r, "purpose": "social_linking", "status": "withdrawn",
                 "recorded_at": later, "source": "web"}
                for r in records
            ],
            schema=CONSENTS.arrow_schema,
        )  # fmt: skip
        ws.warehouse.write(
            "consents", pa.concat_tables([old.cast(CONSENTS.arrow_schema), withdrawn])
        )
        step_trinity(ws, run_context(ws))
        row = ws.warehouse.read_arrow("customer_scores").to_pandas().set_index("customer_id")
    assert row.loc[top, "influence_known"] == False  # noqa: E712
    assert pd.isna(row.loc[top, "influence_score"]) and pd.isna(row.loc[top, "followers"])


def test_weights_are_settings(brand: ScoredBrand) -> None:
    with brand.open(trinity_weight_influence=0.0, trinity_weight_relationship=0.0) as ws:
        df = trinity_scores(ws).execute()
    assert np.allclose(df.trinity_score, df.transaction_score)


def test_cdnow_transactions_only_says_unknown(tmp_path: Path, cdnow_path: Path) -> None:
    raw = pd.read_csv(cdnow_path, dtype={"customer_id": str})
    n = len(raw)
    cols = {
        "order_id": [str(i) for i in range(n)],
        "customer_id": raw.customer_id.str.lstrip("0"),
        "ordered_at": pd.to_datetime(raw.date, utc=True),
        "amount": raw.amount.astype(float),
        "currency": ["USD"] * n,
        "status": ["completed"] * n,
    }
    schema = ORDERS.arrow_schema
    orders = pa.table(
        {f.name: pa.array(cols[f.name], f.type) if f.name in cols else pa.nulls(n, f.type)
         for f in schema},
        schema=schema,
    )  # fmt: skip
    with Workspace.open(Settings(home=tmp_path / "ws", time_unit="week")) as ws:
        ws.warehouse.write("orders", orders)
        buyers = step_transaction_scores(ws, run_context(ws))["customer_transaction_scores"]
        step_trinity(ws, run_context(ws))
        df = ws.warehouse.read_arrow("customer_scores").to_pandas()
    assert len(df) == buyers > 2000  # one row per buyer
    assert df.transaction_known.all() and df.transaction_score.notna().all()
    for a in ("relationship", "influence"):
        assert not df[f"{a}_known"].any()
        assert df[f"{a}_score"].isna().all() and df[f"{a}_value"].isna().all()
    assert (df.trinity_axes == "T").all()
    assert df.unknown.str.contains("relationship: no customer records").all()
    assert df.unknown.str.contains("influence: no social data").all()
    assert np.allclose(df.trinity_score, df.transaction_score)
