"""`socialcrm influence | plan | campaign`: JSON shapes, one-line errors, help."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app

runner = CliRunner()


@pytest.fixture
def edges(tmp_path):
    f = tmp_path / "edges.csv"
    rows = ["source,target"] + [f"hub,n{i}" for i in range(8)] + ["n1,n2", "x,y"]
    f.write_text("\n".join(rows) + "\n")
    return f


def test_seeds_json_shape(edges):
    r = runner.invoke(app, ["influence", "seeds", str(edges), "--k", "2", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert {"seeds", "expected_spread", "seconds"} <= set(doc)
    assert doc["seeds"][0] == "hub" and len(doc["seeds"]) == 2
    assert doc["expected_spread"] > 2 and isinstance(doc["seconds"], float)


def test_seeds_respects_exclusions_and_budget(edges, tmp_path):
    ex = tmp_path / "ex.txt"
    ex.write_text("hub\n")
    costs = tmp_path / "costs.csv"
    costs.write_text("node,cost\nn2,5\n")
    r = runner.invoke(
        app,
        [
            "influence",
            "seeds",
            str(edges),
            "--budget",
            "3",
            "--costs",
            str(costs),
            "--exclude",
            str(ex),
            "--model",
            "ic",
            "--p",
            "0.5",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert "hub" not in doc["seeds"] and "n2" not in doc["seeds"]
    assert doc["total_cost"] <= 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "2", "--model", "ic"], "needs a probability"),
        (["--k", "2", "--model", "zz"], "unknown model"),
        (["--k", "2", "--epsilon", "0.99"], "epsilon"),
        ([], "give --k"),
    ],
)
def test_seeds_errors_are_one_line(edges, args, message):
    r = runner.invoke(app, ["influence", "seeds", str(edges), *args])
    assert r.exit_code == 2
    assert message in r.stderr and r.stderr.count("\n") == 1
    assert "Traceback" not in r.output


def test_bad_edge_file_names_line_and_field(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("source,target,weight\na,b,0.1\nb,c,-3\n")
    r = runner.invoke(app, ["influence", "seeds", str(f), "--k", "1", "--json"])
    assert r.exit_code == 2
    assert "line 3" in r.stderr and "weight" in r.stderr


def test_handles_are_not_read_as_markup(tmp_path):
    f = tmp_path / "e.csv"
    f.write_text("source,target\n[red]evil,b\n[red]evil,c\n")
    r = runner.invoke(app, ["influence", "seeds", str(f), "--k", "1"])
    assert r.exit_code == 0, r.output
    assert "[red]evil" in r.stdout


def test_simulate_json(edges):
    r = runner.invoke(
        app,
        [
            "influence",
            "simulate",
            str(edges),
            "--seeds",
            "hub",
            "--model",
            "ic",
            "--p",
            "1",
            "--runs",
            "50",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["expected_spread"] == 9.0  # hub and n0..n7
    r = runner.invoke(app, ["influence", "simulate", str(edges), "--seeds", "nobody"])
    assert r.exit_code == 2 and "nobody" in r.stderr


def test_plan_json_and_chart(tmp_path):
    png = tmp_path / "plan.png"
    r = runner.invoke(app, ["plan", "--json", "--chart", str(png), "--baseline-rate", "0.1"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["email"]["conversions"] == pytest.approx(1800)
    assert doc["email"]["incremental_conversions"] == pytest.approx(1620)
    assert png.exists()
    r = runner.invoke(app, ["plan", "--click-rate", "2"])
    assert r.exit_code == 2 and "click rate" in r.stderr


@pytest.mark.parametrize(
    "cmd",
    [
        ["influence", "seeds"],
        ["influence", "simulate"],
        ["influence", "workspace"],
        ["plan"],
        ["campaign", "create"],
        ["campaign", "report"],
    ],
)
def test_help_has_an_example(cmd):
    r = runner.invoke(app, [*cmd, "--help"])
    assert r.exit_code == 0 and "Example:" in r.stdout


def test_campaign_report_unknown_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCIALCRM_HOME", str(tmp_path / "ws"))
    from socialcrm.config import get_settings

    get_settings.cache_clear()
    try:
        r = runner.invoke(app, ["campaign", "report", "nope"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 2 and "no campaigns" in r.stderr
