"""RFM extensions: zero-amount days, holdout counts, quintile scores."""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
from ibis.expr import types as ir

from socialcrm.value.rfm import rfm_scores, rfm_summary


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
