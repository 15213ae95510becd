"""The erasure list: one-way hashes of what erased people were known by, checked on import.

An erased person must not come back with the next import of the brand's files. Keeping
their email, phone or handle to recognise them would keep the very data that was erased,
so the list holds only a keyed hash of each (HMAC-SHA256 under the workspace's secret, the
key that signs the app's sessions and links): the same value always gives the same hash,
so ingestion can recognise it, but the hash cannot be reversed by hashing a dictionary of
likely addresses without the key, which lives outside the warehouse (settings or the
workspace's ``.web-secret``). Keep that key: with another one, old hashes match nothing.

What is hashed, each value normalised as ingestion normalises it: the record ids
(``customer_id``), emails, phones (E.164), handles (lower case, no ``@``) and loyalty ids.

>>> key = b"k" * 32
>>> a = identifier_hash(key, "email", " Ann@Example.COM")
>>> a == identifier_hash(key, "email", "ann@example.com"), len(a)
(True, 64)
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.config import Settings

ERASED_TABLE = "erased_identifiers"
ERASED_SCHEMA = pa.schema(
    [
        pa.field("hash", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("erased_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
REASON = "erased at the person's request (privacy erasure): not loaded again"
"""The reject reason of a row that would bring an erased person back; its text is not kept."""

COLUMN_KINDS: dict[str, str] = {
    "customer_id": "record",
    "email": "email",
    "author_handle": "handle",
    "follower_handle": "handle",
    "followed_handle": "handle",
}
"""Input columns that name a person, and the kind of identifier each holds."""
IDENTITY_KINDS = {"email": "email", "phone": "phone", "loyalty_id": "loyalty_id"}
"""Identity kinds hashed as themselves; every other kind is a platform, hashed as a handle."""


def erasure_key(settings: Settings) -> bytes:
    """The HMAC key: derived from the workspace secret (configured, else ``.web-secret``)."""
    secret = settings.web_secret_key
    if not secret:
        path = Path(settings.home) / ".web-secret"
        if not path.exists():
            raise RuntimeError(f"no workspace secret at {path}: the erasure list needs it")
        secret = path.read_text().strip()
    return hashlib.sha256(b"socialcrm.privacy.erased" + secret.encode()).digest()


def normalised(kind: str, value: str) -> str:
    return value.strip().lower().removeprefix("@") if kind != "record" else value.strip()


def identifier_hash(key: bytes, kind: str, value: str) -> str:
    """The keyed one-way hash of one identifier (hex)."""
    message = f"{kind}:{normalised(kind, value)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def erased_rows(hashes: list[str], kinds: list[str], at: datetime | None = None) -> pa.Table:
    at = at or datetime.now(UTC)
    return pa.table(
        {"hash": hashes, "kind": kinds, "erased_at": [at] * len(hashes)}, schema=ERASED_SCHEMA
    )


@dataclass(frozen=True)
class ErasedList:
    """The hashes on the list and the key that made them."""

    key: bytes
    hashes: frozenset[str]

    def screen(self, table: str, rows: pa.Table) -> tuple[pa.Array, list[str | None]]:
        """A mask of ``rows`` that name an erased person, and for each the column that did.

        ``rows`` are validated rows of input table ``table`` (normalised values).
        """
        n = rows.num_rows
        hit = [False] * n
        field: list[str | None] = [None] * n
        names = set(rows.column_names)
        for column, kind in COLUMN_KINDS.items():
            if column not in names:
                continue
            for i, v in enumerate(rows.column(column).to_pylist()):
                if not hit[i] and v and identifier_hash(self.key, kind, v) in self.hashes:
                    hit[i], field[i] = True, column
        if table == "identities":
            kinds = rows.column("kind").to_pylist()
            for i, v in enumerate(rows.column("value").to_pylist()):
                k = IDENTITY_KINDS.get(kinds[i] or "", "handle")
                if not hit[i] and v and identifier_hash(self.key, k, v) in self.hashes:
                    hit[i], field[i] = True, "value"
        return pa.array(hit, pa.bool_()), field


def erased_list(settings: Settings, table: pa.Table | None) -> ErasedList | None:
    """The list from the warehouse's ``erased_identifiers`` table (None when empty)."""
    if table is None or table.num_rows == 0:
        return None
    hashes = frozenset(pc.unique(table.column("hash")).to_pylist())
    return ErasedList(erasure_key(settings), hashes)
