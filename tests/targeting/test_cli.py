"""`socialcrm segments | actions`: JSON shapes, one customer, one-line errors, help."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from tests.targeting.brand import ScoredBrand

runner = CliRunner()


@pytest.fixture
def env(brand: ScoredBrand, monkeypatch) -> ScoredBrand:
    from socialcrm.config import get_settings

    monkeypatch.setenv("SOCIALCRM_HOME", str(brand.home))
    monkeypatch.setenv("SOCIALCRM_PHONE_REGION", "DE")
    get_settings.cache_clear()
    yield brand
    get_settings.cache_clear()


def test_segments_json(env: ScoredBrand) -> None:
    r = runner.invoke(app, ["segments", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["segments"]
    with env.open() as ws:
        n = ws.warehouse.rows("customer_segments")
    assert sum(x["customers"] for x in rows) == n
    assert len({x["run_date"] for x in rows}) == 1


def test_one_customer_segment_and_actions(env: ScoredBrand) -> None:
    with env.open() as ws:
        acts = ws.warehouse.read_arrow("customer_actions").to_pandas()
    cid = acts[acts["rank"] == 2].customer_id.iloc[0]  # someone with several actions
    r = runner.invoke(app, ["actions", "--customer", cid, "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["actions"]
    assert [x["rank"] for x in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 2
    assert all(x["reason"] for x in rows)
    r = runner.invoke(app, ["segments", "--customer", cid, "--json"])
    assert json.loads(r.stdout)["segment"] == rows[0]["segment"]
    r = runner.invoke(app, ["actions", "--limit", "3"])
    assert r.exit_code == 0 and r.stdout.count("#1 ") == 3


@pytest.mark.parametrize(
    "args", [["actions", "--customer", "nobody"], ["segments", "--customer", "x"]]
)
def test_errors_are_one_line(env: ScoredBrand, args) -> None:
    r = runner.invoke(app, args)
    assert r.exit_code != 0
    assert r.stderr.strip().count("\n") == 0 and "error:" in r.stderr
    assert "Traceback" not in r.output


def test_missing_tables_say_what_to_do(tmp_path, monkeypatch) -> None:
    from socialcrm.config import get_settings

    monkeypatch.setenv("SOCIALCRM_HOME", str(tmp_path / "empty"))
    get_settings.cache_clear()
    r = runner.invoke(app, ["actions", "--json"])
    get_settings.cache_clear()
    assert r.exit_code == 2 and "socialcrm score" in r.stderr


@pytest.mark.parametrize("command", ["segments", "actions", "communities"])
def test_help_has_example(command: str) -> None:
    r = runner.invoke(app, [command, "--help"])
    assert r.exit_code == 0 and "Example:" in r.stdout


def test_communities_json(env: ScoredBrand) -> None:
    r = runner.invoke(app, ["communities", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["communities"]
    assert rows and all(x["recommendation"] for x in rows)


def test_audience_export_csv(env: ScoredBrand, tmp_path) -> None:
    f = tmp_path / "out.csv"
    r = runner.invoke(app, ["audience", "export", "high_value_buyer", "--out", str(f), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["rows"] == len(f.read_text().splitlines()) - 1
    r = runner.invoke(app, ["audience", "export", "high_value_buyer", "--webhook", "http://x"])
    assert r.exit_code == 2 and "AUDIENCE_WEBHOOK_SECRET" in r.stderr
    r = runner.invoke(app, ["audience", "export", "--help"])
    assert "Example:" in r.stdout


def test_audience_push_refuses_a_loopback_webhook_unless_the_operator_allows_it(
    env: ScoredBrand, tmp_path, monkeypatch
) -> None:
    from socialcrm.config import get_settings
    from socialcrm.outbound.urls import ALLOW_HOSTS_ENV
    from tests.outbound.receiver import receiver

    monkeypatch.setenv("SOCIALCRM_AUDIENCE_WEBHOOK_SECRET", "s3cret")
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)
    f = tmp_path / "a.csv"
    export = ["audience", "export", "high_value_buyer", "--json"]
    with receiver([]) as r:
        get_settings.cache_clear()
        refused = runner.invoke(app, [*export, "--out", str(f), "--webhook", r.url])
        assert refused.exit_code == 2 and "webhook URL refused" in refused.stderr
        assert "127.0.0.1 is a loopback address" in refused.stderr
        assert r.got == [] and not f.exists()  # refused before anything is read or written
        allowed = runner.invoke(app, [*export, "--webhook", r.url, "--allow-host"])
        assert allowed.exit_code == 0, allowed.output
        report = json.loads(allowed.stdout)
        assert sum(d["rows"] for d in report["deliveries"]) == report["rows"] > 0
        assert len(r.got) == len(report["deliveries"])
        monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")  # the standing allow-list
        get_settings.cache_clear()
        listed = runner.invoke(app, [*export, "--webhook", r.url])
        assert listed.exit_code == 0, listed.output
        assert json.loads(listed.stdout)["deliveries"] == report["deliveries"]
    get_settings.cache_clear()
    alone = runner.invoke(app, [*export, "--out", str(f), "--allow-host"])
    assert alone.exit_code == 2 and "--allow-host goes with --webhook" in alone.stderr
