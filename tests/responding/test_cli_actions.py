"""`socialcrm inbox to-idea | ask | saved | queues | list --queue | deliver --watch`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.config import get_settings
from tests.responding.test_cli_connectors import line

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SOCIALCRM_HOME", str(tmp_path / "ws"))
    monkeypatch.setenv("SOCIALCRM_INBOX_BRAND_HANDLE", "acme")
    get_settings.cache_clear()
    folder = tmp_path / "ws" / "inbox"
    folder.mkdir(parents=True)
    (folder / "mentions.jsonl").write_text(
        "\n".join([
            line("j1", "zoe", "@acme please add a night mode to the app", "2026-11-20T08:00:00Z",
                 intent="suggestion", topic_id=4),
            line("j2", "yan", "@acme my parcel never arrived, awful", "2026-11-20T08:30:00Z",
                 intent="complaint", sentiment_score=-0.8, topic_id=5),
        ]) + "\n"
    )  # fmt: skip
    yield tmp_path / "ws"
    get_settings.cache_clear()


def run(*args: str) -> dict:
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_queues_to_idea_ask_and_a_watching_worker(home: Path) -> None:
    assert run("inbox", "pull")["conversations"] == 2
    assert run("inbox", "queues")["items"] == [
        {"queue": "topic:4", "count": 1}, {"queue": "topic:5", "count": 1}]  # fmt: skip
    only = run("inbox", "list", "--queue", "topic:4")
    assert only["total"] == 1 and only["items"][0]["author_handle"] == "zoe"
    zoe, yan = only["items"][0]["id"], run("inbox", "list", "--queue", "topic:5")["items"][0]["id"]

    first = run("inbox", "to-idea", str(zoe), "--title", "Night mode")
    again = run("inbox", "to-idea", str(zoe))
    assert first["created"] and not again["created"] and again["idea_id"] == first["idea_id"]
    shown = run("ideas", "show", str(first["idea_id"]))
    assert shown["title"] == "Night mode" and shown["conversations"] == [zoe]
    assert [c["handle"] for c in shown["contributors"]] == ["zoe"]

    r = runner.invoke(app, ["inbox", "saved", "order", "Hi {handle}, your order number?",
                            "--question"])  # fmt: skip
    assert r.exit_code == 0, r.output
    asked = run("inbox", "ask", str(yan), "--saved", "order", "--key", "cli-ask-1")
    assert asked["state"] == "waiting"
    assert run("inbox", "ask", str(yan), "--saved", "order", "--key", "cli-ask-1") == asked
    bad = runner.invoke(app, ["inbox", "ask", str(yan)])
    assert bad.exit_code != 0 and "question" in bad.stderr

    # A worker: outbox and webhooks each pass; it stops after the passes asked for.
    r = runner.invoke(app, ["inbox", "deliver", "--watch", "--interval", "0", "--passes", "2",
                            "--json"])  # fmt: skip
    assert r.exit_code == 0, r.output
    passes = [json.loads(x) for x in r.stdout.splitlines()]
    assert [p["outbox"]["sent"] for p in passes] == [1, 0] and "webhooks" in passes[0]
    replies = (home / "inbox" / "replies.jsonl").read_text().splitlines()
    assert [json.loads(x)["text"] for x in replies] == ["Hi yan, your order number?"]
    for cmd in ("to-idea", "ask", "saved", "queues"):
        assert "Example:" in runner.invoke(app, ["inbox", cmd, "--help"]).stdout
