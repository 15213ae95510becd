"""Social identities a person links at their option, from the preference centre.

A person names a Mastodon or Bluesky handle and proves it is theirs
(:mod:`socialcrm.preferences.proofs`). Until then the handle is an ``identity_links`` row
in the app database, ``pending`` with its code; nothing reaches the warehouse. Once
proved:

- the warehouse's ``identities`` gets ``(person, platform, handle, verified=true,
  source=preference_centre)``, loaded through ingestion like any file (same
  normalisation, same checks, same merge by natural key);
- a ``social_linking`` consent is ``granted`` (``consents``, source
  ``preference_centre``, with :data:`WORDING_VERSION`, the words the person was shown);
- the link row becomes ``verified``, and the audit log says so (which person, which
  network, how it was proved; not the handle: the log outlives an erasure).

Unlinking removes the handle from ``identities`` (on every record of the person) and the
link row; when the person has no social account left, their ``social_linking`` consent
is ``withdrawn``. Today's revocation rule then does the rest at the next run: social
activity joins a person only through ``identities`` and only while the latest
``social_linking`` decision is ``granted`` (:mod:`socialcrm.connecting.consent`), so the
handle's posts, follows and influence stay in derived tables as an anonymous handle's,
tied to no one.

While another account stays linked the consent stays in force: it is the person's
consent to linking their accounts, and withdrawing it would cut the ones they kept.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import ConsentRecord, IdentityLink, utcnow
from socialcrm.preferences import centre
from socialcrm.preferences.proofs import ProofError
from socialcrm.store.ingest import IngestError, ingest_file
from socialcrm.store.schemas import PLATFORMS
from socialcrm.store.workspace import Workspace

SOURCE = "preference_centre"
WORDING_VERSION = "social-linking-1"
WORDING = (
    "When you link an account, we connect what you post publicly there with your customer "
    "record, to answer you there and to know which of our customers talk about us. You can "
    "unlink it here at any time: we then forget the account, and our next daily update "
    "stops using what you posted."
)
"""The words shown next to the linking forms; :data:`WORDING_VERSION` names them in the
consent record, so a change of words needs a new version."""
LINKABLE = ("mastodon", "bluesky")
CODE_DAYS = 7
"""How long a code waits for the person to put it in their profile."""
MAX_PENDING = 5
"""Codes one person may have waiting at once (each is a row of the app database)."""


@dataclass(frozen=True)
class Account:
    """A social account of the person, as their page shows it."""

    platform: str
    handle: str
    state: str
    """``linked`` (in the warehouse), or ``pending`` (a code waiting to be found)."""
    link_id: int | None = None
    code: str | None = None


def new_code() -> str:
    """A short code to put in a profile: unguessable, easy to copy.

    >>> c = new_code(); c.startswith("crm-") and len(c)
    14
    """
    return "crm-" + secrets.token_hex(5)


def ask_code(s: Session, person: str, platform: str, handle: str) -> IdentityLink:
    """The pending link of ``handle`` with a code to place in the profile (the same code
    again while it is fresh, so reloading the page does not change it)."""
    if platform not in LINKABLE:
        raise ProofError(f"we link {' and '.join(LINKABLE)} accounts only")
    fresh = utcnow() - timedelta(days=CODE_DAYS)
    row = s.scalars(
        select(IdentityLink).where(
            IdentityLink.person_id == person,
            IdentityLink.platform == platform,
            IdentityLink.handle == handle,
            IdentityLink.state == "pending",
            IdentityLink.created_at >= fresh,
        )
    ).first()
    if row is None:
        waiting = s.scalar(
            select(func.count()).where(
                IdentityLink.person_id == person,
                IdentityLink.state == "pending",
                IdentityLink.created_at >= fresh,
            )
        )
        if (waiting or 0) >= MAX_PENDING:
            raise ProofError("you have many codes waiting: cancel one below, then try again")
        row = IdentityLink(
            person_id=person, platform=platform, handle=handle, state="pending", code=new_code()
        )
        s.add(row)
        s.flush()
    return row


def pending(s: Session, person: str, link_id: int) -> IdentityLink:
    """The person's pending link ``link_id`` with a fresh code, else :class:`ProofError`."""
    row = s.get(IdentityLink, link_id)
    if row is None or row.person_id != person or row.state != "pending" or not row.code:
        raise ProofError("this link request is no longer open; start again")
    if row.created_at < utcnow() - timedelta(days=CODE_DAYS):
        raise ProofError(f"this code is older than {CODE_DAYS} days; start again for a new one")
    return row


def records_of(ws: Workspace, person: str) -> list[str]:
    """The customer records of ``person`` (all of a resolved person's), else the id itself."""
    return centre.records_of(ws, person) or [person]


def social_identities(ws: Workspace, records: Iterable[str]) -> list[tuple[str, str]]:
    """``(platform, handle)`` of every social identity of ``records`` in the warehouse."""
    if not ws.warehouse.exists("identities"):
        return []
    t = ws.warehouse.table("identities")
    t = t.filter(t.customer_id.isin(list(records)) & t.kind.isin(list(PLATFORMS)))
    got = ws.engine.to_arrow(t.select("kind", "value").distinct())
    return sorted(zip(got["kind"].to_pylist(), got["value"].to_pylist(), strict=True))


