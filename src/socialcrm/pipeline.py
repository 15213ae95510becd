"""The pipeline: ordered steps from raw tables to derived tables.

Each domain owns its steps: a plain function ``step(ws, ctx)`` that reads warehouse
tables through the engine, writes the tables it owns and returns their row counts. This
module only orders them in :data:`STEPS` and builds the run's :class:`RunContext` once;
``socialcrm score`` runs them in order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from time import perf_counter

from rich.console import Console
from rich.progress import ProgressColumn, Task
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from socialcrm.appdb import runs
from socialcrm.appdb.models import utcnow
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
_log = logging.getLogger(__name__)


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
    ws: Workspace,
    only: list[str] | None = None,
    on_step: Callable[[Step], None] | None = None,
    *,
    started_by: str = "cli",
    on_done: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Run every step (or those named in ``only``) in order, logging the run.

    Each step's outcome is written to the app database's run log as it ends (see
    :mod:`socialcrm.appdb.runs`), so the admin page shows a failed or killed run up to
    where it stopped. A run log that cannot be written is reported and does not stop the
    run: the warehouse, not the log, is what the run is for.
    """
    unknown = set(only or []) - {s.name for s in STEPS}
    if unknown:
        raise ValueError(f"unknown pipeline steps: {', '.join(sorted(unknown))}")
    planned = [s for s in STEPS if not only or s.name in only]
    log = _RunLog(ws, started_by, len(planned))
    results = []
    ctx = run_context(ws)
    for position, step in enumerate(planned):
        if on_step:
            on_step(step)
        started = utcnow()
        missing = [t for t in step.needs if not ws.warehouse.exists(t)]
        if missing:
            result = StepResult(step.name, {}, 0.0, f"missing {', '.join(missing)}")
            log.step(position, result, started)
        else:
            t0 = perf_counter()
            try:
                written = step.run(ws, ctx)
            except BaseException as e:
                log.failed(position, step.name, started, perf_counter() - t0, e)
                raise
            result = StepResult(step.name, written, perf_counter() - t0)
            log.step(position, result, started)
            ctx = ctx.after(written)
        results.append(result)
        if on_done:
            on_done(result)
    log.finished()
    return results


def expected_seconds(ws: Workspace) -> dict[str, float]:
    """Each step's typical duration on this workspace, from its recent runs (may be empty)."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.appdb.runs import expected_seconds as recent

    try:
        db = AppDB(ws.settings.resolved_database_url)
        try:
            with db.session() as s:
                return recent(s, [step.name for step in STEPS])
        finally:
            db.close()
    except (SQLAlchemyError, OSError):
        return {}


class _RunLog:
    """The run log of one run; a failure to write it is logged, never raised."""

    def __init__(self, ws: Workspace, started_by: str, planned: int) -> None:
        from socialcrm.appdb.db import AppDB

        self.db: AppDB | None = None
        self.run_id: int | None = None
        try:
            self.db = AppDB(ws.settings.resolved_database_url)
            with self.db.session() as s:
                self.run_id = runs.start_run(s, started_by, planned)
        except (SQLAlchemyError, OSError) as e:
            _log.warning("the run log cannot be written (%s); the run goes on", _first_line(e))
            self._close()

    def step(self, position: int, r: StepResult, started: datetime) -> None:
        status = "skipped" if r.skipped else "ok"
        self._write(
            lambda s, run: runs.record_step(
                s, run, position, r.name, status, started, r.seconds, r.written, r.skipped
            )
        )

    def failed(
        self, position: int, name: str, started: datetime, seconds: float, e: BaseException
    ) -> None:
        why = f"{type(e).__name__}: {_first_line(e)}"
        self._write(
            lambda s, run: runs.record_step(
                s, run, position, name, "failed", started, seconds, None, why
            )
        )
        self._write(lambda s, run: runs.finish_run(s, run, "failed", f"{name}: {why}"))
        self._close()

    def finished(self) -> None:
        self._write(lambda s, run: runs.finish_run(s, run, "ok"))
        self._close()

    def _write(self, fn: Callable[[Session, int], None]) -> None:
        if self.db is None or self.run_id is None:
            return
        try:
            with self.db.session() as s:
                fn(s, self.run_id)
        except (SQLAlchemyError, OSError) as e:
            _log.warning("the run log cannot be written (%s); the run goes on", _first_line(e))

    def _close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:500] if text else type(e).__name__


def run_with_progress(
    ws: Workspace, console: Console, only: list[str] | None = None, started_by: str = "cli"
) -> list[StepResult]:
    """:func:`run_pipeline` with a live line: the step, its place, and the time left.

    The time left is the recent runs' typical durations (:func:`expected_seconds`) of the
    steps still to come, less what the current step has already taken; a workspace's
    first run, which has no such history, shows the step and the time spent instead.
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    planned = [s for s in STEPS if not only or s.name in only]
    typical = expected_seconds(ws)
    known = all(s.name in typical for s in planned)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn()]
    with Progress(*columns, _TimeLeft(), console=console, transient=True) as progress:
        task = progress.add_task("scoring…", total=len(planned), known=known)

        def on_step(step: Step) -> None:
            i = planned.index(step)
            after = sum(typical.get(s.name, 0.0) for s in planned[i + 1 :])
            progress.update(
                task,
                description=f"step {i + 1} of {len(planned)}: {step.name} — {step.description}",
                current=typical.get(step.name, 0.0),
                since=perf_counter(),
                after=after,
            )

        def on_done(result: StepResult) -> None:
            progress.advance(task)

        return run_pipeline(ws, only, on_step, started_by=started_by, on_done=on_done)


class _TimeLeft(ProgressColumn):
    """About how long the run still takes, by the steps' recent durations."""

    def render(self, task: Task) -> Text:
        f = task.fields
        if not f.get("known") or "since" not in f:
            return Text("")
        left = max(f["current"] - (perf_counter() - f["since"]), 0.0) + f["after"]
        return Text(f"about {_duration(left)} left", style="progress.remaining")


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 60:
        return f"{max(s, 1)} s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"
