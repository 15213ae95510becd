"""Seed selection: the guarantee in practice, consent, budgets, explanations, samplers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from socialcrm.programs.diffusion import build_graph
from socialcrm.programs.maximization import sample_rr_sets, select_seeds
from tests.programs.exact import best_set, exact_ic, exact_lt

EXACT = {"ic": exact_ic, "lt": exact_lt}


def _tolerance(n: int, spread: float, sets: int) -> float:
    """4.5 standard errors of an RR estimate n·(covered/sets) of ``spread``."""
    p = spread / n
    return 4.5 * n * math.sqrt(p * (1 - p) / sets)


@pytest.mark.parametrize("kind", ["ic", "lt"])
def test_rr_membership_estimates_single_node_spread(kind, tiny_ic, tiny_lt):
    # σ({v}) = n · P(v ∈ RR set): the identity every RR method rests on
    g, edges = tiny_ic if kind == "ic" else tiny_lt
    nodes, offsets = sample_rr_sets(g, 200_000, seed=3)
    count = len(offsets) - 1
    for v in range(g.n):
        sets_with_v = np.zeros(count, dtype=bool)
        owner = np.repeat(np.arange(count), np.diff(offsets))
        sets_with_v[owner[nodes == v]] = True
        p = sets_with_v.mean()
        se = math.sqrt(p * (1 - p) / count) * g.n
        assert abs(g.n * p - EXACT[kind](g.n, edges, (v,))) < 4.5 * se + 1e-9


def test_rr_sets_do_not_depend_on_threads(tiny_ic):
    g, _ = tiny_ic
    a = sample_rr_sets(g, 20_000, seed=11, threads=1)
    b = sample_rr_sets(g, 20_000, seed=11, threads=2)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


@pytest.mark.parametrize("algorithm", ["imm", "opim-c"])
@pytest.mark.parametrize("kind", ["ic", "lt"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_guarantee_against_brute_force_optimum(algorithm, kind, k, tiny_ic, tiny_lt):
    g, edges = tiny_ic if kind == "ic" else tiny_lt
    eps = 0.2

    def spread(s):
        return EXACT[kind](g.n, edges, tuple(s))

    _, opt = best_set(g.n, k, spread)
    for seed in range(3):
        got = select_seeds(g, k, algorithm=algorithm, epsilon=eps, seed=seed)
        assert len(got.seeds) == k
        assert spread([s.index for s in got.seeds]) >= opt * (1 - 1 / math.e - eps)


def test_consent_excludes_the_best_seed_but_not_its_spread(tiny_ic):
    g, _ = tiny_ic
    best = select_seeds(g, 1, seed=1).seeds[0].index
    eligible = np.ones(g.n, dtype=bool)
    eligible[best] = False
    got = select_seeds(g, 3, eligible=eligible, seed=1)
    chosen = [s.index for s in got.seeds]
    assert best not in chosen and all(eligible[chosen])


def test_excluded_nodes_still_pass_the_message_on():
    # a → x → {b, c, d}: x may not be a seed, yet a's value comes through x
    g = build_graph(list("axxxe"), list("xbcdf"), "ic", p=1.0)
    eligible = np.array([lab != "x" for lab in g.labels])
    got = select_seeds(g, 1, eligible=eligible, seed=0)
    assert got.labels == ["a"]
    assert got.expected_spread == pytest.approx(5.0, abs=_tolerance(g.n, 5.0, got.rr_sets))


def test_budget_is_respected_and_cheap_seeds_can_win():
    # hub h reaches 6 but costs 10; three cheap nodes reach 3 each for 3 apiece
    src = ["h"] * 5 + ["a", "a", "b", "b", "c", "c"]
    dst = ["h1", "h2", "h3", "h4", "h5", "a1", "a2", "b1", "b2", "c1", "c2"]
    g = build_graph(src, dst, "ic", p=1.0)
    cost = {"h": 10.0, "a": 3.0, "b": 3.0, "c": 3.0}
    costs = np.array([cost.get(str(lab), 100.0) for lab in g.labels])
    got = select_seeds(g, budget=9.0, costs=costs, seed=0)
    assert got.total_cost <= 9.0
    assert sorted(map(str, got.labels)) == ["a", "b", "c"]
    assert got.expected_spread == pytest.approx(9.0, abs=_tolerance(g.n, 9.0, got.rr_sets))
    rich = select_seeds(g, budget=10.0, costs=costs, seed=0)
    assert rich.total_cost <= 10.0
    assert rich.expected_spread >= 9.0 - _tolerance(g.n, 9.0, rich.rr_sets)


def test_marginal_gains_explain_the_spread(tiny_ic):
    g, _ = tiny_ic
    got = select_seeds(g, 3, seed=2)
    gains = [s.marginal_gain for s in got.seeds]
    assert sum(gains) == pytest.approx(got.expected_spread)
    assert all(x > 0 for x in gains)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be at least 1"),
        ({"k": 2, "epsilon": 0.9}, "epsilon"),
        ({"budget": 5.0}, "needs costs"),
        ({"k": 2, "algorithm": "celf"}, "unknown algorithm"),
        ({"k": 2, "eligible": np.zeros(8, dtype=bool)}, "no node may be a seed"),
    ],
)
def test_bad_arguments_are_named(kwargs, message, tiny_ic):
    g, _ = tiny_ic
    with pytest.raises(ValueError, match=message):
        select_seeds(g, **kwargs)
