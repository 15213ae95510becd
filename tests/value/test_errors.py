"""Data that cannot support a fit gives a clear error, never a NaN."""

from __future__ import annotations

import numpy as np
import pytest

from socialcrm.value.bgnbd import fit_bgnbd
from socialcrm.value.gammagamma import GammaGamma, fit_gammagamma
from socialcrm.value.mle import ModelFitError, compact
from socialcrm.value.paretonbd import fit_paretonbd
from socialcrm.value.simulate import PRESETS, simulate_summary
from socialcrm.value.transaction import fit_purchase_model


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_paretonbd])
def test_no_repeat_buyers(fit) -> None:
    with pytest.raises(ModelFitError, match="no repeat buyers"):
        fit([0, 0, 0], [0, 0, 0], [5, 6, 7])


@pytest.mark.parametrize("fit", [fit_bgnbd, fit_paretonbd])
def test_no_customers(fit) -> None:
    with pytest.raises(ModelFitError, match="no customers"):
        fit([], [], [])


@pytest.mark.parametrize(
    ("x", "tx", "T"),
    [
        ([1], [5.0], [4.0]),
        ([-1], [0.0], [3.0]),
        ([0], [1.0], [3.0]),
        ([1.5], [1.0], [3.0]),
        ([1], [np.nan], [3.0]),
    ],
)
def test_invalid_summaries(x, tx, T) -> None:
    with pytest.raises(ModelFitError, match="invalid summary row 0"):
        fit_bgnbd(x, tx, T)


def test_everyone_buys_at_the_same_pace_cannot_identify_heterogeneity() -> None:
    # identical repeat buyers who never stop: the optimum runs off to the boundary
    n = 50
    with pytest.raises(ModelFitError, match="cannot identify"):
        fit_bgnbd([3] * n, [10.0] * n, [10.0] * n)


def test_gammagamma_needs_repeat_spend() -> None:
    with pytest.raises(ModelFitError, match="at least two distinct"):
        fit_gammagamma([0, 0, 1], [0.0, 0.0, 10.0])
    with pytest.raises(ModelFitError, match="infinite mean"):
        GammaGamma(2.0, 0.9, 5.0).expected_spend([0], [0.0])


def test_unknown_model_name() -> None:
    with pytest.raises(ValueError, match="unknown purchase model"):
        fit_purchase_model("nbd", [1], [1.0], [2.0])


def test_weights_give_the_same_fit_as_repeated_rows() -> None:
    x, tx, T = simulate_summary(2000, seed=5)
    w = np.arange(len(x)) % 3 + 1
    rep = [np.repeat(v, w) for v in (x, tx, T)]
    a, b = fit_bgnbd(x, tx, T, weights=w), fit_bgnbd(*rep)
    assert a.fit is not None and b.fit is not None
    assert a.fit.log_likelihood == pytest.approx(b.fit.log_likelihood, rel=1e-10)
    for name in a.params:
        assert a.params[name] == pytest.approx(b.params[name], rel=1e-6)
    assert a.fit.n_customers == w.sum() == compact(*rep).weights.sum()


def test_a_fit_recovers_the_parameters_it_was_simulated_with() -> None:
    x, tx, T = simulate_summary(20000, seed=11)
    m = fit_bgnbd(x, tx, T)
    assert m.fit is not None
    true = PRESETS["cdnow"]
    for name in ("r", "alpha", "a", "b"):
        # within three standard errors of the truth
        assert abs(m.params[name] - true[name]) < 3 * m.fit.std_errors[name], name
