"""``socialcrm webhooks``: subscriptions, signed deliveries with retries, the delivery
log, replays.

Thin: it parses, calls :mod:`socialcrm.outbound.webhooks`, and prints. State lives in the
app database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, TypedDict

import typer
from rich.markup import escape
from sqlalchemy.orm import Session

from socialcrm.cli.common import JsonOpt, command_group, opened, out
from socialcrm.config import get_settings

webhooks_app = command_group(
    "webhooks",
    "Webhooks: subscriptions, signed deliveries with retries, the delivery log, replays.\n\n"
    "Example: socialcrm webhooks add https://hooks.example.com/crm --event idea.status_changed",
)
ACTOR = "cli"


class _SubscriptionRow(TypedDict):
    id: int
    url: str
    events: list[str]
    active: bool
    allow_host: bool
    consecutive_failures: int
    disabled_reason: str | None


@contextmanager
def _session() -> Iterator[Session]:
    """One app-database transaction; webhook and idea errors become one line."""
    from socialcrm.collaborating.ideas import IdeaError
    from socialcrm.outbound.webhooks import WebhookError

    with opened(IdeaError, WebhookError, workspace=False, session=True) as o:
        yield o.s


def _print(doc: object, as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(doc, default=str))
    else:
        out.print(escape(human), highlight=False)


@webhooks_app.command("add")
def add(
    url: str,
    event: Annotated[
        list[str] | None, typer.Option("--event", help="Event to send (default: all).")
    ] = None,
    allow_host: Annotated[
        bool,
        typer.Option(
            "--allow-host",
            help="Admin only: allow this URL's host although it is loopback, private or "
            "link-local (a receiver on this machine or the internal network). Without it, "
            "such URLs are refused, when added and at every delivery.",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Subscribe URL to events; prints the signing secret once.

    The URL must be http(s), without credentials, and reach a public address; hosts
    in SOCIALCRM_OUTBOUND_ALLOW_HOSTS, or this one with --allow-host, may be private.

    Example: socialcrm webhooks add https://hooks.example.com/crm --event consent.revoked
    """
    from socialcrm.outbound import webhooks

    with _session() as s:
        sub, secret = webhooks.subscribe(s, url, event or [], ACTOR, allow_host=allow_host)
        doc = {"id": sub.id, "url": sub.url, "events": sub.events, "secret": secret}
        if allow_host:
            doc["allow_host"] = True
    if as_json:
        print(json.dumps(doc))
    else:
        out.print(f"webhook {doc['id']} added; signing secret (shown once): {secret}")


@webhooks_app.command("list")
def list_hooks(as_json: JsonOpt = False) -> None:
    """Subscriptions and whether they are active (secrets are never shown again).

    Example: socialcrm webhooks list --json
    """
    from socialcrm.outbound import webhooks

    with _session() as s:
        doc: list[_SubscriptionRow] = [
            {
                "id": x.id,
                "url": x.url,
                "events": x.events,
                "active": x.active,
                "allow_host": x.allow_host,
                "consecutive_failures": x.consecutive_failures,
                "disabled_reason": x.disabled_reason,
            }
            for x in webhooks.subscriptions(s)
        ]
    if as_json:
        print(json.dumps(doc))
        return
    for d in doc:
        state = "active" if d["active"] else f"DISABLED: {d['disabled_reason']}"
        out.print(f"{d['id']}  {escape(d['url'])}  {','.join(d['events'])}  {escape(state)}")


@webhooks_app.command("deliver")
def deliver(as_json: JsonOpt = False) -> None:
    """One delivery pass: new events fanned out, due deliveries sent or retried.

    Run it from cron or a timer (every minute); it is safe to run again at any time.

    Example: socialcrm webhooks deliver --json
    """
    from socialcrm.outbound import webhooks

    with opened(workspace=False, app_db=True) as o:
        rep = webhooks.deliver(o.db, webhooks.Policy.from_settings(get_settings()))
    doc = rep.__dict__
    _print(
        doc,
        as_json,
        f"{rep.delivered} delivered, {rep.failed} failed"
        + (f", disabled: {rep.disabled}" if rep.disabled else ""),
    )


@webhooks_app.command("log")
def delivery_log(
    subscription: Annotated[int | None, typer.Option(help="Only this subscription.")] = None,
    status: Annotated[str | None, typer.Option(help="pending, delivered or failed.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent N deliveries.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Deliveries and their attempts, newest first.

    Example: socialcrm webhooks log --status failed --json
    """
    from socialcrm.outbound import webhooks

    with _session() as s:
        rows = webhooks.log(s, subscription, status, limit)
    if as_json:
        print(json.dumps(rows))
        return
    for r in rows:
        out.print(
            f"{r['delivery_id']}  {r['event']}  {r['status']}  attempts={r['attempts']}  "
            f"{escape(r['last_error'] or '')}",
            highlight=False,
        )


@webhooks_app.command("replay")
def replay(delivery_id: str, as_json: JsonOpt = False) -> None:
    """Send a delivery again at the next pass (same delivery id).

    Example: socialcrm webhooks replay dlv_4f2a...
    """
    from socialcrm.outbound import webhooks

    with _session() as s:
        webhooks.replay(s, delivery_id, ACTOR)
    _print({"replay": delivery_id}, as_json, f"{delivery_id} will be sent at the next pass")


@webhooks_app.command("enable")
def enable(subscription_id: int, as_json: JsonOpt = False) -> None:
    """Re-enable a subscription disabled after repeated failure.

    Example: socialcrm webhooks enable 3
    """
    from socialcrm.outbound import webhooks

    with _session() as s:
        webhooks.enable(s, subscription_id, ACTOR)
    _print({"enabled": subscription_id}, as_json, f"webhook {subscription_id} enabled")


@webhooks_app.command("notices")
def notices(as_json: JsonOpt = False) -> None:
    """Notices for admins (webhooks disabled after repeated failure).

    Example: socialcrm webhooks notices
    """
    from socialcrm.outbound import webhooks

    with _session() as s:
        doc = [
            {"at": n.at.isoformat(), "kind": n.kind, "target": n.target, "message": n.message}
            for n in webhooks.notices(s)
        ]
    if as_json:
        print(json.dumps(doc))
        return
    for n in doc:
        out.print(f"{n['at'][:19]}  {escape(n['message'])}", highlight=False)


__all__ = ["webhooks_app"]
