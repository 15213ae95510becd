"""Erasure: the person removed or anonymised everywhere, a receipt kept, and a one-way hash
of each of their identifiers on the list that ingestion checks.

What happens where (the choices, and why):

- **Warehouse, every table** (input, derived, logs), in one transaction under the tables'
  locks, so readers see all of it or none: rows whose person columns hold their values
  are *deleted*; in the rows left, every mention of them in a text (another customer's
  post that tags them, a community's list of amplifiers) is replaced by ``[erased]``.
  ``rejects`` rows that mention them are deleted, not redacted: they are verbatim lines
  of their files. Derived tables are cleaned at once too, and the next ``socialcrm
  score`` rebuilds them from inputs without the person (aggregates recomputed).
- **App database**: *anonymised* where a count the brand reports must survive, *deleted*
  where the row is only theirs:

  - conversations: kept for the inbox's response-time figures, with handle, customer and
    subject gone and their messages' texts ``[erased]``; staff notes on them deleted;
  - outbox items to them or on their conversations: body and addressee removed (campaign
    counts survive); an item not yet sent is marked ``dead`` so it is never sent;
  - email events: addressee and detail removed (opens and clicks still count);
  - suppressions with their address: deleted (the erasure list's hash replaces them);
  - ideas: an idea only they contributed keeps its votes and status, but its text is
    theirs, so it becomes "removed at its author's request"; their contributor rows lose
    customer, handle and post; their votes are kept as anonymous votes;
  - loyalty ledger and referral codes: deleted (points and codes are only theirs);
    referral decisions keep amounts with referrer and buyer removed;
  - journey enrolments: kept anonymous (a journey's counts survive);
  - any other table (present or future) with a person column: their rows deleted;
  - any text anywhere (audit details, events, webhook payloads, histories) that mentions
    them: the mention replaced by ``[erased]``.

  Staff accounts (``users``, ``api_tokens``) are not customers and are left alone.
- **Receipt**: time, actor, a keyed hash of the person id and the counts; no personal data.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import delete, false, func, or_, select, update
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import (
    Conversation,
    ConversationMessage,
    ConversationNote,
    EmailEvent,
    FeedbackRequest,
    Idea,
    IdeaContributor,
    IdeaNotification,
    IdeaVote,
    JourneyEnrolment,
    LoyaltyEntry,
    OutboxItem,
    PrivacyReceipt,
    PrivacyRequest,
    ReferralCode,
    ReferralEntry,
    Suppression,
)
from socialcrm.config import Settings
from socialcrm.outbound.tokens import workspace_secret
from socialcrm.privacy.holdings import (
    app_tables,
    keyed_clause,
    match_rows,
    mention_clause,
    text_columns,
    warehouse_tables,
)
from socialcrm.privacy.person import ERASED, Person
from socialcrm.store.erasure import (
    ERASED_SCHEMA,
    ERASED_TABLE,
    erased_rows,
    erasure_key,
    identifier_hash,
)
from socialcrm.store.warehouse import Warehouse

REMOVED_IDEA = "Idea removed at its author's request"
HANDLED = {
    "conversations",
    "conversation_messages",
    "conversation_notes",
    "outbox",
    "email_events",
    "suppressions",
    "ideas",
    "idea_contributors",
    "idea_votes",
    "idea_notifications",
    "feedback_requests",
    "referral_codes",
    "referral_ledger",
    "loyalty_ledger",
    "journey_enrolments",
    "conversation_ideas",
}
"""App tables with a rule of their own above; the others get the generic one."""


@dataclass
class Erasure:
    person: str | None
    records: int
    tables: dict[str, int]
    receipt_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"person": self.person, "records": self.records, "tables": self.tables}


def privacy_key(settings: Settings) -> bytes:
    """The erasure list's HMAC key; the workspace secret is made first if it is not yet."""
    workspace_secret(settings.home, settings.web_secret_key)
    return erasure_key(settings)


