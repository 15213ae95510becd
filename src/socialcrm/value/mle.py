"""Maximum-likelihood fitting shared by the purchase and spend models.

Every model here is fitted the same way: its log-likelihood and analytic gradient are
evaluated on *compact sufficient statistics* (the distinct rows of the customer summary,
each with the number of customers who share it), the parameters are optimised in log
space with L-BFGS-B and finished with Newton steps, and standard errors come from the
Hessian of the log-likelihood in the natural parameters: analytic where the model
provides it (BG/NBD), else central differences of the analytic gradient. Large fits
can start from a cheap approximate likelihood (``warm_start``), so the exact one is
evaluated only a few times.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray
from threadpoolctl import threadpool_limits

FloatArray = NDArray[np.float64]
LogLikGrad = Callable[[FloatArray], tuple[float, FloatArray]]
"""Maps natural parameters to (log-likelihood, gradient in the natural parameters)."""
_Out = TypeVar("_Out")
_NEWTON_DONE = 1e-11
"""Newton stops when its next step in log-parameters is below this."""
LogLikGradHess = Callable[[FloatArray], tuple[float, FloatArray, FloatArray]]
"""Maps natural parameters to (log-likelihood, gradient, Hessian), all in them."""


class ModelFitError(ValueError):
    """The data cannot support a fit (too few customers, no repeat buyers, no optimum)."""


@dataclass(frozen=True)
class Compact:
    """Distinct rows of a summary with their multiplicities.

    ``rows[inverse]`` rebuilds the original rows, so per-customer outputs are computed
    once per distinct row and broadcast back.
    """

    rows: FloatArray
    weights: FloatArray
    inverse: NDArray[np.intp]

    @property
    def n(self) -> int:
        return int(self.weights.sum())

    def column(self, i: int) -> FloatArray:
        return self.rows[:, i]


def compact(*columns: ArrayLike, weights: ArrayLike | None = None) -> Compact:
    """Group equal rows of the given columns and count them.

    Parameters
    ----------
    *columns
        Equal-length 1-d arrays (e.g. frequency, recency, T).
    weights
        Optional multiplicity of each input row (default 1).

    Examples
    --------
    >>> c = compact([0, 1, 0], [0.0, 2.0, 0.0], [5.0, 5.0, 5.0])
    >>> c.rows.tolist(), c.weights.tolist(), c.inverse.tolist()
    ([[0.0, 0.0, 5.0], [1.0, 2.0, 5.0]], [2.0, 1.0], [0, 1, 0])
    """
    cols = [np.asarray(c, dtype=np.float64).ravel() for c in columns]
    n = len(cols[0])
    if n == 0:
        return Compact(np.zeros((0, len(cols))), np.zeros(0), np.zeros(0, dtype=np.intp))
    # one code per column, combined into one integer key: hashing, not sorting, so it
    # is linear in the rows; codes are ranks, so sorted keys give sorted rows
    key = np.zeros(n, dtype=np.int64)
    radix = 1
    levels = []
    for c in cols:
        u, code = sorted_codes(c)
        radix *= len(u)
        if radix >= 2**62:
            stacked = np.column_stack(cols)
            rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
            break
        key = key * len(u) + code
        levels.append(u)
    else:
        keys, inverse = _dense_codes(key, radix) if radix <= 8 * n else sorted_codes(key)
        rows = np.empty((len(keys), len(cols)))
        for i in range(len(cols) - 1, -1, -1):
            k = len(levels[i])
            rows[:, i] = levels[i][keys % k]
            keys = keys // k
    inverse = inverse.ravel().astype(np.intp)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    counts = weighted_bincount(inverse, w, len(rows))
    return Compact(rows, counts, inverse)


def weighted_bincount(codes: NDArray[np.intp], weights: ArrayLike, minlength: int) -> FloatArray:
    """``np.bincount`` with weights: the sum of the weights per code, as float64.

    numpy's stub types every ``bincount`` as integer; with weights it is float64.

    Examples
    --------
    >>> weighted_bincount(np.array([0, 2, 0]), [1.5, 2.0, 1.0], 4).tolist()
    [2.5, 0.0, 2.0, 0.0]
    """
    return cast(FloatArray, np.bincount(codes, weights=weights, minlength=minlength))


_HASH_FROM = 2_000_000
"""Values from which :func:`sorted_codes` imports pandas to hash rather than sort."""


def sorted_codes(values: ArrayLike) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """Sorted distinct values and each value's index among them (``np.unique`` with
    ``return_inverse``, by hashing: several times faster on large arrays).

    Examples
    --------
    >>> u, i = sorted_codes([3.0, 1.0, 3.0])
    >>> u.tolist(), i.tolist()
    ([1.0, 3.0], [1, 0, 1])
    """
    flat = np.asarray(values).ravel()
    if "pandas" not in sys.modules and len(flat) < _HASH_FROM:
        # the same answer by sorting: a small fit (``socialcrm clv fit`` on a file's
        # distinct patterns) need not import pandas for it
        uniques, codes = np.unique(flat, return_inverse=True)
        return uniques, codes.ravel().astype(np.intp, copy=False)
    import pandas as pd

    codes, uniques = pd.factorize(flat, sort=True, use_na_sentinel=False)
    return np.asarray(uniques), codes.astype(np.intp, copy=False)


def _dense_codes(key: NDArray[np.int64], radix: int) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """:func:`sorted_codes` of integer keys in ``[0, radix)`` by direct addressing.

    A byte per possible key marks the ones present and their ranks follow from it, so
    there is neither a hash table nor a sort: about 3x faster than hashing when the
    keys fill a range only a few times longer than the array (distinct summaries do).
    """
    present = np.zeros(radix, dtype=np.bool_)
    present[key] = True
    keys = np.flatnonzero(present)
    rank = np.empty(radix, dtype=np.int32 if len(keys) < 2**31 else np.int64)
    rank[keys] = np.arange(len(keys), dtype=rank.dtype)
    return keys, rank[key].astype(np.intp)


@dataclass(frozen=True)
class FitResult:
    """Parameters, log-likelihood, standard errors and diagnostics of one fit.

    ``log_likelihood`` is the total over customers in the paper's convention: the data
    in their own (unscaled) time unit, no penalty.
    """

    model: str
    params: dict[str, float]
    log_likelihood: float
    std_errors: dict[str, float]
    n_customers: int
    n_distinct: int
    converged: bool
    iterations: int
    evaluations: int
    gradient_norm: float
    """Largest absolute gradient of the log-likelihood in log-parameters at the optimum."""
    message: str
    hessian_condition: float
    extra: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready dict (the shape the CLI prints)."""
        return {
            "model": self.model,
            "params": dict(self.params),
            "log_likelihood": self.log_likelihood,
            "std_errors": dict(self.std_errors),
            "n_customers": self.n_customers,
            "n_distinct": self.n_distinct,
            "converged": self.converged,
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "gradient_norm": self.gradient_norm,
            "hessian_condition": self.hessian_condition,
            "message": self.message,
            **self.extra,
        }


