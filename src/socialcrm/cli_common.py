"""What every command group shares: its consoles, one-line errors, the ``--json`` flag.

Messages are escaped before printing because they quote user input (file names, handles,
values from a row), which must never be read as rich markup.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` as one line on stderr; raise the returned Exit."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def command_group(name: str, help: str) -> typer.Typer:
    """A Typer sub-app with the CLI's conventions (no tracebacks, help when bare)."""
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
    )
