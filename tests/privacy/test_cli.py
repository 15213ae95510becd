"""``socialcrm privacy``'s contract on a small known warehouse: the JSON shapes, a refusal
without ``--yes``, one-line errors, help with an example; and nothing personal printed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.config import get_settings
from socialcrm.store.erasure import ERASED_TABLE
from socialcrm.store.warehouse import Warehouse
from tests.web.conftest import build_warehouse

runner = CliRunner()
EMAIL = "user0@example.com"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "ws"
    build_warehouse(home / "warehouse")
    monkeypatch.setenv("SOCIALCRM_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


def test_export_writes_every_table_holding_the_person(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "c000.json"
    r = runner.invoke(app, ["privacy", "export", "@Ada_Insta", "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(out.read_text())
    assert doc["person"] == "c000"
    assert doc["known_by"]["emails"] == [EMAIL]
    assert doc["known_by"]["phones"] == ["+4915112345678"]
    assert {"customers", "identities", "orders", "consents"} <= doc["warehouse"].keys()
    assert doc["warehouse"]["orders"]["category"] == "input"
    assert doc["warehouse"]["customer_transaction_scores"]["category"] == "derived"
    assert "customer_id" in doc["warehouse"]["orders"]["keyed_by"]
    assert [o["order_id"] for o in doc["warehouse"]["orders"]["rows"]] == ["o1", "o2"]


def test_erase_answers_by_the_contract_and_prints_nothing_personal(home: Path) -> None:
    refused = runner.invoke(app, ["privacy", "erase", EMAIL], input="n\n")
    assert refused.exit_code != 0
    assert Warehouse(home / "warehouse").rows("customers") == 60  # nothing erased
    r = runner.invoke(app, ["privacy", "erase", EMAIL, "--yes", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert set(doc) == {"person", "records", "tables"}
    assert doc["person"] == "c000" and doc["records"] == 1
    assert doc["tables"]["customers"] == 1
    assert doc["tables"]["identities"] == 3
    assert doc["tables"]["orders"] == 2
    assert doc["tables"]["consents"] == 3
    assert EMAIL not in r.stdout and "ada_insta" not in r.stdout
    wh = Warehouse(home / "warehouse")
    assert wh.rows("customers") == 59
    assert wh.rows(ERASED_TABLE) == 4  # record, email, phone, handle
    again = runner.invoke(app, ["privacy", "erase", EMAIL, "--yes", "--json"])
    assert again.exit_code == 2
    assert "nothing in the warehouse is known by" in again.output
    assert len(again.output.strip().splitlines()) == 1


@pytest.mark.parametrize("cmd", [["privacy"], ["privacy", "export"], ["privacy", "erase"]])
def test_every_command_has_help_with_an_example(cmd: list[str]) -> None:
    r = runner.invoke(app, [*cmd, "--help"])
    assert r.exit_code == 0
    assert "Example: socialcrm privacy" in r.output
