"""The pipeline: ordered steps from raw tables to derived tables.

Each step is a plain function of the workspace that reads warehouse tables through the
engine and writes the tables it owns, returning their row counts. Later domains append
their steps to :data:`STEPS`; ``socialcrm score`` runs them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from time import perf_counter

import ibis
from ibis.expr import types as ir

from socialcrm.store.schemas import IDENTITIES, ORDERS
from socialcrm.store.workspace import Workspace
from socialcrm.value.rfm import rfm_summary

StepFn = Callable[[Workspace], dict[str, int]]


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    run: StepFn
    needs: tuple[str, ...]
    """Input tables without which the step is skipped."""


@dataclass(frozen=True)
class StepResult:
    name: str
    written: dict[str, int]
    seconds: float
    skipped: str | None = None


def customer_orders(ws: Workspace) -> ir.Table:
    """Orders with a ``customer_id`` on every row that can have one.

    Guest orders name only an email; they are attributed to the customer record that
    holds that email (the oldest id when several do). Emails no record holds keep a
    stable pseudo id ``email:<address>``, so their buyers are still counted. Once the
    ``identities`` step has run, record ids become resolved people's ids.
    """
    orders = ws.warehouse.table("orders")
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    emails = (
        ids.filter(ids.kind == "email")
        .group_by(email_value=ids.value)
        .aggregate(owner=ids.customer_id.min())
    )
    joined = orders.left_join(emails, orders.email == emails.email_value)
    record = ibis.coalesce(joined.customer_id, joined.owner)
    if ws.warehouse.exists("identity_clusters"):
        # records belong to resolved people (connecting/identity.py): count them once
        people = ws.warehouse.table("identity_clusters").select("record_id", person="customer_id")
        joined = joined.mutate(record=record)
        joined = joined.left_join(people, joined.record == people.record_id)
        record = ibis.coalesce(joined.person, joined.record)
    cid = ibis.coalesce(record, ibis.literal("email:") + joined.email)
    return joined.select(*[c for c in ORDERS.column_names if c != "customer_id"], customer_id=cid)


def calibration_end(ws: Workspace, orders: ir.Table) -> date:
    """The configured calibration end, or the day of the last order."""
    if ws.settings.calibration_end is not None:
        return ws.settings.calibration_end
    last = ws.engine.execute(orders.ordered_at.max())
    if last is None:
        raise ValueError("the orders table is empty: nothing to score")
    return last.date()


def step_rfm(ws: Workspace) -> dict[str, int]:
    orders = customer_orders(ws)
    end = calibration_end(ws, orders)
    summary = rfm_summary(orders, end, ws.settings.time_unit).order_by("customer_id")
    return {"customer_rfm": ws.warehouse.write("customer_rfm", summary)}


def step_transaction_scores(ws: Workspace) -> dict[str, int]:
    from socialcrm.value.transaction import step_transaction_scores as run

    return run(ws)


def step_identities(ws: Workspace) -> dict[str, int]:
    from socialcrm.connecting.identity import step_identities as run

    return run(ws)


def step_connecting(ws: Workspace) -> dict[str, int]:
    from socialcrm.connecting.step import step_connecting as run

    return run(ws)


def step_listening(ws: Workspace) -> dict[str, int]:
    from socialcrm.listening.step import step_listening as run

    return run(ws)


def step_community_listening(ws: Workspace) -> dict[str, int]:
    from socialcrm.listening.communities import step_community_listening as run

    return run(ws)


def step_amplifiers(ws: Workspace) -> dict[str, int]:
    from socialcrm.programs.step import step_amplifiers as run

    return run(ws)


def step_relationship(ws: Workspace) -> dict[str, int]:
    from socialcrm.value.relationship import step_relationship as run

    return run(ws)


def step_trinity(ws: Workspace) -> dict[str, int]:
    from socialcrm.value.trinity import step_trinity as run

    return run(ws)


def step_segments(ws: Workspace) -> dict[str, int]:
    from socialcrm.targeting.segments import step_segments as run

    return run(ws)


def step_actions(ws: Workspace) -> dict[str, int]:
    from socialcrm.targeting.actions import step_actions as run

    return run(ws)


def step_customer_rewards(ws: Workspace) -> dict[str, int]:
    from socialcrm.programs.loyalty import step_customer_rewards as run

    return run(ws)


def step_community_recommendations(ws: Workspace) -> dict[str, int]:
    from socialcrm.targeting.communities import step_community_recommendations as run

    return run(ws)


def step_ideas(ws: Workspace) -> dict[str, int]:
    from socialcrm.collaborating.ideas import step_ideas as run

    return run(ws)


def step_inbox(ws: Workspace) -> dict[str, int]:
    from socialcrm.responding.step import step_inbox as run

    return run(ws)


STEPS: list[Step] = [
    Step(
        "identities",
        "Identity resolution: customer records -> people, with stable ids and explained links",
        step_identities,
        needs=("customers",),
    ),
    Step(
        "rfm",
        "RFM summary per customer (frequency, recency, T, monetary)",
        step_rfm,
        needs=("orders",),
    ),
    Step(
        "transaction_scores",
        "P(alive), expected purchases and spend, CLV, risk band and overdue flag",
        step_transaction_scores,
        needs=("orders",),
    ),
    Step(
        "listening",
        "Cleaned posts with language, spam, duplicates, sentiment, intent, topics, mentions",
        step_listening,
        needs=("posts",),
    ),
    Step(
        "connecting",
        "Consent-gated social graph: influence per handle and customer, communities",
        step_connecting,
        needs=(),
    ),
    Step(
        "community_listening",
        "Volume, sentiment and spikes per community over time",
        step_community_listening,
        needs=("posts",),
    ),
    Step(
        "amplifiers",
        "Amplifier seeds: consenting customers whose engagement spreads a message furthest",
        step_amplifiers,
        needs=("follows",),
    ),
    Step(
        "relationship",
        "Relationship value: depth and recency of what each customer shared (Four Ps)",
        step_relationship,
        needs=("customers",),
    ),
    Step(
        "trinity",
        "Value TRInity: transaction, relationship, influence percentiles and composite",
        step_trinity,
        needs=(),
    ),
    Step(
        "segments",
        "Social segments inside value tiers, with reasons; segment sizes and value by date",
        step_segments,
        needs=("customer_scores",),
    ),
    Step(
        "actions",
        "Next-best-actions per customer: reason, consented channel, expected value",
        step_actions,
        needs=("customer_segments",),
    ),
    Step(
        "rewards",
        "Loyalty balance, tier and referred sales per person, from the app database's ledgers",
        step_customer_rewards,
        needs=(),
    ),
    Step(
        "community_recommendations",
        "Per community: topic to bring and when, at-risk members to reach privately",
        step_community_recommendations,
        needs=("communities", "customer_segments"),
    ),
    Step(
        "ideas",
        "Ideas proposed in the app database from posts classified as suggestions (idempotent)",
        step_ideas,
        needs=("posts_enriched",),
    ),
    Step(
        "inbox",
        "Engagement inbox: conversations from new posts (idempotent), priorities, SLA breaches",
        step_inbox,
        needs=("posts_enriched",),
    ),
]


def run_pipeline(
    ws: Workspace, only: list[str] | None = None, on_step: Callable[[Step], None] | None = None
) -> list[StepResult]:
    """Run every step (or those named in ``only``) in order."""
    unknown = set(only or []) - {s.name for s in STEPS}
    if unknown:
        raise ValueError(f"unknown pipeline steps: {', '.join(sorted(unknown))}")
    results = []
    for step in STEPS:
        if only and step.name not in only:
            continue
        if on_step:
            on_step(step)
        missing = [t for t in step.needs if not ws.warehouse.exists(t)]
        if missing:
            results.append(StepResult(step.name, {}, 0.0, f"missing {', '.join(missing)}"))
            continue
        t0 = perf_counter()
        written = step.run(ws)
        results.append(StepResult(step.name, written, perf_counter() - t0))
    return results
