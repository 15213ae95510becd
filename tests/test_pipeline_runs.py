"""The run log: every step's outcome is kept, a failed run shows where it stopped, and
the recent durations give ``socialcrm score`` its estimate of the time left."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from rich.console import Console

from socialcrm import pipeline
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.runs import expected_seconds, recent_runs
from socialcrm.pipeline import Step, run_pipeline, run_with_progress
from socialcrm.store.run import RunContext
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
        run_pipeline(ws, full=True)
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
    results = run_with_progress(ws, console, started_by="cli", full=True)
    assert [r.written for r in results] == [{"alpha": 3, "beta": 4}, {}, {"gamma": 1}]
    assert [r.started_by for r in _runs(ws)] == ["cli", "cli"]


# -- incremental runs: a step whose inputs are unchanged is skipped -------------------------
def _copying_steps(calls: list[str]) -> list[Step]:
    """``copy`` reads ``src`` and writes ``dst``; ``dated`` reads the run's date; ``appdb``
    stands for a step that reads the app database."""

    def copy(ws: Workspace, ctx: object) -> dict[str, int]:
        calls.append("copy")
        return {"dst": ws.warehouse.write("dst", ws.warehouse.read_arrow("src"))}

    def dated(ws: Workspace, ctx: RunContext) -> dict[str, int]:
        calls.append("dated")
        day = pa.table({"day": [ctx.run_date]})
        return {"days": ws.warehouse.write("days", day)}

    def appdb(ws: Workspace, ctx: object) -> dict[str, int]:
        calls.append("appdb")
        return {}

    return [
        Step("copy", "src to dst", copy, needs=("src",)),
        Step("dated", "today's date", dated, needs=()),
        Step("appdb", "reads the app database", appdb, needs=(), always=pipeline.APP_DATABASE),
    ]


NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_an_unchanged_step_is_skipped_and_says_since_when(ws: Workspace, monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(pipeline, "STEPS", _copying_steps(calls))
    ws.warehouse.write("src", pa.table({"x": [1, 2]}))
    first = run_pipeline(ws, started_at=NOON)
    assert calls == ["copy", "dated", "appdb"]
    assert [r.why for r in first] == ["no earlier run recorded"] * 2 + [pipeline.APP_DATABASE]
    calls.clear()
    again = run_pipeline(ws, started_at=NOON + timedelta(hours=1))  # same day
    assert calls == ["appdb"]
    assert [r.skipped for r in again] == ["unchanged since run 1", "unchanged since run 1", None]
    calls.clear()
    run_pipeline(ws, started_at=NOON + timedelta(hours=2))
    assert calls == ["appdb"]  # a skip carries the run it is unchanged since
    [latest, *_] = _runs(ws)
    assert [x.detail for x in latest.steps[:2]] == ["unchanged since run 1"] * 2
    copied = latest.steps[0].inputs
    assert copied["run"] == 1 and copied["tables"] == {"src": ws.warehouse.version("src")}
    assert copied["outputs"] == {"dst": ws.warehouse.version("dst")}
    assert latest.steps[1].inputs["clock"] == {"run_date": "2026-12-07"}
    assert latest.steps[2].inputs is None  # the app database's steps keep none


def test_a_changed_input_or_output_or_day_reruns_only_its_step(ws: Workspace, monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(pipeline, "STEPS", _copying_steps(calls))
    ws.warehouse.write("src", pa.table({"x": [1, 2]}))
    run_pipeline(ws, started_at=NOON)
    calls.clear()
    ws.warehouse.write("src", pa.table({"x": [1, 2, 3]}))  # a new version of an input
    results = run_pipeline(ws, started_at=NOON)
    assert calls == ["copy", "appdb"]
    assert results[0].why == "src changed"
    assert ws.warehouse.read_arrow("dst").num_rows == 3
    calls.clear()
    ws.warehouse.write("dst", pa.table({"x": [9]}))  # its output replaced behind its back
    results = run_pipeline(ws, started_at=NOON)
    assert (calls, results[0].why) == (["copy", "appdb"], "dst was rewritten since")
    assert ws.warehouse.read_arrow("dst").num_rows == 3
    calls.clear()
    results = run_pipeline(ws, started_at=NOON + timedelta(days=1))  # the step read the date
    assert calls == ["dated", "appdb"]
    assert results[1].why == "run_date changed (2026-12-07 -> 2026-12-08)"
    calls.clear()
    run_pipeline(ws, started_at=NOON + timedelta(days=1), full=True)
    assert calls == ["copy", "dated", "appdb"]


def test_a_changed_rules_file_or_setting_reruns(ws: Workspace, monkeypatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(pipeline, "STEPS", _copying_steps(calls))
    ws.warehouse.write("src", pa.table({"x": [1]}))
    rules = ws.settings.home / "my-rules.toml"
    rules.write_text("[tiers]\n")
    monkeypatch.setattr(ws, "settings", ws.settings.model_copy(update={"targeting_rules": rules}))
    run_pipeline(ws, started_at=NOON)
    calls.clear()
    rules.write_text("[tiers]\ntop = 0.1\n")
    results = run_pipeline(ws, started_at=NOON)
    assert calls == ["copy", "dated", "appdb"]
    assert results[0].why == "my-rules.toml changed"
    calls.clear()
    changed = ws.settings.model_copy(update={"relationship_half_life_days": 30.0})
    monkeypatch.setattr(ws, "settings", changed)
    results = run_pipeline(ws, started_at=NOON)
    assert (calls, results[0].why) == (["copy", "dated", "appdb"], "the settings changed")


def test_a_failed_step_is_not_skipped_next_time(ws: Workspace, monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "STEPS", _steps(fail=True))
    with pytest.raises(RuntimeError):
        run_pipeline(ws, started_at=NOON)
    monkeypatch.setattr(pipeline, "STEPS", _steps())
    results = run_pipeline(ws, started_at=NOON)
    assert [(r.name, r.skipped) for r in results] == [
        ("first", "unchanged since run 1"),
        ("second", "missing no_such_table"),
        ("third", None),
    ]


def test_the_graph_threshold_lets_a_small_change_of_follows_pass(
    ws: Workspace, monkeypatch
) -> None:
    calls: list[str] = []

    def graph(ws: Workspace, ctx: object) -> dict[str, int]:
        calls.append("graph")
        return {"ranks": ws.warehouse.write("ranks", ws.warehouse.read_arrow("follows"))}

    step = Step("graph", "reads follows", graph, needs=(), tolerates=("follows",))
    monkeypatch.setattr(pipeline, "STEPS", [step])
    ws.warehouse.write("follows", pa.table({"x": list(range(100))}))
    run_pipeline(ws, started_at=NOON)
    ws.warehouse.write("follows", pa.table({"x": list(range(102))}))  # 2% more
    [rerun] = run_pipeline(ws, started_at=NOON)  # default threshold 0: any change reruns
    assert (rerun.skipped, rerun.why) == (None, "follows changed")
    ws.warehouse.write("follows", pa.table({"x": list(range(104))}))  # 2% since it ran
    lenient = ws.settings.model_copy(update={"incremental_graph_threshold": 0.03})
    monkeypatch.setattr(ws, "settings", lenient)
    [passed] = run_pipeline(ws, started_at=NOON)
    assert passed.skipped == "unchanged since run 2; follows moved 1.96%, under the threshold"
    ws.warehouse.write("follows", pa.table({"x": list(range(106))}))  # 3.9% since it ran
    [beyond] = run_pipeline(ws, started_at=NOON)
    assert (beyond.skipped, beyond.why) == (None, "follows changed")
    assert calls == ["graph"] * 3