def accounts(s: Session, ws: Workspace, person: str) -> list[Account]:
    """What the person's page lists: the social accounts held for them, then the handles
    waiting for their code."""
    held = social_identities(ws, records_of(ws, person))
    out = [Account(p, h, "linked") for p, h in held]
    fresh = utcnow() - timedelta(days=CODE_DAYS)
    for row in s.scalars(
        select(IdentityLink)
        .where(
            IdentityLink.person_id == person,
            IdentityLink.state == "pending",
            IdentityLink.created_at >= fresh,
        )
        .order_by(IdentityLink.id)
    ):
        if (row.platform, row.handle) not in held:
            out.append(Account(row.platform, row.handle, "pending", row.id, row.code))
    return out


def link(db: AppDB, ws: Workspace, person: str, platform: str, handle: str, how: str) -> None:
    """Record a proved ``handle``: identity, consent, link row, audit (see the module)."""
    now = datetime.now(UTC)
    identity = {
        "customer_id": person,
        "kind": platform,
        "value": handle,
        "raw_value": handle,
        "source": SOURCE,
        "first_seen": now.isoformat(),
        "last_seen": now.isoformat(),
        "verified": True,
    }
    _load(ws, "identities", [identity])
    with db.session() as s:
        _forget_links(s, person, platform, handle)
        s.add(
            IdentityLink(
                person_id=person,
                platform=platform,
                handle=handle,
                state="verified",
                verified_at=now.replace(tzinfo=None),
            )
        )
        _decide(s, person, "granted", now)
        audit(
            s,
            SOURCE,
            "social_identity_linked",
            f"customer:{person}",
            platform=platform,
            proof=how,
            wording_version=WORDING_VERSION,
        )
    centre.sync(ws, db, records_for={person: records_of(ws, person)})


def unlink(db: AppDB, ws: Workspace, person: str, platform: str, handle: str) -> bool:
    """Forget ``handle`` for the person (see the module); True when that withdrew their
    ``social_linking`` consent (it was their last social account)."""
    records = records_of(ws, person)
    removed = _remove_identity(ws, records, platform, handle)
    with db.session() as s:
        dropped = _forget_links(s, person, platform, handle)
        if not removed and not dropped:
            raise ProofError(f"{handle} is not linked to you")
        withdrawn = bool(removed) and not social_identities(ws, records)
        if withdrawn:
            _decide(s, person, "withdrawn", datetime.now(UTC))
        audit(
            s,
            SOURCE,
            "social_identity_unlinked",
            f"customer:{person}",
            platform=platform,
            consent_withdrawn=withdrawn,
            wording_version=WORDING_VERSION,
        )
    if withdrawn:
        centre.sync(ws, db, records_for={person: records})
    return withdrawn


def _forget_links(s: Session, person: str, platform: str, handle: str) -> int:
    """Delete the person's link rows of ``handle``; how many there were."""
    gone = delete(IdentityLink).where(
        IdentityLink.person_id == person,
        IdentityLink.platform == platform,
        IdentityLink.handle == handle,
    )
    return cast("CursorResult[Any]", s.execute(gone)).rowcount


def _decide(s: Session, person: str, status: str, at: datetime) -> None:
    """A ``social_linking`` decision with the words shown, as the centre records every
    consent (:class:`~socialcrm.appdb.models.ConsentRecord`, then ``centre.sync`` writes
    it to the warehouse's ``consents``, one row per record of the person)."""
    s.add(
        ConsentRecord(
            customer_id=person,
            purpose="social_linking",
            channel="social",
            status=status,
            source=SOURCE,
            wording_version=WORDING_VERSION,
            recorded_at=at.replace(tzinfo=None),
            synced=False,
        )
    )


def _load(ws: Workspace, table: str, rows: list[dict[str, object]]) -> None:
    """``rows`` into ``table`` through ingestion (strict: a bad row loads nothing)."""
    with tempfile.TemporaryDirectory(prefix="preference-centre-") as tmp:
        path = Path(tmp) / f"preference_centre_{table}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        try:
            report = ingest_file(ws, table, path, "jsonl", strict=True)
        except IngestError as e:
            raise ProofError(f"we could not save this just now ({e}); please try again") from e
    if not report.committed:
        why = "; ".join(r.reason for r in report.rejects) or "a row was refused"
        raise ProofError(f"we could not save this: {why}")


def _remove_identity(ws: Workspace, records: list[str], platform: str, handle: str) -> int:
    """Delete ``(record, platform, handle)`` from ``identities``; the rows removed."""
    wh = ws.warehouse
    if not wh.exists("identities"):
        return 0
    with wh.lock("identities"), wh.transaction() as tx:
        t = wh.table("identities")
        gone = t.customer_id.isin(records) & (t.kind == platform) & (t.value == handle)
        n = int(ws.engine.execute(t.filter(gone).count()))
        if n:
            tx.write("identities", t.filter(~gone))
    return n


__all__ = [
    "CODE_DAYS",
    "LINKABLE",
    "MAX_PENDING",
    "SOURCE",
    "WORDING",
    "WORDING_VERSION",
    "Account",
    "accounts",
    "ask_code",
    "link",
    "new_code",
    "pending",
    "records_of",
    "social_identities",
    "unlink",
]
