"""The run log: every step's outcome is kept, a failed run shows where it stopped, and
the recent durations give ``socialcrm score`` its estimate of the time left."""

from __future__ import annotations

import io
import logging

import pytest
from rich.console import Console

from socialcrm import pipeline
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.runs import expected_seconds, recent_runs
from socialcrm.pipeline import Step, run_pipeline, run_with_progress
from socialcrm.store.workspace import Workspace


def _steps(fail: bool = False) -> list[Step]:
    def writes(ws: object, ctx: object) -> dict[str, int]:
        return {"alpha": 3, "beta": 4}

    def breaks(ws: object, ctx: object) -> dict[str, int]:
        if fail:
            raise RuntimeError("disk full\nsecond line")
        return {"gamma": 1}

    return [
        Step("first", "writes two tables", writes, needs=()),
        Step("second", "needs a table nobody has", writes, needs=("no_such_table",)),
        Step("third", "may fail", breaks, needs=()),
    ]


def _runs(ws: Workspace) -> list:
    db = AppDB(ws.settings.resolved_database_url)
    try:
        with db.session() as s:
            return recent_runs(s)
    finally:
        db.close()


def test_a_run_logs_each_step_with_its_rows(ws: Workspace, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "STEPS", _steps())
    run_pipeline(ws, started_by="test")
    [run] = _runs(ws)
    assert (run.status, run.started_by, run.steps_planned) == ("ok", "test", 3)
    assert run.finished_at is not None
    got = [(x.position, x.step, x.status, x.rows, x.detail) for x in run.steps]
    assert got == [
        (0, "first", "ok", {"alpha": 3, "beta": 4}, None),
        (1, "second", "skipped", {}, "missing no_such_table"),
        (2, "third", "ok", {"gamma": 1}, None),
    ]


def test_a_failed_step_is_logged_and_the_error_still_raised(ws: Workspace, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "STEPS", _steps(fail=True))
    with pytest.raises(RuntimeError, match="disk full"):
        run_pipeline(ws)
    [run] = _runs(ws)
    assert run.status == "failed"
    assert run.error == "third: RuntimeError: disk full"
    assert [x.status for x in run.steps] == ["ok", "skipped", "failed"]


def test_only_the_named_steps_are_planned(ws: Workspace, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "STEPS", _steps())
    run_pipeline(ws, ["third"])
    [run] = _runs(ws)
    assert run.steps_planned == 1
    assert [x.step for x in run.steps] == ["third"]


def test_expected_seconds_is_the_median_of_recent_successful_runs(
    ws: Workspace, monkeypatch
) -> None:
    monkeypatch.setattr(pipeline, "STEPS", _steps())
    for _ in range(3):
        run_pipeline(ws)
    db = AppDB(ws.settings.resolved_database_url)
    try:
        with db.session() as s:
            for run in recent_runs(s):
                for x, seconds in zip(run.steps, (10.0, 0.0, 2.0), strict=True):
                    x.seconds = seconds * run.id  # runs 1, 2, 3 -> medians of run 2
        with db.session() as s:
            typical = expected_seconds(s, ["first", "second", "third", "never"])
    finally:
        db.close()
    # skipped steps are no evidence of how long a step takes; unknown steps are absent
    assert typical == {"first": 20.0, "third": 4.0}


def test_an_unwritable_run_log_does_not_stop_the_run(
    ws: Workspace, monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pipeline, "STEPS", _steps())
    blocker = ws.settings.home.parent / "not-a-folder"
    blocker.write_text("a file where the database's folder should be")
    bad = ws.settings.model_copy(update={"database_url": f"sqlite:///{blocker}/app.db"})
    monkeypatch.setattr(ws, "settings", bad)
    with caplog.at_level(logging.WARNING, logger="socialcrm.pipeline"):
        results = run_pipeline(ws)
    assert [r.name for r in results] == ["first", "second", "third"]
    assert "the run log cannot be written" in caplog.text


def test_progress_run_gives_the_same_results_and_is_logged(ws: Workspace, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "STEPS", _steps())
    run_pipeline(ws)  # history, so the second run can estimate the time left
    console = Console(file=io.StringIO(), force_terminal=True, width=120)
    results = run_with_progress(ws, console, started_by="cli")
    assert [r.written for r in results] == [{"alpha": 3, "beta": 4}, {}, {"gamma": 1}]
    assert [r.started_by for r in _runs(ws)] == ["cli", "cli"]