def subject_hash(key: bytes, person: Person) -> str:
    """The receipt's one-way reference to the person (their id, or their first handle)."""
    subject = person.person_id or min(person.handles, default="")
    return identifier_hash(key, "record", subject)


def erase(settings: Settings, wh: Warehouse, s: Session, person: Person, actor: str) -> Erasure:
    """Erase ``person`` from the app database (in ``s``) and the warehouse; keep a receipt.

    The app database's changes are made first and committed with the caller's session
    after the warehouse's transaction succeeded, so a failure there changes nothing.
    """
    key = privacy_key(settings)
    counts = erase_app(s, person)
    counts.update(erase_warehouse(wh, person, key))
    counts = {t: n for t, n in sorted(counts.items()) if n}
    receipt = PrivacyReceipt(
        kind="erase",
        actor=actor,
        subject_hash=subject_hash(key, person),
        records=len(person.records),
        counts=counts,
    )
    s.add(receipt)
    s.flush()
    audit(
        s,
        actor,
        "privacy.erase",
        f"receipt {receipt.id}",
        records=len(person.records),
        tables=len(counts),
        rows=sum(counts.values()),
    )
    return Erasure(person.person_id, len(person.records), counts, receipt.id)


# -- the warehouse ---------------------------------------------------------------------------
def identifier_hashes(key: bytes, person: Person) -> tuple[list[str], list[str]]:
    """(hashes, kinds) of everything they are known by, for the erasure list."""
    pairs = [
        *(("record", r) for r in person.records),
        *(("email", e) for e in person.emails),
        *(("phone", p) for p in person.phones),
        *(("handle", h) for h in person.handles if ":" not in h),
        *(("loyalty_id", x) for x in person.loyalty_ids),
    ]
    return [identifier_hash(key, k, v) for k, v in pairs], [k for k, _ in pairs]


def redact_column(
    col: pa.ChunkedArray, pattern: re.Pattern[str], literals: list[str]
) -> tuple[pa.Array, int]:
    """``col`` with every mention replaced by ``[erased]``, and how many values changed."""
    n = len(col)
    candidate = pa.array([False] * n, pa.bool_())
    for lit in literals:
        candidate = pc.or_(
            candidate, pc.fill_null(pc.match_substring(col, lit, ignore_case=True), False)
        )
    idx = pc.indices_nonzero(candidate).to_pylist()
    if not idx:
        return col.combine_chunks(), 0
    values = col.to_pylist()
    changed = 0
    for i in idx:
        new = pattern.sub(ERASED, values[i])
        if new != values[i]:
            values[i], changed = new, changed + 1
    return pa.array(values, col.type), changed


def erase_warehouse(wh: Warehouse, person: Person, key: bytes) -> dict[str, int]:
    """Delete their rows and redact mentions in every table, add their hashes; one commit."""
    names = warehouse_tables(wh)
    pattern, literals = person.mentions(), person.literals()
    counts: dict[str, int] = {}
    with wh.lock(*names, ERASED_TABLE), wh.transaction() as tx:
        for name in names:
            table = wh.read_arrow(name)
            m = match_rows(table, person)
            drop = pc.or_(m.keyed, m.mentioned) if name in ("rejects", "ingest_log") else m.keyed
            kept = table.filter(pc.invert(drop))
            removed = table.num_rows - kept.num_rows
            changed_rows = pa.array([False] * kept.num_rows, pa.bool_())
            for i, f in enumerate(kept.schema):
                if not (pa.types.is_string(f.type) or pa.types.is_large_string(f.type)):
                    continue
                before = kept.column(i)
                after, changed = redact_column(before, pattern, literals)
                if changed:
                    diff = pc.fill_null(pc.not_equal(before.combine_chunks(), after), False)
                    changed_rows = pc.or_(changed_rows, diff)
                    kept = kept.set_column(i, f, after)
            touched = (
                removed + pc.sum(changed_rows.cast(pa.int64())).as_py()
                if kept.num_rows
                else removed
            )
            if touched:
                tx.write(name, kept)
                counts[name] = int(touched or 0)
        hashes, kinds = identifier_hashes(key, person)
        fresh = erased_rows(hashes, kinds)
        if wh.exists(ERASED_TABLE):
            old = wh.read_arrow(ERASED_TABLE).cast(ERASED_SCHEMA)
            known = set(old.column("hash").to_pylist())
            fresh = fresh.filter(pa.array([h not in known for h in hashes], pa.bool_()))
            fresh = pa.concat_tables([old, fresh])
        tx.write(ERASED_TABLE, fresh)
    return counts


