"""Erasure on the demo brand, through the CLI contract, checked by scanning everything.

The demo brand (300 people, the demo's own inbox work) is built once per run, shared with
the demo's own test (``demo_300``); each test works on a private copy. The person erased
has orders, posts, an inbox conversation, an outbox email, an email event, a suppression,
a vote, a rejected line in the rejects table and an audit entry naming them, so every
kind of place is tried. After erasure and a re-run of ``socialcrm score``, every string
column of every warehouse table and every column of every app-database table is searched
for their emails, phones, handles and full name: none may be found. Importing the brand's
original files again brings nothing back.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pytest
from sqlalchemy import select

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import (
    Conversation,
    EmailEvent,
    Idea,
    IdeaVote,
    OutboxItem,
    PrivacyReceipt,
    Suppression,
)
from socialcrm.config import Settings
from socialcrm.demo import LOAD_ORDER, _home_region
from socialcrm.privacy.person import Person, find_person
from socialcrm.store.erasure import ERASED_TABLE, REASON
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace
from tests.conftest import Demo
from tests.privacy.scan import app_hits, warehouse_hits


@pytest.fixture(scope="module")
def demo_home(demo_300: Demo) -> Path:
    """The run's demo brand (built once, by the CLI; see tests/conftest.py)."""
    assert demo_300.run.returncode == 0, demo_300.run.stderr[-3000:]
    return demo_300.home


