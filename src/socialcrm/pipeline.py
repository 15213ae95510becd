"""The pipeline: ordered steps from raw tables to derived tables.

Each domain owns its steps: a plain function ``step(ws, ctx)`` that reads warehouse
tables through the engine, writes the tables it owns and returns their row counts. This
module only orders them in :data:`STEPS` and builds the run's :class:`RunContext` once;
``socialcrm score`` runs them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from time import perf_counter

from socialcrm.collaborating.ideas import step_ideas
from socialcrm.connecting.households import step_households
from socialcrm.connecting.identity import step_identities
from socialcrm.connecting.step import step_connecting
from socialcrm.listening.communities import step_community_listening
from socialcrm.listening.step import step_listening
from socialcrm.programs.learning import step_learning
from socialcrm.programs.loyalty import step_customer_rewards
from socialcrm.programs.step import step_amplifiers, step_campaign_feedback
from socialcrm.responding.step import step_inbox
from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace
from socialcrm.targeting.actions import step_actions
from socialcrm.targeting.communities import step_community_recommendations
from socialcrm.targeting.segments import step_segments
from socialcrm.value.orders import calibration_end
from socialcrm.value.relationship import step_relationship
from socialcrm.value.steps import step_rfm
from socialcrm.value.transaction import step_transaction_scores
from socialcrm.value.trinity import step_trinity

StepFn = Callable[[Workspace, RunContext], dict[str, int]]


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


def run_context(ws: Workspace, started_at: datetime | None = None) -> RunContext:
    """The context of a run starting now (or at ``started_at``) on this workspace.

    The calibration end is asked of the warehouse here, once, for every step.
    """
    return RunContext(
        settings=ws.settings,
        started_at=started_at or datetime.now().astimezone(),
        calibration_end=calibration_end(ws),
    )


STEPS: list[Step] = [
    Step(
        "identities",
        "Identity resolution: customer records -> people, with stable ids and explained links",
        step_identities,
        needs=("customers",),
    ),
    Step(
        "households",
        "Households: people sharing an address or a landline, stable ids, giant groups left out",
        step_households,
        needs=("customers",),
    ),
    Step(
        "campaign_feedback",
        "Campaign email feedback (sent, opens, clicks, unsubscribes, bounces) into touches",
        step_campaign_feedback,
        needs=(),
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
        "learning",
        "Uplifts measured by finished campaigns, shrunk toward the assumed ones in the rules",
        step_learning,
        needs=("campaigns",),
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
    ctx = run_context(ws)
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
        written = step.run(ws, ctx)
        results.append(StepResult(step.name, written, perf_counter() - t0))
        ctx = ctx.after(written)
    return results
