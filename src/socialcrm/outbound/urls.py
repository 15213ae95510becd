"""Outbound URLs: who the app may call on a user's behalf (against SSRF).

A webhook URL is chosen by a user, and the app then makes requests to it from inside the
network it runs in. Without a guard, anyone allowed to add a webhook can make the app
call loopback services, the private network or the cloud's metadata endpoint (blind
SSRF). The guard works at two moments:

1. **When the URL is set** (:func:`check_outbound_url`): only ``http``/``https``, no
   ``user:password@``, and a host that is neither a forbidden name (``localhost``,
   ``metadata.google.internal``…) nor, as an IP literal in any spelling the C library
   accepts (``2130706433``, ``0x7f.1``, ``017700000001``, ``[::ffff:127.0.0.1]``), nor
   through any address it resolves to now, a forbidden address (:func:`address_problem`):
   loopback, private (RFC 1918, ``fc00::/7``), link-local, multicast, unspecified,
   reserved, CGNAT ``100.64/10``, cloud metadata, and IPv6 forms that embed one of those
   (IPv4-mapped, 6to4, NAT64). A host that does not resolve yet is accepted: delivery
   checks again.
2. **At every request** (:class:`GuardedTransport`): DNS can answer differently later
   (DNS rebinding), so the host is resolved again, *every* address is checked, and the
   connection goes to a checked address: the transport rewrites the request to that IP
   and sends the original name in the ``Host`` header and as the TLS SNI name (certificate
   checked against the name), so nothing resolves the name a second time between the
   check and the connect. Redirects are not followed (:func:`guarded_client`); were they,
   each hop would pass through the transport and be checked the same way.

An operator can allow-list hosts (a receiver on the same machine or the private
network, which is the real use): ``SOCIALCRM_OUTBOUND_ALLOW_HOSTS`` is a comma-separated
list of host names or IP addresses. A name matches the URL's host; an IP address matches
the URL's host or any address it resolves to. A webhook subscription can also carry its
own allow flag, set by an admin on the command line (``socialcrm webhooks add URL
--allow-host``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

ALLOW_HOSTS_ENV = "SOCIALCRM_OUTBOUND_ALLOW_HOSTS"
ALLOW_HOST_EXTENSION = "socialcrm.allow_host"
"""A request extension: ``True`` lets this request's host through (an admin allowed it)."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> addresses``; raises :class:`OSError` when the name does not resolve."""


class OutboundURLError(ValueError):
    """A URL the app refuses to call; the message says why, in plain words."""


class UnresolvedHost(Exception):
    """The host has no address now (checked again at delivery)."""


_ip = ipaddress.ip_address
_net = ipaddress.ip_network