@dataclass
class Brand:
    home: Path
    settings: Settings

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SOCIALCRM_HOME": str(self.home), "HF_HUB_OFFLINE": "1"}
        return subprocess.run(
            [sys.executable, "-m", "socialcrm.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )

    def db(self) -> AppDB:
        return AppDB(self.settings.resolved_database_url)

    def inputs(self) -> dict[str, Path]:
        folder = self.home / "demo" / "inputs"
        return {t: next(folder.glob(f"{t}.*")) for t in LOAD_ORDER}


@pytest.fixture
def brand(tmp_path: Path, demo_home: Path) -> Brand:
    home = shutil.copytree(demo_home, tmp_path / "ws")
    region = _home_region(Brand(home, Settings(home=home)).inputs())
    return Brand(home, Settings(home=home, phone_region=region or "US"))


def pick_person(brand: Brand) -> Person:
    """A person with a phone, an order, a post and an inbox conversation whose
    identifiers occur nowhere else (so a leftover found by the scan is theirs)."""
    with Workspace.open(brand.settings) as ws:
        wh = ws.warehouse
        ids = wh.read_arrow("identities").to_pylist()
        buyers = set(wh.read_arrow("orders").column("customer_id").to_pylist())
        everyone = [str(r["value"]).lower() for r in ids] + [
            h.lower() for h in wh.read_arrow("posts").column("author_handle").to_pylist()
        ]
        db = brand.db()
        with db.session() as s:
            talked = set(s.scalars(select(Conversation.author_handle)))
        db.close()
        for row in ids:
            if row["kind"] in ("email", "phone", "loyalty_id") or row["value"] not in talked:
                continue
            person = find_person(wh, row["value"])
            mine = {*person.emails, *person.phones, *bare_handles(person)}
            unique = all(v in person.values for n in mine for v in everyone if n in v)
            if person.phones and person.records & buyers and person.names and unique:
                return person
    raise AssertionError("the demo brand has nobody to erase")


def bare_handles(person: Person) -> list[str]:
    return sorted(h for h in person.handles if ":" not in h)


def needles(person: Person) -> list[str]:
    return sorted({*person.emails, *person.phones, *bare_handles(person), *person.names})


def name_pairs(brand: Brand, person: Person) -> list[dict[str, str]]:
    """Customers rows (of anyone) with the person's first and last name."""
    with Workspace.open(brand.settings) as ws:
        rows = ws.warehouse.read_arrow("customers").select(["first_name", "last_name"])
    full = {f"{r['first_name']} {r['last_name']}".lower(): r for r in rows.to_pylist()}
    return [full[n] for n in person.names if n in full]


def leave_traces(brand: Brand, person: Person) -> None:
    """What the demo does not make: an email to them, its event, a suppression, a vote,
    a rejected line of a file and an audit entry naming them."""
    email = sorted(person.emails)[0]
    handle = bare_handles(person)[0]
    record = sorted(person.records)[0]
    db = brand.db()
    with db.session() as s:
        item = OutboxItem(
            idempotency_key="privacy-test-1",
            connector="email",
            body=f"To: {email}\n\nHello {sorted(person.names)[0].title()}",
            recipient=email,
            customer_id=record,
            campaign_id="spring",
            status="sent",
            created_by="test",
        )
        s.add(item)
        s.flush()
        s.add(EmailEvent(kind="open", campaign_id="spring", customer_id=record,
                         recipient=email, outbox_id=item.id, detail=f"by {email}"))  # fmt: skip
        s.add(Suppression(address=email, reason="manual", source="test", customer_id=record))
        idea = s.scalars(select(Idea)).first()
        assert idea is not None
        s.add(IdeaVote(idea_id=idea.id, origin_idea_id=idea.id, voter=handle))
        audit(s, "agent@demo.socialcrm.local", "inbox.note", handle, about=f"@{handle} asked")
    db.close()
    bad = brand.home / "bad_orders.csv"
    bad.write_text(
        "order_id,customer_id,email,ordered_at,amount,currency,status\n"
        f"X-1,{record},{email},2025-01-01T10:00:00Z,not a number,EUR,completed\n"
    )
    with Workspace.open(brand.settings) as ws:
        report = ingest_file(ws, "orders", bad)
    assert report.rejected == 1


def test_export_holds_their_rows_from_every_kind_of_table(brand: Brand, tmp_path: Path) -> None:
    person = pick_person(brand)
    leave_traces(brand, person)
    out = tmp_path / "export.json"
    run = brand.cli("privacy", "export", sorted(person.emails)[0], "--out", str(out))
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    assert doc["person"] == person.person_id
    assert set(doc["known_by"]["records"]) == person.records
    wh = doc["warehouse"]
    by_category = {v["category"] for v in wh.values()}
    assert by_category == {"input", "derived", "log"}
    for table in ("customers", "identities", "orders", "posts", "consents"):
        assert wh[table]["rows"], table
    assert {"customer_scores", "posts_enriched", "identity_clusters"} <= wh.keys()
    assert "customer_id" in wh["orders"]["keyed_by"]
    assert wh["rejects"]["mentions"]  # the rejected line of the bad file
    app = doc["app"]
    for table in ("conversations", "conversation_messages", "outbox", "email_events",
                  "suppressions", "idea_votes"):  # fmt: skip
        assert app[table]["rows"] or app[table]["mentions"], table
    assert app["audit_log"]["mentions"]
    db = brand.db()
    with db.session() as s:
        receipt = s.scalars(select(PrivacyReceipt)).one()
        assert receipt.kind == "export" and receipt.actor == "cli"
    db.close()


def test_erase_then_score_leaves_nothing_and_a_reimport_brings_nothing_back(brand: Brand) -> None:
    person = pick_person(brand)
    leave_traces(brand, person)
    look_for = needles(person)
    before = warehouse_hits(brand.settings.warehouse_dir, look_for)
    assert {"identities", "posts", "rejects", "posts_enriched"} <= {k.split(".")[0] for k in before}
    assert app_hits(brand.settings.resolved_database_url, look_for)

    run = brand.cli("privacy", "erase", bare_handles(person)[0], "--yes", "--json")
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["person"] == person.person_id
    assert result["records"] == len(person.records)
    for table in ("customers", "identities", "orders", "posts", "conversations", "outbox",
                  "suppressions", "rejects", "customer_scores"):  # fmt: skip
        assert result["tables"].get(table, 0) >= 1, table
    assert not any(n in run.stdout.lower() for n in look_for)  # the answer names nobody

    assert warehouse_hits(brand.settings.warehouse_dir, look_for) == {}
    assert app_hits(brand.settings.resolved_database_url, look_for) == {}
    assert not name_pairs(brand, person)
    score = brand.cli("score")
    assert score.returncode == 0, score.stderr
    assert warehouse_hits(brand.settings.warehouse_dir, look_for) == {}
    assert app_hits(brand.settings.resolved_database_url, look_for) == {}

    db = brand.db()
    with db.session() as s:
        receipt = s.scalars(select(PrivacyReceipt).where(PrivacyReceipt.kind == "erase")).one()
        assert receipt.records == len(person.records)
        assert receipt.counts == result["tables"]
        # anonymised, not deleted: the inbox's counts and the outbox's keep their rows
        assert s.scalars(select(Conversation).where(Conversation.author_handle == "[erased]")).all()
        sent = s.scalars(select(OutboxItem).where(OutboxItem.idempotency_key == "privacy-test-1"))
        assert sent.one().recipient is None
    db.close()

    with Workspace.open(brand.settings) as ws:
        erased = ws.warehouse.read_arrow(ERASED_TABLE)
        assert erased.num_rows >= len(person.records) + len(person.emails)
        assert all(len(h) == 64 for h in erased.column("hash").to_pylist())
        reasons: set[str] = set()
        for table, path in brand.inputs().items():
            report = ingest_file(ws, table, path)
            reasons |= {r.reason for r in report.rejects}
        assert REASON in reasons
        rejects = ws.warehouse.read_arrow("rejects")
        ours = rejects.filter(pc.equal(rejects.column("reason"), REASON))
        assert ours.num_rows >= len(person.records)
        assert set(ours.column("raw").to_pylist()) == {""}  # their lines are not kept
    assert warehouse_hits(brand.settings.warehouse_dir, look_for) == {}
