"""The CLI package's layout holds: groups never load the root, every command has an
example, and ``opened`` turns domain errors into one line."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import click
import pytest
import typer

import socialcrm.cli
from socialcrm.cli.common import opened

GROUP_MODULES = sorted(
    m.name
    for m in pkgutil.iter_modules(socialcrm.cli.__path__)
    if m.name not in ("main", "__main__", "common")
)


def test_group_modules_never_load_the_root() -> None:
    """The root mounts the groups; a group importing it back would be a cycle."""
    code = (
        "import sys\n"
        + "".join(f"import socialcrm.cli.{m}\n" for m in GROUP_MODULES)
        + "assert 'socialcrm.cli.main' not in sys.modules, 'a group loaded the root'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def _leaves(cmd: click.Command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    if isinstance(cmd, click.Group):
        return [p for name, sub in cmd.commands.items() for p in _leaves(sub, (*path, name))] + [
            path
        ]
    return [path]


def test_every_command_and_group_help_has_an_example() -> None:
    from typer.testing import CliRunner

    from socialcrm.cli import app

    root = typer.main.get_command(app)
    runner = CliRunner()
    missing = []
    for path in _leaves(root):
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        if "Example" not in result.output:
            missing.append(" ".join(path) or "socialcrm")
    assert not missing, f"no example in --help of: {missing}"


def test_opened_turns_a_domain_error_into_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    class DomainError(ValueError):
        pass

    with pytest.raises(typer.Exit) as exc, opened(DomainError, workspace=False):
        raise DomainError("no such [bold]thing[/]")
    assert exc.value.exit_code == 2
    assert capsys.readouterr().err.strip() == "error: no such [bold]thing[/]"


def test_opened_explains_a_known_failure_and_lets_others_through(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit), opened(workspace=False, explain={KeyError: "try again"}):
        raise KeyError("k")
    assert capsys.readouterr().err.strip() == "error: try again"
    with pytest.raises(RuntimeError), opened(KeyError, workspace=False):
        raise RuntimeError("not a domain error: a bug, with its traceback")
