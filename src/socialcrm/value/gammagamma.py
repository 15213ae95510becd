"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV").

The spend of each purchase is Gamma(p, ν) around a customer's mean, with ν ~ Gamma(q, γ)
across customers; it is fitted on repeat buyers from their number of repeat purchases x
and the mean spend m of those purchases, and assumed independent of the purchase process.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, gammaln

from socialcrm.value.mle import FitResult, FloatArray, ModelFitError, compact, maximise

PARAMS = ("p", "q", "gamma")


def loglik(
    params: ArrayLike, x: FloatArray, m: FloatArray, w: FloatArray
) -> tuple[float, FloatArray]:
    """Total log-likelihood of mean spends ``m`` over ``x`` purchases, and its gradient.

    The density is that of the mean of x purchases, as in the paper and in ``lifetimes``.

    Examples
    --------
    >>> ll, g = loglik([6.25, 3.74, 15.44], np.array([2.0]), np.array([20.0]),
    ...                np.array([1.0]))
    >>> round(ll, 4)
    -3.5074
    """
    p, q, gamma = (float(v) for v in np.asarray(params, dtype=np.float64))
    px = p * x
    log_xm_g = np.log(x * m + gamma)
    ll_i = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_xm_g
    )
    d_p = x * (digamma(px + q) - digamma(px) + np.log(m) + np.log(x) - log_xm_g)
    d_q = digamma(px + q) - digamma(q) + np.log(gamma) - log_xm_g
    d_gamma = q / gamma - (px + q) / (x * m + gamma)
    return float(w @ ll_i), np.array([w @ d_p, w @ d_q, w @ d_gamma])


@dataclass(frozen=True)
class GammaGamma:
    """A Gamma-Gamma spend model with given parameters (usually from :func:`fit_gammagamma`).

    Examples
    --------
    >>> m = GammaGamma(6.25, 3.74, 15.44)
    >>> round(float(m.expected_spend(2, 20.0)), 2)
    22.74
    """

    p: float
    q: float
    gamma: float
    fit: FitResult | None = None

    name = "gammagamma"

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean(self) -> float:
        """Mean spend per purchase across customers, p γ / (q - 1) (infinite if q <= 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def log_likelihood(self, frequency: ArrayLike, monetary: ArrayLike) -> float:
        x, m = (np.asarray(v, dtype=np.float64) for v in (frequency, monetary))
        return loglik([self.p, self.q, self.gamma], x, m, np.ones_like(x))[0]

    def expected_spend(self, frequency: ArrayLike, monetary: ArrayLike) -> FloatArray:
        """E[spend per purchase | x repeat purchases with mean m].

        A weighted mean of the population mean and the customer's own mean:
        ``(q - 1)/(p x + q - 1) * p γ/(q - 1) + p x/(p x + q - 1) * m``. Customers without
        repeat purchases get the population mean.

        Raises
        ------
        ModelFitError
            When q <= 1: the population mean is infinite, so customers without repeat
            purchases have no finite expected spend.
        """
        x, m = np.broadcast_arrays(
            *(np.asarray(v, dtype=np.float64) for v in (frequency, monetary))
        )
        if self.q <= 1 and np.any(x == 0):
            raise ModelFitError(
                f"gammagamma: q = {self.q:.4g} <= 1 gives an infinite mean spend, so "
                "one-time buyers have no finite expected spend"
            )
        m = np.where(x > 0, m, 0.0)
        spend: FloatArray = self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)
        return spend


def fit_gammagamma(
    frequency: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None = None
) -> GammaGamma:
    """Fit Gamma-Gamma by maximum likelihood on repeat buyers with positive mean spend.

    Rows with ``frequency == 0`` or ``monetary <= 0`` are left out of the fit (the
    model is for positive spends), as the paper does for one-time buyers.

    Raises
    ------
    ModelFitError
        Fewer than 2 distinct usable (x, m) pairs, or no interior optimum.

    Examples
    --------
    >>> m = fit_gammagamma([1, 2, 3, 1, 4, 2, 0], [10.0, 14, 30, 12, 18, 25, 0])
    >>> m.fit.n_customers
    6
    """
    x, m = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (frequency, monetary)))
    w_in = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    if np.any(~np.isfinite(x) | ~np.isfinite(m) | (x < 0)):
        raise ModelFitError("gammagamma: frequency and monetary must be finite, x >= 0")
    use = (x > 0) & (m > 0)
    c = compact(x[use], m[use], weights=w_in[use])
    if len(c.weights) < 2:
        raise ModelFitError(
            "gammagamma: needs repeat buyers with at least two distinct (x, mean spend) "
            f"values; got {len(c.weights)}"
        )
    xs, ms, w = c.column(0), c.column(1), c.weights
    mean_m = (w @ ms) / w.sum()
    start = [1.0, 2.0, mean_m]
    result = maximise(
        "gammagamma",
        PARAMS,
        lambda prm: loglik(prm, xs, ms, w),
        start,
        n_customers=round(w.sum()),
        n_distinct=len(w),
    )
    return GammaGamma(**result.params, fit=result)
