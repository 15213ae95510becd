"""Uplifts learned from finished campaigns: the report's intervals, the shrinkage toward
the assumed uplift, and the ``measured_uplifts`` table the next-best-actions rank with."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from socialcrm.programs.campaigns import estimate_uplift, simulate_campaign
from socialcrm.programs.learning import (
    DEFAULT_UPLIFT_SD,
    LearningError,
    Measurement,
    pool,
    priors,
    shrink,
)

Z = float(stats.norm.ppf(0.975))


def _measure(t, c) -> Measurement:
    """As learning.measure does from a report: the rate difference and half the 95%
    interval's width over z."""
    u = estimate_uplift(t, c, 0.95)
    lo, hi = u.rate_difference_ci
    return Measurement(u.rate_difference, (hi - lo) / (2 * Z), t.customers, c.customers)


def test_the_report_interval_covers_the_true_uplift_at_its_nominal_rate() -> None:
    # 2,000 simulated campaigns of 200 to 5,000 people, base rates 2-30%, true uplifts
    # -2 to +8 points, holdouts 10-50%: the 95% interval of the rate difference must
    # hold the truth 95% of the time. Binomial sd of 2,000 draws at 0.95: 0.49 points;
    # 3 sd either side: [93.5%, 96.5%].
    rng = np.random.default_rng(18)
    reps, hits, z_hits = 2_000, 0, 0
    for _ in range(reps):
        n = int(rng.integers(200, 5_001))
        base = float(rng.uniform(0.02, 0.30))
        uplift = float(rng.uniform(-0.02, 0.08))
        uplift = max(uplift, -base)
        t, c = simulate_campaign(n, base, uplift, float(rng.uniform(0.1, 0.5)), rng)
        if t.customers == 0 or c.customers == 0:
            continue
        u = estimate_uplift(t, c, 0.95)
        lo, hi = u.rate_difference_ci
        hits += lo <= uplift <= hi
        m = _measure(t, c)  # the standard error learning uses, as a normal interval
        z_hits += abs(m.measured - uplift) <= Z * m.se
    sd = math.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) <= 3 * sd
    assert abs(z_hits / reps - 0.95) <= 3 * sd


def test_shrinkage_is_the_normal_normal_posterior() -> None:
    m = Measurement(0.08, 0.02, 1_000, 1_000)
    post, w = shrink(m, prior=0.02, tau=0.05)
    expected = (0.02 / 0.05**2 + 0.08 / 0.02**2) / (1 / 0.05**2 + 1 / 0.02**2)
    assert post == pytest.approx(expected)
    assert w == pytest.approx((1 / 0.02**2) / (1 / 0.05**2 + 1 / 0.02**2))
    # a huge campaign is believed, a tiny one barely moves the prior
    assert shrink(Measurement(0.08, 0.001, 10**5, 10**5), 0.02, 0.05)[1] > 0.99
    assert shrink(Measurement(0.08, 0.5, 20, 20), 0.02, 0.05)[0] == pytest.approx(0.02, abs=0.001)


def test_pooled_campaigns_weigh_by_their_precision() -> None:
    a, b = Measurement(0.10, 0.01, 5_000, 500), Measurement(0.00, 0.03, 500, 50)
    m = pool([a, b])
    assert m.measured == pytest.approx((0.10 / 0.01**2) / (1 / 0.01**2 + 1 / 0.03**2))
    assert m.se == pytest.approx((1 / 0.01**2 + 1 / 0.03**2) ** -0.5)
    assert (m.treated, m.control, m.campaigns) == (5_500, 550, 2)


def test_shrunk_uplifts_are_closer_to_the_truth_when_the_prior_is_right() -> None:
    # True uplifts drawn from the prior N(0.02, 0.05²) the rules state; small campaigns
    # (100-400 people). The posterior mean's squared error must be smaller than the raw
    # measurement's (it is the Bayes estimate under this prior), and by a clear margin.
    rng = np.random.default_rng(7)
    prior, tau = 0.02, DEFAULT_UPLIFT_SD
    raw, shrunk = [], []
    for _ in range(1_000):
        truth = float(np.clip(rng.normal(prior, tau), -0.2, 0.2))
        t, c = simulate_campaign(int(rng.integers(100, 401)), 0.3, truth, 0.5, rng)
        m = _measure(t, c)
        raw.append((m.measured - truth) ** 2)
        shrunk.append((shrink(m, prior, tau)[0] - truth) ** 2)
    assert np.mean(shrunk) < 0.7 * np.mean(raw)


def test_priors_come_from_the_rules_file(tmp_path) -> None:
    shipped = priors()
    assert shipped["retention_gesture"].uplift == 0.10
    assert "at_risk_high_value" in shipped["retention_gesture"].segments
    assert all(p.sd == DEFAULT_UPLIFT_SD for p in shipped.values())
    own = tmp_path / "rules.toml"
    own.write_text('[[action]]\nname = "x"\nsegments = ["new"]\nuplift = 0.2\n')
    assert priors(own)["x"].sd == DEFAULT_UPLIFT_SD
    own.write_text('[[action]]\nname = "x"\nsegments = ["new"]\nuplift_sd = 0\n')
    with pytest.raises(LearningError, match="uplift_sd must be > 0"):
        priors(own)
