"""Bounces and complaints, from reports shaped like real ones (RFC 3464 DSNs as Postfix
and sendmail write them, an RFC 5965 abuse report), read from an mbox and a Maildir."""

from __future__ import annotations

import mailbox
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import EmailEvent, OutboxItem, Suppression
from socialcrm.config import Settings
from socialcrm.outbound import bounces, mail, tokens
from tests.outbound.email_world import NOW, app_db, queue_people, settings_for
from tests.outbound.smtp_sink import smtp_sink

DATA = Path(__file__).parent / "data" / "bounces"
PEOPLE = [(f"c{i}", f"person{i}@example.com") for i in range(6)]


def _sent(tmp_path: Path, db: AppDB) -> tuple[Settings, dict[str, str]]:
    """Six people emailed through a real server; their Message-IDs by customer id."""
    with smtp_sink() as sink:
        settings = settings_for(tmp_path, sink.url())
        queue_people(db, settings, PEOPLE)
        assert mail.deliver_emails(db, settings, now=NOW)["sent"] == 6
    with db.session() as s:
        ids = {i.customer_id: i.message_id for i in s.scalars(select(OutboxItem))}
    return settings, {str(k): str(v) for k, v in ids.items()}


def _report(name: str, mids: dict[str, str]) -> bytes:
    text = (DATA / name).read_text()
    for cid, mid in mids.items():
        text = text.replace("{MID" + cid[1:] + "}", mid)
    return text.replace("\n", "\r\n").encode()


def _state(db: AppDB) -> tuple[dict[str, str], list[tuple[str, str | None, str | None]]]:
    with db.session() as s:
        sup = {r.address: r.reason for r in s.scalars(select(Suppression))}
        rows = s.scalars(
            select(EmailEvent).where(EmailEvent.kind != "sent").order_by(EmailEvent.id)
        )
        events = [(e.kind, e.customer_id, e.detail) for e in rows]
    return sup, events


def test_a_hard_bounce_suppresses_and_finds_its_message(tmp_path: Path) -> None:
    with app_db(tmp_path) as db:
        settings, mids = _sent(tmp_path, db)
        [f] = bounces.parse_bytes(_report("hard_5.1.1.eml", mids))
        assert (f.kind, f.recipient, f.status, f.action, f.hard) == (
            "bounce", "person0@example.com", "5.1.1", "failed", True)  # fmt: skip
        assert f.message_id == mids["c0"] and f.campaign_id == "spring"
        with db.session() as s:
            counts = bounces.apply(s, settings, [f], "test")
        assert counts["hard_bounces"] == 1
        sup, events = _state(db)
        assert sup == {"person0@example.com": "hard_bounce"}
        [(kind, cid, detail)] = events
        assert (
            (kind, cid) == ("bounce", "c0") and detail and detail.startswith("hard: failed 5.1.1")
        )


def test_a_delay_is_a_soft_bounce_recorded_not_suppressed(tmp_path: Path) -> None:
    with app_db(tmp_path) as db:
        settings, mids = _sent(tmp_path, db)
        feedback = bounces.parse_bytes(_report("delayed_4.4.1.eml", mids))
        with db.session() as s:
            counts = bounces.apply(s, settings, feedback, "test")
        assert counts["soft_bounces"] == 1 and counts["hard_bounces"] == 0
        sup, events = _state(db)
        assert sup == {} and [(k, c) for k, c, _ in events] == [("bounce", "c1")]
        assert events[0][2] and events[0][2].startswith("soft: delayed 4.4.1")


def test_one_report_about_several_recipients(tmp_path: Path) -> None:
    """Spam-filtered (5.7.1: not the address's fault), no such user (5.0.0), delivered;
    from the provider's authenticated webhook (``trusted``), which names no Message-ID."""
    with app_db(tmp_path) as db:
        settings, _ = _sent(tmp_path, db)
        feedback = bounces.parse_bytes(_report("multi_recipient.eml", {}))
        assert [(f.recipient, f.status, f.hard) for f in feedback] == [
            ("person2@example.org", "5.7.1", False),
            ("person3@example.org", "5.0.0", True),
            ("person4@example.org", "2.0.0", False),
        ]
        with db.session() as s:
            counts = bounces.apply(s, settings, feedback, "test", trusted=True)
        assert (counts["hard_bounces"], counts["soft_bounces"], counts["delivered"]) == (1, 1, 1)
        sup, events = _state(db)
        assert sup == {"person3@example.org": "hard_bounce"}
        assert [k for k, _, _ in events] == ["bounce", "bounce", "delivered"]
        assert events[0][2] and events[0][2].startswith("permanent: failed 5.7.1")


def test_an_abuse_report_suppresses_as_a_complaint(tmp_path: Path) -> None:
    with app_db(tmp_path) as db:
        settings, mids = _sent(tmp_path, db)
        [f] = bounces.parse_bytes(_report("complaint_arf.eml", mids))
        assert (f.kind, f.recipient, f.message_id) == ("complaint", "person5@example.com",
                                                       mids["c5"])  # fmt: skip
        with db.session() as s:
            assert bounces.apply(s, settings, [f], "test")["complaints"] == 1
        sup, events = _state(db)
        assert sup == {"person5@example.com": "complaint"}
        assert [(k, c) for k, c, _ in events] == [("complaint", "c5")]


