"""The RFM summary as the pipeline writes it: returns net a day, cancellations do not count.

(Its DuckDB/Spark parity is checked with every other table in tests/parity/.)
"""

from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.store.workspace import Workspace
from socialcrm.value.rfm import rfm_summary


def _rfm(ws: Workspace, orders: pa.Table, end: date = date(1997, 9, 30)) -> pd.DataFrame:
    ws.warehouse.write("orders", orders)
    summary = rfm_summary(ws.warehouse.table("orders"), end, "week")
    ws.warehouse.write("customer_rfm", summary)
    out = ws.warehouse.read_arrow("customer_rfm").to_pandas()
    return out.sort_values("customer_id").reset_index(drop=True)


def test_returns_reduce_the_day_and_cancelled_orders_do_not_count(ws: Workspace) -> None:
    ts = pd.to_datetime
    orders = pa.table(
        {
            "customer_id": ["a", "a", "a", "a", "a", "b"],
            "ordered_at": ts(
                [
                    "2024-01-01 10:00",
                    "2024-01-01 12:00",
                    "2024-01-08 00:00",
                    "2024-01-15 00:00",
                    "2024-01-22 00:00",
                    "2024-01-03 00:00",
                ]
            ).tz_localize("UTC"),
            "amount": [30.0, -10.0, 40.0, -40.0, 99.0, 15.0],
            "status": ["completed", "returned", "completed", "returned", "cancelled", "completed"],
        }
    )
    out = _rfm(ws, orders, date(2024, 3, 1)).set_index("customer_id")
    # a: day 1 nets 20 (a purchase), day 8 buys 40, day 15 is only a return, day 22 cancelled
    assert out.loc["a", "frequency"] == 1
    assert out.loc["a", "monetary"] == 40.0
    assert out.loc["a", "recency"] == pytest.approx(1.0)  # weeks
    assert out.loc["b", "frequency"] == 0 and out.loc["b", "monetary"] == 0.0
