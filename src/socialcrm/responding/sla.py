"""SLA clocks, and the state changes that move them.

Two SLAs run from a conversation's first message: the first response
(``inbox_first_response_hours``) and the resolution (``inbox_resolution_hours``).
**Time waiting on the customer does not count against the resolution SLA**: while a
conversation is ``waiting`` (the brand answered or asked a question and the customer has
not written back), its resolution clock is paused. When the wait ends (the customer
writes, or an agent moves it on), ``resolution_due`` moves later by the time waited and
``waiting_seconds`` adds it up. The first-response SLA is not paused: a conversation only
waits after the brand responded.

Every state change of a conversation goes through :func:`set_state`, so no path (agent,
reply, customer message, assignment) can forget the clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from socialcrm.appdb.models import Conversation

WAITING = "waiting"
"""The state in which the conversation waits on the customer."""


def set_state(conv: Conversation, state: str, at: datetime) -> None:
    """Move ``conv`` to ``state`` at ``at``, pausing or resuming the resolution clock."""
    if state == conv.state:
        return
    if conv.state == WAITING:
        _resume(conv, at)
    conv.state = state
    if state == WAITING:
        conv.waiting_since = at


def _resume(conv: Conversation, at: datetime) -> None:
    since = conv.waiting_since
    conv.waiting_since = None
    if since is None:
        return
    paused = max((at - since).total_seconds(), 0.0)
    conv.waiting_seconds = (conv.waiting_seconds or 0.0) + paused
    conv.resolution_due = conv.resolution_due + timedelta(seconds=paused)


def paused_seconds(conv: Conversation, now: datetime) -> float:
    """Time waited on the customer so far, the wait going on now included."""
    total = conv.waiting_seconds or 0.0
    if conv.state == WAITING and conv.waiting_since is not None:
        total += max((now - conv.waiting_since).total_seconds(), 0.0)
    return total


def resolution_due(conv: Conversation, now: datetime) -> datetime:
    """When the resolution SLA falls due, seen at ``now`` (a wait going on pushes it)."""
    if conv.state == WAITING and conv.waiting_since is not None:
        return conv.resolution_due + max(now - conv.waiting_since, timedelta(0))
    return conv.resolution_due


def resolution_overdue(conv: Conversation, now: datetime) -> bool:
    """Whether the resolution SLA is broken at ``now`` (waiting time not counted)."""
    return now > resolution_due(conv, now)


def resolution_hours_used(conv: Conversation, now: datetime) -> float:
    """Hours of the resolution SLA used up at ``now``: since the first message, less waits."""
    elapsed = (now - conv.first_message_at).total_seconds() - paused_seconds(conv, now)
    return max(elapsed / 3600.0, 0.0)


def _hours(seconds: float) -> str:
    h = seconds / 3600
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.0f} h" if h < 48 else f"{h / 24:.0f} days"


def status(row: dict[str, Any], now: datetime) -> tuple[str, bool]:
    """The SLA in words for a listed conversation, and whether it is broken: "resolved in
    5 h", "answered in 40 min, waiting on the customer", "no answer yet, due in 2 h",
    "no answer, 3 days overdue". ``row`` has the list's columns (see queries.py)."""
    start = row["first_message_at"]
    if row.get("resolved_at") is not None:
        took = (row["resolved_at"] - start).total_seconds()
        return f"resolved in {_hours(took)}", bool(row.get("resolution_breached"))
    answered = row.get("first_response_at")
    if answered is None:
        due = row["first_response_due"]
        if now > due:
            return f"no answer, {_hours((now - due).total_seconds())} overdue", True
        return f"no answer yet, due in {_hours((due - now).total_seconds())}", False
    said = f"answered in {_hours((answered - start).total_seconds())}"
    if row.get("state") == WAITING:
        return f"{said}, waiting on the customer", bool(row.get("first_response_breached"))
    due = row["resolution_due"]
    if row.get("resolution_breached") or now > due:
        return f"{said}; resolution overdue", True
    return f"{said}; resolve within {_hours((due - now).total_seconds())}", bool(
        row.get("first_response_breached")
    )
