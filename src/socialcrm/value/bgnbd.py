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
from scipy.special import (
    betainc,
    betaln,
    digamma,
    expit,
    exprel,
    gammaln,
    polygamma,
    roots_jacobi,
)

from socialcrm.value.mle import (
    FitResult,
    FloatArray,
    ModelFitError,
    compact,
    maximise,
    sorted_codes,
    weighted_bincount,
)
from socialcrm.value.special import hyp2f1m1_over_b

PARAMS = ("r", "alpha", "a", "b")
_JACOBI_NODES = 400
_SERIES_MAX_Z = 0.999
_WARM_START_TRIPLES = 20_000
"""Above this many distinct triples, the fit starts from a fit on coarsened ones."""
_COARSE_LEVELS = 96
_DISTINCT_FROM = 2_000
"""Score arrays longer than this are scored once per distinct (horizon, x, T)."""


@dataclass(frozen=True)
class Design:
    """Distinct triples prepared once for many likelihood evaluations.

    A triple's log-likelihood is a term in x alone, minus (r + x) log(α + T), plus, for
    repeat buyers only, softplus(log a - log(b + x - 1) + (r + x) log((α + T)/(α + t_x))).
    Terms in x alone are evaluated once per distinct x and the (r + x) log(α + T) sum
    once per distinct T with pre-summed weights, so per-triple work is the softplus of
    the repeat buyers: a few gathers and vector operations.
    """

    x_u: FloatArray
    w_x: FloatArray
    T_u: FloatArray
    w_T: FloatArray
    """Customers per distinct T."""
    xw_T: FloatArray
    """Sum of w x per distinct T."""
    tx_u: FloatArray
    # repeat buyers (x > 0), one entry per distinct triple
    x: FloatArray
    w: FloatArray
    x_i: NDArray[np.intp]
    T_i: NDArray[np.intp]
    tx_i: NDArray[np.intp]

    @classmethod
    def of(cls, x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray) -> Design:
        x_u, x_i = sorted_codes(x)
        T_u, T_i = sorted_codes(T)
        w_x = weighted_bincount(x_i, w, len(x_u))
        w_T = weighted_bincount(T_i, w, len(T_u))
        xw_T = weighted_bincount(T_i, w * x, len(T_u))
        rep = x > 0
        tx_u, tx_i = sorted_codes(t_x[rep])
        return cls(x_u, w_x, T_u, w_T, xw_T, tx_u, x[rep], w[rep], x_i[rep], T_i[rep], tx_i)


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
    ll, grad, _ = loglik_design(params, Design.of(x, t_x, T, w))
    return ll, grad


