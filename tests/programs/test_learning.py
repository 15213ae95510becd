"""Uplifts learned from finished campaigns: the report's intervals, the shrinkage toward
the assumed uplift, and the ``measured_uplifts`` table the next-best-actions rank with."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from importlib import resources

import ibis
import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from socialcrm.config import Settings
from socialcrm.pipeline import run_context
from socialcrm.programs.campaigns import (
    assignments,
    create_campaign,
    estimate_uplift,
    simulate_campaign,
)
from socialcrm.programs.learning import (
    DEFAULT_UPLIFT_SD,
    LearningError,
    Measurement,
    learn_uplifts,
    pool,
    priors,
    shrink,
    step_learning,
)
from socialcrm.store.schemas import CONSENTS, ORDERS
from socialcrm.store.workspace import Workspace

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


# -- end to end: campaigns in a workspace → measured_uplifts → the next-best-action rank ----
EXTRA = """
[[action]]
name = "product_recommendation"
segments = ["high_value_buyer", "loyal_quiet_buyer"]
marketing = true
uplift = 0.05
value = "clv"
cost = 1.0
reason = "recommend a product they have not bought yet"
"""
START, END = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)


def _campaign(ws, cid: str, n: int, base: float, uplift: float, rng, end=END, **kw) -> None:
    """A finished email campaign to ``n`` consenting people, and orders in its window:
    each treated person converts with base + uplift, each held-out one with base."""
    ids = [f"{cid}-{i}" for i in range(n)]
    old = ws.warehouse.read_arrow("consents") if ws.warehouse.exists("consents") else None
    new = pa.Table.from_pylist(
        [{"customer_id": c, "purpose": "email_marketing", "status": "granted",
          "recorded_at": START - timedelta(days=30), "source": "web"} for c in ids],
        schema=CONSENTS.arrow_schema,
    )  # fmt: skip
    ws.warehouse.write("consents", new if old is None else pa.concat_tables([old, new]))
    create_campaign(ws, cid, ids, starts_at=START, ends_at=end, holdout_share=0.5, **kw)
    groups = assignments(ws, cid)
    rows = [
        {"order_id": f"o-{c}", "customer_id": c, "ordered_at": START + timedelta(days=3),
         "amount": 50.0, "currency": "EUR", "status": "completed"}
        for c in ids
        if rng.random() < base + (uplift if groups[c] == "treatment" else 0.0)
    ]  # fmt: skip
    orders = pa.Table.from_pylist(rows, schema=ORDERS.arrow_schema)
    if ws.warehouse.exists("orders"):
        orders = pa.concat_tables([ws.warehouse.read_arrow("orders"), orders])
    ws.warehouse.write("orders", orders)


def _first_action(ws, rules) -> str:
    """The rank-1 action of a loyal buyer (CLV 500) who may be emailed."""
    from socialcrm.targeting.actions import (
        action_table,
        candidate_actions,
        measured_uplifts,
        next_best_actions,
    )

    seg = ws.engine.memtable(pa.table({
        "customer_id": ["x"], "segment": ["loyal_quiet_buyer"], "reason": ["loyal"],
        "clv": [500.0], "p_alive": [0.9],
    }))  # fmt: skip
    contact = ws.engine.memtable(pa.table({
        "p_id": ["x"], "preferred_channel": ["email"], "contact_frequency": [None],
        "ok_email": [True], "ok_sms": [False], "ok_phone": [False], "ok_social": [False],
        "last_contact": pa.array([None], pa.timestamp("us", tz="UTC")),
    }))  # fmt: skip
    table = ws.engine.memtable(action_table(rules, measured_uplifts(ws)))
    ranked = next_best_actions(candidate_actions(seg, table), contact, ibis.now())
    rows = ws.engine.to_arrow(ranked).to_pylist()
    return next(r["action"] for r in rows if r["rank"] == 1)


@pytest.mark.parametrize(("n", "flips"), [(8_000, True), (40, False)])
def test_learned_uplifts_change_the_ranking_only_on_strong_evidence(
    tmp_path, n: int, flips: bool
) -> None:
    from socialcrm.targeting.rules import load_rules

    path = tmp_path / "rules.toml"
    shipped = resources.files("socialcrm.targeting").joinpath("rules.toml").read_text()
    path.write_text(shipped + EXTRA)
    settings = Settings(home=tmp_path / "ws", targeting_rules=path)
    rules = load_rules(path)
    rng = np.random.default_rng(n)
    with Workspace.open(settings) as ws:
        # the assumption: a recommendation (5 points) beats the loyalty thanks (2 points)
        assert _first_action(ws, rules) == "product_recommendation"
        # a finished campaign of the loyalty thanks with a true uplift of 8 points
        _campaign(ws, "thanks", n, 0.05, 0.08, rng, action="loyalty_thanks")
        # neither an unfinished campaign nor one that names no action or segment teaches
        may = datetime(2026, 5, 1, tzinfo=UTC)
        _campaign(ws, "later", 200, 0.05, 0.5, rng, end=may, action="product_recommendation")
        _campaign(ws, "plain", 200, 0.05, 0.5, rng)
        assert learn_uplifts(ws, datetime(2026, 3, 15, tzinfo=UTC), priors(path)).num_rows == 0
        step_learning(ws, run_context(ws, started_at=datetime(2026, 4, 2, tzinfo=UTC)))
        assert ws.warehouse.rows("measured_uplifts") == 1
        row = ws.warehouse.read_arrow("measured_uplifts").to_pylist()[0]
        assert row["action"] == "loyalty_thanks" and row["segment"] is None
        assert row["treated"] + row["control"] == n and row["prior"] == 0.02
        w = row["weight_of_evidence"]
        assert row["posterior"] == pytest.approx(w * row["measured"] + (1 - w) * 0.02)
        if flips:
            assert w > 0.9 and abs(row["posterior"] - 0.08) < 4 * row["se"]
            assert _first_action(ws, rules) == "loyalty_thanks"
        else:  # how often a tiny campaign flips it: the next test
            assert w < 0.35
            better = row["posterior"] > 0.05
            assert _first_action(ws, rules) == (
                "loyalty_thanks" if better else "product_recommendation"
            )


def test_tiny_campaigns_rarely_move_the_ranking_large_ones_always() -> None:
    # The loyalty thanks (assumed 2 points, truly 8) against a recommendation assumed at 5
    # points: the thanks ranks first once its uplift passes 0.05. Normal approximation:
    # a 40-person campaign (20 per group) measures 0.08 ± ~0.105 with weight ~0.18, so its
    # posterior passes 0.05 when the measurement passes 0.02 + 0.03/0.18 ≈ 0.19: ~15% of
    # campaigns, where the raw measurement passes 0.05 ~61% of the time; an 8,000-person
    # one (weight 0.98, se 0.006) always. 400 draws each (binomial sd ≤ 2.5 points).
    rng = np.random.default_rng(40)
    flips: dict[tuple[int, str], int] = {}
    for n in (40, 8_000):
        for _ in range(400):
            t, c = simulate_campaign(n, 0.05, 0.08, 0.5, rng)
            if not (t.customers and c.customers):
                continue
            m = _measure(t, c)
            flips[n, "shrunk"] = flips.get((n, "shrunk"), 0) + (shrink(m, 0.02, 0.05)[0] > 0.05)
            flips[n, "raw"] = flips.get((n, "raw"), 0) + (m.measured > 0.05)
    assert flips[8_000, "shrunk"] / 400 >= 0.95
    assert flips[40, "shrunk"] / 400 <= 0.25
    assert flips[40, "raw"] / 400 >= 0.45