METADATA_ADDRESSES = frozenset(
    _ip(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle…
        "169.254.170.2",  # AWS ECS task metadata
        "169.254.169.253",  # AWS VPC DNS
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer: a public address, so listed by name
    )
)
FORBIDDEN_NAMES = frozenset(
    {
        "localhost",
        "localhost.localdomain",
        "ip6-localhost",
        "ip6-loopback",
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
# Ranges that are not public whatever the Python version's ipaddress tables say.
_NOT_PUBLIC = (
    (_net("100.64.0.0/10"), "a shared (CGNAT) address"),
    (_net("192.0.0.0/24"), "an IETF protocol address"),
    (_net("198.18.0.0/15"), "a benchmarking address"),
    (_net("64:ff9b:1::/48"), "a local-use NAT64 address"),
)
_NAT64 = _net("64:ff9b::/96")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_NUMERIC_HOST = re.compile(r"[0-9a-fx.]+")


# -- addresses ------------------------------------------------------------------------------
def address_problem(address: str | IPAddress) -> str | None:
    """Why the app must not connect to ``address`` (``"a loopback address"``), or None.

    >>> address_problem("127.0.0.1"), address_problem("::ffff:10.0.0.1")
    ('a loopback address', 'a private address (IPv4 10.0.0.1 inside ::ffff:a00:1)')
    >>> address_problem("93.184.215.14") is None
    True
    """
    ip = _ip(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            ip = ipaddress.IPv6Address(str(ip).split("%", 1)[0])
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            why = address_problem(embedded)
            if why:
                return f"{why} (IPv4 {embedded} inside {ip})"
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    for net, why in _NOT_PUBLIC:
        if ip.version == net.version and ip in net:
            return why
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "an address that is not publicly routable"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells, in any form the C library would connect to, or None.

    >>> literal_address("0x7f.1"), literal_address("2130706433"), literal_address("a.io")
    (IPv4Address('127.0.0.1'), IPv4Address('127.0.0.1'), None)
    """
    host = host.strip("[]")
    try:
        return _ip(host)
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host.lower()):
        try:  # inet_aton takes what getaddrinfo takes: 127.1, 0177.0.0.1, 0x7f000001…
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to, for a TCP connection to ``port``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# -- allow-list -----------------------------------------------------------------------------
def normalize_host(host: str) -> str:
    """Lower case, no brackets, no trailing dot; an IP address in its canonical form."""
    h = host.strip().lower().strip("[]").rstrip(".")
    ip = literal_address(h)
    return str(ip) if ip is not None else h


def allow_hosts_from_env(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The hosts in ``SOCIALCRM_OUTBOUND_ALLOW_HOSTS`` (comma-separated), normalized."""
    env = os.environ if environ is None else environ
    return _allow_set(env.get(ALLOW_HOSTS_ENV, ""))


def _allow_set(hosts: str | Iterable[str] | None) -> frozenset[str]:
    if hosts is None:
        return allow_hosts_from_env()
    if isinstance(hosts, str):
        hosts = hosts.split(",")
    return frozenset(normalize_host(h) for h in hosts if h and h.strip())


# -- URLs -----------------------------------------------------------------------------------
def parse_outbound_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of a URL the app may call, checking its form only.

    Parsed by httpx, the client that will send the request, so the host checked is the
    host connected to (no parser differential).
    """
    if not isinstance(url, str) or not url.strip():
        raise OutboundURLError("a URL is needed")
    if len(url) > 2000:
        raise OutboundURLError("the URL is longer than 2000 characters")
    if _UNSAFE_CHARS.search(url):
        raise OutboundURLError("a URL must not contain spaces, control characters or '\\'")
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError) as e:
        raise OutboundURLError(f"not a valid URL ({e})") from None
    if u.scheme not in ("http", "https"):
        what = f"{u.scheme}:" if u.scheme else "a relative URL"
        raise OutboundURLError(f"only http and https URLs can be called, not {what}")
    if u.userinfo:
        raise OutboundURLError("a URL must not carry a user name or password (user:pass@)")
    if not u.host:
        raise OutboundURLError("the URL has no host")
    if "%" in u.host or not u.host.isascii():
        raise OutboundURLError("the URL's host must not contain escapes or zone ids")
    port = u.port or (443 if u.scheme == "https" else 80)
    return u.scheme, normalize_host(u.host), port


def vet_host(
    host: str,
    port: int,
    allow_hosts: str | Iterable[str] | None = None,
    resolver: Resolver | None = None,
) -> list[IPAddress]:
    """The addresses of ``host`` the app may connect to, or :class:`OutboundURLError`.

    Every address must pass: one forbidden address refuses the host, since which one a
    client would pick is not under our control. Raises :class:`UnresolvedHost` when the
    name has no address.
    """
    allow = _allow_set(allow_hosts)
    host = normalize_host(host)
    named = host in allow
    lit = literal_address(host)
    if lit is None and not named and (host in FORBIDDEN_NAMES or host.endswith(".localhost")):
        why = "a cloud metadata name" if "metadata" in host or "instance" in host else "loopback"
        raise OutboundURLError(f"{host} is {why}; the app does not call it")
    if lit is not None:
        addresses: list[IPAddress] = [lit]
    else:
        try:
            found = (resolver or system_resolver)(host, port)
        except OSError as e:
            raise UnresolvedHost(f"cannot resolve {host}: {e}") from None
        addresses = [_ip(a) for a in dict.fromkeys(found)]
        if not addresses:
            raise UnresolvedHost(f"cannot resolve {host}: no address")
    if named:
        return addresses
    for ip in addresses:
        if normalize_host(str(ip)) in allow:
            continue
        problem = address_problem(ip)
        if problem:
            if lit is not None:
                raise OutboundURLError(f"{host} is {problem}; the app does not call it")
            raise OutboundURLError(f"{host} resolves to {ip}, {problem}; the app does not call it")
    return addresses


def check_outbound_url(
    url: str,
    allow_hosts: str | Iterable[str] | None = None,
    *,
    resolver: Resolver | None = None,
) -> None:
    """Refuse (:class:`OutboundURLError`, a ValueError) a URL the app must not call.

    ``allow_hosts``: hosts let through (default: ``SOCIALCRM_OUTBOUND_ALLOW_HOSTS``).
    A host that does not resolve now passes: every request checks again.

    >>> try:
    ...     check_outbound_url("http://0x7f.1/hook")
    ... except ValueError as e:
    ...     print(e)
    127.0.0.1 is a loopback address; the app does not call it
    """
    _scheme, host, port = parse_outbound_url(url)
    try:
        vet_host(host, port, allow_hosts, resolver)
    except UnresolvedHost:
        return


# -- the transport that connects only to checked addresses ----------------------------------
class GuardedTransport(httpx.BaseTransport):
    """An httpx transport that resolves, checks every address, then connects to one.

    The request goes to the checked IP (its URL rewritten), with the original ``Host``
    header and, over TLS, the original name as SNI and for the certificate check. One
    connection pool per host name, so a TLS connection opened for one name never carries
    another name's request. Refusals raise :class:`OutboundURLError`; a name that does not
    resolve raises :class:`httpx.ConnectError`.
    """

    def __init__(
        self,
        allow_hosts: str | Iterable[str] | None = None,
        resolver: Resolver | None = None,
        **transport_options: Any,
    ) -> None:
        self._allow = _allow_set(allow_hosts)
        self._resolver = resolver or system_resolver
        self._options = transport_options
        self._pools: dict[str, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def _pool(self, host: str) -> httpx.HTTPTransport:
        with self._lock:
            pool = self._pools.get(host)
            if pool is None:
                pool = self._pools[host] = httpx.HTTPTransport(**self._options)
            return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        scheme, host, port = parse_outbound_url(str(request.url))
        extensions = dict(request.extensions)
        allow = self._allow | ({host} if extensions.pop(ALLOW_HOST_EXTENSION, False) else set())
        try:
            addresses = vet_host(host, port, allow, self._resolver)
        except UnresolvedHost as e:
            raise httpx.ConnectError(str(e), request=request) from None
        if scheme == "https" and literal_address(host) is None:
            extensions["sni_hostname"] = host
        pool = self._pool(host)
        error: httpx.ConnectError | None = None
        for ip in addresses:
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=str(ip)),
                headers=request.headers,  # Host: the name from the URL, as built by httpx
                stream=request.stream,
                extensions=extensions,
            )
            try:
                return pool.handle_request(pinned)
            except httpx.ConnectError as e:  # the next address, as a client would try it
                error = e
        assert error is not None
        raise error

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()


def guarded_client(
    *,
    timeout: float = 10.0,
    allow_hosts: str | Iterable[str] | None = None,
    resolver: Resolver | None = None,
) -> httpx.Client:
    """An httpx client for user-chosen URLs: checked, pinned, no redirects, no env proxies.

    Proxies from the environment are ignored: through a proxy, the proxy would resolve
    the name, and the check would be on the proxy's address instead.
    """
    return httpx.Client(
        transport=GuardedTransport(allow_hosts, resolver),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )


__all__ = [
    "ALLOW_HOSTS_ENV",
    "ALLOW_HOST_EXTENSION",
    "FORBIDDEN_NAMES",
    "METADATA_ADDRESSES",
    "GuardedTransport",
    "OutboundURLError",
    "UnresolvedHost",
    "address_problem",
    "allow_hosts_from_env",
    "check_outbound_url",
    "guarded_client",
    "literal_address",
    "normalize_host",
    "parse_outbound_url",
    "system_resolver",
    "vet_host",
]
