"""Cascade simulation: how far a chosen seed set spreads, with its uncertainty.

Forward Monte-Carlo runs of the graph's model (IC coin flips, or LT live edges). It is
also the independent evaluator of seed choices: it shares no code path with the
reverse-reachable sampling that chose them.

>>> from socialcrm.programs.diffusion import build_graph
>>> g = build_graph([0, 1], [1, 2], model="ic", p=1.0)
>>> simulate_spread(g, [0], runs=100).mean
3.0
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from socialcrm.programs import kernels
from socialcrm.programs.diffusion import DiffusionGraph


@dataclass(frozen=True)
class CascadeReport:
    runs: int
    mean: float
    """Expected number of people reached, seeds included."""
    std: float
    ci_low: float
    ci_high: float
    confidence: float
    percentiles: dict[str, float]
    reach_by_hop: list[float]
    """Expected newly reached people at hop 0 (the seeds), 1, 2, …; the last bucket holds
    every later hop."""
    engaged: float
    engaged_ci: tuple[float, float]
    converted: float
    converted_ci: tuple[float, float]

    def to_json(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "expected_spread": self.mean,
            "std": self.std,
            "ci": [self.ci_low, self.ci_high],
            "confidence": self.confidence,
            "percentiles": self.percentiles,
            "reach_by_hop": self.reach_by_hop,
            "expected_engaged": self.engaged,
            "engaged_ci": list(self.engaged_ci),
            "expected_converted": self.converted,
            "converted_ci": list(self.converted_ci),
        }


def run_cascades(
    graph: DiffusionGraph,
    seeds: Sequence[int] | np.ndarray,
    runs: int,
    *,
    seed: int = 0,
    max_hops: int = 10,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Raw runs: spread per run and reach per hop (runs × (max_hops + 1))."""
    idx = np.asarray(seeds, dtype=np.int64)
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    if len(idx) and (idx.min() < 0 or idx.max() >= graph.n):
        raise ValueError("seed indices outside the graph")
    threads = max(1, threads or min(os.cpu_count() or 1, 8))
    if runs < 200:
        threads = 1
    bounds = np.linspace(0, runs, threads + 1).astype(np.int64)
    useed = np.uint64(seed & 0xFFFFFFFFFFFFFFFF)

    def chunk(i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = bounds[i], bounds[i + 1]
        return kernels.simulate(
            graph.out_ptr,
            graph.out_dst,
            graph.out_p,
            graph.in_ptr,
            graph.in_src,
            graph.in_p,
            graph.linear_threshold,
            idx,
            useed,
            a,
            b - a,
            max_hops,
        )

    if threads == 1:
        parts = [chunk(0)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            parts = list(pool.map(chunk, range(threads)))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def simulate_spread(
    graph: DiffusionGraph,
    seeds: Sequence[int] | np.ndarray,
    runs: int = 10_000,
    *,
    engagement_rate: float = 1.0,
    conversion_rate: float = 0.0,
    confidence: float = 0.95,
    seed: int = 0,
    max_hops: int = 10,
    threads: int | None = None,
) -> CascadeReport:
    """Monte-Carlo spread of ``seeds`` (node indices) with a confidence interval.

    Reached people engage with probability ``engagement_rate`` and engaged people convert
    with ``conversion_rate``; engaged and converted counts are drawn per run (binomially),
    so their intervals include both the cascade's and the funnel's randomness.
    """
    for name, rate in (("engagement_rate", engagement_rate), ("conversion_rate", conversion_rate)):
        if not 0 <= rate <= 1:
            raise ValueError(f"{name} must be between 0 and 1, got {rate}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    spread, by_hop = run_cascades(graph, seeds, runs, seed=seed, max_hops=max_hops, threads=threads)
    rng = np.random.default_rng(seed)
    engaged = rng.binomial(spread, engagement_rate)
    converted = rng.binomial(engaged, conversion_rate)
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + confidence / 2))

    def ci(x: np.ndarray) -> tuple[float, float]:
        m = float(x.mean())
        half = z * float(x.std(ddof=1)) / math.sqrt(len(x)) if len(x) > 1 else 0.0
        return m - half, m + half

    lo, hi = ci(spread)
    pct = np.percentile(spread, [5, 25, 50, 75, 95])
    return CascadeReport(
        runs=runs,
        mean=float(spread.mean()),
        std=float(spread.std(ddof=1)) if runs > 1 else 0.0,
        ci_low=lo,
        ci_high=hi,
        confidence=confidence,
        percentiles={f"p{q}": float(v) for q, v in zip((5, 25, 50, 75, 95), pct, strict=True)},
        reach_by_hop=[float(x) for x in by_hop.mean(axis=0)],
        engaged=float(engaged.mean()),
        engaged_ci=ci(engaged),
        converted=float(converted.mean()),
        converted_ci=ci(converted),
    )
