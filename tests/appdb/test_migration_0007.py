"""0007 (the email channel) keeps the replies already queued, allows the email states,
and goes back down without losing a reply."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from socialcrm.appdb.db import make_engine, migrate
from tests.appdb.migrating import downgrade

REPLY = (
    "INSERT INTO outbox (idempotency_key, connector, body, status, attempts, "
    "next_attempt_at, created_by, created_at) VALUES (:k, 'mastodon', 'hi', :st, 0, "
    "CURRENT_TIMESTAMP, 'agent', CURRENT_TIMESTAMP)"
)


def test_up_keeps_the_replies_and_allows_the_email_states_down_folds_them(url: str) -> None:
    engine = make_engine(url)
    migrate(engine, "0006_outbound_and_event_import")
    with engine.begin() as c:
        c.execute(text(REPLY), {"k": "reply-1", "st": "pending"})
        c.execute(text(REPLY), {"k": "reply-2", "st": "sent"})
        # before: three states only
        with pytest.raises(IntegrityError), c.begin_nested():
            c.execute(text(REPLY), {"k": "x", "st": "sending"})
    migrate(engine, "0007_email_channel")
    with engine.begin() as c:
        rows = c.execute(text("SELECT idempotency_key, status, recipient, message_id FROM "
                              "outbox ORDER BY id")).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [("reply-1", "pending", None, None),
                                            ("reply-2", "sent", None, None)]  # fmt: skip
        c.execute(text(REPLY), {"k": "mail-1", "st": "sending"})
        c.execute(text(REPLY), {"k": "mail-2", "st": "skipped"})
        with pytest.raises(IntegrityError), c.begin_nested():
            c.execute(text(REPLY), {"k": "y", "st": "lost"})
        c.execute(text("INSERT INTO suppressions (address, reason, source, created_at) "
                       "VALUES ('a@example.com', 'manual', 't', CURRENT_TIMESTAMP)"))  # fmt: skip
    engine.dispose()
    downgrade(url, "0006_outbound_and_event_import")
    engine = make_engine(url)
    with engine.begin() as c:
        got = dict(c.execute(text("SELECT idempotency_key, status FROM outbox")).all())
    engine.dispose()
    # an interrupted send is due again; a skipped one is given up
    assert got == {"reply-1": "pending", "reply-2": "sent", "mail-1": "pending",
                   "mail-2": "dead"}  # fmt: skip