@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_a_mailbox_is_read_once_however_often_it_is_processed(tmp_path: Path, kind: str) -> None:
    with app_db(tmp_path) as db:
        settings, mids = _sent(tmp_path, db)
        path = tmp_path / ("bounces.mbox" if kind == "mbox" else "Maildir")
        box: mailbox.Mailbox[Any] = mailbox.mbox(path) if kind == "mbox" else mailbox.Maildir(path)
        for name in sorted(p.name for p in DATA.glob("*.eml")):
            box.add(_report(name, mids))
        # a reply that is no report, and a mailto unsubscribe (List-Unsubscribe's 2nd half)
        box.add(b"From: person4@example.com\r\nSubject: Out of office\r\n\r\nBack Monday.\r\n")
        token = tokens.tokens_for(settings).make("unsubscribe", ["spring", "c4"])
        box.add(f"From: person4@example.com\r\nTo: news@brand.example\r\n"
                f"Subject: unsubscribe-{token}\r\n\r\n".encode())  # fmt: skip
        box.close()
        first = bounces.process_mailbox(db, settings, path)
        again = bounces.process_mailbox(db, settings, path)
        sup, _ = _state(db)
    assert first["messages"] == 6 and first["ignored"] == 1
    # the multi-recipient report names no message of ours: its 5.0.0 is not believed
    assert (first["hard_bounces"], first["soft_bounces"], first["complaints"]) == (1, 2, 1)
    assert (first["unsubscribes"], first["delivered"], first["unverified"]) == (1, 1, 1)
    assert again["duplicates"] == 6 and again["hard_bounces"] == again["complaints"] == 0
    assert sup == {
        "person0@example.com": "hard_bounce",
        "person4@example.com": "unsubscribe",
        "person5@example.com": "complaint",
    }


def test_json_events_from_a_provider() -> None:
    got = bounces.parse_json(
        [
            {"type": "bounce", "id": "e1", "recipient": "A@Example.com", "status": "5.1.1"},
            {"type": "bounce", "id": "e2", "message_id": "<x@brand.example>", "status": "4.2.2"},
            {"type": "complaint", "recipient": "b@example.com"},
        ]
    )
    assert [(f.kind, f.recipient, f.action, f.hard) for f in got] == [
        ("bounce", "a@example.com", "failed", True),
        ("bounce", None, "delayed", False),
        ("complaint", "b@example.com", None, False),
    ]
    for bad in ({"type": "bounce"}, {"type": "spam", "recipient": "a@example.com"}, ["x"]):
        with pytest.raises(ValueError):
            bounces.parse_json(bad)


def test_headers_cut_short_still_find_the_person_by_campaign_and_address(
    tmp_path: Path,
) -> None:
    """From the provider's webhook; from the mailbox, see the forged reports below."""
    with app_db(tmp_path) as db:
        settings, mids = _sent(tmp_path, db)
        raw = _report("hard_5.1.1.eml", mids).replace(f"Message-ID: {mids['c0']}\r\n".encode(), b"")
        [f] = bounces.parse_bytes(raw)
        assert f.message_id is None and f.campaign_id == "spring"
        with db.session() as s:
            assert bounces.apply(s, settings, [f], "test", trusted=True)["hard_bounces"] == 1
        _, events = _state(db)
    assert [(k, c) for k, c, _ in events] == [("bounce", "c0")]


def _forge(report: bytes, victim: str, mid: str | None) -> bytes:
    """A report as anyone on the internet can mail it to the bounce address."""
    out = report.replace(b"person0@example.com", victim.encode())
    if mid is not None:
        out = re.sub(rb"(?m)^Message-ID: <[0-9a-f]{32}@", f"Message-ID: {mid[:-1]}".encode()
                     + rb"@", out)  # fmt: skip
    return out


@pytest.mark.parametrize("how", ["no message id", "cut short", "guessed id", "other recipient"])
def test_a_forged_report_in_the_mailbox_suppresses_nobody(tmp_path: Path, how: str) -> None:
    """Anyone can mail the bounce address. A report is believed only about a message it
    names by Message-ID (keyed: not guessable from campaign and person), and only about
    that message's own recipient; otherwise it is logged, on nobody's record."""
    with app_db(tmp_path) as db:
        settings, mids = _sent(tmp_path, db)
        good = _report("hard_5.1.1.eml", mids)
        assert mids["c1"] != mail.message_id_for("spring|c1|send", "news@brand.example")
        plain = mail.message_id_for("spring|c1|send", "x@example.com").split("@")[0] + ">"
        raw = {
            "no message id": _forge(good, "ceo@victim.example", None).replace(
                f"Message-ID: {mids['c0']}\r\n".encode(), b""
            ),
            "cut short": good.replace(f"Message-ID: {mids['c0']}\r\n".encode(), b"").replace(
                b"person0@example.com", b"person1@example.com"
            ),
            "guessed id": _forge(good, "person1@example.com", plain),
            "other recipient": _forge(good, "person2@example.com", None),
        }[how]
        path = tmp_path / "bounces.mbox"
        box: mailbox.Mailbox[Any] = mailbox.mbox(path)
        box.add(raw)
        box.close()
        counts = bounces.process_mailbox(db, settings, path)
        sup, events = _state(db)
    assert counts["hard_bounces"] == 0 and counts["unverified"] == 1
    assert sup == {}
    [(kind, cid, detail)] = events
    assert kind == "bounce" and cid is None and detail and detail.startswith("unverified: ")


def test_a_forged_complaint_in_the_mailbox_suppresses_nobody(tmp_path: Path) -> None:
    with app_db(tmp_path) as db:
        settings, mids = _sent(tmp_path, db)
        raw = _report("complaint_arf.eml", mids).replace(mids["c5"].encode(), b"<forged@x>")
        with db.session() as s:
            counts = bounces.apply(s, settings, bounces.parse_bytes(raw), "mailbox:test")
        sup, _ = _state(db)
    assert counts["complaints"] == 0 and counts["unverified"] == 1 and sup == {}
