"""Personalised campaign emails per second, through the whole send path, to a local SMTP sink.

Ours: ``send_campaign`` on a campaign of N people (default 2,000; 10% held out): consent,
suppression and frequency checks, each message rendered from its template for its person
(first name, next-best-action, product names), built whole (both parts, both unsubscribe
headers, signed click links, the open pixel), queued in the outbox (SQLite app database)
with its idempotency key, then delivered over one SMTP connection with the consent and
suppression recheck before each message, and the sends synced into ``touches``. The rate
limit is off (``email_rate_per_second=0``): this measures what the path can do, not the
pace a brand chooses for its mail server.

The peer: the same messages, already built (the bytes ours queued), sent by a bare
``smtplib`` loop on one connection: what SMTP itself costs on this machine.

The sink is aiosmtpd in a process of its own (so it does not share our GIL), writing one
line per message received. Checks (exit status 1 when one fails): every treated person
with an address got exactly one message, to the right address (envelope and ``To``),
nobody else got one, for ours and for the peer; ours sends at least 200 emails a second.

    python benchmarks/email_send.py            # 2,000 people
    python benchmarks/email_send.py 500        # quicker
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _check import Run

TARGET = 200.0
NOW = datetime(2027, 6, 1, 12, tzinfo=UTC)
FIRST = ["Ann", "Bo", "Chloé", "Dmitri", "Eva", "Farid", "Greta", "Hugo", "Inès", "Jonas"]
COUNTRIES = ["DE", "FR", "NL", "ES", "IT", "GB", "SE", "US"]
PRODUCTS = ["NL-AUR", "NL-POL", "NL-FJO", "NL-TUN"]
TEMPLATE = (
    "<html><body><p>Hi {{ first_name }},</p><p>{{ next_best_action_reason or 'Spring is here.' }}"
    "</p>{% if products %}<p>Still happy with your {{ products | join(' and ') }}?</p>{% endif %}"
    '<p><a href="https://shop.example/spring?src=mail">The spring range</a></p></body></html>'
    "{% block text %}Hi {{ first_name }},\n\nThe spring range: https://shop.example/spring"
    "{% endblock %}"
)

SINK = """
import re, sys, threading
from aiosmtpd.controller import Controller
port, out = int(sys.argv[1]), open(sys.argv[2], "a", buffering=1)
lock = threading.Lock()
TO = re.compile(rb"^To: *(.*?)\\r?$", re.M | re.I)
class H:
    async def handle_DATA(self, server, session, env):
        head = env.content.split(b"\\r\\n\\r\\n", 1)[0]
        m = TO.search(head)
        to = m.group(1).decode() if m else ""
        with lock:
            for r in env.rcpt_tos:
                out.write(f"{r}\\t{to}\\n")
        return "250 OK"
