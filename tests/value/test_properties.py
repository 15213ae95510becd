"""Property tests: random valid summaries and parameters never break the models."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from socialcrm.value.bgnbd import BGNBD
from socialcrm.value.bgnbd import loglik as bg_loglik
from socialcrm.value.clv import discounted_expected_purchases
from socialcrm.value.gammagamma import GammaGamma
from socialcrm.value.paretonbd import ParetoNBD
from socialcrm.value.paretonbd import loglik as pnbd_loglik

positive = st.floats(min_value=0.01, max_value=20.0)
scale = st.floats(min_value=0.01, max_value=200.0)


@st.composite
def summaries(draw: st.DrawFn) -> tuple[float, float, float]:
    """(x, t_x, T) with x up to the thousands, 0 <= t_x <= T, t_x = 0 when x = 0."""
    T = draw(st.floats(min_value=0.0, max_value=400.0))
    x = draw(st.one_of(st.integers(0, 10), st.integers(0, 6000)))
    if x == 0 or T == 0:
        return 0.0, 0.0, T
    t_x = draw(st.floats(min_value=0.0, max_value=1.0)) * T
    return float(x), max(t_x, 1e-3 * T), T


horizons = st.tuples(
    st.floats(min_value=0.0, max_value=500.0), st.floats(min_value=0.0, max_value=500.0)
).map(sorted)

SETTINGS = settings(max_examples=150, deadline=None)


def _check_model(m: BGNBD | ParetoNBD, s: tuple[float, float, float], ts: list[float]) -> None:
    x, t_x, T = s
    p = float(m.p_alive(x, t_x, T))
    assert np.isfinite(p) and 0.0 <= p <= 1.0
    e1, e2 = (float(m.expected_purchases(t, x, t_x, T)) for t in ts)
    assert np.isfinite(e1) and np.isfinite(e2)
    assert e1 >= 0.0
    assert e2 >= e1 * (1 - 1e-9) - 1e-12
    d = float(discounted_expected_purchases(m, ts[1], x, t_x, T, 0.1, 7.0))
    assert np.isfinite(d) and 0.0 <= d <= e2 * (1 + 1e-9) + 1e-12


@SETTINGS
@given(positive, scale, positive, positive, summaries(), horizons)
def test_bgnbd_is_finite_and_monotone(r, alpha, a, b, s, ts) -> None:
    m = BGNBD(r, alpha, a, b)
    x, t_x, T = (np.array([v]) for v in s)
    ll, grad = bg_loglik([r, alpha, a, b], x, t_x, T, np.ones(1))
    assert np.isfinite(ll) and ll <= 1e-9 + 50 * s[0]  # a density over times may exceed 1
    assert np.all(np.isfinite(grad))
    _check_model(m, s, ts)


@SETTINGS
@given(positive, scale, positive, scale, summaries(), horizons)
def test_paretonbd_is_finite_and_monotone(r, alpha, s_, beta, s, ts) -> None:
    m = ParetoNBD(r, alpha, s_, beta)
    x, t_x, T = (np.array([v]) for v in s)
    ll, grad = pnbd_loglik([r, alpha, s_, beta], x, t_x, T, np.ones(1))
    assert np.isfinite(ll) and np.all(np.isfinite(grad))
    _check_model(m, s, ts)


@SETTINGS
@given(
    st.floats(min_value=0.1, max_value=50.0),
    st.floats(min_value=1.01, max_value=50.0),
    st.floats(min_value=0.1, max_value=1000.0),
    st.integers(0, 5000),
    st.floats(min_value=0.01, max_value=1e5),
)
def test_gammagamma_expected_spend_lies_between_the_means(p, q, gamma, x, m) -> None:
    gg = GammaGamma(p, q, gamma)
    e = float(gg.expected_spend(x, m))
    lo, hi = sorted([gg.population_mean, m if x > 0 else gg.population_mean])
    assert np.isfinite(e) and lo * (1 - 1e-9) <= e <= hi * (1 + 1e-9)
