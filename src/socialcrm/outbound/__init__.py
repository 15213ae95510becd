"""Outbound HTTP: URLs the app calls on a user's behalf (webhooks), guarded against SSRF."""

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
