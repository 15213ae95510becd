"""A proved account lands in identities and consents; unlinking undoes it at the next run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import AuditEntry, ConsentRecord, IdentityLink
from socialcrm.connecting.consent import granted
from socialcrm.connecting.step import step_connecting
from socialcrm.pipeline import run_context
from socialcrm.preferences import linking
from socialcrm.preferences.proofs import ProofError
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace

FANS = [f"fan{i}@mastodon.test" for i in range(8)]


def _load(ws: Workspace, tmp: Path, table: str, text: str) -> None:
    path = tmp / f"{table}.csv"
    path.write_text(text)
    report = ingest_file(ws, table, path)
    assert report.committed and report.rejected == 0, report.rejects


@pytest.fixture
def brand(ws: Workspace, tmp_path: Path) -> Workspace:
    """Two customers; anna@mastodon.test is followed by eight fans and posts, c2's
    Bluesky handle came in an import with consent."""
    _load(
        ws,
        tmp_path,
        "customers",
        "customer_id,source,created_at,first_name\n"
        "c1,shop,2026-01-01T00:00:00Z,Anna\nc2,shop,2026-01-02T00:00:00Z,Ben\n",
    )
    _load(
        ws,
        tmp_path,
        "identities",
        "customer_id,kind,value,source,verified\n"
        "c1,email,anna@example.com,shop,true\nc2,bluesky,ben.bsky.social,shop,false\n",
    )
    _load(
        ws,
        tmp_path,
        "consents",
        "customer_id,purpose,status,recorded_at,source\n"
        "c2,social_linking,granted,2026-01-02T00:00:00Z,shop\n",
    )
    follows = "".join(f"mastodon,{f},anna@mastodon.test\n" for f in FANS)
    follows += "".join(f"mastodon,{a},{b}\n" for a, b in itertools.pairwise(FANS))
    _load(ws, tmp_path, "follows", "platform,follower_handle,followed_handle\n" + follows)
    posts = "".join(
        f"p{i},mastodon,anna@mastodon.test,2026-11-{i + 1:02d}T10:00:00Z,The lamp #{i}\n"
        for i in range(5)
    )
    _load(ws, tmp_path, "posts", "post_id,platform,author_handle,created_at,text\n" + posts)
    return ws


def _identities(ws: Workspace) -> list[dict[str, object]]:
    return ws.warehouse.read_arrow("identities").sort_by("customer_id").to_pylist()


def _social_linking(ws: Workspace, who: str) -> list[tuple[str, str]]:
    rows = ws.warehouse.read_arrow("consents").sort_by("recorded_at").to_pylist()
    return [
        (r["status"], r["source"])
        for r in rows
        if r["customer_id"] == who and r["purpose"] == "social_linking"
    ]


def test_linking_records_identity_consent_link_and_audit(brand: Workspace, db: AppDB) -> None:
    with db.session() as s:
        pending = linking.ask_code(s, "c1", "bluesky", "anna.bsky.social")
        again = linking.ask_code(s, "c1", "bluesky", "anna.bsky.social")
        assert again.id == pending.id and again.code == pending.code  # reload: same code
        assert [a.state for a in linking.accounts(s, brand, "c1")] == ["pending"]
    assert not any(r["value"] == "anna.bsky.social" for r in _identities(brand))

    linking.link(db, brand, "c1", "mastodon", "anna@mastodon.test", "mastodon_oauth")

    mine = [r for r in _identities(brand) if r["customer_id"] == "c1"]
    assert [(r["kind"], r["value"], r["verified"], r["source"]) for r in mine] == [
        ("email", "anna@example.com", True, "shop"),
        ("mastodon", "anna@mastodon.test", True, "preference_centre"),
    ]
    assert _social_linking(brand, "c1") == [("granted", "preference_centre")]
    with db.session() as s:
        (consent,) = s.scalars(select(ConsentRecord)).all()
        assert (consent.purpose, consent.status, consent.channel, consent.synced) == (
            "social_linking",
            "granted",
            "social",
            True,
        )
        assert consent.wording_version == linking.WORDING_VERSION
        links = s.scalars(select(IdentityLink).where(IdentityLink.state == "verified")).all()
        assert [(x.platform, x.handle, x.verified_at is not None) for x in links] == [
            ("mastodon", "anna@mastodon.test", True)
        ]
        (entry,) = s.scalars(select(AuditEntry)).all()
        assert (entry.actor, entry.action, entry.target) == (
            "preference_centre",
            "social_identity_linked",
            "customer:c1",
        )
        assert entry.detail == {
            "platform": "mastodon",
            "proof": "mastodon_oauth",
            "wording_version": "social-linking-1",
        }
        # the log outlives an erasure: it never names the handle
        assert "anna" not in f"{entry.target} {entry.detail}"
        shown = [(a.platform, a.handle, a.state) for a in linking.accounts(s, brand, "c1")]
    assert shown == [
        ("mastodon", "anna@mastodon.test", "linked"),
        ("bluesky", "anna.bsky.social", "pending"),
    ]


def test_unlinking_one_of_two_keeps_the_consent_the_last_withdraws_it(
    brand: Workspace, db: AppDB
) -> None:
    linking.link(db, brand, "c1", "mastodon", "anna@mastodon.test", "mastodon_oauth")
    linking.link(db, brand, "c1", "bluesky", "anna.bsky.social", "profile_code")
    assert linking.unlink(db, brand, "c1", "bluesky", "anna.bsky.social") is False
    assert _social_linking(brand, "c1") == [("granted", "preference_centre")] * 2
    assert linking.unlink(db, brand, "c1", "mastodon", "anna@mastodon.test") is True
    assert _social_linking(brand, "c1")[-1] == ("withdrawn", "preference_centre")
    assert [r["kind"] for r in _identities(brand) if r["customer_id"] == "c1"] == ["email"]
    with db.session() as s:
        assert s.scalars(select(IdentityLink)).all() == []
        actions = [
            (e.action, e.detail["consent_withdrawn"])
            for e in s.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "social_identity_unlinked")
                .order_by(AuditEntry.id)
            )
        ]
    assert actions == [("social_identity_unlinked", False), ("social_identity_unlinked", True)]
    with pytest.raises(ProofError, match="is not linked to you"):
        linking.unlink(db, brand, "c1", "mastodon", "anna@mastodon.test")
    # an imported account can be unlinked by its owner too
    assert linking.unlink(db, brand, "c2", "bluesky", "ben.bsky.social") is True
    assert _social_linking(brand, "c2")[-1] == ("withdrawn", "preference_centre")


def test_the_next_run_drops_unlinked_activity_from_derived_tables(
    brand: Workspace, db: AppDB
) -> None:
    """Today's revocation rule, run twice: linked, the handle's influence is the
    person's; unlinked, the same handle is scored as an anonymous handle, tied to no one."""
    linking.link(db, brand, "c1", "mastodon", "anna@mastodon.test", "mastodon_oauth")
    step_connecting(brand, run_context(brand))
    owner = {
        (r["handle"]): r["customer_id"]
        for r in brand.warehouse.read_arrow("handle_influence").to_pylist()
    }
    assert owner["anna@mastodon.test"] == "c1"
    assert "c1" in brand.warehouse.read_arrow("customer_influence")["customer_id"].to_pylist()

    assert linking.unlink(db, brand, "c1", "mastodon", "anna@mastodon.test") is True
    allowed = brand.engine.to_arrow(granted(brand, "social_linking"))["customer_id"].to_pylist()
    assert allowed == ["c2"]
    step_connecting(brand, run_context(brand))

    handles = brand.warehouse.read_arrow("handle_influence").to_pylist()
    owner = {r["handle"]: r["customer_id"] for r in handles}
    assert "anna@mastodon.test" in owner and owner["anna@mastodon.test"] is None
    assert "c1" not in set(owner.values())
    assert "c1" not in brand.warehouse.read_arrow("customer_influence")["customer_id"].to_pylist()


