"""RFM extensions: zero-amount days, holdout counts, quintile scores."""

from __future__ import annotations

from datetime import date, timedelta

import ibis
import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ibis.expr import types as ir

from socialcrm.value.rfm import (
    per_customer_by_calendar,
    per_customer_by_day,
    rfm_scores,
    rfm_summary,
)
from socialcrm.value.simulate import simulate_transactions


def _orders(rows: list[tuple[str, str, float, str]]) -> ir.Table:
    c, d, a, s = zip(*rows, strict=True)
    return ibis.memtable(
        pd.DataFrame(
            {"customer_id": c, "ordered_at": pd.to_datetime(d, utc=True), "amount": a, "status": s}
        )
    )


def test_zero_amount_days_count_only_when_asked() -> None:
    orders = _orders(
        [
            ("a", "2024-01-01", 10.0, "completed"),
            ("a", "2024-01-05", 0.0, "completed"),  # a free purchase
            ("a", "2024-01-09", 5.0, "completed"),
            ("a", "2024-01-09", -5.0, "returned"),  # nets to 0, but holds a sale
            ("b", "2024-01-03", 0.0, "completed"),  # only ever free
            ("c", "2024-01-04", -3.0, "returned"),  # only a return: never a purchase
        ]
    )
    end = date(2024, 1, 10)
    plain = rfm_summary(orders, end).execute().set_index("customer_id")
    assert plain.frequency.to_dict() == {"a": 0}
    zero = rfm_summary(orders, end, zero_amount_purchases=True).execute()
    zero = zero.set_index("customer_id")
    assert zero.frequency.to_dict() == {"a": 2, "b": 0}
    assert zero.loc["a", "monetary"] == 0.0 and zero.loc["a", "spend"] == 10.0


def test_holdout_counts_only_later_occasions() -> None:
    orders = _orders(
        [
            ("a", "2024-01-01", 10.0, "completed"),
            ("a", "2024-01-20", 4.0, "completed"),
            ("a", "2024-01-20", 6.0, "completed"),  # same day: one occasion of 10
            ("a", "2024-02-02", 30.0, "completed"),
            ("a", "2024-03-01", 99.0, "completed"),  # after the holdout
            ("b", "2024-01-12", 8.0, "completed"),  # first buys in the holdout: not scored
        ]
    )
    s = rfm_summary(orders, date(2024, 1, 10), "day", holdout_end=date(2024, 2, 9)).execute()
    assert s.customer_id.tolist() == ["a"]
    row = s.iloc[0]
    assert (row.frequency_holdout, row.monetary_holdout, row.duration_holdout) == (2, 20.0, 30.0)


def test_rfm_scores_are_quintiles_with_shared_ties() -> None:
    n = 10
    summary = ibis.memtable(
        pd.DataFrame(
            {
                "customer_id": [f"c{i}" for i in range(n)],
                "frequency": [0, 0, 0, 0, 1, 1, 2, 3, 5, 8],
                "recency": [0.0] * 4 + [1.0, 2, 3, 4, 5, 6],
                "T": [10.0] * n,
                "spend": [
                    10.0 * (i + 1) * (f + 1) for i, f in enumerate([0, 0, 0, 0, 1, 1, 2, 3, 5, 8])
                ],
            }
        )
    )
    out = rfm_scores(summary).execute().set_index("customer_id").sort_index()
    # four one-time buyers tie on frequency and all get the lowest F score
    assert out.f_score.tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    # the longest silence (T - recency = 10) gets R = 1, the shortest (4) R = 5
    assert out.r_score.tolist() == [1, 1, 1, 1, 3, 3, 4, 4, 5, 5]
    assert out.m_score.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert out.loc["c9", "rfm_code"] == "555" and out.loc["c0", "rfm_code"] == "111"


_STATUSES = ["completed", "completed", "completed", "returned", "cancelled"]