c = Controller(H(), hostname="127.0.0.1", port=port)
c.start()
print("ready", flush=True)
sys.stdin.read()
c.stop()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sink:
    """aiosmtpd in its own process; ``received()`` reads the (recipient, To) lines."""

    def __init__(self, folder: Path, name: str) -> None:
        self.port = free_port()
        self.file = folder / f"{name}.tsv"
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SINK, str(self.port), str(self.file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        if self.proc.stdout.readline().strip() != "ready":
            raise SystemExit("the SMTP sink did not start")

    def received(self) -> list[tuple[str, str]]:
        if not self.file.exists():
            return []
        return [tuple(x.split("\t")) for x in self.file.read_text().splitlines()]  # type: ignore[misc]

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def build(home: Path, n: int) -> list[str]:
    """A workspace of n people with names, countries, an email each, email consent and
    a few orders; the catalogue beside it. Returns the people's ids."""
    import pyarrow as pa

    from socialcrm.config import Settings
    from socialcrm.store.schemas import CONSENTS, CUSTOMERS, IDENTITIES, ORDERS
    from socialcrm.store.workspace import Workspace

    rng = random.Random(101)
    ids = [f"shop:{i:06d}" for i in range(n)]
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    customers = [
        {"customer_id": c, "source": "shop", "created_at": t0, "first_name": rng.choice(FIRST),
         "country": rng.choice(COUNTRIES), "contact_frequency": "weekly"}
        for c in ids
    ]  # fmt: skip
    identities = [
        {"customer_id": c, "kind": "email", "value": f"person{i}@mail.example",
         "raw_value": f"person{i}@mail.example", "source": "shop", "verified": True}
        for i, c in enumerate(ids)
    ]  # fmt: skip
    consents = [
        {"customer_id": c, "purpose": "email_marketing", "status": "granted",
         "recorded_at": t0, "source": "web"}
        for c in ids
    ]  # fmt: skip
    orders = [
        {"order_id": f"o{i}", "customer_id": c, "ordered_at": t0 + timedelta(days=i % 300),
         "amount": 50.0, "currency": "EUR", "status": "completed",
         "product_id": rng.choice(PRODUCTS)}
        for i, c in enumerate(ids) if i % 2 == 0
    ]  # fmt: skip
    with Workspace.open(Settings(home=home)) as ws:
        for name, schema, rows in (
            ("customers", CUSTOMERS, customers),
            ("identities", IDENTITIES, identities),
            ("consents", CONSENTS, consents),
            ("orders", ORDERS, orders),
        ):
            ws.warehouse.write(name, pa.Table.from_pylist(rows, schema=schema.arrow_schema))
    from importlib.resources import files

    (home / "catalogue.json").write_text(
        files("socialcrm.synth").joinpath("catalogue.json").read_text()
    )
    return ids


def main(n: int) -> int:
    from sqlalchemy import select

    from socialcrm.appdb.db import AppDB
    from socialcrm.appdb.models import OutboxItem
    from socialcrm.config import Settings
    from socialcrm.programs.campaigns import assignments, create_campaign
    from socialcrm.programs.sending import send_campaign
    from socialcrm.store.workspace import Workspace

    run = Run("email_send")
    folder = Path(tempfile.mkdtemp(prefix="email-send-"))
    home = folder / "ws"
    people = build(home, n)
    address = {c: f"person{i}@mail.example" for i, c in enumerate(people)}

    ours = Sink(folder, "ours")
    try:
        settings = Settings(
            home=home,
            smtp_url=f"smtp://127.0.0.1:{ours.port}?from=news@brand.example",
            public_url="https://crm.example",
            email_rate_per_second=0,
            web_secret_key="b" * 40,
        )
        with Workspace.open(settings) as ws:
            db = AppDB(settings.resolved_database_url)
            create_campaign(ws, "bench", people, starts_at=NOW, ends_at=NOW + timedelta(days=30),
                            template=TEMPLATE, subject="Spring, {{ first_name }}")  # fmt: skip
            treated = {c for c, g in assignments(ws, "bench").items() if g == "treatment"}
            t0 = time.perf_counter()
            counts = send_campaign(ws, db, settings, "bench", now=NOW)
            seconds = time.perf_counter() - t0
            with db.session() as s:
                q = select(OutboxItem.recipient, OutboxItem.body).order_by(OutboxItem.id)
                raw = [(r, b) for r, b in s.execute(q)]
            db.close()
        got_ours = ours.received()
    finally:
        ours.stop()

    peer = Sink(folder, "peer")
    try:
        import smtplib

        t0 = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", peer.port) as smtp:
            for rcpt, body in raw:
                smtp.sendmail("news@brand.example", [str(rcpt)], body.encode("ascii"))
        peer_seconds = time.perf_counter() - t0
        got_peer = peer.received()
    finally:
        peer.stop()

    expected = {address[c] for c in treated}
    rate = run.figure("ours_per_second", round(counts["sent"] / seconds, 1))
    peer_rate = run.figure("peer_per_second", round(len(raw) / peer_seconds, 1))
    run.figure("people", n)
    run.figure("messages", counts["sent"])
    run.figure("ours_seconds", round(seconds, 2))
    run.figure("peer_seconds", round(peer_seconds, 2))
    print(f"counts: {json.dumps(counts)}")
    for name, got in (("ours", got_ours), ("peer", got_peer)):
        per = Counter(r.lower() for r, _ in got)
        run.check(
            f"{name}: every treated person got exactly one message, nobody else any",
            set(per) == expected
            and max(per.values(), default=0) == 1
            and len(got) == len(expected),
            f"{len(got):,} received, {len(per):,} distinct of {len(expected):,} expected",
        )
        run.check(
            f"{name}: envelope recipient and To header agree",
            all(r.lower() == (to or "").lower() for r, to in got),
            f"{sum(r.lower() != (to or '').lower() for r, to in got)} differ",
        )
    run.check(
        f"ours: at least {TARGET:.0f} personalised emails a second",
        rate >= TARGET,
        f"{rate:,.1f}/s ({counts['sent']:,} in {seconds:.2f} s); the bare smtplib loop "
        f"{peer_rate:,.1f}/s; ours/peer = {rate / peer_rate:.2f}",
    )
    return run.finish()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000))