def test_a_code_expires_and_belongs_to_its_person(brand: Workspace, db: AppDB) -> None:
    with db.session() as s:
        row = linking.ask_code(s, "c1", "mastodon", "anna@mastodon.test")
        link_id = row.id
    with db.session() as s, pytest.raises(ProofError, match="no longer open"):
        linking.pending(s, "c2", link_id)
    with db.session() as s:
        row = s.get(IdentityLink, link_id)
        assert row is not None
        row.created_at = datetime(2020, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with db.session() as s, pytest.raises(ProofError, match="older than 7 days"):
        linking.pending(s, "c1", link_id)
    with db.session() as s, pytest.raises(ProofError, match="mastodon and bluesky"):
        linking.ask_code(s, "c1", "twitter", "anna")


def test_a_person_has_at_most_a_few_codes_waiting(brand: Workspace, db: AppDB) -> None:
    with db.session() as s:
        for i in range(linking.MAX_PENDING):
            linking.ask_code(s, "c1", "bluesky", f"anna{i}.bsky.social")
        linking.ask_code(s, "c1", "bluesky", "anna0.bsky.social")  # the same one again
        with pytest.raises(ProofError, match="many codes waiting"):
            linking.ask_code(s, "c1", "bluesky", "one-more.bsky.social")
        linking.ask_code(s, "c2", "bluesky", "ben2.bsky.social")  # another person's own
