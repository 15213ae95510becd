"""The Monte-Carlo evaluator against exact enumeration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from socialcrm.programs.cascade import run_cascades, simulate_spread
from socialcrm.programs.diffusion import build_graph
from tests.programs.exact import exact_ic, exact_lt


@pytest.mark.parametrize(
    ("kind", "seeds"), [("ic", (0,)), ("ic", (3, 6)), ("lt", (0,)), ("lt", (2, 6))]
)
def test_mc_matches_exact_spread(kind, seeds, tiny_ic, tiny_lt):
    g, edges = tiny_ic if kind == "ic" else tiny_lt
    exact = (exact_ic if kind == "ic" else exact_lt)(g.n, edges, seeds)
    rep = simulate_spread(g, seeds, runs=40_000, seed=5)
    se = rep.std / math.sqrt(rep.runs)
    assert abs(rep.mean - exact) < 4.5 * se
    assert rep.ci_low < rep.mean < rep.ci_high


def test_interval_covers_the_exact_spread_at_its_rate(tiny_ic):
    g, edges = tiny_ic
    exact = exact_ic(g.n, edges, (0,))
    covered = sum(
        simulate_spread(g, (0,), runs=400, seed=s, threads=1).ci_low
        <= exact
        <= simulate_spread(g, (0,), runs=400, seed=s, threads=1).ci_high
        for s in range(200)
    )
    # 95% nominal; 200 intervals: binomial sd 1.5 points
    assert 0.89 <= covered / 200 <= 0.995


def test_reach_by_hop_and_funnel():
    # a chain with certain edges: one new person per hop
    g = build_graph([0, 1, 2, 3], [1, 2, 3, 4], "ic", p=1.0)
    rep = simulate_spread(g, [0], runs=2000, engagement_rate=0.5, conversion_rate=0.2, seed=1)
    assert rep.mean == 5.0
    assert rep.reach_by_hop[:5] == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert sum(rep.reach_by_hop) == pytest.approx(rep.mean)
    assert rep.engaged == pytest.approx(2.5, abs=4 * math.sqrt(5 * 0.25 / 2000))
    assert rep.converted == pytest.approx(0.5, abs=0.05)
    assert rep.engaged_ci[0] < 2.5 < rep.engaged_ci[1]


def test_hops_beyond_the_cap_are_kept_in_the_last_bucket():
    g = build_graph(list(range(6)), list(range(1, 7)), "ic", p=1.0)
    _, by_hop = run_cascades(g, [0], 3, max_hops=2)
    assert by_hop.sum(axis=1).tolist() == [7, 7, 7]
    assert by_hop[0].tolist() == [1, 1, 5]


def test_runs_do_not_depend_on_threads(tiny_lt):
    g, _ = tiny_lt
    a, _ = run_cascades(g, [0, 6], 1000, seed=4, threads=1)
    b, _ = run_cascades(g, [0, 6], 1000, seed=4, threads=2)
    assert np.array_equal(a, b)


def test_rates_out_of_range_are_refused(tiny_ic):
    g, _ = tiny_ic
    with pytest.raises(ValueError, match="conversion_rate"):
        simulate_spread(g, [0], runs=10, conversion_rate=1.5)
