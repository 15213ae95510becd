"""Audiences: consent re-checked at export, CSV, signed idempotent webhook with retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from socialcrm.store.schemas import CONSENTS
from socialcrm.targeting.actions import CHANNEL_PURPOSE
from socialcrm.targeting.audiences import AudienceError, audience, export_csv, push_webhook
from tests.targeting.brand import ScoredBrand

SECRET = "s3cret"


class Receiver(BaseHTTPRequestHandler):
    """A webhook receiver that fails the first ``fail`` requests with ``code``."""

    fail = 0
    code = 503
    seen: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
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


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.seen, Receiver.fail, Receiver.code = [], 0, 503
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
    sent = push_webhook(table, receiver, SECRET, "thanks", batch_size=40, sleep=waits.append)
    assert waits[:2] == [0.5, 1.0]  # exponential backoff
    assert sent[0].attempts == 3 and sum(d.rows for d in sent) == table.num_rows
    assert len(sent) == -(-table.num_rows // 40)
    for delivery, signature, body in Receiver.seen:
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert signature == expected and json.loads(body)["delivery_id"] == delivery
    first = [d.delivery_id for d in sent]
    again = push_webhook(table, receiver, SECRET, "thanks", batch_size=40, sleep=waits.append)
    assert [d.delivery_id for d in again] == first  # same content, same ids


def test_webhook_gives_up(brand: ScoredBrand, receiver: str) -> None:
    table = pa.table({"customer_id": ["a"]})
    Receiver.fail, Receiver.code = 1, 400
    with pytest.raises(AudienceError, match="refused"):
        push_webhook(table, receiver, SECRET, "x", sleep=lambda s: None)
    Receiver.fail, Receiver.code = 10, 500
    with pytest.raises(AudienceError, match="after 3 attempts"):
        push_webhook(table, receiver, SECRET, "x", retries=2, sleep=lambda s: None)
