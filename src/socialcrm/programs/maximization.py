"""Influence maximization: which k customers (or which within a budget) spread a message
furthest, with a (1 − 1/e − ε) approximation guarantee holding with probability 1 − δ.

Two algorithms from the reverse-influence-sampling family, on reverse-reachable (RR)
sets drawn by :mod:`socialcrm.programs.kernels`:

* ``imm`` (default) — IMM (Tang, Shi & Xiao 2015): θ = λ*/LB fresh RR sets and greedy
  max coverage on them. LB ≤ OPT comes from a martingale lower confidence bound of a
  greedy set's spread on independent sets (as in OPIM-C) instead of IMM's halving search:
  valid for the theorem, and tighter for the samples spent.
* ``opim-c`` — OPIM-C (Tang, Tang, Xiao & Yuan 2018): two independent collections R1, R2
  doubled until σ_l(S)/σ_u(OPT) ≥ 1 − 1/e − ε, S greedy on R1, σ_l(S) a lower bound of
  its spread on R2 and σ_u(OPT) an upper bound of the optimum from R1 (coverage of a
  greedy prefix plus the best k marginal gains after it). Far fewer samples; in practice
  its seeds spread a few percent less than IMM's. The ratio reached is returned
  (``certified_ratio``).

Costs and a budget: greedy picks by marginal gain per unit cost and the answer is the
better of that and the best single affordable seed (Khuller, Moss & Naor 1999); the upper
bound on the optimum becomes a fractional knapsack of marginal gains. Nodes outside
``eligible`` (no consent, not a customer) are never seeds but still pass the message on.
Each seed is explained by its marginal gain: the extra people it is expected to reach on
top of the seeds chosen before it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from time import perf_counter

import numpy as np

from socialcrm.programs import kernels
from socialcrm.programs.diffusion import DiffusionGraph

_E = 1.0 - 1.0 / math.e


@dataclass(frozen=True)
class Seed:
    """One chosen seed: who, what it adds, and what it costs."""

    label: object
    index: int
    marginal_gain: float
    """Extra people expected to be reached, given the seeds chosen before it."""
    cost: float


@dataclass(frozen=True)
class SeedSelection:
    seeds: list[Seed]
    expected_spread: float
    """Unbiased estimate of the seeds' expected spread (from R2, independent of the choice)."""
    spread_lower_bound: float
    optimum_upper_bound: float
    certified_ratio: float
    """σ_l(S) / σ_u(OPT): the approximation ratio proven with probability 1 − δ."""
    target_ratio: float
    rr_sets: int
    seconds: float
    epsilon: float
    delta: float
    total_cost: float
    budget: float | None = None
    trace: list[dict[str, float]] = field(default_factory=list)

    @property
    def labels(self) -> list[object]:
        return [s.label for s in self.seeds]


@dataclass
class _Sets:
    nodes: np.ndarray
    offsets: np.ndarray

    @property
    def count(self) -> int:
        return len(self.offsets) - 1