def maximise(
    model: str,
    names: Sequence[str],
    loglik_grad: LogLikGrad,
    start: Sequence[float],
    n_customers: int,
    n_distinct: int,
    max_iterations: int = 1000,
    bounds_log: tuple[float, float] = (-23.0, 23.0),
    *,
    loglik_hessian: LogLikGradHess | None = None,
    warm_start: LogLikGrad | None = None,
    warm_start_hessian: LogLikGradHess | None = None,
) -> FitResult:
    """Maximise a log-likelihood over positive parameters, optimising their logs.

    L-BFGS-B (bounded) finds the maximum, then Newton steps in log-parameters drive
    the gradient to rounding level, so parameters are reproducible to many digits.

    Parameters
    ----------
    model
        Name reported in the result.
    names
        Parameter names, in the order ``loglik_grad`` takes them.
    loglik_grad
        Natural parameters -> (log-likelihood, gradient); must be finite at the optimum.
    start
        Starting values (natural, positive).
    n_customers, n_distinct
        Reported in the result.
    loglik_hessian
        Natural parameters -> (log-likelihood, gradient, Hessian). When given, the
        Newton steps and the standard errors use this analytic Hessian instead of
        central differences of the gradient (which cost two gradients per parameter).
    warm_start
        A cheap approximation of ``loglik_grad`` (e.g. on coarsened summaries). L-BFGS-B
        then runs on it, and the exact likelihood is only evaluated by the Newton steps
        that finish the fit: the answer is the exact maximum, found at the cost of a
        few exact evaluations.
    warm_start_hessian
        ``warm_start`` with its Hessian. With ``loglik_hessian``, damped Newton steps
        then climb the approximation from ``start`` and finish on the exact likelihood,
        and L-BFGS-B (and SciPy's optimiser, a third of a second to import) is needed
        only when they do not end on a flat interior maximum.

    Raises
    ------
    ModelFitError
        When the optimiser stops without a finite optimum, the optimum is on the edge
        of the parameter space (a parameter running off to 0 or infinity), or the
        information matrix there is not positive definite: the data cannot identify the
        model.

    Examples
    --------
    >>> f = lambda p: (-(p[0] - 2.0) ** 2, np.array([-2.0 * (p[0] - 2.0)]))
    >>> round(maximise("toy", ["k"], f, [1.0], 1, 1).params["k"], 6)
    2.0
    """
    # The likelihoods' dot products are memory-bound vectors: BLAS threads only add
    # hand-offs and spinning (a heavy 1M fit took 1.8x as long with them on 2 cores).
    with threadpool_limits(1, user_api="blas"):
        names = list(names)
        lo, hi = bounds_log
        state = {"evals": 0}

        def counted(fn: Callable[[FloatArray], _Out]) -> Callable[[FloatArray], _Out]:
            def call(p: FloatArray) -> _Out:
                state["evals"] += 1
                return fn(p)

            return call

        counted_grad = counted(loglik_grad)
        counted_hess = counted(loglik_hessian) if loglik_hessian is not None else None
        counted_warm = counted(warm_start) if warm_start is not None else None

        theta0 = np.log(np.asarray(start, dtype=np.float64))
        newton = None
        if counted_hess is not None and (warm_start is None or warm_start_hessian is not None):
            newton = _newton_from_start(
                counted_hess,
                counted(warm_start_hessian) if warm_start_hessian is not None else None,
                np.exp(theta0),
                (lo, hi),
            )
        if newton is not None:
            params, ll, grad, hess, nit = newton
            res: Any = _Stop(True, nit, "Newton steps from the start reached a flat maximum")
        else:
            res, params, ll, grad, hess, nit = _quasi_newton(
                counted_grad, counted_hess, counted_warm, theta0, n_customers, (lo, hi),
                max_iterations,
            )  # fmt: skip
        if not np.isfinite(ll):
            raise ModelFitError(f"{model}: the likelihood is not finite at any parameter tried")
        theta = np.log(params)
        at_edge = np.abs(theta - lo) < 1e-6 * max(1.0, abs(lo)) + 1e-3
        at_edge |= np.abs(theta - hi) < 1e-6 * max(1.0, abs(hi)) + 1e-3
        if np.any(at_edge):
            which = ", ".join(n for n, e in zip(names, at_edge, strict=True) if e)
            raise ModelFitError(
                f"{model}: the data cannot identify the model ({which} ran to the edge of the "
                "parameter space); too few customers or too little repeat buying"
            )
        cov, cond = _covariance(-hess)
        if cov is None:
            shown = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, params, strict=True))
            raise ModelFitError(
                f"{model}: the data cannot identify the model (the likelihood has no curved "
                f"maximum; the optimiser stopped at {shown}); too few customers or too "
                "little variety in their purchases"
            )
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        grad_log = np.abs(grad * params)
        # L-BFGS-B may report a stop on ftol; a gradient at rounding level is convergence too
        converged = (bool(res.success) and (warm_start is None or newton is not None)) or _flat(
            grad, params, ll, 1e-6
        )
        return FitResult(
            model=model,
            params={n: float(v) for n, v in zip(names, params, strict=True)},
            log_likelihood=float(ll),
            std_errors={n: float(v) for n, v in zip(names, se, strict=True)},
            n_customers=n_customers,
            n_distinct=n_distinct,
            converged=converged,
            iterations=nit,
            evaluations=state["evals"],
            gradient_norm=float(grad_log.max(initial=0.0)),
            message=str(res.message),
            hessian_condition=cond,
        )


