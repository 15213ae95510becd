"""Access: the export of everything held about a person, with its receipt and audit line."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import PrivacyReceipt
from socialcrm.config import Settings
from socialcrm.privacy.erasure import privacy_key, subject_hash
from socialcrm.privacy.holdings import export
from socialcrm.privacy.person import Person
from socialcrm.store.warehouse import Warehouse


def access(
    settings: Settings, wh: Warehouse, s: Session, person: Person, actor: str
) -> dict[str, Any]:
    """The export document of ``person``; a receipt (rows by table) and an audit line."""
    doc = export(wh, s, person)
    counts = {
        f"warehouse.{t}": len(v["rows"]) + len(v["mentions"]) for t, v in doc["warehouse"].items()
    }
    counts |= {f"app.{t}": len(v["rows"]) + len(v["mentions"]) for t, v in doc["app"].items()}
    receipt = PrivacyReceipt(
        kind="export",
        actor=actor,
        subject_hash=subject_hash(privacy_key(settings), person),
        records=len(person.records),
        counts=counts,
    )
    s.add(receipt)
    s.flush()
    audit(
        s,
        actor,
        "privacy.export",
        f"receipt {receipt.id}",
        tables=len(counts),
        rows=sum(counts.values()),
    )
    doc["receipt"] = receipt.id
    return doc