def sample_rr_sets(
    graph: DiffusionGraph, count: int, *, seed: int, first: int = 0, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` RR sets numbered ``first…``, as flat ``nodes`` and ``offsets`` arrays.

    The result depends only on ``seed`` and the set numbers, not on ``threads``.
    """
    threads = max(1, threads or min(os.cpu_count() or 1, 8))
    if count < 4096:
        threads = 1
    bounds = np.linspace(first, first + count, threads + 1).astype(np.int64)
    useed = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)

    def chunk(i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = bounds[i], bounds[i + 1]
        if graph.linear_threshold:
            return kernels.rr_sets_lt(graph.in_ptr, graph.in_src, graph.in_p, useed, a, b - a)
        return kernels.rr_sets_ic(
            graph.in_ptr, graph.in_src, graph.in_p, graph.in_uniform, useed, a, b - a
        )

    if threads == 1:
        parts = [chunk(0)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(chunk, range(threads)))
    nodes = np.concatenate([p[0] for p in parts])
    offsets = [parts[0][1]]
    base = parts[0][1][-1]
    for _, off in parts[1:]:
        offsets.append(off[1:] + base)
        base += off[-1]
    return nodes, np.concatenate(offsets)


def _grow(
    graph: DiffusionGraph, sets: _Sets | None, total: int, seed: int, threads: int | None
) -> _Sets:
    """``sets`` grown to ``total`` sets (callers always ask for at least one)."""
    have = 0 if sets is None else sets.count
    if sets is not None and total <= have:
        return sets
    nodes, offsets = sample_rr_sets(graph, total - have, seed=seed, first=have, threads=threads)
    if sets is None:
        return _Sets(nodes, offsets)
    return _Sets(
        np.concatenate([sets.nodes, nodes]),
        np.concatenate([sets.offsets, offsets[1:] + sets.offsets[-1]]),
    )


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _knapsack_bound(gain: np.ndarray, costs: np.ndarray, budget: float) -> float:
    """Fractional knapsack of marginal gains: no set within the budget adds more."""
    pos = np.flatnonzero(gain > 0)
    if not len(pos):
        return 0.0
    ratio = gain[pos] / costs[pos]
    order = pos[np.argsort(-ratio, kind="stable")]
    cum = np.cumsum(costs[order])
    full = int(np.searchsorted(cum, budget, side="right"))
    total = float(gain[order[:full]].sum())
    if full < len(order):
        spent = cum[full - 1] if full else 0.0
        total += float(gain[order[full]]) * (budget - spent) / costs[order[full]]
    return total


def _greedy(
    n: int,
    sets: _Sets,
    eligible: np.ndarray,
    k: int,
    costs: np.ndarray | None,
    budget: float | None,
) -> tuple[list[int], float, float]:
    """Greedy max coverage on ``sets``: (seeds, covered sets, upper bound on OPT's coverage)."""
    inv_ptr, inv_sets = kernels.invert(sets.nodes, sets.offsets, n)
    base_gain = np.diff(inv_ptr).astype(np.int64)
    if costs is None:
        return _greedy_unit(sets, inv_ptr, inv_sets, base_gain.copy(), eligible, k)
    assert budget is not None
    ratio_pick = _greedy_budget(
        sets, inv_ptr, inv_sets, base_gain.copy(), eligible, costs, budget, k
    )
    affordable = eligible & (costs <= budget)
    best_single = int(np.argmax(np.where(affordable, base_gain, -1)))
    if base_gain[best_single] > ratio_pick[1]:
        return [best_single], float(base_gain[best_single]), ratio_pick[2]
    return ratio_pick


def _greedy_unit(
    sets: _Sets,
    inv_ptr: np.ndarray,
    inv_sets: np.ndarray,
    gain: np.ndarray,
    eligible: np.ndarray,
    k: int,
) -> tuple[list[int], float, float]:
    covered = np.zeros(sets.count, dtype=np.bool_)
    chosen: list[int] = []
    total = 0
    upper = math.inf
    for _ in range(k):
        masked = np.where(eligible, gain, -1)
        kk = min(k, len(masked))
        top = np.partition(masked, len(masked) - kk)[len(masked) - kk :]
        upper = min(upper, total + float(top[top > 0].sum()))
        v = int(np.argmax(masked))
        if masked[v] <= 0 and chosen:
            break
        chosen.append(v)
        total += int(kernels.cover(v, inv_ptr, inv_sets, sets.nodes, sets.offsets, covered, gain))
    upper = min(upper, total + float(np.sort(np.where(eligible, gain, 0))[-k:].sum()))
    return chosen, float(total), upper


def _greedy_budget(
    sets: _Sets,
    inv_ptr: np.ndarray,
    inv_sets: np.ndarray,
    gain: np.ndarray,
    eligible: np.ndarray,
    costs: np.ndarray,
    budget: float,
    k: int,
) -> tuple[list[int], float, float]:
    covered = np.zeros(sets.count, dtype=np.bool_)
    chosen: list[int] = []
    total = 0
    spent = 0.0
    upper = math.inf
    while len(chosen) < k:
        masked = np.where(eligible, gain, 0)
        upper = min(upper, total + _knapsack_bound(masked, costs, budget))
        ok = eligible & (costs <= budget - spent + 1e-12)
        ok[chosen] = False
        if not ok.any():
            break
        score = np.where(ok, gain / costs, -1.0)
        v = int(np.argmax(score))
        if gain[v] <= 0:
            break
        chosen.append(v)
        spent += float(costs[v])
        total += int(kernels.cover(v, inv_ptr, inv_sets, sets.nodes, sets.offsets, covered, gain))
    return chosen, float(total), upper


def select_seeds(
    graph: DiffusionGraph,
    k: int | None = None,
    *,
    algorithm: str = "imm",
    budget: float | None = None,
    costs: Sequence[float] | np.ndarray | None = None,
    eligible: np.ndarray | None = None,
    epsilon: float = 0.1,
    delta: float | None = None,
    seed: int = 0,
    threads: int | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> SeedSelection:
    """Choose seeds maximizing expected spread, with a (1 − 1/e − ε) guarantee.

    Give ``k`` (number of seeds) or ``budget`` with per-node ``costs`` (aligned with node
    indices; both may be given: at most k seeds within the budget). ``eligible`` is a
    boolean mask of nodes that may be seeds.

    >>> from socialcrm.programs.diffusion import build_graph
    >>> g = build_graph([0, 0, 0, 1, 1], [1, 2, 3, 4, 5], model="ic", p=1.0)
    >>> select_seeds(g, 1).labels
    [0]
    """
    t0 = perf_counter()
    n = graph.n
    if not 0 < epsilon < _E:
        raise ValueError(f"epsilon must be in (0, {_E:.3f}), got {epsilon}")
    elig = np.ones(n, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    if elig.shape != (n,):
        raise ValueError("eligible must have one flag per node")
    cost_arr = None
    if costs is not None or budget is not None:
        if costs is None or budget is None:
            raise ValueError("a budget needs costs per node, and costs need a budget")
        cost_arr = np.asarray(costs, dtype=np.float64)
        if cost_arr.shape != (n,) or np.isnan(cost_arr).any() or (cost_arr <= 0).any():
            raise ValueError("costs must be one positive number per node")
        if budget <= 0:
            raise ValueError(f"budget must be positive, got {budget}")
        elig = elig & (cost_arr <= budget)
    n_elig = int(elig.sum())
    if n_elig == 0:
        raise ValueError("no node may be a seed (none eligible or none affordable)")
    if k is None:
        if cost_arr is None:
            raise ValueError("give k, or a budget with costs")
        k = n_elig
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    k = min(k, n_elig)
    if cost_arr is not None and budget is not None:  # the most seeds any affordable set can have
        cheapest = np.cumsum(np.sort(cost_arr[elig]))
        k = max(1, min(k, int(np.searchsorted(cheapest, budget, side="right"))))
    delta = 1.0 / n if delta is None else delta
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1), got {delta}")

    if algorithm == "imm":
        r1, seeds_idx, trace, lower, upper, ratio, target = _imm(
            graph, elig, k, cost_arr, budget, epsilon, delta, n_elig, seed, threads, on_progress
        )
        # θ is large, so the selection sample also explains the seeds with little bias
        r2 = r1
        rr_total = r1.count
    elif algorithm == "opim-c":
        r1, r2, seeds_idx, trace, lower, upper, ratio, target = _opim_c(
            graph, elig, k, cost_arr, budget, epsilon, delta, n_elig, seed, threads, on_progress
        )
        rr_total = r1.count + r2.count
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}; use imm or opim-c")
    # explain on R2, independent of the choice: marginal gains in the order chosen
    inv_ptr, inv_sets = kernels.invert(r2.nodes, r2.offsets, n)
    gain = np.diff(inv_ptr).astype(np.int64)
    covered = np.zeros(r2.count, dtype=np.bool_)
    scale = n / r2.count
    chosen: list[Seed] = []
    for v in seeds_idx:
        newly = kernels.cover(v, inv_ptr, inv_sets, r2.nodes, r2.offsets, covered, gain)
        chosen.append(
            Seed(
                label=_plain(graph.labels[v]),
                index=int(v),
                marginal_gain=float(newly) * scale,
                cost=float(cost_arr[v]) if cost_arr is not None else 1.0,
            )
        )
    return SeedSelection(
        seeds=chosen,
        expected_spread=float(covered.sum()) * scale,
        spread_lower_bound=max(0.0, lower),
        optimum_upper_bound=upper,
        certified_ratio=ratio,
        target_ratio=target,
        rr_sets=rr_total,
        seconds=perf_counter() - t0,
        epsilon=epsilon,
        delta=delta,
        total_cost=float(sum(s.cost for s in chosen)),
        budget=budget,
        trace=trace,
    )


def _imm(
    graph: DiffusionGraph,
    elig: np.ndarray,
    k: int,
    cost_arr: np.ndarray | None,
    budget: float | None,
    epsilon: float,
    delta: float,
    n_elig: int,
    seed: int,
    threads: int | None,
    on_progress: Callable[[str], None] | None,
) -> tuple[_Sets, list[int], list[dict[str, float]], float, float, float, float]:
    """IMM (Tang, Shi & Xiao 2015): θ = λ*/LB fresh RR sets give (1 − 1/e − ε)·OPT with
    probability 1 − δ whenever LB ≤ OPT.

    LB here is not IMM's halving search but a martingale lower confidence bound of a
    greedy set's spread, measured on RR sets that did not choose it (as in OPIM-C): any
    seed set's spread is ≤ OPT, and this bound is far tighter for the samples spent. It
    doubles its samples only while a tighter LB would save more final samples than it
    costs. The final sets are fresh (Chen 2018: reusing the bounding sets voids the proof).
    """
    n = graph.n
    ell = math.log(1.0 / delta) / math.log(n) if n > 1 else 1.0
    ell = ell * (1 + math.log(2) / math.log(max(n, 3)))
    logc = _log_comb(n_elig, k)
    logn = math.log(max(n, 2))
    alpha = math.sqrt(ell * logn + math.log(2))
    beta = math.sqrt(_E * (logc + ell * logn + math.log(2)))
    lam_star = 2 * n * (_E * alpha + beta) ** 2 / epsilon**2
    trace: list[dict[str, float]] = []
    rounds = max(2, math.ceil(math.log2(max(n, 2))) + 1)
    a = math.log(2.0 * rounds / delta)  # δ/2 for the bound, split over the rounds
    lb = float(k)  # every seed reaches at least itself
    size = max(1024, math.ceil(lam_star / n / 8))
    r1: _Sets | None = None
    r2: _Sets | None = None
    for _ in range(rounds):
        r1 = _grow(graph, r1, size, seed * 2 + 1, threads)
        r2 = _grow(graph, r2, size, seed * 2 + 2, threads)
        chosen, _, _ = _greedy(n, r1, elig, k, cost_arr, budget)
        cov2 = float(kernels.coverage(np.asarray(chosen, dtype=np.int64), n, r2.nodes, r2.offsets))
        low = ((math.sqrt(cov2 + 2 * a / 9) - math.sqrt(a / 2)) ** 2 - a / 18) * n / r2.count
        est = n * cov2 / r2.count
        lb = max(lb, low)
        trace.append({"rr_sets": float(r1.count + r2.count), "lower_bound": lb})
        if on_progress:
            on_progress(f"bounding the optimum: {r1.count + r2.count:,} RR sets, ≥ {lb:,.1f}")
        # doubling adds 2·size sets; at best it lifts LB to the estimate
        if lam_star / lb - lam_star / max(est, lb) <= 2 * size or size >= n * 64:
            break
        size *= 2
    theta = math.ceil(lam_star / lb)
    if on_progress:
        on_progress(f"sampling {theta:,} RR sets")
    final = _grow(graph, None, theta, seed * 2 + 3, threads)
    seeds_idx, cov, cov_up = _greedy(n, final, elig, k, cost_arr, budget)
    a = math.log(1.0 / delta)
    est = n * cov / final.count
    trace.append({"rr_sets": float(final.count), "estimate": est})
    lower = ((math.sqrt(cov + 2 * a / 9) - math.sqrt(a / 2)) ** 2 - a / 18) * n / final.count
    upper = (math.sqrt(cov_up + a / 2) + math.sqrt(a / 2)) ** 2 * n / final.count
    # IMM's guarantee is its theorem's; the bounds here are informative, not independent
    return final, seeds_idx, trace, lower, upper, _E - epsilon, _E - epsilon


def _opim_c(
    graph: DiffusionGraph,
    elig: np.ndarray,
    k: int,
    cost_arr: np.ndarray | None,
    budget: float | None,
    epsilon: float,
    delta: float,
    n_elig: int,
    seed: int,
    threads: int | None,
    on_progress: Callable[[str], None] | None,
) -> tuple[_Sets, _Sets, list[int], list[dict[str, float]], float, float, float, float]:
    """OPIM-C (Tang et al. 2018): grow two independent RR collections until the certified
    ratio σ_l(S)/σ_u(OPT) reaches 1 − 1/e − ε."""
    n = graph.n
    log6 = math.log(6.0 / delta)
    theta_max = (
        2.0
        * n
        * (_E * math.sqrt(log6) + math.sqrt(_E * (_log_comb(n_elig, k) + log6))) ** 2
        / (epsilon**2 * k)
    )
    theta0 = max(1.0, theta_max * epsilon**2 * k / n)
    i_max = max(1, math.ceil(math.log2(max(theta_max / theta0, 2.0))))
    a = math.log(3.0 * i_max / delta)
    target = _E - epsilon
    r1: _Sets | None = None
    r2: _Sets | None = None
    trace: list[dict[str, float]] = []
    seeds_idx: list[int] = []
    lower = upper = ratio = 0.0
    theta = math.ceil(theta0)
    for i in range(1, i_max + 1):
        r1 = _grow(graph, r1, theta, seed * 2 + 1, threads)
        r2 = _grow(graph, r2, theta, seed * 2 + 2, threads)
        seeds_idx, _, cov_up = _greedy(n, r1, elig, k, cost_arr, budget)
        cov2 = float(
            kernels.coverage(np.asarray(seeds_idx, dtype=np.int64), n, r2.nodes, r2.offsets)
        )
        lower = ((math.sqrt(cov2 + 2 * a / 9) - math.sqrt(a / 2)) ** 2 - a / 18) * n / r2.count
        upper = (math.sqrt(cov_up + a / 2) + math.sqrt(a / 2)) ** 2 * n / r1.count
        ratio = max(0.0, lower) / upper if upper > 0 else 1.0
        trace.append({"rr_sets": float(r1.count + r2.count), "ratio": ratio})
        if on_progress:
            on_progress(f"round {i}: {r1.count + r2.count:,} RR sets, certified ratio {ratio:.3f}")
        if ratio >= target:
            break
        theta *= 2
    assert r1 is not None and r2 is not None
    return r1, r2, seeds_idx, trace, lower, upper, ratio, target


def _plain(x: object) -> object:
    return x.item() if isinstance(x, np.generic) else x
