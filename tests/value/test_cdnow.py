"""The published CDNOW results (Fader, Hardie & Lee 2005; Fader & Hardie's notes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from socialcrm.value.bgnbd import BGNBD, fit_bgnbd
from socialcrm.value.checks import calibration_histogram, conditional_expectations
from socialcrm.value.gammagamma import fit_gammagamma
from socialcrm.value.paretonbd import ParetoNBD, fit_paretonbd


@pytest.fixture(scope="module")
def bg(cdnow: pd.DataFrame) -> BGNBD:
    return fit_bgnbd(cdnow.frequency, cdnow.recency, cdnow["T"])


@pytest.fixture(scope="module")
def pnbd(cdnow: pd.DataFrame) -> ParetoNBD:
    return fit_paretonbd(cdnow.frequency, cdnow.recency, cdnow["T"])


def test_summary_has_every_customer_and_the_holdout(cdnow: pd.DataFrame) -> None:
    assert len(cdnow) == 2357
    assert (cdnow.frequency > 0).sum() == 946
    assert cdnow.frequency_holdout.sum() == 1882
    assert cdnow.duration_holdout.iloc[0] == 39.0
    c1 = cdnow.loc["1"]
    assert (c1.frequency, round(c1.recency, 2), round(c1["T"], 2)) == (2, 30.43, 38.86)


def test_bgnbd_parameters_and_log_likelihood(bg: BGNBD) -> None:
    published = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    for name, value in published.items():
        assert bg.params[name] == pytest.approx(value, abs=0.01), name
        # and to 4 significant digits, as lifetimes and pymc-marketing
        assert bg.params[name] == pytest.approx(value, rel=1e-4), name
    assert bg.fit is not None
    assert bg.fit.log_likelihood == pytest.approx(-9582.43, abs=0.01)
    assert bg.fit.converged and bg.fit.gradient_norm < 1e-6
    assert bg.fit.n_customers == 2357 and bg.fit.n_distinct < 2357
    # standard errors from the Hessian, as lifetimes' summary prints them for CDNOW
    lifetimes_se = {"r": 0.012557, "alpha": 0.378221, "a": 0.185719, "b": 0.705345}
    for name, se in lifetimes_se.items():
        assert bg.fit.std_errors[name] == pytest.approx(se, rel=2e-3), name


def test_bgnbd_customer_1(bg: BGNBD, cdnow: pd.DataFrame) -> None:
    c1 = cdnow.loc["1"]
    assert bg.p_alive(c1.frequency, c1.recency, c1["T"]) == pytest.approx(0.7266, abs=1e-4)
    e = bg.expected_purchases(39, c1.frequency, c1.recency, c1["T"])
    assert e == pytest.approx(1.2260, abs=1e-4)


def test_bgnbd_expectations_match_the_published_closed_form(bg: BGNBD, cdnow: pd.DataFrame) -> None:
    # the textbook formula (as lifetimes evaluates it) is fine at CDNOW's parameters
    r, alpha, a, b = bg.r, bg.alpha, bg.a, bg.b
    x, tx, T = (cdnow[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    t = 39.0
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1)
    body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    odds = np.where(
        x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + tx)) ** (r + x), 0
    )
    closed = head * body / (1 + odds)
    np.testing.assert_allclose(bg.expected_purchases(t, x, tx, T), closed, rtol=1e-10)
    np.testing.assert_allclose(bg.p_alive(x, tx, T), 1 / (1 + odds), rtol=1e-12)


def test_paretonbd_parameters_and_log_likelihood(pnbd: ParetoNBD) -> None:
    published = {"r": 0.5533, "alpha": 10.578, "s": 0.6063, "beta": 11.670}
    for name, value in published.items():
        assert pnbd.params[name] == pytest.approx(value, abs=0.01), name
    assert pnbd.fit is not None
    assert pnbd.fit.log_likelihood == pytest.approx(-9594.98, abs=0.01)
    assert pnbd.fit.converged


def test_paretonbd_customer_3(pnbd: ParetoNBD, cdnow: pd.DataFrame) -> None:
    c3 = cdnow.loc["3"]
    assert c3.frequency == 0
    assert pnbd.p_alive(c3.frequency, c3.recency, c3["T"]) == pytest.approx(0.2951, abs=1e-4)


def test_gammagamma_on_the_946_repeaters(cdnow: pd.DataFrame) -> None:
    gg = fit_gammagamma(cdnow.frequency, cdnow.monetary)
    assert gg.fit is not None and gg.fit.n_customers == 946
    for name, value in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert gg.params[name] == pytest.approx(value, abs=0.01), name
    # the conditional expectation shrinks a customer's mean towards the population's
    m = gg.expected_spend(2, 22.345)
    assert 22.345 < m < gg.population_mean


def test_calibration_chi_square(bg: BGNBD, cdnow: pd.DataFrame) -> None:
    h = calibration_histogram(bg, cdnow.frequency, cdnow["T"])
    assert h.table.actual.tolist() == [1411, 439, 214, 100, 62, 38, 29, 64]
    assert h.table.expected.sum() == pytest.approx(2357)
    assert h.chi2 == pytest.approx(4.82, abs=0.01)
    assert h.dof == 3


def test_holdout_expectations_next_to_the_actual_1882(bg: BGNBD, cdnow: pd.DataFrame) -> None:
    ce = conditional_expectations(
        bg, cdnow.frequency, cdnow.recency, cdnow["T"], cdnow.frequency_holdout, 39.0
    )
    assert (ce.customers * ce.actual).sum() == pytest.approx(1882)
    forecast = (ce.customers * ce.expected).sum()
    assert forecast == pytest.approx(1653.4, abs=0.1)
    # the model tracks the mean of each frequency group within its spread
    assert np.all(np.abs(ce.expected - ce.actual) < 0.4 * ce.actual + 0.1)
