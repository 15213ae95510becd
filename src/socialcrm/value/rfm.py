"""RFM summaries: the sufficient statistics of buy-till-you-die models, on the engine.

A *purchase occasion* is a customer-day with positive net spend: returns reduce that
day's spend, a day with only returns is no purchase, and cancelled orders do not count.
Frequency is the number of *repeat* occasions, recency the time from the first to the
last occasion, T the time from the first occasion to the calibration end, and monetary
value the mean spend of the repeat occasions (0 for one-time buyers), as in Fader,
Hardie & Lee (2005) and the ``lifetimes`` package.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import ibis
from ibis.expr import types as ir

TimeUnit = Literal["day", "week"]
DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0}


def purchase_occasions(
    orders: ir.Table, customer_col: str = "customer_id", calibration_end: date | None = None
) -> ir.Table:
    """One row per (customer, day) with positive net spend, up to ``calibration_end``.

    ``orders`` needs ``customer_col``, ``ordered_at`` (timestamp), ``amount`` and
    ``status``.
    """
    live = orders.filter(orders.status != "cancelled", orders[customer_col].notnull())
    live = live.mutate(day=live.ordered_at.date())
    if calibration_end is not None:
        live = live.filter(live.day <= ibis.date(calibration_end))
    daily = live.group_by([customer_col, "day"]).aggregate(spend=live.amount.sum())
    return daily.filter(daily.spend > 0)


def rfm_summary(
    orders: ir.Table,
    calibration_end: date,
    time_unit: TimeUnit = "day",
    customer_col: str = "customer_id",
) -> ir.Table:
    """Frequency, recency, T and monetary value per customer who bought by the end date.

    Returns columns ``customer_col, frequency, recency, T, monetary, first_purchase,
    last_purchase`` (recency and T in ``time_unit``).
    """
    occ = purchase_occasions(orders, customer_col, calibration_end)
    occ = occ.mutate(first_day=occ.day.min().over(group_by=occ[customer_col]))
    per = occ.group_by(customer_col).aggregate(
        occasions=occ.count(),
        first_purchase=occ.day.min(),
        last_purchase=occ.day.max(),
        repeat_spend=ibis.cases((occ.day != occ.first_day, occ.spend), else_=0.0).sum(),
    )
    unit = DAYS_PER_UNIT[time_unit]
    end = ibis.date(calibration_end)
    frequency = (per.occasions - 1).cast("int64")
    return per.select(
        per[customer_col],
        frequency=frequency,
        recency=per.last_purchase.delta(per.first_purchase, unit="day").cast("float64") / unit,
        T=end.delta(per.first_purchase, unit="day").cast("float64") / unit,
        monetary=ibis.cases(
            (frequency > 0, per.repeat_spend / frequency.cast("float64")), else_=0.0
        ),
        first_purchase=per.first_purchase,
        last_purchase=per.last_purchase,
    ).order_by(customer_col)
