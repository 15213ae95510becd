"""What every command group shares: its consoles, one-line errors, the ``--json`` flag,
and :func:`opened`, the one way to open the workspace and the app database.

Messages are escaped before printing because they quote user input (file names, handles,
values from a row), which must never be read as rich markup.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from socialcrm.appdb.db import AppDB
    from socialcrm.store.workspace import Workspace

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def print_json(doc: object) -> None:
    """Print ``doc`` as JSON on stdout; dates and other values as their text."""
    out.print_json(json.dumps(doc, default=str))


def stop_on_sigterm() -> threading.Event:
    """An event a ``--watch`` loop stops on, set by SIGTERM (as a service manager stops
    it) as well as Ctrl+C; outside the main thread (tests) only by whoever holds it."""
    stop = threading.Event()
    with suppress(ValueError):  # not the main thread: no signal handler there
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    return stop


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


def _open_app_db() -> AppDB:
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


@dataclass(frozen=True)
class Opened:
    """What :func:`opened` opened for one command; asking for a part not opened is a bug."""

    workspace: Workspace | None
    app_db: AppDB | None
    session: Session | None

    @property
    def ws(self) -> Workspace:
        """The workspace (``opened(workspace=True)``, the default)."""
        assert self.workspace is not None, "opened(workspace=False)"
        return self.workspace

    @property
    def db(self) -> AppDB:
        """The app database (``opened(app_db=True)``)."""
        assert self.app_db is not None, "opened(app_db=False)"
        return self.app_db

    @property
    def s(self) -> Session:
        """The app-database transaction of the block (``opened(session=True)``)."""
        assert self.session is not None, "opened(session=False)"
        return self.session


def _open_workspace() -> Workspace:
    """The workspace of the settings (opening it tidies what killed writers left)."""
    from socialcrm.config import get_settings
    from socialcrm.store.workspace import Workspace

    return Workspace.open(get_settings())


@contextmanager
def opened(
    *errors: type[Exception],
    workspace: bool = True,
    app_db: bool = False,
    session: bool = False,
    explain: Mapping[type[Exception], str] | None = None,
) -> Iterator[Opened]:
    """Open what a command needs, close it afterwards, and turn domain errors into one line.

    The one way every command group opens the workspace and the app database, so that a
    bad database URL, a domain error (``errors``: its own message) or a known failure
    (``explain``: a fixed message) is ``error: ...`` on stderr and exit 2, never a
    traceback. The app database is opened first (``session`` implies it), then the
    workspace, then one transaction, committed when the block ends and rolled back when
    it raises.
    """
    explain = explain or {}
    db = _open_app_db() if app_db or session else None
    try:
        with ExitStack() as stack:
            ws = stack.enter_context(_open_workspace()) if workspace else None
            s = stack.enter_context(db.session()) if session and db is not None else None
            yield Opened(ws, db, s)
    except errors as e:
        raise fail(str(e)) from None
    except tuple(explain) as e:
        raise fail(next(m for t, m in explain.items() if isinstance(e, t))) from None
    finally:
        if db is not None:
            db.close()
