"""``socialcrm ideas | webhooks`` through the real command line app (Typer's runner)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.config import get_settings
from tests.collaborating.conftest import build
from tests.outbound.receiver import receiver


@pytest.fixture(autouse=True)
def _fresh_settings():  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(home: Path, *args: str, **env: str) -> SimpleNamespace:
    get_settings.cache_clear()
    res = CliRunner().invoke(
        app, list(args), env={"SOCIALCRM_HOME": str(home), "COLUMNS": "200", **env}
    )
    return SimpleNamespace(code=res.exit_code, out=res.stdout, err=res.stderr)


def test_every_command_has_an_example() -> None:
    for group, cmds in {
        "ideas": [
            "list", "show", "submit", "sync", "confirm", "status", "vote", "duplicates",
            "merge", "unmerge", "feedback-request", "feedback-answer",
        ],
        "webhooks": ["add", "list", "deliver", "log", "replay", "enable", "notices"],
    }.items():  # fmt: skip
        assert "Example:" in run(Path("/nonexistent"), group, "--help").out
        for c in cmds:
            assert "Example:" in run(Path("/nonexistent"), group, c, "--help").out, c


def test_sync_confirm_ship_and_deliver_from_the_shell(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    build(home / "warehouse")
    synced = json.loads(run(home, "ideas", "sync", "--json").out)
    assert synced == {"proposed": 2, "skipped": 0, "not_ideas": 0, "not_addressed": 2}
    assert json.loads(run(home, "ideas", "sync", "--json").out)["proposed"] == 0
    proposed = json.loads(run(home, "ideas", "list", "--proposed", "--json").out)
    first = min(i["id"] for i in proposed)
    bad = run(home, "ideas", "status", str(first), "planned", "--reason", "soon")
    assert bad.code != 0 and bad.err.count("\n") == 1 and "confirm it first" in bad.err
    assert run(home, "ideas", "confirm", str(first)).code == 0
    with receiver([]) as r:
        added = json.loads(run(home, "webhooks", "add", r.url, "--allow-host", "--json").out)
        assert added["secret"].startswith("whsec_")
        shipped = run(home, "ideas", "status", str(first), "shipped", "--reason", "v2", "--json")
        assert json.loads(shipped.out) == [
            {"recipient": "k1", "channel": "email", "status": "queued"}
        ]
        rep = json.loads(
            run(home, "webhooks", "deliver", "--json", SOCIALCRM_WEBHOOK_BACKOFF_SECONDS="0").out
        )
    assert rep["delivered"] == 1 and len(r.got) == 1
    assert added["secret"] not in run(home, "webhooks", "list").out  # shown once only
    log = json.loads(run(home, "webhooks", "log", "--json").out)
    assert log[0]["status"] == "delivered"
    missing = run(home, "ideas", "show", "999")
    assert missing.code != 0 and "no idea 999" in missing.err
