"""``socialcrm listen query add/list/edit/remove``: the contract a test harness drives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import AuditEntry
from socialcrm.cli import app
from socialcrm.config import Settings, get_settings

MASTODON = "mastodon:https://mastodon.social"
BLUESKY = "bluesky:https://public.api.bsky.app"


@pytest.fixture(autouse=True)
def _fresh_settings():  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(home: Path, *args: str) -> SimpleNamespace:
    get_settings.cache_clear()
    res = CliRunner().invoke(
        app, ["listen", "query", *args], env={"SOCIALCRM_HOME": str(home), "COLUMNS": "200"}
    )
    return SimpleNamespace(code=res.exit_code, out=res.stdout, err=res.stderr)


def listed(home: Path) -> list[dict[str, object]]:
    res = run(home, "list", "--json")
    assert res.code == 0, res.err
    return json.loads(res.out)  # type: ignore[no-any-return]


def test_add_list_edit_remove(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    assert listed(home) == []
    made = run(home, "add", "coffee", "--terms", '(coffee OR espresso) -decaf "flat white"',
               "--source", MASTODON, "--source", BLUESKY, "--lang", "en",
               "--needs-response")  # fmt: skip
    assert made.code == 0, made.err
    assert "coffee" in made.out
    assert run(home, "add", "tea", "--terms", "#tea", "--source", "rss:https://example.com/feed.xml",
               "--source", "file:/data/posts.jsonl").code == 0  # fmt: skip
    assert listed(home) == [
        {"name": "coffee", "terms": '(coffee OR espresso) -decaf "flat white"',
         "sources": [MASTODON, BLUESKY], "lang": "en", "needs_response": True},
        {"name": "tea", "terms": "#tea",
         "sources": ["rss:https://example.com/feed.xml", "file:/data/posts.jsonl"],
         "lang": None, "needs_response": False},
    ]  # fmt: skip
    hn = "hackernews:https://hn.algolia.com"
    edited = run(home, "edit", "coffee", "--terms", "coffee", "--lang", "any",
                 "--no-needs-response", "--source", hn)  # fmt: skip
    assert edited.code == 0, edited.err
    assert listed(home)[0] == {"name": "coffee", "terms": "coffee", "lang": None,
                               "sources": ["hackernews:https://hn.algolia.com"],
                               "needs_response": False}  # fmt: skip
    assert run(home, "edit", "tea", "--rename", "herbal tea").code == 0
    assert run(home, "remove", "coffee").code == 0
    assert [q["name"] for q in listed(home)] == ["herbal tea"]
    db = AppDB(Settings(home=home).resolved_database_url)
    with db.session() as s:
        actions = [a.action for a in s.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    db.close()
    assert actions == ["listening_query.create", "listening_query.create",
                       "listening_query.edit", "listening_query.edit",
                       "listening_query.remove"]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "q", "--terms", "coffee AND (tea", "--source", MASTODON],
         "this parenthesis is never closed at position 12"),
        (["add", "q", "--terms", "coffee", "--source", "twitter:https://x.com"],
         "is not a source"),
        (["add", "q", "--terms", "coffee", "--source", "mastodon:mastodon.social"],
         "must be an http:// or https:// URL"),
        (["add", "q", "--terms", "coffee", "--source", "rss:https://u:p@example.com/feed"],
         "credentials"),
        (["add", "q", "--terms", "coffee", "--source", MASTODON, "--lang", "english"],
         "not a language code"),
        (["add", "a/b", "--terms", "coffee", "--source", MASTODON], "cannot hold /"),
        (["edit", "nope", "--terms", "tea"], "no saved query is named 'nope'"),
        (["remove", "nope"], "no saved query is named 'nope'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_a_non_zero_exit(
    tmp_path: Path, args: list[str], message: str
) -> None:
    res = run(tmp_path / "ws", *args)
    assert res.code == 2
    assert message in res.err and "Traceback" not in res.err + res.out
    assert res.err.startswith("error: ")


def test_duplicate_name_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    assert run(home, "add", "q", "--terms", "coffee", "--source", MASTODON).code == 0
    again = run(home, "add", "q", "--terms", "tea", "--source", MASTODON)
    assert again.code == 2 and "a query named 'q' already exists" in again.err


def test_every_command_has_help_with_an_example(tmp_path: Path) -> None:
    for cmd in ("add", "list", "edit", "remove"):
        res = run(tmp_path / "ws", cmd, "--help")
        assert res.code == 0 and "Example: socialcrm listen query" in res.out, cmd


def test_as_a_process(tmp_path: Path) -> None:
    """As the harness runs it: the installed entry point, in its own process."""
    env = {**os.environ, "SOCIALCRM_HOME": str(tmp_path / "ws")}
    cli = [sys.executable, "-m", "socialcrm.cli", "listen", "query"]
    add = subprocess.run([*cli, "add", "c", "--terms", "coffee", "--source", MASTODON],
                         env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert add.returncode == 0, add.stderr
    out = subprocess.run([*cli, "list", "--json"], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert json.loads(out.stdout)[0]["sources"] == [MASTODON]
