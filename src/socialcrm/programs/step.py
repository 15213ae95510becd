"""Pipeline steps of the programs.

- ``amplifier_seeds``: the k customers (with social-linking consent in force) whose
  engagement is expected to spread a message furthest, in the order IMM chose them, each
  with its marginal gain;
- ``campaign_feedback``: what campaign emails did (app database events) into ``touches``
  and ``consents`` (:func:`socialcrm.programs.sending.sync_feedback`).
"""

from __future__ import annotations

import pyarrow as pa

from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

AMPLIFIER_SEEDS = pa.schema(
    [
        ("rank", pa.int64()),
        ("node", pa.string()),
        ("customer_id", pa.string()),
        ("marginal_gain", pa.float64()),
        ("cumulative_spread", pa.float64()),
    ]
)


def step_amplifiers(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    from socialcrm.programs.maximization import select_seeds
    from socialcrm.programs.social_graph import workspace_graph

    s = ws.settings
    try:
        wg = workspace_graph(ws, s.amplifier_model)
    except ValueError:  # no follows or reshares yet
        return {
            "amplifier_seeds": ws.warehouse.write("amplifier_seeds", AMPLIFIER_SEEDS.empty_table())
        }
    rows: list[dict[str, object]] = []
    if wg.eligible.any():
        result = select_seeds(
            wg.graph, s.amplifier_seeds, eligible=wg.eligible, epsilon=s.amplifier_epsilon
        )
        total = 0.0
        for i, seed in enumerate(result.seeds, 1):
            total += seed.marginal_gain
            rows.append(
                {
                    "rank": i,
                    "node": str(seed.label),
                    "customer_id": wg.customer_of[str(seed.label)],
                    "marginal_gain": seed.marginal_gain,
                    "cumulative_spread": total,
                }
            )
    table = pa.Table.from_pylist(rows, schema=AMPLIFIER_SEEDS)
    return {"amplifier_seeds": ws.warehouse.write("amplifier_seeds", table)}


def step_campaign_feedback(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: the email events of the app database (deliveries, opens, clicks,
    unsubscribes, bounces, complaints) into ``touches``, and unsubscribes into
    ``consents``, before the value steps read them (idempotent; nothing new, nothing
    written)."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.programs.sending import sync_feedback

    db = AppDB(ws.settings.resolved_database_url)
    try:
        got = sync_feedback(ws, db)
    finally:
        db.close()
    written = {}
    if got["touches"]:
        written["touches"] = ws.warehouse.rows("touches")
    if got["consents"]:
        written["consents"] = ws.warehouse.rows("consents")
    return written
