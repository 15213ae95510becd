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

from socialcrm.cli.common import (
    JsonOpt,
    command_group,
    fail,
    opened,
    out,
    print_json,
    stop_on_sigterm,
)
from socialcrm.config import get_settings

inbox_app = command_group(
    "inbox",
    (
        "Engagement inbox: sync conversations, pull mentions, deliver replies, SLAs.\n\n"
        "Example: socialcrm inbox sync && socialcrm inbox list --json"
    ),
)
T = TypeVar("T")
ACTOR = "cli"


@contextmanager
def _session() -> Iterator[tuple[Any, Session]]:
    """The workspace and one app-database transaction; domain errors become one line."""
    from socialcrm.outbound.social import ConnectorError
    from socialcrm.responding.workflow import WorkflowError

    with opened(ConnectorError, WorkflowError, session=True) as o:
        yield o.ws, o.s


def _run(fn: Callable[[Any, Session], T]) -> T:
    with _session() as (ws, s):
        return fn(ws, s)


def _show(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(doc)
        return
    for k, v in doc.items():
        out.print(f"{k}: {v}", highlight=False)


@inbox_app.command("sync")
def sync(as_json: JsonOpt = False) -> None:
    """Build conversations from ``posts_enriched`` (re-running adds nothing twice).

    Commits every few hundred posts, so a served app's sign-ins never wait on it for
    more than a moment; a sync stopped half-way is finished by the next one.

    Example: socialcrm inbox sync --json
    """
    from socialcrm.outbound.social import ConnectorError
    from socialcrm.responding.sync import sync_warehouse
    from socialcrm.responding.workflow import WorkflowError

    with opened(ConnectorError, WorkflowError, app_db=True) as o:
        assert o.ws is not None and o.db is not None  # opened(app_db=True) opens both
        _show(sync_warehouse(o.ws, o.db, get_settings()), as_json)


@inbox_app.command("pull")
def pull(as_json: JsonOpt = False) -> None:
    """Read new mentions from the configured connector (SOCIALCRM_INBOX_CONNECTOR).

    Example: SOCIALCRM_INBOX_CONNECTOR=mastodon socialcrm inbox pull
    """
    from socialcrm.responding.connectors import from_settings
    from socialcrm.responding.sync import from_connector

    settings = get_settings()
    _show(_run(lambda ws, s: from_connector(from_settings(settings), s, settings, ws)), as_json)


@contextmanager
def _db() -> Iterator[Any]:
    """The app database (an ``AppDB``); domain errors become one line."""
    from socialcrm.collaborating.ideas import IdeaError
    from socialcrm.outbound.social import ConnectorError
    from socialcrm.responding.workflow import WorkflowError

    with opened(ConnectorError, WorkflowError, IdeaError, workspace=False, app_db=True) as o:
        yield o.db


@inbox_app.command("deliver")
def deliver(
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Keep going: outbox and webhooks every --interval seconds."),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0, help="Seconds between passes with --watch.")
    ] = 30.0,
    passes: Annotated[int | None, typer.Option(min=1, hidden=True)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Post the replies due in the outbox, with retries and backoff; never twice.

    With --watch it is a delivery worker: due outbox replies and webhook deliveries every
    --interval seconds until stopped (Ctrl+C or SIGTERM). Several workers, and the web
    app's own background delivery, may run at once: each item is claimed before it is
    sent, so none is sent twice.

    Example: socialcrm inbox deliver --json
    Example: socialcrm inbox deliver --watch --interval 15
    """
    from socialcrm.outbound import delivery
    from socialcrm.outbound.outbox import deliver_pass
    from socialcrm.outbound.social import from_settings

    settings = get_settings()
    if not watch:
        with _db() as db:
            conn = from_settings(settings)
            try:
                done = deliver_pass(db, conn, max_attempts=settings.inbox_outbox_attempts,
                                    lease_seconds=settings.delivery_lease_seconds)  # fmt: skip
            finally:
                getattr(conn, "close", lambda: None)()
        _show(done, as_json)
        return
    stop = stop_on_sigterm()

    def report(result: dict[str, Any] | None) -> None:
        doc = result if result is not None else {"error": "pass failed; see the log"}
        if as_json:
            print(json.dumps(doc, default=str), flush=True)
        else:
            out.print(" · ".join(f"{k}: {v}" for k, v in doc.items()), highlight=False)

    if not as_json:
        out.print(f"delivering every {interval:g}s (Ctrl+C to stop)", highlight=False)
    from socialcrm.programs.sending import delivery_recheck

    # campaign emails that came due go out too, with the campaign side's consent check
    with _db() as db, delivery_recheck(settings) as check:
        try:
            delivery.watch(db, settings, interval, stop=stop, on_pass=report, passes=passes,
                           email_recheck=check)  # fmt: skip
        except KeyboardInterrupt:
            stop.set()


@inbox_app.command("ask")
def ask(
    conversation: Annotated[int, typer.Argument(help="The conversation id.")],
    text: Annotated[str | None, typer.Option("--text", help="The question, free text.")] = None,
    saved: Annotated[
        str | None, typer.Option("--saved", help="A question template (saved reply).")
    ] = None,
    key: Annotated[
        str | None, typer.Option(help="Idempotency key: the same key asks once.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Ask the customer a question: queued in the outbox like any reply, then the
    conversation waits on the customer (the resolution SLA pauses) until they answer.

    Example: socialcrm inbox ask 42 --saved order-number
    """
    from socialcrm.responding import workflow

    settings = get_settings()

    def go(ws: Any, s: Session) -> dict[str, Any]:
        conv = workflow.get(s, conversation)
        item = workflow.ask(s, conv, ACTOR, connector=settings.inbox_connector, question=text,
                            saved=saved, key=key)  # fmt: skip
        return {"conversation": conv.id, "state": conv.state, "outbox_id": item}

    _show(_run(go), as_json)


@inbox_app.command("to-idea")
def to_idea_(
    conversation: Annotated[int, typer.Argument(help="The conversation id.")],
    title: Annotated[str | None, typer.Option(help="Default: the first post.")] = None,
    body: Annotated[str | None, typer.Option(help="Default: the customer's posts.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Turn a conversation into an idea on the ideas board, crediting its author (the
    customer, when known). Doing it again shows the idea it became.

    Example: socialcrm inbox to-idea 42 --title "Dark mode in the app"
    """
    from socialcrm.collaborating import people
    from socialcrm.collaborating.from_conversation import turn_into_idea_once
    from socialcrm.store.reads import ReadModel

    settings = get_settings()
    rm = ReadModel(settings.warehouse_dir, settings.duckdb_threads)
    with _db() as db:
        done = turn_into_idea_once(
            db, conversation, ACTOR, title=title, body=body,
            known_customers=lambda ids: people.known_customers(rm, ids),
            values=lambda ids: people.values(rm, ids),
        )  # fmt: skip
    if as_json:
        _show(done.as_dict(), True)
        return
    verb = "created" if done.created else "already"
    out.print(f"conversation {conversation} → idea #{done.idea_id} ({verb}): {done.title}",
              highlight=False, markup=False)  # fmt: skip


@inbox_app.command("saved")
def saved(
    name: Annotated[str, typer.Argument(help="A short name agents pick it by.")],
    body: Annotated[str, typer.Argument(help="The text; {handle} is filled in.")],
    question: Annotated[
        bool, typer.Option("--question", help="A question template, for 'ask a question'.")
    ] = False,
) -> None:
    """Add a saved reply (or, with --question, a question template).

    Example: socialcrm inbox saved order-number "Hi {handle}, what is your order number?" --question
    """
    from socialcrm.responding.workflow import save_reply

    _run(lambda ws, s: save_reply(s, name, body, ACTOR, question=question))
    out.print(f"saved {'question' if question else 'reply'} {name}", highlight=False, markup=False)


@inbox_app.command("queues")
def queues(
    state: Annotated[
        str, typer.Option(help="open, all, new, waiting, resolved or closed.")
    ] = "open",
    as_json: JsonOpt = False,
) -> None:
    """Conversations per queue (general, topic:<id>).

    Example: socialcrm inbox queues --state all
    """
    from socialcrm.responding.queries import LIST_STATES, queue_counts

    if state not in LIST_STATES:
        raise fail(f"unknown state {state!r}; use {', '.join(LIST_STATES)}")
    rows = _run(lambda ws, s: queue_counts(s, states=LIST_STATES[state]))
    if as_json:
        out.print_json(json.dumps({"items": rows}))
        return
    t = Table("queue", "conversations")
    for r in rows:
        t.add_row(r["queue"], f"{r['count']:,}")
    out.print(t)


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
    queue: Annotated[str | None, typer.Option(help="Only this queue (see `inbox queues`).")] = None,
    state: Annotated[
        str, typer.Option(help="open, all, new, waiting, resolved or closed.")
    ] = "open",
    as_json: JsonOpt = False,
) -> None:
    """Conversations (open ones by default), highest priority first.

    Example: socialcrm inbox list --limit 10 --queue topic:3
    """
    from socialcrm.responding.queries import LIST_STATES, list_conversations

    if state not in LIST_STATES:
        raise fail(f"unknown state {state!r}; use {', '.join(LIST_STATES)}")
    rows, total = _run(lambda ws, s: list_conversations(
        s, states=LIST_STATES[state], assignee=None, queue=queue, page=1,
        size=limit))  # fmt: skip
    if as_json:
        out.print_json(json.dumps({"items": rows, "total": total}, default=str))
        return
    t = Table("id", "priority", "author", "intent", "state", "subject")
    for r in rows:
        t.add_row(str(r["id"]), f"{r['priority']:.0f}", r["author_handle"], r["intent"] or "",
                  r["state"], (r["subject"] or "")[:60])  # fmt: skip
    out.print(t)
    out.print(f"{total:,} {state}")


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
