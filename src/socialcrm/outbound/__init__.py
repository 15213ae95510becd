"""Everything that leaves the system, below the domains that decide to send it.

- :mod:`~socialcrm.outbound.outbox`: the channel-agnostic outbox (queued in the deciding action's
  transaction, claimed with a lease, retried with backoff, idempotent by key);
- :mod:`~socialcrm.outbound.channel`: what a channel's sender is (:class:`Sender`,
  :class:`ChannelError`);
- channels, one module each: :mod:`~socialcrm.outbound.social` (public replies and
  private messages on Mastodon/Bluesky, or a JSON-lines file),
  :mod:`~socialcrm.outbound.webhooks` (signed events to integrators) and email:
  :mod:`~socialcrm.outbound.mail` (campaign messages built, queued and delivered) on
  :mod:`~socialcrm.outbound.email` (SMTP), :mod:`~socialcrm.outbound.templates`
  (sandboxed Jinja2), :mod:`~socialcrm.outbound.tokens` (signed links),
  :mod:`~socialcrm.outbound.suppression` (who is never emailed again) and
  :mod:`~socialcrm.outbound.bounces` (what comes back);
- :mod:`~socialcrm.outbound.delivery`: the loop that sends what is due, in the web app or
  a worker of its own;
- :mod:`~socialcrm.outbound.urls`: URLs the app calls on a user's behalf, guarded
  against SSRF.

It imports the app database and settings only, never a domain: the domains (responding,
collaborating, targeting…) call it, and what it needs of them it reads from the app
database (webhooks import the inbox's ``DomainEvent`` rows).
"""

from socialcrm.outbound.urls import (
    ALLOW_HOSTS_ENV,
    GuardedTransport,
    OutboundURLError,
    address_problem,
    allow_hosts_from_env,
    check_outbound_url,
    guarded_client,
    system_resolver,
    vet_host,
)

__all__ = [
    "ALLOW_HOSTS_ENV",
    "GuardedTransport",
    "OutboundURLError",
    "address_problem",
    "allow_hosts_from_env",
    "check_outbound_url",
    "guarded_client",
    "system_resolver",
    "vet_host",
]