@st.composite
def _order_logs(draw: st.DrawFn) -> pd.DataFrame:
    """Orders of a few customers on a few days: same-day repeats, returns, zeros, nulls."""
    n = draw(st.integers(1, 60))
    customers = draw(st.lists(st.sampled_from("abcdef"), min_size=n, max_size=n))
    days = draw(st.lists(st.integers(0, 20), min_size=n, max_size=n))
    hours = draw(st.lists(st.integers(0, 23), min_size=n, max_size=n))
    if draw(st.booleans()):  # purchases only: every day ordered is an occasion
        amount = st.sampled_from([0.25, 1.5, 10.0, 99.99])
        status = st.sampled_from(["completed", "cancelled"])
    else:  # returns, free orders, missing amounts
        amount = st.one_of(
            st.sampled_from([0.0, 0.25, 1.5, 10.0]),
            st.floats(-50, 100).map(lambda x: round(x, 2)),
            st.none(),
        )
        status = st.sampled_from(_STATUSES)
    amounts = draw(st.lists(amount, min_size=n, max_size=n))
    statuses = draw(st.lists(status, min_size=n, max_size=n))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    stamps = [start + pd.Timedelta(days=d, hours=h) for d, h in zip(days, hours, strict=True)]
    return pd.DataFrame(
        {
            "customer_id": customers,
            "ordered_at": stamps,
            "amount": pd.array(amounts, dtype="Float64"),
            "status": statuses,
        }
    )


_ZERO_RETURN = pd.DataFrame(  # a return of nothing: its day is no purchase, even at net 0
    {
        "customer_id": ["a", "a"],
        "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True),
        "amount": pd.array([10.0, 0.0], dtype="Float64"),
        "status": ["completed", "returned"],
    }
)

_MISSING_AMOUNT = pd.DataFrame(  # the only doubtful order has no amount
    {
        "customer_id": ["a", "a", "b"],
        "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-02"], utc=True),
        "amount": pd.array([10.0, None, 5.0], dtype="Float64"),
        "status": ["completed"] * 3,
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_order_logs(), st.booleans(), st.integers(0, 25))
@example(_ZERO_RETURN, True, 5)
@example(_MISSING_AMOUNT, False, 5)
def test_calendar_path_equals_netting_every_day(
    log: pd.DataFrame, zero_amount_purchases: bool, end_day: int
) -> None:
    """The one-aggregation DuckDB path gives what netting each (customer, day) gives."""
    con = ibis.duckdb.connect()
    con.con.register("orders", pa.Table.from_pandas(log, preserve_index=False))
    orders = con.table("orders")
    end = date(2024, 1, 1) + timedelta(days=end_day)
    by_day = per_customer_by_day(orders, "customer_id", end, zero_amount_purchases)
    calendar = per_customer_by_calendar(
        orders, "customer_id", end, zero_amount_purchases, min_orders=0
    )
    expected = by_day.execute().set_index("customer_id").sort_index()
    if calendar is None:  # only when nothing was ordered by the end date
        assert not ((log.ordered_at.dt.date <= end) & (log.status != "cancelled")).any()
        return
    got = calendar.execute().set_index("customer_id").sort_index()
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, check_exact=False)


def test_calendar_path_runs_where_customers_order_often() -> None:
    """Frequent buyers take the one-aggregation path; occasional ones and memtables do not."""
    con = ibis.duckdb.connect()
    for preset, frequent in (("cdnow", False), ("heavy", True)):
        sim = simulate_transactions(3_000, preset, seed=3)
        con.con.register(preset, pa.Table.from_pandas(sim.transactions, preserve_index=False))
        raw = con.table(preset)
        orders = raw.select(
            customer_id=raw.customer_id,
            ordered_at=raw.date,
            amount=raw.amount,
            status=ibis.literal("completed"),
        )
        end = sim.end.date()
        calendar = per_customer_by_calendar(orders, "customer_id", end)
        assert (calendar is not None) == frequent, preset
        if calendar is not None:
            by_day = per_customer_by_day(orders, "customer_id", end)
            a = calendar.execute().set_index("customer_id").sort_index()
            b = by_day.execute().set_index("customer_id").sort_index()
            pd.testing.assert_frame_equal(a, b, check_dtype=False)
    in_memory = ibis.memtable(sim.transactions.rename(columns={"date": "ordered_at"}))
    assert per_customer_by_calendar(in_memory, "customer_id", end) is None
