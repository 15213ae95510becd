"""The ``socialcrm`` command line: one module per command group, the root in :mod:`.main`.

``app`` (the console script ``socialcrm = "socialcrm.cli:app"``) is looked up lazily, so
that importing one group's module (``socialcrm.cli.clv``) does not build the whole CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from socialcrm.cli.main import app as app

__all__ = ["app"]


def __getattr__(name: str) -> Any:
    """``socialcrm.cli.app``: the root Typer app, imported on first use."""
    if name == "app":
        from socialcrm.cli.main import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
