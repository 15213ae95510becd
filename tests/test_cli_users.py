"""``socialcrm users …`` through the real command line app, on a real app database.

In-process (Typer's runner) rather than a subprocess per command: the same parsing,
prompts and exit codes, without paying the interpreter's start-up eight times.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.config import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings():  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(home: Path, *args: str, stdin: str = "") -> SimpleNamespace:
    get_settings.cache_clear()
    res = CliRunner().invoke(
        app, ["users", *args], input=stdin, env={"SOCIALCRM_HOME": str(home), "COLUMNS": "200"}
    )
    return SimpleNamespace(returncode=res.exit_code, stdout=res.stdout, stderr=res.stderr)


def test_create_list_token_revoke(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    made = run(
        home,
        "create",
        "--role",
        "admin",
        "ops@example.com",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert made.returncode == 0, made.stderr
    # Asked twice at the prompt; a mismatch is refused.
    typo = run(home, "create", "x@example.com", stdin="a long enough password\nanother one!!\n" * 3)
    assert typo.returncode != 0
    listed = json.loads(run(home, "list", "--json").stdout)
    assert [(u["email"], u["role"]) for u in listed] == [("ops@example.com", "admin")]
    token = run(home, "token", "ops@example.com", "--role", "viewer")
    assert token.returncode == 0 and token.stdout.strip().startswith("scrm_")
    tokens = json.loads(run(home, "tokens", "--json").stdout)
    assert tokens[0]["role"] == "viewer" and token.stdout.strip() not in json.dumps(tokens)
    assert run(home, "revoke", str(tokens[0]["id"])).returncode == 0
    assert json.loads(run(home, "tokens", "--json").stdout)[0]["revoked"] is True


def test_errors_are_one_line(tmp_path: Path) -> None:
    bad = run(
        tmp_path / "ws",
        "create",
        "--role",
        "root",
        "a@b.io",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: unknown role 'root'; roles: viewer, agent, analyst, admin"
    ]
    help_text = run(tmp_path / "ws", "create", "--help").stdout
    assert "Example:" in help_text


@pytest.mark.parametrize("command", [["users", "list"], ["inbox", "list"], ["ideas", "list"]])
def test_an_unreachable_app_database_is_one_line_without_the_password(
    tmp_path: Path, command: list[str]
) -> None:
    """Port 1 on loopback refuses at once: the error names the problem, not the secret."""
    env = {
        **os.environ,
        "SOCIALCRM_HOME": str(tmp_path),
        "SOCIALCRM_DATABASE_URL": "postgresql+psycopg://bob:s3cret-pw@127.0.0.1:1/crm",
    }
    run = subprocess.run(
        [sys.executable, "-m", "socialcrm.cli", *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot open the app database:")
    assert "refused" in lines[0].lower()
    assert "s3cret-pw" not in run.stderr + run.stdout and "Traceback" not in run.stderr
