"""``socialcrm inbox``: the engagement inbox from the command line.

Thin: it parses, calls :mod:`socialcrm.responding`, and prints. State lives in the app
database; connector tokens come from settings and are never printed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from socialcrm.cli_common import JsonOpt, command_group, fail, out
from socialcrm.config import get_settings

inbox_app = command_group(
    "inbox",
    (
        "Engagement inbox: sync conversations, pull mentions, deliver replies, SLAs.\n\n"
        "Example: socialcrm inbox sync && socialcrm inbox list --json"
    ),
)
T = TypeVar("T")


@contextmanager
def _session() -> Iterator[tuple[Any, Session]]:
    """The workspace and one app-database transaction; domain errors become one line."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.responding.connectors import ConnectorError
    from socialcrm.responding.workflow import WorkflowError
    from socialcrm.store.workspace import Workspace

    settings = get_settings()
    try:
        db = AppDB(settings.resolved_database_url)
    except Exception as e:  # a bad URL or an unreachable server: one line, no traceback
        raise fail(f"cannot open the app database: {e}") from None
    try:
        with Workspace.open(settings) as ws, db.session() as s:
            yield ws, s
    except (ConnectorError, WorkflowError) as e:
        raise fail(str(e)) from None
    finally:
        db.close()


def _run(fn: Callable[[Any, Session], T]) -> T:
    with _session() as (ws, s):
        return fn(ws, s)


def _show(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(doc, default=str))
        return
    for k, v in doc.items():
        out.print(f"{k}: {v}", highlight=False)


@inbox_app.command("sync")
def sync(as_json: JsonOpt = False) -> None:
    """Build conversations from ``posts_enriched`` (re-running adds nothing twice).

    Example: socialcrm inbox sync --json
    """
    from socialcrm.responding.sync import from_warehouse

    _show(_run(lambda ws, s: from_warehouse(ws, s, get_settings())), as_json)


@inbox_app.command("pull")
def pull(as_json: JsonOpt = False) -> None:
    """Read new mentions from the configured connector (SOCIALCRM_INBOX_CONNECTOR).

    Example: SOCIALCRM_INBOX_CONNECTOR=mastodon socialcrm inbox pull
    """
    from socialcrm.responding.connectors import from_settings
    from socialcrm.responding.sync import from_connector

    settings = get_settings()
    _show(_run(lambda ws, s: from_connector(from_settings(settings), s, settings, ws)), as_json)


@inbox_app.command("deliver")
def deliver(as_json: JsonOpt = False) -> None:
    """Post the replies due in the outbox, with retries and backoff; never twice.

    Example: socialcrm inbox deliver --json
    """
    from socialcrm.responding.connectors import from_settings
    from socialcrm.responding.outbox import deliver as go

    settings = get_settings()
    _show(_run(lambda ws, s: go(s, from_settings(settings),
                                max_attempts=settings.inbox_outbox_attempts)), as_json)  # fmt: skip


@inbox_app.command("sla")
def sla(as_json: JsonOpt = False) -> None:
    """Flag breached SLAs (recording ``sla_breached`` events) and refresh priorities.

    Example: socialcrm inbox sla
    """
    from socialcrm.responding.inbox import check_slas

    _show(_run(lambda ws, s: check_slas(s, get_settings())), as_json)


@inbox_app.command("assign")
def assign(as_json: JsonOpt = False) -> None:
    """Assign unassigned conversations: by topic skill, else round-robin over agents.

    Example: socialcrm inbox assign
    """
    from socialcrm.responding.workflow import auto_assign

    _show({"assigned": _run(lambda ws, s: auto_assign(s, actor="cli"))}, as_json)


@inbox_app.command("metrics")
def metrics(as_json: JsonOpt = False) -> None:
    """First response and resolution times, SLA breaches, sentiment after our reply.

    Example: socialcrm inbox metrics --json
    """
    from socialcrm.responding.workflow import metrics as go

    _show(_run(lambda ws, s: go(s)), as_json)


@inbox_app.command("list")
def list_(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Open conversations, highest priority first.

    Example: socialcrm inbox list --limit 10
    """
    from socialcrm.responding.inbox import OPEN_STATES
    from socialcrm.web.inbox import list_conversations

    rows, total = _run(lambda ws, s: list_conversations(
        s, states=OPEN_STATES, assignee=None, page=1, size=limit))  # fmt: skip
    if as_json:
        out.print_json(json.dumps({"items": rows, "total": total}, default=str))
        return
    t = Table("id", "priority", "author", "intent", "state", "subject")
    for r in rows:
        t.add_row(str(r["id"]), f"{r['priority']:.0f}", r["author_handle"], r["intent"] or "",
                  r["state"], (r["subject"] or "")[:60])  # fmt: skip
    out.print(t)
    out.print(f"{total:,} open")


@inbox_app.command("skills")
def skills(
    email: Annotated[str, typer.Argument(help="The agent's email.")],
    topics: Annotated[list[int], typer.Argument(help="Topic ids routed to this agent.")],
) -> None:
    """Route conversations on these topics to an agent first.

    Example: socialcrm inbox skills ann@example.com 3 7
    """
    from sqlalchemy import select

    from socialcrm.appdb.models import User
    from socialcrm.responding.workflow import set_skills

    def go(ws: Any, s: Session) -> None:
        uid = s.scalar(select(User.id).where(User.email == email.strip().lower()))
        if uid is None:
            raise fail(f"no user {email}")
        set_skills(s, uid, topics)

    _run(go)
    out.print(f"{email}: topics {', '.join(map(str, sorted(set(topics))))}")
