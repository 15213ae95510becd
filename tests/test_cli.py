"""The command line, run as a user runs it: a real process, real files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.store.test_ingest import MESSY_ORDERS


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOCIALCRM_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "socialcrm.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ingest_json_report(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(MESSY_ORDERS)
    res = run(tmp_path / "ws", "ingest", "orders", str(orders), "--json")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert {k: report[k] for k in ("table", "accepted", "rejected", "unchanged", "updated")} == {
        "table": "orders",
        "accepted": 3,
        "rejected": 10,
        "unchanged": 0,
        "updated": 0,
    }
    assert {"line": 6, "field": "currency", "reason": "'ABC' is not an ISO 4217 currency code"} in (
        report["rejects"]
    )
    again = json.loads(run(tmp_path / "ws", "ingest", "orders", str(orders), "--json").stdout)
    assert (again["accepted"], again["unchanged"]) == (0, 3)


def test_human_report_and_rejects_listing(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(MESSY_ORDERS)
    res = run(tmp_path / "ws", "ingest", "orders", str(orders))
    assert "accepted 3, updated 0, unchanged 0, rejected 10" in res.stdout
    listed = json.loads(run(tmp_path / "ws", "rejects", "--table", "orders", "--json").stdout)
    assert [r["line"] for r in listed] == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]


def test_strict_exits_non_zero_and_loads_nothing(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(MESSY_ORDERS)
    res = run(tmp_path / "ws", "ingest", "orders", str(orders), "--strict")
    assert res.returncode == 1
    tables = json.loads(run(tmp_path / "ws", "tables", "--json").stdout)
    assert "orders" not in [t["name"] for t in tables]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("ingest", "ordrs", "x.csv"), "unknown table 'ordrs'"),
        (("ingest", "orders", "does-not-exist.csv"), "no such file"),
        (("ingest", "orders", "x.csv", "--format", "xml"), "unknown format 'xml'"),
        (("score", "--step", "nope"), "unknown pipeline steps: nope"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path: Path, args, message: str) -> None:
    res = run(tmp_path / "ws", *args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert len(res.stderr.strip().splitlines()) == 1


def test_score_writes_rfm(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(MESSY_ORDERS)
    run(tmp_path / "ws", "ingest", "orders", str(orders))
    res = run(tmp_path / "ws", "score", "--json")
    assert res.returncode == 0, res.stderr
    steps = {s["name"]: s for s in json.loads(res.stdout)}
    # o1 (c1), o2 (guest email) and o12 (a refund only: no purchase) -> 2 buyers
    assert steps["rfm"]["written"] == {"customer_rfm": 2}
    # no posts loaded: listening is skipped, and says why
    assert steps["listening"]["skipped"] == "missing posts"


@pytest.mark.parametrize(
    "command",
    [
        "ingest",
        "score",
        "demo",
        "serve",
        "tables",
        "rejects",
        "schema",
        "clv fit",
        "clv predict",
        "clv check",
        "sentiment",
        "listen run",
        "listen report",
    ],
)
def test_every_command_has_help_with_an_example(tmp_path: Path, command: str) -> None:
    res = run(tmp_path / "ws", *command.split(), "--help")
    assert res.returncode == 0
    assert "Example:" in res.stdout