# -- the app database ------------------------------------------------------------------------
def _in(col: Any, values: set[str]) -> Any:
    return func.lower(col).in_(sorted(values))


def erase_app(s: Session, person: Person) -> dict[str, int]:
    """Anonymise or delete their app rows (see the module docstring); counts by table."""
    counts: dict[str, int] = {}
    ids, handles, addresses = (
        person.values,
        person.handles | {f"@{h}" for h in person.handles},
        person.emails,
    )
    records = {r.lower() for r in person.records}

    def add(table: str, n: int | None) -> None:
        if n:
            counts[table] = counts.get(table, 0) + n

    convs = list(
        s.scalars(
            select(Conversation.id).where(
                or_(
                    _in(Conversation.author_handle, handles), _in(Conversation.customer_id, records)
                )
            )
        )
    )
    if convs:
        add(
            "conversation_notes",
            _rows(
                s.execute(
                    delete(ConversationNote).where(ConversationNote.conversation_id.in_(convs))
                )
            ),
        )
        add(
            "conversation_messages",
            _rows(
                s.execute(
                    update(ConversationMessage)
                    .where(
                        ConversationMessage.conversation_id.in_(convs),
                        ConversationMessage.direction == "in",
                    )
                    .values(text=ERASED, author_handle=ERASED)
                )
            ),
        )
        for cid in convs:
            s.execute(
                update(Conversation)
                .where(Conversation.id == cid)
                .values(author_handle=ERASED, customer_id=None, subject=ERASED, key=f"erased:{cid}")
            )
        add("conversations", len(convs))
    mine_out = or_(
        OutboxItem.conversation_id.in_(convs) if convs else false(),
        _in(OutboxItem.customer_id, records),
        _in(OutboxItem.recipient, ids),
    )
    out_ids = list(s.scalars(select(OutboxItem.id).where(mine_out)))
    if out_ids:
        s.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(out_ids), OutboxItem.status.not_in(("sent",)))
            .values(status="dead", last_error="erased at the person's request")
        )
        s.execute(
            update(OutboxItem)
            .where(OutboxItem.id.in_(out_ids))
            .values(body=ERASED, recipient=None, customer_id=None)
        )
        add("outbox", len(out_ids))
    add(
        "email_events",
        _rows(
            s.execute(
                update(EmailEvent)
                .where(
                    or_(
                        _in(EmailEvent.customer_id, records),
                        _in(EmailEvent.recipient, addresses),
                        EmailEvent.outbox_id.in_(out_ids) if out_ids else false(),
                    )
                )
                .values(recipient=None, customer_id=None, detail=None, synced=True)
            )
        ),
    )
    add(
        "suppressions",
        _rows(
            s.execute(
                delete(Suppression).where(
                    or_(_in(Suppression.address, addresses), _in(Suppression.customer_id, records))
                )
            )
        ),
    )
    _erase_ideas(s, person, records, handles, add)
    add(
        "feedback_requests",
        _rows(
            s.execute(
                update(FeedbackRequest)
                .where(_in(FeedbackRequest.customer_id, records))
                .values(customer_id=ERASED, liked="", improve="")
            )
        ),
    )
    add(
        "referral_codes",
        _rows(s.execute(delete(ReferralCode).where(_in(ReferralCode.customer_id, records)))),
    )
    add(
        "referral_ledger",
        _rows(
            s.execute(
                update(ReferralEntry)
                .where(_in(ReferralEntry.referrer_id, records))
                .values(referrer_id=None)
            )
        ),
    )
    add(
        "referral_ledger",
        _rows(
            s.execute(
                update(ReferralEntry)
                .where(_in(ReferralEntry.buyer_id, records))
                .values(buyer_id=None)
            )
        ),
    )
    add(
        "loyalty_ledger",
        _rows(s.execute(delete(LoyaltyEntry).where(_in(LoyaltyEntry.customer_id, records)))),
    )
    for e in s.scalars(select(JourneyEnrolment).where(_in(JourneyEnrolment.customer_id, records))):
        e.customer_id, e.reason, e.outcome = f"erased:{e.id}", None, None
        add("journey_enrolments", 1)
    add(
        "privacy_requests",
        _rows(
            s.execute(
                update(PrivacyRequest)
                .where(_in(PrivacyRequest.customer_id, records))
                .values(customer_id=None)
            )
        ),
    )
    s.flush()
    for table in reversed(app_tables(s)):  # children first, for foreign keys
        if table.name in HANDLED:
            continue
        clause = keyed_clause(table, person)
        if clause is not None:
            add(table.name, _rows(s.execute(delete(table).where(clause))))
    _redact_app(s, person, add)
    return counts


