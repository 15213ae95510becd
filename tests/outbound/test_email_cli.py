"""``socialcrm email``: a test message through a real server, a bounce mailbox, the
suppression list, and one-line errors."""

from __future__ import annotations

import json
import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.config import get_settings
from tests.outbound.email_world import PUBLIC, TEMPLATE
from tests.outbound.smtp_sink import Sink, smtp_sink

DATA = Path(__file__).parent / "data" / "bounces"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(home: Path, sink: Sink | None, *args: str) -> tuple[int, str, str]:
    get_settings.cache_clear()
    env = {"SOCIALCRM_HOME": str(home), "SOCIALCRM_PUBLIC_URL": PUBLIC, "COLUMNS": "200",
           "SOCIALCRM_EMAIL_RATE_PER_SECOND": "0"}  # fmt: skip
    if sink is not None:
        env["SOCIALCRM_SMTP_URL"] = sink.url()
    res = CliRunner().invoke(app, ["email", *args], env=env)
    return res.exit_code, res.stdout, res.stderr


def test_a_test_message_goes_out_with_both_parts(tmp_path: Path) -> None:
    template = tmp_path / "spring.html"
    template.write_text(TEMPLATE)
    with smtp_sink() as sink:
        person = '{"name": "Ann", "customer_id": "c1", "action": "Thanks"}'
        code, out, err = run(tmp_path, sink, "test", "--to", "me@brand.example", "--template",
                             str(template), "--subject", "Hi {{ name }}", "--context",
                             person)  # fmt: skip
        assert code == 0, err
        [msg] = sink.messages()
    assert "sent to me@brand.example: Hi Ann" in out
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert {p.get_content_type() for p in msg.walk()} >= {"text/plain", "text/html"}
    # a template error is one line naming its line, and nothing is sent
    template.write_text("<p>ok</p>\n<p>{{ nmae }}</p>")
    with smtp_sink() as sink:
        code, _, err = run(tmp_path, sink, "test", "--to", "me@brand.example", "--template",
                           str(template), "--subject", "Hi")  # fmt: skip
        assert sink.got == []
    assert code == 2 and "template line 2" in err and "Traceback" not in err


def test_bounces_from_an_mbox_and_the_suppression_list(tmp_path: Path) -> None:
    path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(path)
    box.add((DATA / "multi_recipient.eml").read_bytes())
    box.close()
    code, out, err = run(tmp_path, None, "bounces", "--mbox", str(path), "--json")
    assert code == 0, err
    got = json.loads(out)
    # the report names no message this workspace sent: its hard bounce is not believed
    assert (got["messages"], got["hard_bounces"], got["soft_bounces"]) == (1, 0, 1)
    assert got["unverified"] == 1
    assert run(tmp_path, None, "suppress", "Ann@Example.com")[0] == 0
    assert run(tmp_path, None, "suppress", "person3@example.org")[0] == 0
    code, out, _ = run(tmp_path, None, "suppressions", "--json")
    rows = {r["address"]: r["reason"] for r in json.loads(out)}
    assert rows == {"person3@example.org": "manual", "ann@example.com": "manual"}
    assert "removed" in run(tmp_path, None, "suppress", "ann@example.com", "--remove")[1]
    code, out, _ = run(tmp_path, None, "suppressions", "--json")
    assert [r["address"] for r in json.loads(out)] == ["person3@example.org"]
    # errors are one line
    code, _, err = run(tmp_path, None, "bounces", "--mbox", str(tmp_path / "nope"))
    assert code == 2 and "no mbox file" in err
    code, _, err = run(tmp_path, None, "suppress", "not-an-address")
    assert code == 2 and "not an email address" in err
