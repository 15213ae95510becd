"""The root command loads a group's module only when the group runs, and still lists,
helps and suggests every command."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from socialcrm.cli.main import _LAZY, INPUT_TABLE_NAMES, app

HEAVY = ("pandas", "ibis", "pyarrow", "sqlalchemy", "fastapi", "sklearn", "torch", "sqlglot")


def _loaded(code: str, heavy: tuple[str, ...] = HEAVY) -> set[str]:
    """Top-level packages among ``heavy`` that a fresh interpreter has loaded after ``code``."""
    probe = f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120
    )
    return set(done.stdout.split()) & set(heavy)


def test_importing_the_root_loads_no_heavy_package() -> None:
    assert _loaded("import socialcrm.cli.main") == set()


@pytest.mark.parametrize(
    ("extra", "readers"), [("", {"pyarrow"}), ("7,2024-01-05,-5\n", {"pyarrow", "duckdb"})]
)
def test_clv_fit_loads_only_the_readers_it_uses(tmp_path: Any, extra: str, readers: set) -> None:
    """A clean CSV is read by Arrow alone; any other (here: a return) is tried by Arrow
    and then read by DuckDB. Neither pandas nor Ibis is loaded."""
    orders = tmp_path / "orders.csv"
    rows = ["customer_id,date,amount"]
    for c in range(40):
        rows += [f"{c},2024-01-{1 + c % 9:02d},5", f"{c},2024-02-{1 + c % 7:02d},3"]
        rows += [f"{c},2024-03-{1 + c % 5:02d},4"] if c % 3 else []
    orders.write_text("\n".join(rows) + "\n" + extra)
    code = (
        "from socialcrm.cli.main import app\n"
        f"app(['clv', 'fit', {str(orders)!r}, '--amount-col', 'amount', "
        "'--calibration-end', '2024-06-30', '--json'], standalone_mode=False)"
    )
    assert _loaded(code, (*HEAVY, "duckdb")) == readers


def test_every_command_lists_and_helps_with_an_example() -> None:
    root = typer.main.get_command(app)
    ctx: Any = None
    names = root.list_commands(ctx)  # type: ignore[attr-defined]
    assert set(_LAZY) <= set(names)
    runner = CliRunner()
    for name in names:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert "Example" in result.output, name


def test_an_unknown_command_suggests_a_lazy_one() -> None:
    result = CliRunner().invoke(app, ["segment"])
    assert result.exit_code == 2
    assert "segments" in result.output


def test_ingest_help_names_every_input_table() -> None:
    from socialcrm.store.schemas import INPUT_TABLES

    assert tuple(INPUT_TABLES) == INPUT_TABLE_NAMES


def test_clv_detects_formats_as_ingest_does() -> None:
    from pathlib import Path

    from socialcrm.cli.clv import _detect_format
    from socialcrm.store.readers import detect_format

    for name in ("a.csv", "a.CSV", "a.jsonl", "a.ndjson", "a.json", "a.parquet", "a.pq",
                 "a.tsv", "a.csv.gz", "a.jsonl.gz", "a", "a.b.parquet"):  # fmt: skip
        assert _detect_format(Path(name)) == detect_format(Path(name)), name
