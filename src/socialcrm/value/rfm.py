"""RFM summaries: the sufficient statistics of buy-till-you-die models, on the engine.

A *purchase occasion* is a customer-day with positive net spend: returns reduce that
day's spend, a day with only returns is no purchase, and cancelled orders do not count.
Frequency is the number of *repeat* occasions, recency the time from the first to the
last occasion, T the time from the first occasion to the calibration end, and monetary
value the mean spend of the repeat occasions (0 for one-time buyers), as in Fader,
Hardie & Lee (2005) and the ``lifetimes`` package.

Some data sets record free purchases (CDNOW has days on which CDs were bought for 0);
with ``zero_amount_purchases=True`` a day whose net spend is exactly 0 and that has at
least one non-return order also counts, as the published CDNOW analyses count it.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import ibis
from ibis.expr import types as ir

TimeUnit = Literal["day", "week"]
DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0}
RFM_BINS = 5
"""Classic RFM scores are quintiles: 1 (worst) to 5 (best)."""


def purchase_occasions(
    orders: ir.Table,
    customer_col: str = "customer_id",
    calibration_end: date | None = None,
    *,
    zero_amount_purchases: bool = False,
    after: date | None = None,
) -> ir.Table:
    """One row per (customer, day) with positive net spend, up to ``calibration_end``.

    ``orders`` needs ``customer_col``, ``ordered_at`` (timestamp), ``amount`` and
    ``status``. ``after`` keeps only days strictly after it (a holdout window);
    ``zero_amount_purchases`` also keeps days whose net spend is 0 and that hold a
    non-return order.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a"], "amount": [5.0, 0.0], "status": ["completed"] * 2,
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-02"], utc=True)}))
    >>> purchase_occasions(orders, zero_amount_purchases=True).count().execute()
    2
    """
    live = orders.filter(orders.status != "cancelled", orders[customer_col].notnull())
    live = live.mutate(day=live.ordered_at.date())
    if calibration_end is not None:
        live = live.filter(live.day <= ibis.date(calibration_end))
    if after is not None:
        live = live.filter(live.day > ibis.date(after))
    if not zero_amount_purchases:
        daily = live.group_by([customer_col, "day"]).aggregate(spend=live.amount.sum())
        return daily.filter(daily.spend > 0)
    sale = (live.amount >= 0) & (live.status != "returned")
    daily = live.group_by([customer_col, "day"]).aggregate(
        spend=live.amount.sum(), sales=ibis.cases((sale, 1), else_=0).sum()
    )
    keep = (daily.spend > 0) | ((daily.spend == 0) & (daily.sales > 0))
    return daily.filter(keep).select(customer_col, "day", "spend")


def rfm_summary(
    orders: ir.Table,
    calibration_end: date,
    time_unit: TimeUnit = "day",
    customer_col: str = "customer_id",
    *,
    zero_amount_purchases: bool = False,
    holdout_end: date | None = None,
) -> ir.Table:
    """Frequency, recency, T and monetary value per customer who bought by the end date.

    Returns columns ``customer_col, frequency, recency, T, monetary, first_purchase,
    last_purchase, spend`` in no particular order (recency and T in ``time_unit``;
    ``spend`` is the total net spend of all calibration occasions). With ``holdout_end``, also
    ``frequency_holdout`` (occasions in (calibration_end, holdout_end]),
    ``monetary_holdout`` (their mean spend, 0 if none) and ``duration_holdout`` (the
    holdout length in ``time_unit``).

    Examples
    --------
    >>> import pandas as pd
    >>> orders = ibis.memtable(pd.DataFrame({
    ...     "customer_id": ["a", "a", "a"], "amount": [5.0, 7.0, 9.0],
    ...     "status": ["completed"] * 3,
    ...     "ordered_at": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-20"],
    ...                                  utc=True)}))
    >>> s = rfm_summary(orders, date(2024, 1, 15), "week", holdout_end=date(2024, 1, 29))
    >>> s.select("frequency", "recency", "T", "monetary", "frequency_holdout").execute()
       frequency  recency    T  monetary  frequency_holdout
    0          1      1.0  2.0       7.0                  1
    """
    occ = purchase_occasions(
        orders, customer_col, calibration_end, zero_amount_purchases=zero_amount_purchases
    )
    # one aggregation: the first day's spend by arg_min (days are distinct per
    # customer), not a window over every occasion, which costs a sort of the occasions
    per = occ.group_by(customer_col).aggregate(
        occasions=occ.count(),
        first_purchase=occ.day.min(),
        last_purchase=occ.day.max(),
        first_spend=occ.spend.argmin(occ.day),
        spend=occ.spend.sum(),
    )
    per = per.mutate(repeat_spend=per.spend - per.first_spend)
    unit = DAYS_PER_UNIT[time_unit]
    end = ibis.date(calibration_end)
    frequency = (per.occasions - 1).cast("int64")
    out = per.select(
        per[customer_col],
        frequency=frequency,
        recency=per.last_purchase.delta(per.first_purchase, unit="day").cast("float64") / unit,
        T=end.delta(per.first_purchase, unit="day").cast("float64") / unit,
        monetary=ibis.cases(
            (frequency > 0, per.repeat_spend / frequency.cast("float64")), else_=0.0
        ),
        first_purchase=per.first_purchase,
        last_purchase=per.last_purchase,
        spend=per.spend.cast("float64"),
    )
    if holdout_end is not None:
        if holdout_end <= calibration_end:
            raise ValueError("holdout_end must be after calibration_end")
        later = purchase_occasions(
            orders,
            customer_col,
            holdout_end,
            zero_amount_purchases=zero_amount_purchases,
            after=calibration_end,
        )
        hold = later.group_by(customer_col).aggregate(
            n_hold=later.count(), spend_hold=later.spend.sum()
        )
        joined = out.left_join(hold, out[customer_col] == hold[customer_col])
        n_hold = ibis.coalesce(joined.n_hold, 0).cast("int64")
        out = joined.select(
            *[joined[c] for c in out.columns],
            frequency_holdout=n_hold,
            monetary_holdout=ibis.cases(
                (n_hold > 0, joined.spend_hold.cast("float64") / n_hold.cast("float64")),
                else_=0.0,
            ),
            duration_holdout=ibis.literal((holdout_end - calibration_end).days / unit),
        )
    # unordered: a relation to build on; whoever writes or prints it orders it (a
    # sort of every customer is a large share of the cost of the whole summary)
    return out


def rfm_scores(summary: ir.Table) -> ir.Table:
    """Add classic RFM quintile scores and codes to an :func:`rfm_summary` table.

    ``r_score`` ranks the time since the last purchase (``T - recency``; shorter is
    better), ``f_score`` the number of purchase occasions and ``m_score`` the mean spend
    per occasion (``spend / (frequency + 1)``). Each score is ``1 + floor(5 * rank / n)``
    with ``rank`` the 0-based rank of the customer's value (ties share the lowest
    rank), so tied customers always share a score and the result does not depend on
    the engine. ``rfm_code`` concatenates the three, e.g. ``"545"``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = ibis.memtable(pd.DataFrame({"customer_id": list("abcde"),
    ...     "frequency": [0, 1, 2, 3, 4], "recency": [0.0, 1, 2, 3, 4],
    ...     "T": [5.0] * 5, "spend": [10.0, 40, 90, 160, 250]}))
    >>> rfm_scores(s).order_by("customer_id").rfm_code.execute().tolist()
    ['111', '222', '333', '444', '555']
    """
    n = summary.count().over()
    silence = summary["T"] - summary.recency
    # rounded so that engines summing in different orders still tie equal spends
    avg = (summary.spend / (summary.frequency + 1).cast("float64")).round(6)

    def score(rank: ir.IntegerValue) -> ir.IntegerValue:
        return (1 + (rank * RFM_BINS) // n).cast("int64")

    scored = summary.mutate(
        r_score=score(ibis.rank().over(order_by=ibis.desc(silence))),
        f_score=score(ibis.rank().over(order_by=summary.frequency)),
        m_score=score(ibis.rank().over(order_by=avg)),
    )
    return scored.mutate(
        rfm_code=scored.r_score.cast("string")
        + scored.f_score.cast("string")
        + scored.m_score.cast("string")
    )
