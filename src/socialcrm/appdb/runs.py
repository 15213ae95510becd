"""The run log: each pipeline run's steps, durations, row counts and failures.

Written step by step, each in its own short transaction, so a run that dies half-way
still shows what it finished and where it stopped; read by the admin page and by
``socialcrm score``, which estimates the time left from the steps' recent durations and
skips a step whose recorded inputs (:func:`last_inputs`) are all unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from socialcrm.appdb.models import PipelineRun, PipelineRunStep, utcnow

HISTORY = 5
"""Recent successful runs of a step whose median duration estimates the next one."""


def start_run(s: Session, started_by: str, steps_planned: int) -> int:
    run = PipelineRun(started_by=started_by[:100], steps_planned=steps_planned, status="running")
    s.add(run)
    s.flush()
    return run.id


def record_step(
    s: Session,
    run_id: int,
    position: int,
    step: str,
    status: str,
    started_at: datetime,
    seconds: float | None,
    rows: dict[str, int] | None = None,
    detail: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> None:
    s.add(
        PipelineRunStep(
            run_id=run_id,
            position=position,
            step=step,
            status=status,
            started_at=started_at,
            seconds=seconds,
            rows=rows,
            detail=detail[:2000] if detail else None,
            inputs=inputs,
        )
    )


def finish_run(s: Session, run_id: int, status: str, error: str | None = None) -> None:
    run = s.get(PipelineRun, run_id)
    if run is None:
        return
    run.status = status
    run.finished_at = utcnow()
    run.error = error[:2000] if error else None


def recent_runs(s: Session, limit: int = 20, offset: int = 0) -> list[PipelineRun]:
    """The newest runs first, with their steps loaded."""
    q = (
        select(PipelineRun)
        .options(selectinload(PipelineRun.steps))
        .order_by(PipelineRun.started_at.desc(), PipelineRun.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return list(s.scalars(q))


def count_runs(s: Session) -> int:
    return int(s.scalar(select(func.count()).select_from(PipelineRun)) or 0)


def expected_seconds(s: Session, steps: Iterable[str]) -> dict[str, float]:
    """Median seconds of each step's last successful runs; steps never run are absent."""
    names = list(steps)
    q = (
        select(PipelineRunStep.step, PipelineRunStep.seconds)
        .where(PipelineRunStep.step.in_(names), PipelineRunStep.status == "ok")
        .order_by(PipelineRunStep.id.desc())
    )
    seen: dict[str, list[float]] = {}
    for step, seconds in s.execute(q):
        got = seen.setdefault(step, [])
        if len(got) < HISTORY and seconds is not None:
            got.append(float(seconds))
    return {step: median(v) for step, v in seen.items() if v}


def last_inputs(s: Session, steps: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each step's inputs as of its latest run that recorded them (ok, or skipped as
    unchanged, which carries them on); steps without one are absent."""
    names = list(steps)
    latest = (
        select(func.max(PipelineRunStep.id))
        .where(
            PipelineRunStep.step.in_(names),
            PipelineRunStep.inputs.is_not(None),
            PipelineRunStep.status.in_(("ok", "skipped")),
        )
        .group_by(PipelineRunStep.step)
    )
    q = select(PipelineRunStep.step, PipelineRunStep.inputs).where(PipelineRunStep.id.in_(latest))
    return {str(step): inputs for step, inputs in s.execute(q) if isinstance(inputs, dict)}
