"""Background delivery: due outbox replies and webhook deliveries, every few seconds.

Two ways to run it, both on :func:`run_once`:

- inside the web app: ``SOCIALCRM_DELIVERY_INTERVAL_SECONDS`` > 0 starts a task in the
  app's lifespan (:func:`start` / :func:`stop`); 0, the default, leaves it off;
- as a worker of its own: ``socialcrm inbox deliver --watch`` (:func:`watch`).

Any number of them may run against one app database: every outbox item and webhook
delivery is claimed with a lease before it is sent (see
:func:`socialcrm.responding.outbox.claim`), so each is sent by one of them only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from socialcrm.config import Settings

log = logging.getLogger(__name__)


def run_once(db: Any, settings: Settings, connector: Any = None) -> dict[str, Any]:
    """One pass: the outbox through the configured connector, then the webhooks.

    ``db`` is an :class:`~socialcrm.appdb.db.AppDB`. A connector that cannot be built
    (missing token) or fails outright is reported, and the webhooks still go out.
    """
    from socialcrm.collaborating import webhooks
    from socialcrm.responding import outbox
    from socialcrm.responding.connectors import ConnectorError, from_settings

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
    except ConnectorError as e:
        out["outbox_error"] = str(e)
    finally:
        if connector is None and conn is not None and hasattr(conn, "close"):
            conn.close()
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


def _safe_pass(db: Any, settings: Settings, connector: Any = None) -> dict[str, Any] | None:
    try:
        return run_once(db, settings, connector)
    except Exception:  # a bad pass must not end the loop; the next one tries again
        log.exception("delivery pass failed")
        return None


def watch(
    db: Any,
    settings: Settings,
    interval: float,
    *,
    stop: threading.Event | None = None,
    on_pass: Callable[[dict[str, Any] | None], None] | None = None,
    connector: Any = None,
    passes: int | None = None,
) -> int:
    """Run a pass every ``interval`` seconds until ``stop`` is set (or ``passes`` ran);
    returns the number of passes. Blocking: for ``socialcrm inbox deliver --watch``."""
    stop = stop or threading.Event()
    n = 0
    while not stop.is_set():
        result = _safe_pass(db, settings, connector)
        n += 1
        if on_pass is not None:
            on_pass(result)
        if passes is not None and n >= passes:
            break
        stop.wait(interval)
    return n


class Scheduler:
    """The web app's background delivery task (see :func:`start`).

    ``passes`` counts the passes completed: how a health check, or a test, sees that
    delivery runs without guessing how long a pass takes.
    """

    def __init__(self, db: Any, settings: Settings, interval: float) -> None:
        """Starts the loop in the running event loop."""
        self.passes = 0
        self._stop = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(db, settings, interval))

    async def _run(self, db: Any, settings: Settings, interval: float) -> None:
        while not self._stop.is_set():
            # In a thread: the connectors and webhooks use blocking HTTP and database calls.
            await asyncio.to_thread(_safe_pass, db, settings)
            self.passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=interval)

    async def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end after the pass in flight, and wait for it (bounded)."""
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=timeout)
        except TimeoutError:
            self.task.cancel()
            log.warning("delivery pass still running at shutdown; left to its lease")


def start(db: Any, settings: Settings) -> Scheduler | None:
    """Start periodic delivery in the running event loop, or None when the interval is 0."""
    interval = settings.delivery_interval_seconds
    if interval <= 0:
        return None
    return Scheduler(db, settings, interval)
