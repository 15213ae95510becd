"""The stable special-function evaluations agree with arbitrary precision (mpmath)."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

from socialcrm.value.bgnbd import BGNBD
from socialcrm.value.paretonbd import ParetoNBD, loglik
from socialcrm.value.special import hyp2f1m1_over_b, log_dropout_integral

mp.mp.dps = 40


@pytest.mark.parametrize(
    ("a", "b", "c", "z"),
    [
        (0.5, 0.3, 7.0, 0.9),
        (1.97, -0.2, 3.2, 0.5),
        (-3.5, 0.7, 1.4, 0.99),
        (0.2, 1e-12, 5000.5, 0.95),  # b -> 0: the a = 1 singularity of BG/NBD
        (2.0, 0.5, 0.7, 0.999),
    ],
)
def test_hyp2f1m1_over_b(a: float, b: float, c: float, z: float) -> None:
    if abs(b) < 1e-9:
        ref = mp.nsum(
            lambda n: (
                mp.rf(a, n) * mp.rf(1, n - 1) / (mp.rf(c, n) * mp.factorial(n)) * mp.mpf(z) ** n
            ),
            [1, mp.inf],
        )
    else:
        ref = (mp.hyp2f1(a, b, c, z) - 1) / b
    assert hyp2f1m1_over_b(a, b, c, z) == pytest.approx(float(ref), rel=1e-12)


def _pnbd_ll_closed_form(r, alpha, s, beta, x, tx, T):
    """Fader & Hardie's note, in 60-digit arithmetic."""
    with mp.workdps(60):
        r, alpha, s, beta, x, tx, T = map(mp.mpf, (r, alpha, s, beta, x, tx, T))
        if alpha >= beta:

            def f(t):
                return mp.hyp2f1(r + s + x, s + 1, r + s + x + 1, (alpha - beta) / (alpha + t)) / (
                    alpha + t
                ) ** (r + s + x)
        else:

            def f(t):
                return mp.hyp2f1(r + s + x, r + x, r + s + x + 1, (beta - alpha) / (beta + t)) / (
                    beta + t
                ) ** (r + s + x)

        a0 = f(tx) - f(T)
        head = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(alpha) + s * mp.log(beta)
        return float(
            head + mp.log((alpha + T) ** -(r + x) * (beta + T) ** -s + s / (r + s + x) * a0)
        )


@pytest.mark.parametrize(
    "params",
    [
        (0.55, 10.58, 0.61, 11.67),
        (0.1, 30.0, 0.2, 0.05),
        (5.0, 0.5, 0.3, 20.0),
        (0.3, 0.4, 0.2, 0.3),
    ],  # the last with r + s < 1 and a + b-like sums < 1
)
@pytest.mark.parametrize(
    ("x", "tx", "T"), [(2, 30.43, 38.86), (0, 0.0, 38.86), (40, 38.0, 38.86), (1, 1.0, 1.0)]
)
def test_paretonbd_likelihood_equals_the_closed_form(params, x, tx, T) -> None:
    ours = loglik(np.array(params), np.array([x]), np.array([tx]), np.array([T]), np.ones(1))[0]
    assert ours == pytest.approx(_pnbd_ll_closed_form(*params, x, tx, T), rel=1e-12, abs=1e-12)


def test_paretonbd_heavy_buyers_stay_finite_where_the_closed_form_fails() -> None:
    ll = loglik(
        np.array([0.55, 10.58, 0.61, 11.67]),
        np.array([5000.0, 3000.0]),
        np.array([30.0, 37.9]),
        np.array([38.0, 38.0]),
        np.ones(2),
    )
    assert np.isfinite(ll[0]) and np.all(np.isfinite(ll[1]))
    # x = 5000 still agrees with 60-digit arithmetic (where mpmath's series converges)
    ref = _pnbd_ll_closed_form(0.55, 10.58, 0.61, 11.67, 5000, 30.0, 38.0)
    one = loglik(
        np.array([0.55, 10.58, 0.61, 11.67]),
        np.array([5000.0]),
        np.array([30.0]),
        np.array([38.0]),
        np.ones(1),
    )[0]
    assert one == pytest.approx(ref, rel=1e-13)


