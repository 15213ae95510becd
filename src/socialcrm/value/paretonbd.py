"""The Pareto/NBD model of Schmittlein, Morrison & Colombo (1987).

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α); her
lifetime is exponential with rate μ ~ Gamma(s, β). The likelihood is the one of Fader &
Hardie's note "A note on deriving the Pareto/NBD model and related expressions" (2005),
with its term A0 evaluated as the integral it comes from (see
:func:`socialcrm.value.special.log_dropout_integral`), which is stable where the
difference of two Gauss hypergeometric functions is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, exprel, gammaln, roots_legendre
from scipy.stats import nbinom

from socialcrm.value.bgnbd import _arrays, _validate
from socialcrm.value.mle import FitResult, FloatArray, ModelFitError, compact, maximise
from socialcrm.value.special import DropoutIntegral, log_dropout_integral

PARAMS = ("r", "alpha", "s", "beta")
_DROPOUT_NODES = 96


def _terms(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, FloatArray, DropoutIntegral]:
    """log of (α+T)^-(r+x) (β+T)^-s, log of s·I, and the dropout integral I."""
    log_t1 = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    integral = log_dropout_integral(r + x, alpha, s + 1, beta, t_x, T)
    log_t2 = np.log(s) + integral.log_value
    return log_t1, log_t2, integral


def loglik(
    params: ArrayLike, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray
) -> tuple[float, FloatArray]:
    """Total log-likelihood and its gradient in (r, alpha, s, beta).

    Examples
    --------
    >>> ll, g = loglik([0.55, 10.58, 0.61, 11.67], np.array([2.0]), np.array([30.43]),
    ...                np.array([38.86]), np.array([1.0]))
    >>> round(ll, 4)
    -9.562
    """
    r, alpha, s, beta = (float(v) for v in np.asarray(params, dtype=np.float64))
    log_t1, log_t2, d = _terms(r, alpha, s, beta, x, t_x, T)
    top = np.maximum(log_t1, log_t2)
    lse = top + np.log(np.exp(log_t1 - top) + np.exp(log_t2 - top))
    ll_i = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + lse
    w1, w2 = np.exp(log_t1 - lse), np.exp(log_t2 - lse)
    d_r = digamma(r + x) - digamma(r) + np.log(alpha)
    d_r -= w1 * np.log(alpha + T) + w2 * d.mean_log_a
    d_alpha = r / alpha - (r + x) * (w1 / (alpha + T) + w2 * d.mean_inv_a)
    d_s = np.log(beta) - w1 * np.log(beta + T) + w2 * (1 / s - d.mean_log_b)
    d_beta = s / beta - w1 * s / (beta + T) - w2 * (s + 1) * d.mean_inv_b
    grad = np.array([w @ d_r, w @ d_alpha, w @ d_s, w @ d_beta])
    return float(w @ ll_i), grad


@dataclass(frozen=True)
class ParetoNBD:
    """A Pareto/NBD model with given parameters (usually from :func:`fit_paretonbd`).

    Examples
    --------
    >>> m = ParetoNBD(0.5533, 10.578, 0.6063, 11.670)
    >>> round(float(m.p_alive(0, 0, 38.86)), 4)
    0.2951
    """

    r: float
    alpha: float
    s: float
    beta: float
    fit: FitResult | None = None

    name = "paretonbd"

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}

    @property
    def _vec(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.s, self.beta])

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float:
        """Total log-likelihood of the summaries (the paper's convention)."""
        x, t_x, T_ = _arrays(frequency, recency, T)
        return loglik(self._vec, x, t_x, T_, np.ones_like(x))[0]

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive at T | x, t_x, T)."""
        x, t_x, T_ = _arrays(frequency, recency, T)
        log_t1, log_t2, _ = _terms(self.r, self.alpha, self.s, self.beta, x, t_x, T_)
        alive: FloatArray = expit(log_t1 - log_t2)
        return alive

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in (T, T + t] given the history (x, t_x, T)."""
        t_, x, t_x, T_ = _arrays(t, frequency, recency, T)
        return self.p_alive(x, t_x, T_) * self._alive_expectation(t_, x, T_)

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases in (0, t] of a customer who made a first one at 0."""
        t_ = np.asarray(t, dtype=np.float64)
        zero = np.zeros_like(t_)
        return self._alive_expectation(t_, zero, zero)

    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> FloatArray:
        """P(X(t) = n): n repeat purchases in (0, t] after a first purchase at 0.

        Mixes the NBD count over the time alive, min(lifetime, t): the lifetime's
        distribution function is the integration variable, so the quadrature is smooth.
        """
        n_, t_ = _arrays(n, t)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        still = (beta / (beta + t_)) ** s  # P(lifetime > t)
        alive_all = nbinom.pmf(n_, r, alpha / (alpha + t_))
        nodes, weights = roots_legendre(_DROPOUT_NODES)
        u = (nodes + 1) / 2  # fraction of the dropout probability 1 - still
        F = (1 - still)[..., None] * u  # lifetime CDF values
        y = beta * np.expm1(-np.log1p(-F) / s)  # lifetimes with those CDF values
        died = nbinom.pmf(n_[..., None], r, alpha / (alpha + y))
        prob: FloatArray = still * alive_all + (1 - still) * (died @ weights) / 2
        return prob

    def _alive_expectation(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """(r+x)(β+T)/((α+T)(s-1)) [1 - ((β+T)/(β+T+t))^(s-1)], finite at s = 1."""
        log_growth = np.log1p(t / (self.beta + T))
        expectation: FloatArray = (
            (self.r + x)
            / (self.alpha + T)
            * (self.beta + T)
            * log_growth
            * exprel(-(self.s - 1) * log_growth)
        )
        return expectation


def fit_paretonbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> ParetoNBD:
    """Fit Pareto/NBD by maximum likelihood on the distinct (x, t_x, T) triples.

    Parameters and errors as :func:`socialcrm.value.bgnbd.fit_bgnbd`.

    Examples
    --------
    >>> from socialcrm.value.simulate import simulate_summary
    >>> m = fit_paretonbd(*simulate_summary(3000, seed=3))
    >>> m.fit.converged, sorted(m.params)
    (True, ['alpha', 'beta', 'r', 's'])
    """
    x, t_x, T_ = _arrays(frequency, recency, T)
    _validate(x, t_x, T_)
    c = compact(x, t_x, T_, weights=weights)
    xs, txs, Ts = c.column(0), c.column(1), c.column(2)
    w = c.weights
    if w.sum() <= 0:
        raise ModelFitError("paretonbd: no customers to fit")
    if w[xs > 0].sum() == 0:
        raise ModelFitError("paretonbd: no repeat buyers, so the purchase process cannot be fitted")
    mean_t = (w @ Ts) / w.sum()
    mean_rate = float(w @ xs) / max(float(w @ Ts), 1e-12)
    start = [1.0, 1.0 / max(mean_rate, 1e-6), 1.0, max(mean_t, 1e-3)]
    result = maximise(
        "paretonbd",
        PARAMS,
        lambda p: loglik(p, xs, txs, Ts, w),
        start,
        n_customers=round(w.sum()),
        n_distinct=len(w),
    )
    return ParetoNBD(**result.params, fit=result)