def _rows(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _erase_ideas(
    s: Session, person: Person, records: set[str], handles: set[str], add: Any
) -> None:
    mine = list(
        s.scalars(
            select(IdeaContributor).where(
                or_(_in(IdeaContributor.customer_id, records), _in(IdeaContributor.handle, handles))
            )
        )
    )
    mine_ids = {c.id for c in mine}
    for idea_id in sorted({c.origin_idea_id for c in mine} | {c.idea_id for c in mine}):
        others = s.scalar(
            select(func.count())
            .select_from(IdeaContributor)
            .where(
                or_(IdeaContributor.idea_id == idea_id, IdeaContributor.origin_idea_id == idea_id),
                IdeaContributor.id.not_in(mine_ids),
            )
        )
        if not others:
            idea = s.get(Idea, idea_id)
            if idea is not None:
                idea.title, idea.body, idea.source_key = REMOVED_IDEA, "", None
                add("ideas", 1)
    for c in mine:
        c.customer_id, c.handle, c.post_id = None, None, None
    add("idea_contributors", len(mine))
    for v in s.scalars(select(IdeaVote).where(_in(IdeaVote.voter, person.values))):
        v.voter = f"erased:{v.id}"
        add("idea_votes", 1)
    if mine_ids:
        add(
            "idea_notifications",
            _rows(
                s.execute(
                    update(IdeaNotification)
                    .where(IdeaNotification.contributor_id.in_(mine_ids))
                    .values(recipient=ERASED, message=ERASED)
                )
            ),
        )
    s.flush()


def _redact_app(s: Session, person: Person, add: Any) -> None:
    """Replace every remaining mention of them in any text of any table."""
    pattern = person.mentions()
    for table in app_tables(s):
        loose = mention_clause(table, person)
        if loose is None:
            continue
        cols = text_columns(table)
        pk = list(table.primary_key.columns)
        for row in s.execute(select(table).where(loose)).mappings().all():
            new: dict[str, Any] = {}
            for c in cols:
                v = row[c.name]
                if isinstance(v, str):
                    r = pattern.sub(ERASED, v)
                elif isinstance(v, dict | list):
                    r = json.loads(pattern.sub(ERASED, json.dumps(v, ensure_ascii=False)))
                else:
                    continue
                if r != v:
                    new[c.name] = r
            if new:
                s.execute(update(table).where(*[c == row[c.name] for c in pk]).values(**new))
                add(table.name, 1)


__all__ = ["Erasure", "erase", "erase_app", "erase_warehouse"]
