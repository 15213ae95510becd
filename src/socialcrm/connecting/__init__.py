"""Connecting: identity resolution, consent-gated social linking, the social graph,
influence and communities.

The public surface is small; each module holds one concept:

- :mod:`~socialcrm.connecting.records` — person records as matching sees them
- :mod:`~socialcrm.connecting.resolve` — deterministic rules + Splink Fellegi–Sunter model
- :mod:`~socialcrm.connecting.clusters` — stable cluster ids, merges, splits, decisions
- :mod:`~socialcrm.connecting.consent` — who granted which purpose, right now
"""

from socialcrm.connecting.clusters import cluster_links, pairwise_scores
from socialcrm.connecting.records import RecordsError, read_records
from socialcrm.connecting.resolve import ResolveOptions, resolve_records

__all__ = [
    "RecordsError",
    "ResolveOptions",
    "cluster_links",
    "pairwise_scores",
    "read_records",
    "resolve_records",
]
