"""`socialcrm campaign`: the contract a harness drives, against a real SMTP server.

SOCIALCRM_SMTP_URL=smtp://127.0.0.1:PORT and SOCIALCRM_PUBLIC_URL are all a send needs;
`campaign send NAME --json` prints exactly the contract's keys.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.config import get_settings
from tests.programs.campaign_brand import SmtpServer, copy_home, scored_home

runner = CliRunner()
KEYS = ["sent", "holdout", "no_consent", "suppressed", "capped", "failed"]
TEMPLATE = (
    "<p>Hello {{ first_name }},</p><p>Thank you for being with {{ brand }}.</p>"
    '<p><a href="https://nordlicht.example/">Our shop</a></p>'
)


@pytest.fixture(scope="session")
def brand_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scored_home(tmp_path_factory.mktemp("campaign-brand"))


@pytest.fixture
def smtp(tmp_path: Path, brand_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    home = copy_home(brand_home.parent, tmp_path / "ws")
    with SmtpServer() as server:
        monkeypatch.setenv("SOCIALCRM_HOME", str(home))
        monkeypatch.setenv("SOCIALCRM_SMTP_URL", f"smtp://127.0.0.1:{server.port}")
        monkeypatch.setenv("SOCIALCRM_PUBLIC_URL", "http://127.0.0.1:8765")
        monkeypatch.setenv("SOCIALCRM_PHONE_REGION", "DE")
        get_settings.cache_clear()
        try:
            yield server
        finally:
            get_settings.cache_clear()


def invoke(*args: str):
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r


def test_create_send_list_report_by_the_contract(smtp: SmtpServer, tmp_path: Path) -> None:
    tpl = tmp_path / "thanks.html"
    tpl.write_text(TEMPLATE)
    r = invoke("campaign", "create", "thanks", "--segment", "high_value_buyer", "--channel",
               "email", "--template", str(tpl), "--subject", "Thank you, {{ first_name }}",
               "--holdout", "0.1", "--cost-per-message", "0.01", "--json")  # fmt: skip
    made = json.loads(r.stdout)
    assert made["treatment"] > 0 and made["control"] > 0

    counts = json.loads(invoke("campaign", "send", "thanks", "--json").stdout)
    assert list(counts) == KEYS
    got = smtp.sink.recipients()
    assert counts["sent"] == len(got) > 0 and max(Counter(got).values()) == 1
    assert counts["holdout"] == made["control"]
    stopped = counts["no_consent"] + counts["suppressed"] + counts["capped"] + counts["failed"]
    assert counts["sent"] + stopped == made["treatment"]
    for m in smtp.sink.messages:
        assert m.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "<http://127.0.0.1:8765/email/unsubscribe/" in str(m.message["List-Unsubscribe"])
        assert m.message.get_body(preferencelist=("plain",)) is not None

    again = json.loads(invoke("campaign", "send", "thanks", "--json").stdout)
    assert again["sent"] == 0 and len(smtp.sink.messages) == counts["sent"]  # nobody twice

    listed = json.loads(invoke("campaign", "list", "--json").stdout)
    [row] = [c for c in listed if c["campaign_id"] == "thanks"]
    assert row["messages"]["sent"] == counts["sent"] and row["segment"] == "high_value_buyer"

    report = json.loads(invoke("campaign", "report", "thanks", "--json").stdout)
    assert report["messages_sent"] == counts["sent"]
    assert report["cost"] == pytest.approx(0.01 * counts["sent"])
    assert report["engagement"]["sent"] == counts["sent"]
    assert report["seeding"]["messages"] == counts["sent"]
    text = invoke("campaign", "report", "thanks").stdout
    assert "incremental revenue" in text and "cost" in text


def test_send_watch_waits_for_send_at(smtp: SmtpServer, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    tpl = tmp_path / "t.html"
    tpl.write_text(TEMPLATE)
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    invoke("campaign", "create", "soon", "--segment", "high_value_buyer", "--template", str(tpl),
           "--subject", "Hi", "--send-at", soon)  # fmt: skip
    counts = json.loads(invoke("campaign", "send", "soon", "--json", "--watch",
                               "--interval", "0.5").stdout)  # fmt: skip
    got = smtp.sink.recipients()
    assert counts["sent"] == len(got) > 0 and max(Counter(got).values()) == 1
    listed = json.loads(invoke("campaign", "list", "--json").stdout)
    assert listed[0]["messages"]["queued"] == 0


def test_preview_and_test_send(smtp: SmtpServer, tmp_path: Path) -> None:
    r = invoke("campaign", "preview", "--segment", "regular", "--json")
    counts = json.loads(r.stdout)["audience"]
    assert counts["audience"] == sum(v for k, v in counts.items() if k != "audience")
    tpl = tmp_path / "t.html"
    tpl.write_text(TEMPLATE)
    invoke("campaign", "create", "hello", "--action", "loyalty_thanks", "--template", str(tpl),
           "--subject", "Hi {{ first_name }}")  # fmt: skip
    doc = json.loads(invoke("campaign", "preview", "hello", "--json").stdout)
    assert doc["message"]["text"].startswith("Hello ") and "Nordlicht" in doc["message"]["text"]
    assert doc["audience"]["audience"] > 0
    invoke("campaign", "test-send", "hello", "--to", "me@example.com")
    [m] = smtp.sink.messages
    assert m.rcpt_tos == ["me@example.com"] and m.message["Subject"].startswith("[test] Hi")


def test_mistakes_are_one_line(smtp: SmtpServer, tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text("<p>Hi {{ frist_name }}</p>")
    r = runner.invoke(app, ["campaign", "create", "x", "--segment", "regular", "--template",
                            str(bad), "--subject", "s"])  # fmt: skip
    assert r.exit_code == 2 and "frist_name" in r.stderr and "Traceback" not in r.output
    r = runner.invoke(app, ["campaign", "create", "x", "--segment", "nope"])
    assert r.exit_code == 2 and "unknown segment 'nope'" in r.stderr
    r = runner.invoke(app, ["campaign", "send", "nope", "--json"])
    assert r.exit_code == 2 and "no campaigns" in r.stderr


@pytest.mark.parametrize(
    "cmd",
    [
        ["campaign"],
        ["campaign", "create"],
        ["campaign", "send"],
        ["campaign", "preview"],
        ["campaign", "test-send"],
        ["campaign", "list"],
        ["campaign", "report"],
    ],
)
def test_every_command_has_help_with_an_example(cmd: list[str]) -> None:
    r = runner.invoke(app, [*cmd, "--help"])
    assert r.exit_code == 0 and "Example:" in r.stdout
