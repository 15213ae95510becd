"""The pipeline: ordered steps from raw tables to derived tables.

Each domain owns its steps: a plain function ``step(ws, ctx)`` that reads warehouse
tables through the engine, writes the tables it owns and returns their row counts. This
module only orders them in :data:`STEPS` and builds the run's :class:`RunContext` once;
``socialcrm score`` runs them in order.

Runs are incremental: a step is skipped when nothing it read last time changed since
(:mod:`socialcrm.store.fingerprints` says what it read; the run log keeps it), and its
tables still hold what it wrote. ``full=True`` (``socialcrm score --full``) runs all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from time import perf_counter
from typing import Any

from rich.console import Console
from rich.progress import ProgressColumn, Task
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from socialcrm.appdb import runs
from socialcrm.appdb.models import utcnow
from socialcrm.collaborating.ideas import step_ideas
from socialcrm.connecting.communities import step_communities
from socialcrm.connecting.households import step_households
from socialcrm.connecting.identity import step_identities
from socialcrm.connecting.step import step_connecting
from socialcrm.listening.communities import step_community_listening
from socialcrm.listening.step import step_listening
from socialcrm.programs.learning import step_learning
from socialcrm.programs.loyalty import step_customer_rewards
from socialcrm.programs.step import step_amplifiers, step_campaign_feedback
from socialcrm.responding.step import step_inbox
from socialcrm.store.fingerprints import Reads, environment, recording, workspace_files
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
    always: str | None = None
    """Why the step runs on every run even when its warehouse inputs are unchanged (it
    reads the app database, whose tables have no versions to compare)."""
    files: tuple[str, ...] = ()
    """Workspace files or folders (under the home) whose content the step depends on
    besides the rule files: a model it saved and reuses, so that it stays comparable."""
    tolerates: tuple[str, ...] = ()
    """Input tables whose row count may move by ``incremental_graph_threshold`` without
    the step being rerun: the graph steps and the tables their edges come from (follows,
    and posts for replies, reshares and mentions)."""


@dataclass(frozen=True)
class StepResult:
    name: str
    written: dict[str, int]
    seconds: float
    skipped: str | None = None
    why: str | None = None
    """Why a step that ran was not skipped as unchanged (what changed since it last ran)."""


APP_DATABASE = "reads the app database"


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
        always=APP_DATABASE,
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
        files=("models",),
    ),
    Step(
        "connecting",
        "Consent-gated social graph: influence per handle and customer, communities",
        step_connecting,
        needs=(),
        tolerates=("follows", "posts", "posts_enriched"),
    ),
    Step(
        "communities",
        "Per community: size, value, share at risk, topics and sentiment of its members",
        step_communities,
        needs=("community_structure",),
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
        tolerates=("follows", "posts"),
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
        always=APP_DATABASE,
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
        always=APP_DATABASE,
    ),
    Step(
        "inbox",
        "Engagement inbox: conversations from new posts (idempotent), priorities, SLA breaches",
        step_inbox,
        needs=("posts_enriched",),
        always=APP_DATABASE,
    ),
]


def run_pipeline(
    ws: Workspace,
    only: list[str] | None = None,
    on_step: Callable[[Step], None] | None = None,
    *,
    started_by: str = "cli",
    on_done: Callable[[StepResult], None] | None = None,
    full: bool = False,
    started_at: datetime | None = None,
) -> list[StepResult]:
    """Run every step (or those named in ``only``) in order, logging the run.

    Each step's outcome is written to the app database's run log as it ends (see
    :mod:`socialcrm.appdb.runs`), so the admin page shows a failed or killed run up to
    where it stopped. A run log that cannot be written is reported and does not stop the
    run: the warehouse, not the log, is what the run is for (without it every step runs).

    A step is skipped as "unchanged since run N" when its last recorded inputs all hold
    (:func:`_changed`); ``full`` runs every step. ``started_at`` is the run's "now"
    (default: the current time), for reruns as of a given moment.
    """
    unknown = set(only or []) - {s.name for s in STEPS}
    if unknown:
        raise ValueError(f"unknown pipeline steps: {', '.join(sorted(unknown))}")
    planned = [s for s in STEPS if not only or s.name in only]
    log = _RunLog(ws, started_by, len(planned))
    results = []
    ctx = run_context(ws, started_at)
    env = environment(ws.settings)
    last = {} if full else log.last_inputs([s.name for s in planned])
    for position, step in enumerate(planned):
        if on_step:
            on_step(step)
        started = utcnow()
        missing = [t for t in step.needs if not ws.warehouse.exists(t)]
        if missing:
            result = StepResult(step.name, {}, 0.0, f"missing {', '.join(missing)}")
            log.step(position, result, started)
            results.append(result)
            if on_done:
                on_done(result)
            continue
        previous = last.get(step.name)
        why = "--full" if full else _changed(ws, step, previous, env, ctx)
        if why is None and previous is not None:
            note = _tolerated(ws, step, previous)
            result = StepResult(
                step.name, {}, 0.0, f"unchanged since run {previous.get('run')}{note}"
            )
            log.step(position, result, started, previous)
            ctx = ctx.after(previous.get("reported", []))
        else:
            step_ctx = ctx.noting_clock()
            t0 = perf_counter()
            try:
                with recording(ws.warehouse.root) as reads:
                    written = step.run(ws, step_ctx)
            except BaseException as e:
                log.failed(position, step.name, started, perf_counter() - t0, e)
                raise
            result = StepResult(step.name, written, perf_counter() - t0, why=why)
            inputs = None
            if step.always is None and log.run_id is not None:
                inputs = _inputs(ws, step, env, reads, step_ctx, written, log.run_id)
            log.step(position, result, started, inputs)
            ctx = ctx.after(written)
        results.append(result)
        if on_done:
            on_done(result)
    log.finished()
    return results


def _inputs(
    ws: Workspace,
    step: Step,
    env: dict[str, Any],
    reads: Reads,
    ctx: RunContext,
    written: dict[str, int],
    run_id: int,
) -> dict[str, Any]:
    """What the step just depended on, to be compared by the next run (:func:`_changed`).

    A table the step both read and wrote (its own previous output, for stable ids or
    history) is kept as an output only: the next run needs it to be as this step left it.
    """
    clock = ctx.clock()
    used = ctx.clock_used or set()
    tables = {t: v for t, v in reads.read.items() if t not in reads.wrote}
    return {
        "run": run_id,
        **env,
        "clock": {k: clock[k] for k in sorted(used)},
        "tables": dict(sorted(tables.items())),
        "outputs": dict(sorted(reads.wrote.items())),
        "own_files": workspace_files(ws.settings.home, step.files),
        "reported": sorted(written),
        "rows": {t: ws.warehouse.rows(t) for t in step.tolerates if tables.get(t)},
    }


def _changed(
    ws: Workspace,
    step: Step,
    previous: dict[str, Any] | None,
    env: dict[str, Any],
    ctx: RunContext,
) -> str | None:
    """What changed since the step last ran (so it runs again), or None when nothing did.

    Nothing changed when the code, the settings, the rule files, the clock values the
    step read, and the versions of the tables it read are all as they were, and the
    tables it wrote still hold the versions it wrote.
    """
    if step.always is not None:
        return step.always
    if previous is None:
        return "no earlier run recorded"
    if previous.get("code") != env["code"]:
        return "the code changed"
    if previous.get("settings") != env["settings"]:
        return "the settings changed"
    files: dict[str, str | None] = previous.get("files", {})
    for path in sorted(set(files) | set(env["files"])):
        if files.get(path) != env["files"].get(path):
            return f"{Path(path).name} changed"
    own = previous.get("own_files", {})
    now = workspace_files(ws.settings.home, step.files)
    for path in sorted(set(own) | set(now)):
        if own.get(path) != now.get(path):
            return f"{path} changed"
    clock = ctx.clock()
    for key, value in previous.get("clock", {}).items():
        if clock.get(key) != value:
            return f"{key} changed ({value} -> {clock.get(key)})"
    wh = ws.warehouse
    threshold = ws.settings.incremental_graph_threshold
    rows: dict[str, int] = previous.get("rows", {})
    for table, version in previous.get("tables", {}).items():
        if wh.version(table) == version:
            continue
        small = table in step.tolerates and table in rows
        if small and _moved(wh.rows(table), rows[table]) <= threshold:
            continue
        return f"{table} changed"
    for table, version in previous.get("outputs", {}).items():
        if wh.version(table) != version:
            return f"{table} was rewritten since"
    return None


def _moved(now: int, then: int) -> float:
    """The share by which a row count moved (1.0 from or to nothing)."""
    return abs(now - then) / then if then else (0.0 if now == 0 else 1.0)


def _tolerated(ws: Workspace, step: Step, previous: dict[str, Any]) -> str:
    """Words for a skip that let a small change pass (see ``incremental_graph_threshold``)."""
    notes = []
    for table, then in previous.get("rows", {}).items():
        if ws.warehouse.version(table) != previous.get("tables", {}).get(table):
            share = _moved(ws.warehouse.rows(table), then)
            notes.append(f"; {table} moved {share:.2%}, under the threshold")
    return "".join(notes)


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

    def last_inputs(self, steps: list[str]) -> dict[str, dict[str, Any]]:
        """Each step's inputs when it last ran (empty without a run log: all steps run)."""
        if self.db is None:
            return {}
        try:
            with self.db.session() as s:
                return runs.last_inputs(s, steps)
        except (SQLAlchemyError, OSError) as e:
            _log.warning("the run log cannot be read (%s); every step runs", _first_line(e))
            return {}

    def step(
        self,
        position: int,
        r: StepResult,
        started: datetime,
        inputs: dict[str, Any] | None = None,
    ) -> None:
        status = "skipped" if r.skipped else "ok"
        self._write(
            lambda s, run: runs.record_step(
                s, run, position, r.name, status, started, r.seconds, r.written, r.skipped, inputs
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
    ws: Workspace,
    console: Console,
    only: list[str] | None = None,
    started_by: str = "cli",
    full: bool = False,
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

        return run_pipeline(ws, only, on_step, started_by=started_by, on_done=on_done, full=full)


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
