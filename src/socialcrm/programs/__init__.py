"""Programs: whom to engage so a message spreads, what to expect, and what it added.

* :func:`select_seeds` — influence maximization (IMM / OPIM-C) with costs, a budget and
  consent;
* :func:`simulate_spread` — Monte-Carlo cascades with intervals, reach by hop, funnel;
* :mod:`~socialcrm.programs.planner` — email blast vs amplifiers;
* :mod:`~socialcrm.programs.campaigns` — campaigns measured against a holdout.
"""

from socialcrm.programs.cascade import CascadeReport, simulate_spread
from socialcrm.programs.diffusion import DiffusionGraph, build_graph, read_edges
from socialcrm.programs.maximization import SeedSelection, select_seeds

__all__ = [
    "CascadeReport",
    "DiffusionGraph",
    "SeedSelection",
    "build_graph",
    "read_edges",
    "select_seeds",
    "simulate_spread",
]
