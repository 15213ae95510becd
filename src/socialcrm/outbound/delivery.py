"""Background delivery: due outbox items and webhook deliveries, every few seconds.

Everything that leaves the system goes out here, one channel after the other: the
outbox's replies through their channel's sender (:mod:`socialcrm.outbound.social`), the
campaigns' emails (:mod:`socialcrm.outbound.mail`, when ``SOCIALCRM_SMTP_URL`` is set)
and private messages, then the webhooks (:mod:`socialcrm.outbound.webhooks`).

Two ways to run it, both on :func:`run_once`:

- inside the web app: ``SOCIALCRM_DELIVERY_INTERVAL_SECONDS`` > 0 starts a task in the
  app's lifespan (:func:`start` / :func:`stop`); 0, the default, leaves it off;
- as a worker of its own: ``socialcrm inbox deliver --watch`` (:func:`watch`).

Any number of them may run against one app database: every outbox item and webhook
delivery is claimed with a lease before it is sent (see
:func:`socialcrm.outbound.outbox.claim`), so each is sent by one of them only.

A pass works in short transactions (see :func:`socialcrm.outbound.webhooks.deliver`),
so the app's own requests are never kept waiting behind it. A pass that fails is logged
once with its reason (again only when the reason changes), and the next passes back off
(interval × 2, 4, 8… up to :data:`MAX_BACKOFF_SECONDS`) instead of failing in a storm;
the first pass that works again says so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from socialcrm.appdb.models import OutboxItem, utcnow
from socialcrm.config import Settings
from socialcrm.outbound import mail, outbox, webhooks
from socialcrm.outbound.channel import ChannelError, Sender
from socialcrm.outbound.periodic import Periodic, repeat
from socialcrm.outbound.social import direct_from_settings, from_settings

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

log = logging.getLogger(__name__)


def run_once(
    db: AppDB,
    settings: Settings,
    connector: Sender | None = None,
    email_recheck: mail.Recheck | None = None,
) -> dict[str, Any]:
    """One pass: the outbox through the configured connector, the campaigns' emails and
    private messages, then the webhooks.

    ``db`` is an :class:`~socialcrm.appdb.db.AppDB`; ``connector`` a
    :class:`~socialcrm.outbound.channel.Sender`, by default the social sender the
    settings name. One that cannot be built (missing token) or fails outright is
    reported, and the other channels still go out.

    ``email_recheck`` is the campaign side's consent check, run right before each email
    (see :func:`~socialcrm.outbound.mail.deliver_emails`). Without one, due campaign
    emails are left to the runners that have it (``socialcrm campaign send``, the
    journeys) and only counted (``email_waiting``): consent is checked again at send
    time, always, and this package cannot read the warehouse's consents itself.
    """
    out: dict[str, Any] = {}
    conn = connector
    try:
        conn = conn or from_settings(settings)
        out["outbox"] = outbox.deliver_pass(
            db,
            conn,
            max_attempts=settings.inbox_outbox_attempts,
            lease_seconds=settings.delivery_lease_seconds,
        )
    except ChannelError as e:
        out["outbox_error"] = str(e)
    finally:
        if connector is None and conn is not None and hasattr(conn, "close"):
            conn.close()
    out.update(_campaign_channels(db, settings, email_recheck))
    rep = webhooks.deliver(
        db,
        webhooks.Policy.from_settings(settings),
        lease_seconds=settings.delivery_lease_seconds,
    )
    out["webhooks"] = {
        "imported": rep.imported,
        "fanned_out": rep.fanned_out,
        "delivered": rep.delivered,
        "failed": rep.failed,
        "disabled": rep.disabled,
    }
    return out


def _campaign_channels(
    db: AppDB, settings: Settings, email_recheck: mail.Recheck | None
) -> dict[str, Any]:
    """Due campaign emails (when an SMTP server is set) and private messages (for the
    networks that have due ones, so a brand without Bluesky needs no Bluesky login)."""
    out: dict[str, Any] = {}
    if settings.smtp_url is not None and _has_due(db, mail.CONNECTOR):
        if email_recheck is None:
            out["email_waiting"] = _due_count(db, mail.CONNECTOR)
        else:
            try:
                out["email"] = mail.deliver_emails(db, settings, recheck=email_recheck)
            except (ChannelError, mail.EmailError) as e:
                out["email_error"] = str(e)
    for name in mail.DIRECT_CONNECTORS:
        if not _has_due(db, name):
            continue
        sender: Any = None
        try:
            sender = direct_from_settings(name, settings)
            out[name] = outbox.deliver_pass(
                db,
                sender,
                max_attempts=settings.inbox_outbox_attempts,
                lease_seconds=settings.delivery_lease_seconds,
            )
        except ChannelError as e:
            out[f"{name}_error"] = str(e)
        finally:
            if sender is not None and hasattr(sender, "close"):
                sender.close()
    return out


def _due(connector: str) -> tuple[Any, ...]:
    return (
        OutboxItem.connector == connector,
        OutboxItem.status.in_(("pending", "sending")),
        OutboxItem.next_attempt_at <= utcnow(),
    )


def _has_due(db: AppDB, connector: str) -> bool:
    with db.session() as s:
        found = s.scalar(select(OutboxItem.id).where(*_due(connector)).limit(1))
    return found is not None


def _due_count(db: AppDB, connector: str) -> int:
    with db.session() as s:
        return int(
            s.scalar(select(func.count()).select_from(OutboxItem).where(*_due(connector))) or 0
        )


def watch(
    db: AppDB,
    settings: Settings,
    interval: float,
    *,
    stop: threading.Event | None = None,
    on_pass: Callable[[dict[str, Any] | None], None] | None = None,
    connector: Sender | None = None,
    passes: int | None = None,
    email_recheck: mail.Recheck | None = None,
) -> int:
    """Run a pass every ``interval`` seconds until ``stop`` is set (or ``passes`` ran);
    returns the number of passes. Blocking: for ``socialcrm inbox deliver --watch``.
    While passes fail, the wait grows (see :class:`~socialcrm.outbound.periodic.Health`).
    ``email_recheck``: see :func:`run_once`."""
    return repeat(
        lambda: run_once(db, settings, connector, email_recheck),
        interval,
        name="delivery",
        stop=stop,
        passes=passes,
        on_pass=on_pass,
    )


class Scheduler(Periodic[dict[str, Any]]):
    """The web app's background delivery task (see :func:`start`); ``passes`` and
    ``health`` as :class:`~socialcrm.outbound.periodic.Periodic` keeps them. A pass cut
    short at shutdown leaves its items to their leases."""

    def __init__(
        self,
        db: AppDB,
        settings: Settings,
        interval: float,
        email_recheck: mail.Recheck | None = None,
    ) -> None:
        """Starts the loop in the running event loop."""
        super().__init__("delivery", lambda: run_once(db, settings, None, email_recheck), interval)


def start(
    db: AppDB, settings: Settings, email_recheck: mail.Recheck | None = None
) -> Scheduler | None:
    """Start periodic delivery in the running event loop, or None when the interval is 0.
    ``email_recheck``: see :func:`run_once` (without it, campaign emails wait for their
    runners)."""
    interval = settings.delivery_interval_seconds
    if interval <= 0:
        return None
    return Scheduler(db, settings, interval, email_recheck)
