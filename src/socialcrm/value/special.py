"""Special functions the purchase models need, evaluated so that they cannot overflow.

Two pieces of the published closed forms are numerically treacherous:

* the Gauss hypergeometric function 2F1 in the BG/NBD conditional expectation, whose
  textbook series needs thousands of terms and overflows for heavy buyers (x in the
  thousands) and whose prefactor is singular at a = 1; :func:`hyp2f1m1_over_b` sums a
  transformed series with small numerator parameters instead;
* the difference of two 2F1 terms in the Pareto/NBD likelihood (Fader & Hardie's
  A0), which cancels catastrophically when the last purchase is close to the end of
  calibration and is ill-conditioned for a + b < 1. :func:`log_dropout_integral`
  evaluates the same quantity as the integral it comes from, whose integrand is
  positive, by Gauss-Legendre quadrature after a change of variable that removes its
  steep power-law decay; it works in log space, so nothing overflows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

FloatArray = NDArray[np.float64]

_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
_PANELS_NEAR = 24  # panels of width <= 2 on [0, 48] in the decay variable u
_PANELS_FAR = 3  # then three equal panels up to U, where the integrand is < e^-40 of its peak
_U_NEAR = 48.0


def hyp2f1m1_over_b(
    a: ArrayLike,
    b: ArrayLike,
    c: ArrayLike,
    z: ArrayLike,
    rtol: float = 1e-15,
    max_terms: int = 1_000_000,
) -> FloatArray:
    """``(2F1(a, b; c; z) - 1) / b`` for ``0 <= z < 1`` and ``c > -1``, ``c != 0``, by its series.

    Dividing by ``b`` keeps the function finite and smooth as ``b`` goes to 0 (it is
    then ``sum_{n>=1} (a)_n (n-1)! / ((c)_n n!) z^n``), which removes the removable
    singularity of the BG/NBD expectation at a = 1. Terms are summed until the tail,
    bounded by a geometric series, is below ``rtol`` of the sum.

    Examples
    --------
    >>> from scipy.special import hyp2f1
    >>> v = hyp2f1m1_over_b(0.5, 0.3, 7.0, 0.9)
    >>> bool(abs(v - (hyp2f1(0.5, 0.3, 7.0, 0.9) - 1) / 0.3) < 1e-14)
    True
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    shape = a.shape
    a, b, c, z = (v.ravel() for v in (a, b, c, z))
    if np.any((z < 0) | (z >= 1)):
        raise ValueError("hyp2f1m1_over_b needs 0 <= z < 1")
    # (2F1 - 1) / b = sum_{n>=1} (a)_n (b+1)_{n-1} / ((c)_n n!) z^n; first term a z / c
    term = a / c * z
    total = term.copy()
    active = np.flatnonzero(term != 0)
    n = 1
    while active.size and n < max_terms:
        aa, bb, cc, zz = a[active], b[active], c[active], z[active]
        ratio = (aa + n) * (bb + n) / ((cc + n) * (n + 1)) * zz
        t = term[active] * ratio
        term[active] = t
        total[active] += t
        n += 1
        # past the parameters the ratio is monotone towards z, so the rest of the series
        # is at most |t| R / (1 - R) with R = max(|ratio|, z)
        big_r = np.maximum(np.abs(ratio), zz)
        shrinking = (big_r < 1) & (n > np.abs(aa) + np.abs(bb) + 2)
        bound = np.full(t.shape, np.inf)
        bound[shrinking] = np.abs(t[shrinking]) * big_r[shrinking] / (1 - big_r[shrinking])
        done = (t == 0) | (bound <= rtol * np.abs(total[active]))
        active = active[~done]
    if active.size:
        raise ArithmeticError(f"2F1 series did not converge in {max_terms} terms")
    result: FloatArray = total.reshape(shape)
    return result


@dataclass(frozen=True)
class DropoutIntegral:
    """``I = ∫_lo^hi (alpha + τ)^-p (beta + τ)^-q dτ`` and what its derivatives need.

    ``log_value`` is ``log I`` (``-inf`` where ``lo == hi``); the ``mean_*`` fields are
    averages over τ under the density proportional to the integrand, so that, e.g.,
    ``dI/dp = -I * mean_log_a`` and ``dI/dalpha = -p * I * mean_inv_a``.
    """

    log_value: FloatArray
    mean_log_a: FloatArray
    mean_inv_a: FloatArray
    mean_log_b: FloatArray
    mean_inv_b: FloatArray


