"""Audiences: consent re-checked at export, CSV, signed idempotent webhook with retries,
and only to URLs the outbound guard allows (checked first, and again at each request)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from socialcrm.config import Settings
from socialcrm.outbound.urls import ALLOW_HOSTS_ENV
from socialcrm.store.schemas import CONSENTS
from socialcrm.targeting.actions import CHANNEL_PURPOSE
from socialcrm.targeting.audiences import AudienceError, audience, export_csv, push_webhook
from tests.targeting.brand import ScoredBrand

SECRET = "s3cret"
LOCAL = "127.0.0.1"  # where the receiver listens: allow-listed explicitly where pushed to
PUBLIC = "93.184.215.14"


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that fails the first ``fail`` requests with ``code``."""

    fail = 0
    code = 503
    seen: ClassVar[list[tuple[str, str, bytes]]] = []
    hits: ClassVar[list[str]] = []
    """The Host header of every request that reached the receiver, answered or failed."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        cls.hits.append(self.headers["Host"])
        if cls.fail > 0:
            cls.fail -= 1
            self.send_response(cls.code)
        else:
            cls.seen.append(
                (self.headers["X-Socialcrm-Delivery"], self.headers["X-Socialcrm-Signature"], body)
            )
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def _no_allow_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing allow-listed unless a test says so."""
    monkeypatch.delenv(ALLOW_HOSTS_ENV, raising=False)


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.seen, Receiver.hits, Receiver.fail, Receiver.code = [], [], 0, 503
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def test_consent_is_checked_again_at_export(brand: ScoredBrand, tmp_path) -> None:
    with brand.open() as ws:
        before = audience(ws, action="loyalty_thanks")
    assert before.num_rows > 5
    target = before.column("customer_id")[0].as_py()
    copy = brand.copy(tmp_path / "ws")
    with copy.open() as ws:
        clusters = ws.warehouse.read_arrow("identity_clusters").to_pandas()
        records = clusters[clusters.customer_id == target].record_id
        later = datetime(2100, 1, 1, tzinfo=UTC)
        rows = [
            {"customer_id": r, "purpose": p, "status": "withdrawn", "recorded_at": later}
            for r in records
            for p in CHANNEL_PURPOSE.values()
        ]
        old = ws.warehouse.read_arrow("consents").cast(CONSENTS.arrow_schema)
        new = pa.Table.from_pylist(rows, schema=CONSENTS.arrow_schema)
        ws.warehouse.write("consents", pa.concat_tables([old, new]))
        after = audience(ws, action="loyalty_thanks")  # no pipeline run in between
    ids = after.column("customer_id").to_pylist()
    assert target not in ids and len(ids) == before.num_rows - 1
    f = tmp_path / "a.csv"
    assert export_csv(after, f) == after.num_rows
    assert pacsv.read_csv(f).column("customer_id").to_pylist() == ids


def test_segment_audience_and_unknown_segment(brand: ScoredBrand) -> None:
    with brand.open() as ws:
        t = audience(ws, "high_value_buyer")
        assert t.num_rows and set(t.column("segment").to_pylist()) == {"high_value_buyer"}
        assert "none" not in t.column("action").to_pylist()
        with pytest.raises(AudienceError, match="no customer in segment 'nope'"):
            audience(ws, "nope")


