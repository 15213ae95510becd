"""CDNOW, summarised once for the value tests (weeks, calibration to 1997-09-30)."""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest
from ibis.expr import types as ir

from socialcrm.value.rfm import rfm_summary
from tests.shared_data import data_file, shared_file

CDNOW = data_file("cdnow", "cdnow_sample.csv")
CALIBRATION_END = date(1997, 9, 30)
HOLDOUT_END = date(1998, 6, 30)


@pytest.fixture(scope="session")
def cdnow_orders() -> ir.Table:
    df = pd.read_csv(shared_file("cdnow", "cdnow_sample.csv"), dtype={"customer_id": str})
    return ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": df.customer_id.str.lstrip("0"),
                "ordered_at": pd.to_datetime(df.date, utc=True),
                "amount": df.amount.astype(float),
                "status": "completed",
            }
        )
    )


@pytest.fixture(scope="session")
def cdnow(cdnow_orders: ir.Table) -> pd.DataFrame:
    """All 2,357 customers (zero-amount days count), with holdout counts, by id."""
    s = rfm_summary(
        cdnow_orders,
        CALIBRATION_END,
        "week",
        zero_amount_purchases=True,
        holdout_end=HOLDOUT_END,
    ).execute()
    return s.set_index("customer_id")