def log_dropout_integral(
    p: ArrayLike, alpha: ArrayLike, q: ArrayLike, beta: ArrayLike, lo: ArrayLike, hi: ArrayLike
) -> DropoutIntegral:
    """Log of ``∫_lo^hi (alpha + τ)^-p (beta + τ)^-q dτ`` and its derivative moments.

    With ``c = min(alpha, beta)`` and ``K = p + q`` the substitution
    ``u = K log((c + τ) / (c + lo))`` turns the integrand into ``e^(-σ u)`` times a
    slowly varying factor, with ``σ`` between ``-1`` and ``1`` and log-curvature below
    ``1 / (4K)``; composite Gauss-Legendre on panels of width at most 2 is then exact
    to rounding. Everything is done in log space.

    This is the Pareto/NBD quantity of Fader & Hardie (2005): with ``p = r + x``,
    ``q = s + 1``, ``lo = t_x`` and ``hi = T``, ``s * I`` equals
    ``A0 / (r + s + x)`` of their note.

    Examples
    --------
    >>> d = log_dropout_integral(2.0, 1.0, 1.0, 1.0, 0.0, 1.0)  # ∫_0^1 (1+τ)^-3 dτ = 3/8
    >>> round(float(np.exp(d.log_value)), 12)
    0.375
    """
    p, alpha, q, beta, lo, hi = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (p, alpha, q, beta, lo, hi))
    )
    shape = p.shape
    p, alpha, q, beta, lo, hi = (v.ravel()[:, None] for v in (p, alpha, q, beta, lo, hi))
    c = np.minimum(alpha, beta)
    k = p + q
    base = c + lo
    u_end = k * (np.log(c + hi) - np.log(base))
    nodes, weights = _panel_nodes(u_end[:, 0])
    tau_c = base * np.exp(nodes / k)  # c + τ
    a_t = tau_c + (alpha - c)  # alpha + τ
    b_t = tau_c + (beta - c)  # beta + τ
    log_a, log_b = np.log(a_t), np.log(b_t)
    # integrand in u: (alpha+τ)^-p (beta+τ)^-q (c+τ) / K
    with np.errstate(divide="ignore"):
        log_w = np.log(weights)
    log_terms = -p * log_a - q * log_b + np.log(tau_c) - np.log(k) + log_w
    empty = u_end[:, 0] <= 0
    log_terms[empty] = -np.inf
    log_value = logsumexp(log_terms, axis=1)
    norm = np.where(
        empty[:, None], 0.0, np.exp(log_terms - np.where(empty, 0.0, log_value)[:, None])
    )
    if np.any(empty):
        # an empty interval: the moments are those at τ = lo (what the limit gives)
        norm[empty] = 0.0
        norm[empty, 0] = 1.0
        log_a[empty, 0] = np.log(alpha[empty, 0] + lo[empty, 0])
        log_b[empty, 0] = np.log(beta[empty, 0] + lo[empty, 0])
        a_t[empty, 0] = alpha[empty, 0] + lo[empty, 0]
        b_t[empty, 0] = beta[empty, 0] + lo[empty, 0]
    return DropoutIntegral(
        log_value=log_value.reshape(shape),
        mean_log_a=(norm * log_a).sum(axis=1).reshape(shape),
        mean_inv_a=(norm / a_t).sum(axis=1).reshape(shape),
        mean_log_b=(norm * log_b).sum(axis=1).reshape(shape),
        mean_inv_b=(norm / b_t).sum(axis=1).reshape(shape),
    )


def _panel_nodes(u_end: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Composite Gauss-Legendre nodes and weights on ``[0, u_end]`` per row."""
    n_panels = _PANELS_NEAR + _PANELS_FAR
    u_end = np.maximum(u_end, 0.0)
    near = u_end <= _U_NEAR
    # break points: equal panels when short, else width-2 panels to 48 and three after
    frac = np.linspace(0.0, 1.0, n_panels + 1)
    short = u_end[:, None] * frac[None, :]
    head = np.linspace(0.0, _U_NEAR, _PANELS_NEAR + 1)
    tail = _U_NEAR + (u_end[:, None] - _U_NEAR) * np.linspace(0.0, 1.0, _PANELS_FAR + 1)[1:]
    long = np.concatenate([np.broadcast_to(head, (len(u_end), head.size)), tail], axis=1)
    breaks = np.where(near[:, None], short, long)
    left, width = breaks[:, :-1], np.diff(breaks, axis=1)
    nodes = left[:, :, None] + width[:, :, None] * (_GL_X + 1.0)[None, None, :] / 2
    weights = width[:, :, None] * _GL_W[None, None, :] / 2
    return nodes.reshape(len(u_end), -1), weights.reshape(len(u_end), -1)
