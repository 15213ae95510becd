"""An audience with one member per household: the highest expected value stays."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from socialcrm.config import Settings, get_settings
from socialcrm.connecting.households import HOUSEHOLDS_SCHEMA
from socialcrm.store.workspace import Workspace
from socialcrm.targeting.audiences import AudienceError, audience

T0 = datetime(2025, 1, 1, tzinfo=UTC)
# customer -> (household, expected value of their action)
PEOPLE = {
    "a1": ("hh:a1", 10.0),
    "a2": ("hh:a1", 30.0),  # the best of household a
    "a3": ("hh:a1", None),
    "b1": ("hh:b1", None),  # household b: nobody's value is known, the smallest id stays
    "b2": ("hh:b1", None),
    "c1": (None, 5.0),  # in no household
    "c2": (None, 1.0),
}


def _actions() -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "customer_id": c,
                "segment": "high_value_buyer",
                "action": "loyalty_thanks",
                "channel": "email",
                "reason": "thanks",
                "expected_value": ev,
                "marketing": True,
                "rank": 1,
            }
            for c, (_, ev) in PEOPLE.items()
        ]
    )


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    w = Workspace.open(Settings(home=tmp_path / "ws"))
    w.warehouse.write("customer_actions", _actions())
    w.warehouse.write(
        "consents",
        pa.table(
            {
                "customer_id": list(PEOPLE),
                "purpose": ["email_marketing"] * len(PEOPLE),
                "status": ["granted"] * len(PEOPLE),
                "recorded_at": pa.array([T0] * len(PEOPLE), pa.timestamp("us", tz="UTC")),
                "source": ["web"] * len(PEOPLE),
            }
        ),
    )
    yield w
    w.close()


def _households(ws: Workspace) -> None:
    rows = [
        {
            "household_id": h,
            "customer_id": c,
            "household_size": sum(1 for x, _ in PEOPLE.values() if x == h),
            "evidence": "same address",
            "address": "1 Main St, 02139 Cambridge, US",
            "first_seen": T0,
        }
        for c, (h, _) in PEOPLE.items()
        if h is not None
    ]
    ws.warehouse.write("households", pa.Table.from_pylist(rows, schema=HOUSEHOLDS_SCHEMA))


def test_one_member_per_household_with_the_highest_value(ws: Workspace) -> None:
    everyone = audience(ws, "high_value_buyer")
    assert everyone["customer_id"].to_pylist() == sorted(PEOPLE)
    with pytest.raises(AudienceError, match="no households table"):
        audience(ws, "high_value_buyer", one_per_household=True)
    _households(ws)
    one = audience(ws, "high_value_buyer", one_per_household=True)
    assert one["customer_id"].to_pylist() == ["a2", "b1", "c1", "c2"]
    assert one.column_names == everyone.column_names


def test_cli_option(ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from socialcrm.cli import app

    _households(ws)
    monkeypatch.setenv("SOCIALCRM_HOME", str(ws.settings.home))
    get_settings.cache_clear()
    try:
        out = tmp_path / "a.csv"
        r = CliRunner().invoke(
            app,
            ["audience", "export", "high_value_buyer", "--out", str(out), "--one-per-household"],
        )
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    assert "4 customers exported (one per household)" in r.output
    assert out.read_text().count("\n") == 5  # header + 4
