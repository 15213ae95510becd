"""A pass run every few seconds, in the background of the web app or in a watching CLI.

Delivery (:mod:`socialcrm.outbound.delivery`) and the journeys
(:mod:`socialcrm.programs.journeys`) both need the same loop: run a blocking pass, and
when it fails, say so once per reason and wait longer before the next (interval × 2, 4,
8… up to :data:`MAX_BACKOFF_SECONDS`) instead of failing in a storm; the first pass that
works again says so. :class:`Periodic` runs it in the running event loop (each pass in
a thread: passes make blocking database and network calls), :func:`repeat` blocks, for
``--watch`` commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 600.0
T = TypeVar("T")


class Health:
    """Consecutive failed passes, and how long to wait before the next pass.

    ``failures`` and ``last_error`` are what a health check (or a test) reads; ``name``
    says whose passes they are in the log ("delivery pass failed …").
    """

    def __init__(self, name: str = "delivery") -> None:
        self.name = name
        self.failures = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def passed(self) -> None:
        with self._lock:
            if self.failures:
                log.warning("%s passes work again after %d failed pass(es)", self.name,
                            self.failures)  # fmt: skip
            self.failures, self.last_error = 0, None

    def failed(self, exc: BaseException, interval: float) -> None:
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
        with self._lock:
            self.failures += 1
            first = reason != self.last_error
            self.last_error = reason
            wait = self.wait(interval)
        if first:  # once per reason, with the traceback; repeats are debug only
            log.error(
                "%s pass failed (%s); next pass in %.0f s, backing off while it fails",
                self.name,
                reason,
                wait,
                exc_info=exc,
            )
        else:
            log.debug("%s pass failed again (%d in a row): %s", self.name, self.failures, reason)

    def wait(self, interval: float) -> float:
        """Seconds until the next pass: ``interval``, doubled for each failure in a row."""
        if not self.failures:
            return interval
        cap = max(interval, MAX_BACKOFF_SECONDS)
        return min(interval * 2.0 ** min(self.failures, 30), cap)


def guarded(one_pass: Callable[[], T], health: Health, interval: float) -> T | None:
    """Run one pass; a failure is told to ``health`` (and returns None), never raised:
    a bad pass must not end the loop, a later one tries again."""
    try:
        result = one_pass()
    except Exception as e:
        health.failed(e, interval)
        return None
    health.passed()
    return result


def repeat(
    one_pass: Callable[[], T],
    interval: float,
    *,
    name: str,
    stop: threading.Event | None = None,
    passes: int | None = None,
    on_pass: Callable[[T | None], None] | None = None,
) -> int:
    """Run a pass every ``interval`` seconds until ``stop`` is set (or ``passes`` ran),
    backing off while passes fail; returns the number of passes. Blocking."""
    stop = stop or threading.Event()
    health = Health(name)
    n = 0
    while not stop.is_set():
        result = guarded(one_pass, health, interval)
        n += 1
        if on_pass is not None:
            on_pass(result)
        if passes is not None and n >= passes:
            break
        stop.wait(health.wait(interval))
    return n


class Periodic(Generic[T]):
    """A pass every ``interval`` seconds in the running event loop, until :meth:`stop`.

    ``passes`` counts the passes completed, ``health`` the failures in a row: how a
    health check, or a test, sees that the loop runs without guessing how long a pass
    takes.
    """

    def __init__(self, name: str, one_pass: Callable[[], T], interval: float) -> None:
        """Starts the loop in the running event loop."""
        self.name = name
        self.passes = 0
        self.health = Health(name)
        self._one_pass = one_pass
        self._stop = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run(interval))

    async def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            await asyncio.to_thread(guarded, self._one_pass, self.health, interval)
            self.passes += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.health.wait(interval))

    async def stop(self, timeout: float = 30.0) -> None:
        """Ask the loop to end after the pass in flight, and wait for it (bounded)."""
        self._stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout=timeout)
        except TimeoutError:
            self.task.cancel()
            log.warning("%s pass still running at shutdown; the next start resumes it", self.name)


__all__ = ["MAX_BACKOFF_SECONDS", "Health", "Periodic", "guarded", "repeat"]
