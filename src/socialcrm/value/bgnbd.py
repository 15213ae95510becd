"""The BG/NBD model of Fader, Hardie & Lee (2005), "Counting your customers the easy way".

While alive, a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
purchase she drops out with probability p ~ Beta(a, b). The sufficient statistics per
customer are (x, t_x, T): repeat purchases, time of the last one and time since the
first purchase, all measured from the first purchase.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, betaln, digamma, expit, exprel, gammaln, roots_jacobi

from socialcrm.value.mle import (
    FitResult,
    FloatArray,
    ModelFitError,
    compact,
    maximise,
)
from socialcrm.value.special import hyp2f1m1_over_b

PARAMS = ("r", "alpha", "a", "b")
_JACOBI_NODES = 400
_SERIES_MAX_Z = 0.999


@dataclass(frozen=True)
class Design:
    """Distinct triples prepared once for many likelihood evaluations.

    Every term that depends on x alone (the gamma functions) is evaluated once per
    distinct x and weighted by its total count, and the logarithms of α + T and
    α + t_x once per distinct T and t_x, so an evaluation costs a few vector operations
    per triple.
    """

    x: FloatArray
    w: FloatArray
    x_u: FloatArray
    x_i: NDArray[np.intp]
    w_x: FloatArray
    T_u: FloatArray
    T_i: NDArray[np.intp]
    tx_u: FloatArray
    tx_i: NDArray[np.intp]
    rep: NDArray[np.bool_]

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> Design:
        x_u, x_i = np.unique(x, return_inverse=True)
        T_u, T_i = np.unique(T, return_inverse=True)
        tx_u, tx_i = np.unique(t_x, return_inverse=True)
        w_x = np.bincount(x_i, weights=w, minlength=len(x_u))
        return cls(x, w, x_u, x_i, w_x, T_u, T_i, tx_u, tx_i, x > 0)


def loglik(
    params: ArrayLike, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray
) -> tuple[float, FloatArray]:
    """Total log-likelihood and its gradient in (r, alpha, a, b).

    Examples
    --------
    >>> ll, g = loglik([0.24, 4.4, 0.79, 2.4], np.array([2.0]), np.array([30.43]),
    ...                np.array([38.86]), np.array([1.0]))
    >>> round(ll, 4)
    -9.4682
    """
    return loglik_design(params, Design.of(x, t_x, T, w))


def loglik_design(params: ArrayLike, d: Design) -> tuple[float, FloatArray]:
    """:func:`loglik` on prepared triples."""
    r, alpha, a, b = (float(v) for v in np.asarray(params, dtype=np.float64))
    xu, wx = d.x_u, d.w_x
    # the terms in x alone, per distinct x
    const = (
        gammaln(r + xu) - gammaln(r) + gammaln(a + b) + gammaln(b + xu) - gammaln(b)
        - gammaln(a + b + xu)
    )  # fmt: skip
    log_alpha = np.log(alpha)
    with np.errstate(divide="ignore"):
        log_bx1 = np.where(xu > 0, np.log(b + np.maximum(xu - 1, 0)), 0.0)
    log_at = np.log(alpha + d.T_u)[d.T_i]
    log_atx = np.log(alpha + d.tx_u)[d.tx_i]
    rx = r + d.x
    u = -rx * log_at
    v = np.where(d.rep, np.log(a) - log_bx1[d.x_i] - rx * log_atx, -np.inf)
    top = np.maximum(u, v)
    eu, ev = np.exp(u - top), np.exp(v - top)
    total = eu + ev
    lse = top + np.log(total)
    wu, wv = eu / total, ev / total
    w = d.w
    ll = wx @ const + r * log_alpha * wx.sum() + w @ lse
    dg_ab = digamma(a + b)
    dg_abx = digamma(a + b + xu)
    d_r = wx @ (digamma(r + xu) - digamma(r)) + log_alpha * wx.sum()
    d_r -= w @ (wu * log_at + wv * log_atx)
    inv_at = (1.0 / (alpha + d.T_u))[d.T_i]
    inv_atx = (1.0 / (alpha + d.tx_u))[d.tx_i]
    d_alpha = r / alpha * wx.sum() - (w * rx) @ (wu * inv_at + wv * inv_atx)
    wwv = w * wv
    d_a = wx @ (dg_ab - dg_abx) + wwv.sum() / a
    wv_x = np.bincount(d.x_i, weights=wwv, minlength=len(xu))
    with np.errstate(divide="ignore"):
        inv_bx1 = np.where(xu > 0, 1.0 / (b + np.maximum(xu - 1, 0)), 0.0)
    d_b = wx @ (dg_ab + digamma(b + xu) - digamma(b) - dg_abx) - wv_x @ inv_bx1
    return float(ll), np.array([d_r, d_alpha, d_a, d_b])


@dataclass(frozen=True)
class BGNBD:
    """A BG/NBD model with given parameters (usually from :func:`fit_bgnbd`).

    Examples
    --------
    >>> m = BGNBD(0.2426, 4.4136, 0.7929, 2.4259)
    >>> round(float(m.p_alive(2, 30.43, 38.86)), 4)
    0.7266
    >>> round(float(m.expected_purchases(39, 2, 30.43, 38.86)), 3)
    1.226
    """

    r: float
    alpha: float
    a: float
    b: float
    fit: FitResult | None = None

    name = "bgnbd"

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> float:
        """Total log-likelihood of the summaries (the paper's convention)."""
        x, t_x, T_ = _arrays(frequency, recency, T)
        return loglik(self._vec, x, t_x, T_, np.ones_like(x))[0]

    @property
    def _vec(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b])

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
        """P(alive at T | x, t_x, T); 1 for customers without repeat purchases."""
        x, t_x, T_ = _arrays(frequency, recency, T)
        rep = x > 0
        with np.errstate(divide="ignore"):
            log_odds = np.where(
                rep,
                np.log(self.a)
                - np.log(self.b + np.where(rep, x - 1, 0.0))
                + (self.r + x) * (np.log(self.alpha + T_) - np.log(self.alpha + t_x)),
                -np.inf,
            )
        return expit(-log_odds)

    def expected_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """Expected purchases in (T, T + t] given the history (x, t_x, T)."""
        t_, x, t_x, T_ = np.broadcast_arrays(
            *(np.asarray(v, dtype=np.float64) for v in (t, frequency, recency, T))
        )
        return self.p_alive(x, t_x, T_) * self._alive_expectation(t_, x, T_)

    def expected_purchases_new(self, t: ArrayLike) -> FloatArray:
        """Expected repeat purchases in (0, t] of a customer who made a first one at 0."""
        t_ = np.asarray(t, dtype=np.float64)
        zero = np.zeros_like(t_)
        return self._alive_expectation(t_, zero, zero)

    def probability_of_purchases(self, n: ArrayLike, t: ArrayLike) -> FloatArray:
        """P(X(t) = n): n repeat purchases in (0, t] after a first purchase at 0."""
        n_, t_ = np.broadcast_arrays(np.asarray(n, dtype=np.float64), np.asarray(t, float))
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore"):
            log_p0 = np.log(alpha) - np.log(alpha + t_)
            log_p1 = np.where(t_ > 0, np.log(t_) - np.log(alpha + t_), -np.inf)
            log_first = (
                betaln(a, b + n_)
                - betaln(a, b)
                + gammaln(r + n_)
                - gammaln(r)
                - gammaln(n_ + 1)
                + r * log_p0
                + np.where(n_ > 0, n_ * log_p1, 0.0)
            )
        tail = betainc(np.maximum(n_, 1), r, t_ / (alpha + t_))  # P(NB(r, α/(α+t)) >= n)
        second = np.where(
            n_ > 0,
            np.exp(betaln(a + 1, b + np.maximum(n_, 1) - 1) - betaln(a, b)) * tail,
            0.0,
        )
        return np.exp(log_first) + second

    # -- internals -----------------------------------------------------------------------
    def _alive_expectation(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T, x]: the expectation without P(alive).

        The published form (a+b+x-1)/(a-1) [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x;
        a+b+x-1; z)] with z = t/(α+T+t) is rewritten with Euler's transformation as
        (a+b+x-1) [ (1 - (1-z)^(a-1)) / (a-1) - (1-z)^(a-1) (2F1(a+b-1-r, a-1; a+b+x-1;
        z) - 1) / (a-1) ], whose series has small numerator parameters (fast for heavy
        buyers) and no singularity at a = 1.
        """
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t, x, T = np.broadcast_arrays(t, x, T)
        out = np.zeros(t.shape)
        c = a + b + x - 1
        z = t / (alpha + T + t)
        # The series needs c > 0 (only x = 0 with a + b < 1.5 fails it). Its terms fall
        # like z^n n^-(r+x+2-a): past z = 0.999 (a horizon over 1000 times α + T) that
        # is slow for light buyers, who get Gauss-Jacobi quadrature instead (stable for
        # Beta(a, b + x) shapes up to ~100, which light buyers have).
        fast = (z <= _SERIES_MAX_Z) | (r + x + 2 - a >= 8) | (b + x > 100)
        by_series = (t > 0) & (c >= 0.5) & fast
        by_quadrature = (t > 0) & ~by_series
        if np.any(by_series):
            ts, cs, Ts = t[by_series], c[by_series], T[by_series]
            log1mz = -np.log1p(ts / (alpha + Ts))  # log(1 - z)
            first = -log1mz * exprel((a - 1) * log1mz)
            series = hyp2f1m1_over_b(a + b - 1 - r, a - 1, cs, z[by_series])
            out[by_series] = cs * (first - np.exp((a - 1) * log1mz) * series)
        if np.any(by_quadrature):
            idx = np.flatnonzero(by_quadrature.ravel())
            flat = out.reshape(-1)
            xq = x.ravel()[idx]
            kq = (t.ravel() / (alpha + T.ravel()))[idx]
            for xv in np.unique(xq):
                sel = xq == xv
                flat[idx[sel]] = self._beta_expectation(kq[sel], r + xv, b + xv)
        return np.maximum(out, 0.0)

    def _beta_expectation(self, k: FloatArray, m: float, b_post: float) -> FloatArray:
        """E[(1 - (1 + p k)^-m) / p] for p ~ Beta(a, b_post), by Gauss-Jacobi quadrature."""
        nodes, weights = roots_jacobi(_JACOBI_NODES, b_post - 1, self.a - 1)
        p = (nodes + 1) / 2
        weights = weights / weights.sum()
        f = -np.expm1(-m * np.log1p(np.outer(k, p))) / p
        return f @ weights


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> BGNBD:
    """Fit BG/NBD by maximum likelihood on the distinct (x, t_x, T) triples.

    Parameters
    ----------
    frequency, recency, T
        Repeat purchases x, time of the last purchase t_x and age T, per customer (or per
        distinct triple with ``weights``), in one time unit.
    weights
        Number of customers with each triple (default 1 each).

    Raises
    ------
    ModelFitError
        No customers, no repeat buyers, invalid summaries, or no interior optimum.

    Examples
    --------
    >>> from socialcrm.value.simulate import simulate_summary
    >>> m = fit_bgnbd(*simulate_summary(3000, seed=3))
    >>> m.fit.converged, round(m.r, 1)
    (True, 0.2)
    """
    x, t_x, T_ = _arrays(frequency, recency, T)
    _validate(x, t_x, T_)
    c = compact(x, t_x, T_, weights=weights)
    xs, txs, Ts = c.column(0), c.column(1), c.column(2)
    w = c.weights
    if w.sum() <= 0:
        raise ModelFitError("bgnbd: no customers to fit")
    if w[xs > 0].sum() == 0:
        raise ModelFitError("bgnbd: no repeat buyers, so the purchase process cannot be fitted")
    mean_rate = (w @ xs) / max(w @ Ts, 1e-12)
    start = [1.0, 1.0 / max(mean_rate, 1e-6), 1.0, 1.0]
    design = Design.of(xs, txs, Ts, w)
    result = maximise(
        "bgnbd",
        PARAMS,
        lambda p: loglik_design(p, design),
        start,
        n_customers=round(w.sum()),
        n_distinct=len(w),
    )
    return BGNBD(**result.params, fit=result)


def _arrays(*cols: ArrayLike) -> list[FloatArray]:
    return list(np.broadcast_arrays(*(np.asarray(c, dtype=np.float64) for c in cols)))


def _validate(x: FloatArray, t_x: FloatArray, T: FloatArray) -> None:
    bad = ~(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T))
    bad |= (x < 0) | (t_x < 0) | (t_x > T + 1e-9) | (x != np.round(x))
    bad |= (x == 0) & (t_x != 0)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ModelFitError(
            f"invalid summary row {i}: frequency={x[i]}, recency={t_x[i]}, T={T[i]} "
            "(need whole x >= 0, 0 <= recency <= T, recency 0 when x = 0)"
        )
