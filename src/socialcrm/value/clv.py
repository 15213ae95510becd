"""Customer lifetime value and defection alerts from a purchase model and a spend model.

CLV over a horizon H, with an annual discount rate d, is the discounted expected number
of purchases times the expected spend per purchase::

    CLV = E[spend] * sum_k (E[Y(t_k)] - E[Y(t_{k-1})]) * (1 + d) ** -(t_k / 1 year)

where E[Y(t)] is the model's expected number of purchases in (T, T + t] given the
customer's history and 0 = t_0 < t_1 < ... < t_K = H are monthly steps (K = the number of
months in H, rounded up): each month's expected purchases are discounted from the end
of that month. It assumes, as the models do, that spend is independent of the purchase
process.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from socialcrm.value.mle import FloatArray

DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = DAYS_PER_YEAR / 12

RISK_BANDS: tuple[tuple[float, str], ...] = (
    (0.25, "very_high"),
    (0.50, "high"),
    (0.75, "medium"),
    (1.01, "low"),
)
"""Defection-risk band by P(alive): below 0.25 very high, below 0.5 high, below 0.75
medium, otherwise low."""

OVERDUE_SILENCE_PROBABILITY = 0.05
"""A repeat buyer is overdue when an active customer with her history would have been
silent this long less than 5% of the time."""


class PurchaseModel(Protocol):
    """What CLV needs from a fitted BG/NBD or Pareto/NBD model."""

    # read-only, as on the frozen dataclasses that implement it
    @property
    def name(self) -> str: ...

    @property
    def r(self) -> float: ...

    @property
    def alpha(self) -> float: ...

    @property
    def params(self) -> dict[str, float]: ...

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray: ...

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray: ...

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray: ...

    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> FloatArray: ...

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float: ...


def discounted_expected_purchases(
    model: PurchaseModel,
    horizon: float,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    discount_rate: float = 0.10,
    days_per_unit: float = 1.0,
) -> FloatArray:
    """Expected purchases in (T, T + horizon], each month discounted at ``discount_rate``.

    Parameters
    ----------
    model
        A fitted purchase model.
    horizon
        Length of the horizon in the summary's time unit.
    frequency, recency, T
        The customers' summaries, in the same unit.
    discount_rate
        Annual discount rate (0.10 = 10% a year); 0 gives the undiscounted expectation.
    days_per_unit
        Days in one time unit (1 for days, 7 for weeks).

    Examples
    --------
    >>> from socialcrm.value.bgnbd import BGNBD
    >>> m = BGNBD(0.2426, 4.4136, 0.7929, 2.4259)
    >>> undiscounted = discounted_expected_purchases(m, 52, 2, 30.43, 38.86, 0.0, 7.0)
    >>> bool(np.isclose(undiscounted, m.expected_purchases(52, 2, 30.43, 38.86)))
    True
    """
    if horizon < 0 or discount_rate < 0:
        raise ValueError("horizon and discount rate must not be negative")
    x = np.asarray(frequency, dtype=np.float64)
    t_x, T_ = np.asarray(recency, dtype=np.float64), np.asarray(T, dtype=np.float64)
    x, t_x, T_ = np.broadcast_arrays(x, t_x, T_)
    if horizon == 0:
        return np.zeros(x.shape)
    steps = max(1, math.ceil(horizon * days_per_unit / DAYS_PER_MONTH - 1e-9))
    grid = horizon * np.arange(1, steps + 1) / steps
    cum = model.expected_purchases(grid[None, :], x[..., None], t_x[..., None], T_[..., None])
    inc = np.diff(cum, axis=-1, prepend=0.0)
    factor = (1 + discount_rate) ** -(grid * days_per_unit / DAYS_PER_YEAR)
    return (inc @ factor).reshape(x.shape)


def risk_band(p_alive: ArrayLike) -> NDArray[np.str_]:
    """Defection-risk band of each P(alive), per :data:`RISK_BANDS`.

    Examples
    --------
    >>> risk_band([0.1, 0.3, 0.6, 0.9]).tolist()
    ['very_high', 'high', 'medium', 'low']
    """
    p = np.asarray(p_alive, dtype=np.float64)
    edges = np.array([e for e, _ in RISK_BANDS[:-1]])
    names = np.array([n for _, n in RISK_BANDS])
    return names[np.searchsorted(edges, p, side="right")]


def silence_probability(
    model: PurchaseModel, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """P(an active customer with this history stays silent from t_x to T).

    Given x repeat purchases by t_x, an active customer's purchase rate is
    Gamma(r + x, α + t_x) distributed, and the chance of no purchase in the next
    T - t_x is ((α + t_x) / (α + T)) ** (r + x).

    Examples
    --------
    >>> from socialcrm.value.bgnbd import BGNBD
    >>> round(float(silence_probability(BGNBD(1.0, 1.0, 1.0, 1.0), 3, 9, 19)), 4)
    0.0625
    """
    x, t_x, T_ = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    silent: FloatArray = np.exp(
        (model.r + x) * (np.log(model.alpha + t_x) - np.log(model.alpha + T_))
    )
    return silent


def overdue(
    model: PurchaseModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    threshold: float = OVERDUE_SILENCE_PROBABILITY,
) -> NDArray[np.bool_]:
    """Repeat buyers whose next purchase is well past due.

    A customer with at least one repeat purchase is overdue when
    :func:`silence_probability` is below ``threshold`` (5%): had she still been active
    at her own pace, a silence as long as hers would be rare. One-time buyers have no
    pace yet and are never overdue.

    Examples
    --------
    >>> from socialcrm.value.bgnbd import BGNBD
    >>> overdue(BGNBD(1.0, 1.0, 1.0, 1.0), [3, 3, 0], [9, 18, 0], [30, 19, 30]).tolist()
    [True, False, False]
    """
    x = np.asarray(frequency, dtype=np.float64)
    return (x > 0) & (silence_probability(model, frequency, recency, T) < threshold)
