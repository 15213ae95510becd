"""The outbound URL guard: what is refused when a URL is set, and again at each request."""

from __future__ import annotations

import doctest
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from socialcrm.outbound import urls
from socialcrm.outbound.urls import (
    ALLOW_HOSTS_ENV,
    GuardedTransport,
    OutboundURLError,
    check_outbound_url,
    guarded_client,
)

PUBLIC = "93.184.215.14"


def public(host: str, port: int) -> list[str]:
    return [PUBLIC]


def answers(*addresses: str):
    def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


def nowhere(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


@pytest.fixture(autouse=True)
def _no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)


FORBIDDEN = [
    # (URL, what the refusal says)
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.255.0.9:8080/", "loopback"),
    ("http://localhost/hook", "localhost is loopback"),
    ("http://LOCALHOST./hook", "localhost is loopback"),
    ("http://api.localhost/", "loopback"),
    ("http://2130706433/", "127.0.0.1 is a loopback"),  # decimal
    ("http://0x7f.1/", "127.0.0.1 is a loopback"),  # hex, short form
    ("http://0x7f000001/", "127.0.0.1 is a loopback"),
    ("http://017700000001/", "127.0.0.1 is a loopback"),  # octal
    ("http://0177.0.0.1/", "0177.0.0.1"),  # httpx refuses leading zeros outright
    ("http://127.1/", "127.0.0.1 is a loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback address (IPv4 127.0.0.1 inside"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[::ffff:10.1.2.3]/", "private address (IPv4 10.1.2.3"),
    ("http://[::ffff:169.254.169.254]/", "cloud metadata"),
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 around 127.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/", "cloud metadata"),  # NAT64 around 169.254.169.254
    ("http://10.0.0.5/", "private"),
    ("http://172.16.3.4/", "private"),
    ("http://172.31.255.255/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://169.254.1.1/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ("http://[fd00:ec2::254]/", "cloud metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://metadata/", "metadata"),
    ("http://100.100.100.200/", "cloud metadata"),
    ("http://168.63.129.16/", "cloud metadata"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://100.127.255.254/", "CGNAT"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.1.2.3/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "reserved"),
    ("http://192.0.0.192/", "IETF"),
    ("http://198.18.0.1/", "benchmarking"),
    ("ftp://example.com/x", "only http and https"),
    ("file:///etc/passwd", "only http and https"),
    ("gopher://example.com/", "only http and https"),
    ("//example.com/x", "relative"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://user@example.com/", "user name or password"),
    ("http://127.0.0.1\\@example.com/", "'\\'"),
    ("http://exa mple.com/", "spaces"),
    ("http://example.com/\r\nX: y", "control"),
    ("http:///nohost", "no host"),
    ("http://[fe80::1%25eth0]/", "zone"),
    ("http://" + "a" * 2000 + ".com/", "longer than 2000"),
]


@pytest.mark.parametrize(("url", "why"), FORBIDDEN)
def test_forbidden_urls_are_refused_when_set(url: str, why: str) -> None:
    with pytest.raises(OutboundURLError, match=None) as exc:
        check_outbound_url(url, resolver=public)
    assert why in str(exc.value), str(exc.value)
    assert isinstance(exc.value, ValueError)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/crm",
        "http://hooks.example.com:8080/a?b=c",
        f"http://{PUBLIC}/x",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/x",
    ],
)
def test_public_urls_pass(url: str) -> None:
    check_outbound_url(url, resolver=public)


def test_a_name_that_resolves_to_a_forbidden_address_is_refused() -> None:
    with pytest.raises(OutboundURLError, match=r"resolves to 10\.0\.0\.7, a private address"):
        check_outbound_url("https://intranet.example.com/", resolver=answers("10.0.0.7"))
    # one bad address among good ones is enough: which one a client picks is not ours
    with pytest.raises(OutboundURLError, match=re.escape("127.0.0.1, a loopback")):
        check_outbound_url("https://x.example.com/", resolver=answers(PUBLIC, "127.0.0.1"))
    with pytest.raises(OutboundURLError, match=r"metadata address \(IPv4 169\.254\.169\.254"):
        check_outbound_url("https://x.example.com/", resolver=answers("::ffff:169.254.169.254"))


def test_a_name_that_does_not_resolve_yet_is_left_to_delivery() -> None:
    check_outbound_url("https://not-yet.example.com/", resolver=nowhere)


def test_allow_list_by_name_by_address_and_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(OutboundURLError):
        check_outbound_url("http://127.0.0.1:9000/hook")
    check_outbound_url("http://127.0.0.1:9000/hook", allow_hosts=["127.0.0.1"])
    # an address entry matches the address a name resolves to
    check_outbound_url(
        "http://receiver.internal/", allow_hosts="10.0.0.9", resolver=answers("10.0.0.9")
    )
    with pytest.raises(OutboundURLError, match=re.escape("10.0.0.8")):
        check_outbound_url(
            "http://receiver.internal/", allow_hosts="10.0.0.9", resolver=answers("10.0.0.8")
        )
    # a name entry matches the URL's host whatever it resolves to; case and dot ignored
    check_outbound_url(
        "http://Receiver.Internal./", allow_hosts="receiver.internal", resolver=answers("10.0.0.8")
    )
    # any spelling of an allowed address is the address
    check_outbound_url("http://0x7f.1/", allow_hosts="127.0.0.1")
    monkeypatch.setenv(ALLOW_HOSTS_ENV, " 127.0.0.1 , hooks.lan ")
    check_outbound_url("http://127.0.0.1:1/")
    check_outbound_url("http://hooks.lan/", resolver=answers("192.168.0.3"))
    with pytest.raises(OutboundURLError, match=re.escape("192.168.0.4")):
        check_outbound_url("http://other.lan/", resolver=answers("192.168.0.4"))
    # the scheme and credential rules hold for allowed hosts too
    with pytest.raises(OutboundURLError, match="user name"):
        check_outbound_url("http://u:p@127.0.0.1/")
    with pytest.raises(OutboundURLError, match="only http"):
        check_outbound_url("ftp://127.0.0.1/")


# -- at request time ------------------------------------------------------------------------
@contextmanager
def local_server(status: int = 200, location: str | None = None) -> Iterator[tuple[int, list]]:
    """A loopback server recording each request's Host header; answers ``status``."""
    got: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            n = int(self.headers.get("Content-Length", 0))
            if n:
                self.rfile.read(n)
            got.append(dict(self.headers))
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1], got
    finally:
        srv.shutdown()
        srv.server_close()
        t.join()


def test_dns_rebinding_is_refused_at_request_time_and_nothing_is_sent() -> None:
    answer = [PUBLIC]  # what DNS says: public when the URL is set…

    def flipping(host: str, port: int) -> list[str]:
        return list(answer)

    with local_server() as (port, got):
        url = f"http://hooks.example.test:{port}/hook"
        check_outbound_url(url, resolver=flipping)  # accepted when set
        answer[:] = ["127.0.0.1"]  # …and loopback when the request goes out
        refused = pytest.raises(OutboundURLError, match=r"resolves to 127\.0\.0\.1, a loopback")
        with guarded_client(resolver=flipping) as client, refused:
            client.post(url, content=b"{}")
    assert got == []


def test_the_connection_goes_to_the_checked_address_with_the_original_host_header() -> None:
    # hooks.example.test exists only in this resolver: the request can reach the local
    # server only through the address the guard resolved and checked (allowed here).
    with local_server() as (port, got):
        url = f"http://hooks.example.test:{port}/hook"
        with guarded_client(allow_hosts="127.0.0.1", resolver=answers("127.0.0.1")) as client:
            r = client.post(url, content=b"{}")
        assert r.status_code == 200 and str(r.request.url) == url
    assert [g["Host"] for g in got] == [f"hooks.example.test:{port}"]


def test_tls_requests_carry_the_name_as_sni_and_pool_per_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[str, str, str | None, int]] = []
    pools: dict[str, int] = {}

    class Recorder(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            sni = request.extensions.get("sni_hostname")
            seen.append((str(request.url), request.headers["Host"], sni, id(self)))
            return httpx.Response(204)

    t = GuardedTransport(resolver=answers(PUBLIC))

    def pool(host: str) -> httpx.BaseTransport:
        pools.setdefault(host, Recorder())
        return pools[host]

    monkeypatch.setattr(t, "_pool", pool)
    with httpx.Client(transport=t) as client:
        client.post("https://a.example.com/x", content=b"1")
        client.post("https://b.example.com/y", content=b"2")
    (url_a, host_a, sni_a, pool_a), (url_b, host_b, sni_b, pool_b) = seen
    assert url_a == f"https://{PUBLIC}/x" and host_a == "a.example.com" and sni_a == host_a
    assert url_b == f"https://{PUBLIC}/y" and host_b == "b.example.com" and sni_b == host_b
    assert pool_a != pool_b  # one pool per name: a's TLS session never carries b's request


def test_every_address_is_tried_in_turn_but_only_checked_ones() -> None:
    with local_server() as (port, got):
        # 127.0.0.2 refuses the connection (nothing listens there); 127.0.0.1 answers
        resolver = answers("127.0.0.2", "127.0.0.1")
        allowed = ["127.0.0.1", "127.0.0.2"]
        with guarded_client(allow_hosts=allowed, resolver=resolver) as client:
            assert client.get(f"http://two.example.test:{port}/").status_code == 200
        refused = pytest.raises(OutboundURLError, match=re.escape("127.0.0.2"))
        with guarded_client(allow_hosts=["127.0.0.1"], resolver=resolver) as client, refused:
            client.get(f"http://two.example.test:{port}/")
    assert len(got) == 1


def test_a_name_that_does_not_resolve_is_a_connect_error() -> None:
    with guarded_client(resolver=nowhere) as client, pytest.raises(httpx.ConnectError):
        client.get("https://gone.example.com/")


def test_redirects_are_not_followed() -> None:
    metadata = "http://169.254.169.254/latest/meta-data/"
    with (
        local_server(302, location=metadata) as (port, got),
        guarded_client(allow_hosts="127.0.0.1") as client,
    ):
        r = client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    assert r.status_code == 302 and len(got) == 1


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(urls).failed == 0