def test_webhook_signed_batched_retried_idempotent(brand: ScoredBrand, receiver: str) -> None:
    with brand.open() as ws:
        table = audience(ws, action="loyalty_thanks")
    Receiver.fail = 2  # two 503s, then success
    waits: list[float] = []
    sent = push_webhook(
        table, receiver, SECRET, "thanks", batch_size=40, sleep=waits.append, allow_hosts=LOCAL
    )
    assert waits[:2] == [0.5, 1.0]  # exponential backoff
    assert sent[0].attempts == 3 and sum(d.rows for d in sent) == table.num_rows
    assert len(sent) == -(-table.num_rows // 40)
    for delivery, signature, body in Receiver.seen:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert signature == expected and json.loads(body)["delivery_id"] == delivery
    first = [d.delivery_id for d in sent]
    again = push_webhook(
        table, receiver, SECRET, "thanks", batch_size=40, sleep=waits.append, allow_hosts=LOCAL
    )
    assert [d.delivery_id for d in again] == first  # same content, same ids


def test_webhook_gives_up(brand: ScoredBrand, receiver: str) -> None:
    table = pa.table({"customer_id": ["a"]})
    Receiver.fail, Receiver.code = 1, 400
    with pytest.raises(AudienceError, match="refused"):
        push_webhook(table, receiver, SECRET, "x", sleep=lambda s: None, allow_hosts=LOCAL)
    Receiver.fail, Receiver.code = 10, 500
    with pytest.raises(AudienceError, match="after 3 attempts"):
        push_webhook(
            table, receiver, SECRET, "x", retries=2, sleep=lambda s: None, allow_hosts=LOCAL
        )


def _port(url: str) -> str:
    return url.rsplit(":", 1)[1].split("/")[0]


def _resolving(*answers: list[str]):
    """A resolver stub giving ``answers[n]`` at its n-th call (the last one after), and
    counting its calls: hosts under ``.test`` exist only here."""
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(answers[min(len(calls), len(answers)) - 1])

    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}/hook", "localhost is loopback"),
        ("http://0x7f.1:{port}/hook", "127.0.0.1 is a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}/hook", "a loopback address"),
        ("http://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("http://192.168.0.7:8080/hook", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "a cloud metadata address"),
        ("http://metadata.google.internal/", "a cloud metadata name"),
        ("http://224.0.0.1/", "a multicast address"),
        ("http://crm.corp.test:{port}/hook", "resolves to 10.0.0.8, a private address"),
        ("http://user:pw@hooks.example.test/", "user name or password"),
        ("file:///etc/passwd", "only http and https"),
    ],
)
def test_a_forbidden_url_is_refused_before_anything_is_sent(
    receiver: str, monkeypatch: pytest.MonkeyPatch, url: str, why: str
) -> None:
    from socialcrm.targeting import audiences

    def no_client(**kwargs: object) -> None:
        raise AssertionError("a client was built for a refused URL")

    monkeypatch.setattr(audiences, "guarded_client", no_client)
    table = pa.table({"customer_id": ["a", "b"]})
    waits: list[float] = []
    resolver = _resolving(["10.0.0.8"])
    target = url.format(port=_port(receiver))
    with pytest.raises(AudienceError, match="webhook URL refused: .*" + re.escape(why)):
        push_webhook(table, target, SECRET, "x", sleep=waits.append, resolver=resolver)
    assert Receiver.hits == [] and waits == []


def test_dns_rebinding_is_refused_at_delivery_and_nothing_reaches_the_local_receiver(
    receiver: str,
) -> None:
    url = f"http://hooks.example.test:{_port(receiver)}/hook"
    # public when the push starts, loopback (where the receiver listens) when it sends
    resolver = _resolving([PUBLIC], [LOCAL])
    waits: list[float] = []
    table = pa.table({"customer_id": ["a"]})
    refused = pytest.raises(
        AudienceError,
        match=re.escape(
            "webhook URL refused: hooks.example.test resolves to 127.0.0.1, a loopback address"
        ),
    )
    with refused:
        push_webhook(table, url, SECRET, "x", sleep=waits.append, resolver=resolver)
    assert Receiver.hits == []
    assert len(resolver.calls) == 2 and waits == []  # checked twice; a refusal is not retried
    # One forbidden address among the answers is enough.
    mixed = _resolving([PUBLIC], [PUBLIC, LOCAL])
    with pytest.raises(AudienceError, match=re.escape("resolves to 127.0.0.1")):
        push_webhook(table, url, SECRET, "x", sleep=waits.append, resolver=mixed)
    assert Receiver.hits == []


def test_an_allowed_host_is_pushed_to_through_the_checked_address(
    receiver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = pa.table({"customer_id": ["a", "b", "c"]})
    port = _port(receiver)
    url = f"http://hooks.example.test:{port}/hook"
    resolver = _resolving([LOCAL])
    with pytest.raises(AudienceError, match=re.escape("resolves to 127.0.0.1")):
        push_webhook(table, url, SECRET, "x", resolver=resolver)
    # The operator's per-push decision: the name exists only in the stub resolver, so
    # the receiver is reached only at the address the guard resolved, Host kept.
    sent = push_webhook(table, url, SECRET, "x", resolver=resolver, allow_host=True)
    assert [d.rows for d in sent] == [3] and Receiver.hits == [f"hooks.example.test:{port}"]
    # The operator's standing allow-list: by address, from the environment.
    monkeypatch.setenv(ALLOW_HOSTS_ENV, " 127.0.0.1 , hooks.lan ")
    assert push_webhook(table, receiver, SECRET, "x") == sent  # same content, same id
    assert len(Receiver.hits) == 2


def test_redirects_are_not_followed(receiver: str) -> None:
    Receiver.fail, Receiver.code = 1, 302  # no Location needed: it is never followed
    waits: list[float] = []
    table = pa.table({"customer_id": ["a"]})
    with pytest.raises(AudienceError, match="HTTP 302: redirects are not followed"):
        push_webhook(table, receiver, SECRET, "x", sleep=waits.append, allow_hosts=LOCAL)
    assert len(Receiver.hits) == 1 and waits == []


def test_the_allow_list_setting_reads_the_guards_variable(monkeypatch) -> None:
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1,hooks.lan")
    assert Settings().outbound_allow_hosts == "127.0.0.1,hooks.lan"
