"""What every command group shares: its consoles, one-line errors, the ``--json`` flag.

Messages are escaped before printing because they quote user input (file names, handles,
values from a row), which must never be read as rich markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

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


def open_app_db() -> AppDB:
    """The app database of the settings; a bad URL or an unreachable server is one line
    on stderr (which names the problem, never the password), not a traceback."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.config import get_settings

    try:
        return AppDB(get_settings().resolved_database_url)
    except Exception as e:
        # the driver's own message (SQLAlchemy wraps it with a URL to its docs), one line
        cause = str(getattr(e, "orig", None) or e).strip()
        raise fail(f"cannot open the app database: {' '.join(cause.split())}") from None