def _quasi_newton(
    loglik_grad: LogLikGrad,
    loglik_hessian: LogLikGradHess | None,
    warm_start: LogLikGrad | None,
    theta0: FloatArray,
    n_customers: int,
    bounds: tuple[float, float],
    max_iterations: int,
) -> tuple[Any, FloatArray, float, FloatArray, FloatArray, int]:
    """L-BFGS-B (on the warm start when given), finished by Newton steps: the search,
    its result, the point, log-likelihood, gradient, Hessian and iterations."""
    res = _lbfgsb(warm_start or loglik_grad, theta0, n_customers, bounds, max_iterations)
    params = np.exp(np.asarray(res.x, dtype=np.float64))
    nit = int(res.nit)
    if loglik_hessian is not None:
        params, ll, grad, hess, steps = _newton(loglik_hessian, params, bounds)
        nit += steps
        if warm_start is not None and not _flat(grad, params, ll, 1e-6):
            # the approximation led somewhere Newton cannot finish from: start over
            res = _lbfgsb(loglik_grad, np.log(params), n_customers, bounds, max_iterations)
            params, ll, grad, hess, steps = _newton(
                loglik_hessian, np.exp(np.asarray(res.x, dtype=np.float64)), bounds
            )
            nit += int(res.nit) + steps
    else:
        ll, grad = loglik_grad(params)
        hess = np.full((len(params), len(params)), np.nan)
        if np.isfinite(ll):
            start_params = params
            params, ll, grad, hess = _polish(loglik_grad, params, ll, grad)
            if np.abs(params / start_params - 1).max() > 1e-4:
                hess = hessian(loglik_grad, params)
    return res, params, ll, grad, hess, nit