def loglik_design(
    params: ArrayLike, d: Design, hessian: bool = False
) -> tuple[float, FloatArray, FloatArray | None]:
    """:func:`loglik` on prepared triples, with the analytic Hessian when asked.

    With s = sigmoid(z) of the softplus argument z, the softplus term contributes
    s ∇z to the gradient and s (1 - s) ∇z ∇zᵀ + s ∇²z to the Hessian.
    """
    r, alpha, a, b = (float(v) for v in np.asarray(params, dtype=np.float64))
    xu, wx, n = d.x_u, d.w_x, d.w_x.sum()
    # terms in x alone, per distinct x
    const = (
        gammaln(r + xu) - gammaln(r) + gammaln(a + b) + gammaln(b + xu) - gammaln(b)
        - gammaln(a + b + xu)
    )  # fmt: skip
    log_alpha = np.log(alpha)
    # -(r + x) log(α + T) summed per distinct T
    at = alpha + d.T_u
    log_at, inv_at = np.log(at), 1.0 / at
    rx_T = r * d.w_T + d.xw_T
    ll = wx @ const + r * log_alpha * n - rx_T @ log_at
    g = np.array(
        [
            wx @ (digamma(r + xu) - digamma(r)) + log_alpha * n - d.w_T @ log_at,
            r / alpha * n - rx_T @ inv_at,
            wx @ (digamma(a + b) - digamma(a + b + xu)),
            wx @ (digamma(a + b) + digamma(b + xu) - digamma(b) - digamma(a + b + xu)),
        ]
    )
    # the softplus of the repeat buyers; every per-triple array is computed once
    atx = alpha + d.tx_u
    inv_atx = 1.0 / atx
    inv_bx1_u = 1.0 / (b + np.maximum(xu - 1, 0))
    rx = r + d.x
    gap = log_at[d.T_i] - np.log(atx)[d.tx_i]  # log((α + T)/(α + t_x)) >= 0
    z = (np.log(a) + np.log(inv_bx1_u))[d.x_i] + rx * gap
    # softplus(z) = max(z, 0) + log1p(e) and sigmoid(z) from one e = exp(-|z|)
    e = np.exp(-np.abs(z))
    s = np.where(z >= 0, 1.0, e) / (1.0 + e)
    ws = d.w * s
    ll += d.w @ (np.maximum(z, 0.0) + np.log1p(e))
    inv_at_i, inv_atx_i = inv_at[d.T_i], inv_atx[d.tx_i]
    d_inv = inv_at_i - inv_atx_i  # d gap / d α
    ws_x = np.bincount(d.x_i, weights=ws, minlength=len(xu))
    ws_rx = ws * rx
    g += [ws @ gap, ws_rx @ d_inv, ws.sum() / a, -(ws_x @ inv_bx1_u)]
    if not hessian:
        return float(ll), g, None
    h = np.zeros((4, 4))
    tg_r, tg_ab, tg_abx = polygamma(1, r), polygamma(1, a + b), polygamma(1, a + b + xu)
    h[0, 0] = wx @ (polygamma(1, r + xu) - tg_r)
    h[0, 1] = n / alpha - d.w_T @ inv_at
    h[1, 1] = -r * n / alpha**2 + rx_T @ inv_at**2
    h[2, 2] = wx @ (tg_ab - tg_abx)
    h[2, 3] = h[2, 2]
    h[3, 3] = wx @ (tg_ab + polygamma(1, b + xu) - polygamma(1, b) - tg_abx)
    # s (1 - s) ∇z ∇zᵀ with ∇z = (gap, (r + x) d_inv, 1/a, -1/(b + x - 1))
    jac = np.empty((len(s), 4))
    jac[:, 0] = gap
    jac[:, 1] = rx * d_inv
    jac[:, 2] = 1.0 / a
    jac[:, 3] = -inv_bx1_u[d.x_i]
    q = ws * (1.0 - s)
    h += jac.T @ (jac * q[:, None])
    # s ∇²z: ∂r∂α = d_inv, ∂α² = -(r + x)(1/(α+T)² - 1/(α+t_x)²), ∂a² = -1/a², ∂b² = 1/(b+x-1)²
    h[0, 1] += ws @ d_inv
    h[1, 1] -= ws_rx @ (d_inv * (inv_at_i + inv_atx_i))
    h[2, 2] -= ws.sum() / a**2
    h[3, 3] += ws_x @ inv_bx1_u**2
    h = np.triu(h) + np.triu(h, 1).T
    return float(ll), g, h


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
        alive: FloatArray = expit(-log_odds)
        return alive

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
        prob: FloatArray = np.exp(log_first) + second
        return prob

    # -- internals -----------------------------------------------------------------------
    def _alive_expectation(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T+t] | alive at T, x], once per distinct (t, x, T).

        It does not depend on t_x, so distinct (x, T) pairs are far fewer than
        distinct triples (about 4 thousand for 200 thousand triples of a year and a
        half of daily data), and its series is the costly part of scoring.
        """
        t, x, T = np.broadcast_arrays(t, x, T)
        if t.size > _DISTINCT_FROM:
            c = compact(t, x, T)
            if 2 * len(c.weights) < t.size:
                rows = self._alive_expectation_rows(c.column(0), c.column(1), c.column(2))
                return rows[c.inverse].reshape(t.shape)
        return self._alive_expectation_rows(t, x, T)

    def _alive_expectation_rows(self, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
        """The expectation without P(alive), row by row.

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
        expectation: FloatArray = f @ weights
        return expectation


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
        Number of customers with each triple (default 1 each). Weighted rows are
        taken as given (``n_distinct`` counts them); unweighted ones are merged.

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
    if weights is None:
        c = compact(x, t_x, T_)
        xs, txs, Ts, w = c.column(0), c.column(1), c.column(2), c.weights
    else:
        # weighted rows are usually distinct already (from compact or the engine's
        # group by); duplicates would only cost time, so they are not merged again
        w = np.broadcast_to(np.asarray(weights, dtype=np.float64), x.shape).ravel()
        keep = w > 0
        xs, txs, Ts, w = x.ravel()[keep], t_x.ravel()[keep], T_.ravel()[keep], w[keep]
    if w.sum() <= 0:
        raise ModelFitError("bgnbd: no customers to fit")
    if w[xs > 0].sum() == 0:
        raise ModelFitError("bgnbd: no repeat buyers, so the purchase process cannot be fitted")
    mean_rate = float(w @ xs) / max(float(w @ Ts), 1e-12)
    start = [1.0, 1.0 / max(mean_rate, 1e-6), 1.0, 1.0]
    design = Design.of(xs, txs, Ts, w)
    warm = warm_hessian = None
    if len(w) > _WARM_START_TRIPLES:
        coarse = Design.of(*_coarsen(xs, txs, Ts, w))
        warm = lambda p: loglik_design(p, coarse)[:2]  # noqa: E731
        warm_hessian = lambda p: loglik_design(p, coarse, hessian=True)  # noqa: E731
    result = maximise(
        "bgnbd",
        PARAMS,
        lambda p: loglik_design(p, design)[:2],
        start,
        n_customers=round(w.sum()),
        n_distinct=len(w),
        loglik_hessian=lambda p: loglik_design(p, design, hessian=True),  # type: ignore[arg-type,return-value]
        warm_start=warm,
        warm_start_hessian=warm_hessian,  # type: ignore[arg-type]
    )
    return BGNBD(**result.params, fit=result)


def _coarsen(
    x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Merge triples into cells of a coarse grid, each at its customers' mean triple.

    Only a starting point for the exact fit: a likelihood on a few thousand cells whose
    maximum is close to the exact one, so that the exact likelihood is needed only for
    the few Newton steps that finish. Cells keep x = 0 apart (and t_x = 0 there), and
    weighted means keep t_x <= T.
    """
    step = max(float(T.max()), 1e-12) / _COARSE_LEVELS
    x_bin = np.where(x <= 16, x, np.floor(np.log(np.maximum(x, 16) / 16) / np.log(1.1)) + 17)
    c = compact(x_bin, np.floor(t_x / step), np.floor(T / step), weights=w)
    m = c.weights
    mean = [np.bincount(c.inverse, weights=w * v, minlength=len(m)) / m for v in (x, t_x, T)]
    return mean[0], np.minimum(mean[1], mean[2]), mean[2], m


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
