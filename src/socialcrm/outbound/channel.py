"""What the outbox needs of a channel: a name, a way to send one item, and an error.

The outbox (:mod:`socialcrm.outbound.outbox`) and the delivery loop
(:mod:`socialcrm.outbound.delivery`) know nothing of any network: they hand each due
item to a :class:`Sender` and read its result. A channel is a module beside them
(:mod:`socialcrm.outbound.social` for public replies and private messages on
Mastodon/Bluesky) whose senders satisfy this protocol and raise
:class:`ChannelError` for a failed attempt. Email has a sender of its own
(:mod:`socialcrm.outbound.email`) but the same error and the same outbox.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class ChannelError(Exception):
    """A failed call to a channel; ``retryable`` says whether trying again later may succeed."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Sender(Protocol):
    """Sends outbox items on one channel, idempotently (the key is sent along).

    ``name`` is what an outbox item's ``connector`` column holds; ``platform`` and
    ``account`` label the sent message when it joins a conversation's thread.
    """

    name: str
    platform: str
    account: str | None

    def post_reply(self, in_reply_to: str | None, body: str, idempotency_key: str) -> str:
        """Send ``body`` (in reply to ``in_reply_to``); returns the sent message's id."""
        ...


@runtime_checkable
class DirectSender(Sender, Protocol):
    """Sends private messages (Mastodon ``visibility=direct``, a Bluesky chat) to a handle;
    the outbox hands it items whose ``recipient`` is that handle."""

    def send_direct(self, handle: str, body: str, idempotency_key: str) -> str:
        """Send ``body`` to ``handle`` privately; returns the sent message's id."""
        ...