def test_dropout_integral_moments_are_its_derivatives() -> None:
    args = np.array([3.0, 2.0, 1.5, 7.0, 1.0, 20.0])
    d = log_dropout_integral(*args)
    for i, moment in [
        (0, -d.mean_log_a),
        (1, -3.0 * d.mean_inv_a),
        (2, -d.mean_log_b),
        (3, -1.5 * d.mean_inv_b),
    ]:
        h = 1e-6
        up, down = args.copy(), args.copy()
        up[i] += h
        down[i] -= h
        num = (log_dropout_integral(*up).log_value - log_dropout_integral(*down).log_value) / (
            2 * h
        )
        assert float(num) == pytest.approx(float(moment), rel=1e-7)


def _bg_expectation_mp(m: BGNBD, t: float, x: float, tx: float, T: float) -> float:
    with mp.workdps(50):
        r, alpha, a, b = map(mp.mpf, (m.r, m.alpha, m.a, m.b))
        x, tx, T, t = map(mp.mpf, (x, tx, T, t))
        z = t / (alpha + T + t)
        body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * mp.hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        odds = a / (b + x - 1) * ((alpha + T) / (alpha + tx)) ** (r + x) if x > 0 else 0
        return float((a + b + x - 1) / (a - 1) * body / (1 + odds))


@pytest.mark.parametrize(
    ("params", "x", "tx", "T", "t"),
    [
        ((0.2426, 4.4136, 0.7929, 2.4259), 2, 30.43, 38.86, 39.0),
        ((0.2426, 4.4136, 0.7929, 2.4259), 0, 0.0, 1.0, 500.0),  # long horizon, z near 1
        ((0.2426, 4.4136, 0.7929, 2.4259), 60, 38.0, 38.86, 39.0),
        ((2.0, 1.0, 1.0000001, 3.0), 3, 10.0, 20.0, 30.0),  # a at the removable singularity
        ((0.5, 2.0, 0.3, 0.4), 0, 0.0, 10.0, 20.0),  # a + b < 1: quadrature path
        ((0.5, 2.0, 0.3, 0.4), 4, 5.0, 10.0, 20.0),
        ((8.0, 2.0, 0.4, 0.5), 1, 2.0, 10.0, 50.0),  # r > a + b: alternating series
        ((0.2426, 4.4136, 0.7929, 2.4259), 3000, 38.8, 38.86, 39.0),  # heavy buyer
    ],
)
def test_bgnbd_expectation_equals_the_closed_form(params, x, tx, T, t) -> None:
    m = BGNBD(*params)
    ours = float(m.expected_purchases(t, x, tx, T))
    assert ours == pytest.approx(_bg_expectation_mp(m, t, x, tx, T), rel=1e-9)


def test_bgnbd_heavy_buyer_expectation_is_the_alive_rate_times_the_horizon() -> None:
    # with x in the thousands the posterior rate of an alive buyer is sharp, (r+x)/(α+T),
    # and her dropout probability per purchase tiny: over a short horizon she buys at
    # that rate, times P(alive)
    m = BGNBD(0.2426, 4.4136, 0.7929, 2.4259)
    e = float(m.expected_purchases(0.1, 5000, 38.8, 38.86))
    rate = (0.2426 + 5000) / (4.4136 + 38.86)
    alive = float(m.p_alive(5000, 38.8, 38.86))
    assert 0.5 < alive < 1
    assert np.isfinite(e) and e == pytest.approx(alive * rate * 0.1, rel=2e-3)


def test_paretonbd_probability_of_purchases_sums_to_one() -> None:
    m = ParetoNBD(0.5533, 10.578, 0.6063, 11.670)
    total = m.probability_of_purchases(np.arange(400), 38.86).sum()
    assert total == pytest.approx(1.0, abs=1e-9)
    bg = BGNBD(0.2426, 4.4136, 0.7929, 2.4259)
    assert bg.probability_of_purchases(np.arange(400), 38.86).sum() == pytest.approx(1, abs=1e-9)