@dataclass(frozen=True)
class _Stop:
    """How the search that found the maximum ended (the fields of SciPy's result used)."""

    success: bool
    nit: int
    message: str


def _newton_from_start(
    exact: LogLikGradHess,
    warm: LogLikGradHess | None,
    start: FloatArray,
    bounds: tuple[float, float],
) -> tuple[FloatArray, float, FloatArray, FloatArray, int] | None:
    """Damped Newton steps from ``start``: on ``warm`` (the cheap approximation) first
    when given, then on the exact likelihood. None unless they end on a flat maximum
    inside the bounds, with a negative definite Hessian; the caller then falls back to
    L-BFGS-B, which also diagnoses maxima on the edge of the parameter space.
    """
    lo, hi = bounds
    steps = 0
    params = start
    if warm is not None:
        params, ll, grad, _, steps = _newton(warm, params, bounds, max_steps=200)
        if not (np.isfinite(ll) and _flat(grad, params, ll, 1e-6)):
            return None
    params, ll, grad, hess, more = _newton(exact, params, bounds, max_steps=200)
    theta = np.log(params)
    inside = bool(np.all((theta > lo + 1.0) & (theta < hi - 1.0)))
    if not (np.isfinite(ll) and inside and _flat(grad, params, ll, 1e-6)):
        return None
    if not np.all(np.isfinite(hess)) or np.linalg.eigvalsh(hess).max() >= 0:
        return None
    return params, ll, grad, hess, steps + more


def _lbfgsb(
    loglik_grad: LogLikGrad,
    theta0: FloatArray,
    n_customers: int,
    bounds: tuple[float, float],
    max_iterations: int,
) -> Any:
    """L-BFGS-B on -LL per customer in log-parameters (tolerances independent of n)."""
    scale = 1.0 / max(n_customers, 1)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        p = np.exp(theta)
        ll, g = loglik_grad(p)
        if not np.isfinite(ll) or not np.all(np.isfinite(g)):
            # L-BFGS-B backtracks on an infinite value; a NaN would poison it.
            return np.inf, np.zeros_like(theta)
        return -ll * scale, -g * p * scale

    from scipy.optimize import minimize  # imported only when it is needed: see maximise

    return minimize(
        objective,
        theta0,
        jac=True,
        method="L-BFGS-B",
        bounds=[bounds] * len(theta0),
        options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20},
    )


def _flat(grad: FloatArray, params: FloatArray, ll: float, tol: float) -> bool:
    """Is the gradient in log-parameters below ``tol`` relative to the log-likelihood?"""
    return bool(np.abs(grad * params).max(initial=0.0) < tol * max(1.0, abs(ll)))


