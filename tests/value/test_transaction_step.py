"""The pipeline step writes customer_transaction_scores (Spark parity: tests/parity/)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.config import Settings
from socialcrm.pipeline import run_context
from socialcrm.store.schemas import ORDERS
from socialcrm.store.workspace import Workspace
from socialcrm.value.bgnbd import BGNBD
from socialcrm.value.transaction import TABLE, score_customers, step_transaction_scores

COLUMNS = [
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary",
    "first_purchase",
    "last_purchase",
    "spend",
    "r_score",
    "f_score",
    "m_score",
    "rfm_code",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
    "risk_band",
    "overdue",
]


@pytest.fixture(scope="module")
def cdnow_orders_table(cdnow_path: Path) -> pa.Table:
    df = pd.read_csv(cdnow_path, dtype={"customer_id": str})
    n = len(df)
    cols = {
        "order_id": [str(i) for i in range(n)],
        "customer_id": df.customer_id.str.lstrip("0"),
        "ordered_at": pd.to_datetime(df.date, utc=True),
        "amount": df.amount.astype(float),
        "currency": ["USD"] * n,
        "status": ["completed"] * n,
    }
    schema = ORDERS.arrow_schema
    return pa.table(
        {
            f.name: pa.array(cols[f.name], f.type) if f.name in cols else pa.nulls(n, f.type)
            for f in schema
        },
        schema=schema,
    )


def _scores(ws: Workspace, orders: pa.Table) -> pd.DataFrame:
    # the step reads its settings from the workspace; these runs use CDNOW's
    ws.settings = ws.settings.model_copy(
        update={"calibration_end": date(1997, 9, 30), "time_unit": "week"}
    )
    ws.warehouse.write("orders", orders)
    written = step_transaction_scores(ws, run_context(ws))
    assert written == {TABLE: 2349}
    out = ws.warehouse.read_arrow(TABLE).to_pandas()
    return out.sort_values("customer_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def on_duckdb(
    tmp_path_factory: pytest.TempPathFactory, cdnow_orders_table: pa.Table
) -> pd.DataFrame:
    home = tmp_path_factory.mktemp("duck")
    with Workspace.open(Settings(home=home)) as ws:
        return _scores(ws, cdnow_orders_table)


def test_scores_table_on_duckdb(on_duckdb: pd.DataFrame) -> None:
    out = on_duckdb
    assert out.columns.tolist() == COLUMNS
    assert out.p_alive.between(0, 1).all() and (out.expected_purchases >= 0).all()
    assert out.clv.notna().all() and (out.clv >= 0).all()
    assert set(out.risk_band) <= {"low", "medium", "high", "very_high"}
    # one-time buyers are alive by the BG/NBD's assumption and never overdue
    once = out[out.frequency == 0]
    assert (once.p_alive == 1).all() and not once.overdue.any()
    # customer 1, as scored from the positive-spend summary (8 free-only buyers left out)
    c1 = out.set_index("customer_id").loc["1"]
    assert c1.rfm_code == "543"
    assert c1.p_alive == pytest.approx(0.7265, abs=2e-3)
    # overdue buyers are silent far beyond their own pace, and have lower P(alive)
    late = out[out.overdue]
    assert len(late) > 0
    assert late.p_alive.mean() < out[out.frequency > 0].p_alive.mean()


def test_scores_agree_with_the_in_memory_scoring(on_duckdb: pd.DataFrame) -> None:
    summary = on_duckdb[["customer_id", "frequency", "recency", "T", "monetary"]]
    mem = score_customers(summary, horizon_days=365, discount_rate=0.10, time_unit="week")
    assert isinstance(mem.models.purchase, BGNBD)
    for col in ["p_alive", "expected_purchases", "expected_spend", "clv"]:
        pd.testing.assert_series_equal(mem.scores[col], on_duckdb[col], rtol=1e-9)
    assert (mem.scores.risk_band == on_duckdb.risk_band).all()
    assert (mem.scores.overdue == on_duckdb.overdue).all()