def _newton(
    fn: LogLikGradHess,
    params: FloatArray,
    bounds: tuple[float, float],
    max_steps: int = 50,
) -> tuple[FloatArray, float, FloatArray, FloatArray, int]:
    """Newton steps in log-parameters θ with the analytic Hessian, from near the optimum.

    Chain rule: g_θ = p g, H_θ = diag(p) H diag(p) + diag(p g). Where H_θ is not
    negative definite the step is regularised (Levenberg); a step is halved until the
    log-likelihood rises. The loop ends when the next step would change no parameter
    by more than 1e-11 of itself (so the answer does not depend on the order of the
    data to more digits than that), or no step can raise the log-likelihood. Returns the point, its
    log-likelihood, gradient and Hessian (natural parameters), and the steps taken.
    """
    lo, hi = bounds
    ll, grad, h = fn(params)
    steps = 0
    while steps < max_steps and np.isfinite(ll):
        g_t = grad * params
        h_t = h * np.outer(params, params) + np.diag(g_t)
        if not np.all(np.isfinite(h_t)):
            break
        top = np.linalg.eigvalsh(h_t).max()
        if top >= 0:
            h_t = h_t - (top + 1e-6 * max(1.0, np.abs(h_t).max())) * np.eye(len(params))
        step = np.linalg.solve(h_t, -g_t)
        if np.abs(step).max() < _NEWTON_DONE:
            break
        step *= min(1.0, 2.0 / max(np.abs(step).max(), 1e-300))  # at most e^2 per step
        theta = np.log(params)
        # near the optimum a step may not raise a sum of many terms beyond its rounding
        slack = 1e-13 * max(1.0, abs(ll))
        for _ in range(30):
            new = np.exp(np.clip(theta + step, lo, hi))
            ll_new, grad_new, h_new = fn(new)
            if np.isfinite(ll_new) and ll_new >= ll - slack:
                break
            step /= 2
        else:
            break
        params, ll, grad, h = new, ll_new, grad_new, h_new
        steps += 1
    return params, ll, grad, h, steps


def _polish(
    loglik_grad: LogLikGrad, params: FloatArray, ll: float, grad: FloatArray, steps: int = 4
) -> tuple[FloatArray, float, FloatArray, FloatArray]:
    """A few Newton steps in log-parameters from the quasi-Newton optimum.

    For models without an analytic Hessian. L-BFGS-B stops on a relative change of the
    objective; Newton steps with the Hessian of the analytic gradient then drive the
    gradient to rounding level. The Hessian is computed once, at the start
    (the steps are tiny, so it hardly changes), and returned for the standard errors.
    A step is kept only if it raises the log-likelihood.
    """
    h = hessian(loglik_grad, params)
    for _ in range(steps):
        if np.abs(grad * params).max() < 1e-10 * max(1.0, abs(ll)):
            break
        # chain rule to log-parameters θ: g_θ = p g, H_θ = diag(p) H diag(p) + diag(p g)
        g_t = grad * params
        h_t = h * np.outer(params, params) + np.diag(g_t)
        try:
            if not np.all(np.isfinite(h_t)) or np.linalg.eigvalsh(h_t).max() >= 0:
                break
            step = np.linalg.solve(h_t, -g_t)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.abs(step).max() > 1e-2:
            break
        new = params * np.exp(step)
        ll_new, grad_new = loglik_grad(new)
        if not np.isfinite(ll_new) or ll_new < ll - 1e-12 * max(1.0, abs(ll)):
            break
        params, ll, grad = new, ll_new, grad_new
    return params, ll, grad, h


def hessian(loglik_grad: LogLikGrad, params: FloatArray) -> FloatArray:
    """Hessian of the log-likelihood in natural parameters: central differences of the
    analytic gradient, with relative steps, symmetrised.

    Examples
    --------
    >>> f = lambda p: (-(p[0] ** 2) * p[1], np.array([-2 * p[0] * p[1], -(p[0] ** 2)]))
    >>> np.round(hessian(f, np.array([1.0, 3.0])), 6).tolist()
    [[-6.0, -2.0], [-2.0, 0.0]]
    """
    k = len(params)
    h = np.empty((k, k))
    for i in range(k):
        step = 1e-5 * params[i]
        up, down = params.copy(), params.copy()
        up[i] += step
        down[i] -= step
        h[:, i] = (loglik_grad(up)[1] - loglik_grad(down)[1]) / (2 * step)
    return 0.5 * (h + h.T)


def _covariance(information: FloatArray) -> tuple[FloatArray | None, float]:
    """Inverse of the observed information, or None when it is not positive definite."""
    try:
        eig = np.linalg.eigvalsh(information)
    except np.linalg.LinAlgError:
        return None, float("inf")
    if not np.all(np.isfinite(eig)) or eig.min() <= 0:
        return None, float("inf")
    # the inverse of a float64 matrix is float64; numpy's stub says only floating
    return cast(FloatArray, np.linalg.inv(information)), float(eig.max() / eig.min())
