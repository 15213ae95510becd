"""Campaign email through a real SMTP server (aiosmtpd on loopback).

What every message carries (both unsubscribe headers, a text part, tracked links), what
must never be sent (suppressed addresses, people the caller's recheck refuses), how
the server's answers are handled (4xx retried with backoff, 5xx recipient errors
suppressed), and what a crash does: one resend of the same bytes at most, and only for
a crash between the server's acceptance and the commit that follows it.
"""

from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

import pytest
from sqlalchemy import select

from socialcrm.appdb.models import EmailEvent, OutboxItem, Suppression
from socialcrm.outbound import mail
from socialcrm.outbound.email import SmtpSender, TokenBucket, parse_smtp_url
from socialcrm.outbound.suppression import suppress
from socialcrm.outbound.templates import RenderedEmail
from socialcrm.outbound.tokens import tokens_for
from tests.outbound.email_world import (
    NOW,
    PUBLIC,
    app_db,
    fresh_postgres_database,
    queue_people,
    settings_for,
)
from tests.outbound.smtp_sink import USER, self_signed, smtp_sink

PEOPLE = [(f"c{i}", f"person{i}@example.com") for i in range(6)]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """The app database of the tests that run on both: None is SQLite in the workspace."""
    if request.param == "sqlite":
        return None
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


def _parts(msg: Message) -> dict[str, str]:
    out = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            out[part.get_content_type()] = payload.decode(part.get_content_charset() or "utf-8")
    return out


def test_every_message_has_both_unsubscribe_headers_a_text_part_and_tracked_links(
    tmp_path: Path, db_url: str | None
) -> None:
    with smtp_sink() as sink, app_db(tmp_path, db_url) as db:
        settings = settings_for(tmp_path, sink.url())
        queue_people(db, settings, PEOPLE)
        got = mail.deliver_emails(db, settings, now=NOW)
        msgs = sink.messages()
    assert got == {"sent": 6, "failed": 0, "skipped": 0, "dead": 0}
    assert sorted(sink.rcpts) == sorted(a for _, a in PEOPLE)
    tokens = tokens_for(settings)
    for msg in msgs:
        cid = next(c for c, a in PEOPLE if a == msg["To"])
        # RFC 2369 + RFC 8058: an https link for the one-click POST, and a mailto
        unsub = msg["List-Unsubscribe"]
        m = re.fullmatch(rf"<({PUBLIC}/email/unsubscribe/(\S+))>, <mailto:news@brand\.example"
                         r"\?subject=unsubscribe-(\S+)>", unsub)  # fmt: skip
        assert m is not None, unsub
        assert m.group(2) == m.group(3)
        assert tokens.read("unsubscribe", m.group(2)) == ["spring", cid]
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert msg.get_content_type() == "multipart/alternative"
        assert re.fullmatch(r"<[0-9a-f]{32}@brand\.example>", msg["Message-ID"])
        assert msg["Date"] and msg["Subject"] == f"A thank-you for Person {cid}"
        parts = _parts(msg)
        assert set(parts) == {"text/plain", "text/html"}
        text, html = parts["text/plain"], parts["text/html"]
        assert f"Hello Person {cid}," in text and "<" not in text.replace("<https", "")
        assert m.group(1) in text  # the way out, in the text too
        # the shop link goes through a signed click link carrying the real URL …
        clicks = re.findall(rf'href="({PUBLIC}/email/click/([^"]+))"', html)
        assert len(clicks) == 1
        assert tokens.read("click", clicks[0][1]) == [
            "spring", cid, f"https://shop.brand.example/loyalty?c={cid}&src=email"]  # fmt: skip
        # … while mailto links are left alone, and an open pixel is there
        assert 'href="mailto:help@brand.example"' in html
        assert re.search(rf'<img src="{PUBLIC}/email/open/[^"]+\.gif" width="1" height="1"', html)
    with db.session() as s:
        events = s.scalars(select(EmailEvent).where(EmailEvent.kind == "sent")).all()
        items = s.scalars(select(OutboxItem)).all()
    assert sorted(str(e.customer_id) for e in events) == sorted(c for c, _ in PEOPLE)
    assert {i.status for i in items} == {"sent"}
    assert {i.external_id for i in items} == {m["Message-ID"] for m in msgs}


def test_queueing_twice_with_the_same_key_sends_once(tmp_path: Path) -> None:
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url())
        first = queue_people(db, settings, PEOPLE[:3])
        again = queue_people(db, settings, PEOPLE[:3])
        other_step = queue_people(db, settings, PEOPLE[:1], step="reminder")
        mail.deliver_emails(db, settings, now=NOW)
        mail.deliver_emails(db, settings, now=NOW + timedelta(days=1))
        assert first == again and other_step[0] not in first
        assert len(sink.got) == 4


def test_suppressed_and_rechecked_people_are_skipped_at_send_time(tmp_path: Path) -> None:
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url())
        queue_people(db, settings, PEOPLE)
        # after queueing: an unsubscribe (address spelt differently) and a withdrawn consent
        with db.session() as s:
            suppress(s, "  Person1@EXAMPLE.com", "unsubscribe", "test")

        def recheck(s: object, item: OutboxItem) -> str | None:
            return "no_consent" if item.customer_id == "c2" else None

        got = mail.deliver_emails(db, settings, now=NOW, recheck=recheck)
        assert got == {"sent": 4, "failed": 0, "skipped": 2, "dead": 0}
        assert "person1@example.com" not in sink.rcpts and "person2@example.com" not in sink.rcpts
        with db.session() as s:
            skipped = {i.customer_id: i.last_error for i in s.scalars(
                select(OutboxItem).where(OutboxItem.status == "skipped"))}  # fmt: skip
        assert skipped == {"c1": "suppressed", "c2": "no_consent"}
        # a skipped message stays skipped
        assert mail.deliver_emails(db, settings, now=NOW + timedelta(days=1))["sent"] == 0


def test_a_4xx_answer_is_retried_with_backoff(tmp_path: Path) -> None:
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url())
        queue_people(db, settings, PEOPLE[:1])
        sink.data_answers = ["451 4.7.1 Greylisted, try again later", "421 4.3.2 busy"]
        assert mail.deliver_emails(db, settings, now=NOW)["failed"] == 1
        with db.session() as s:
            item = s.scalars(select(OutboxItem)).one()
        assert (item.status, item.attempts) == ("pending", 1)
        assert item.next_attempt_at == NOW + timedelta(seconds=30)
        assert "451" in (item.last_error or "")
        # not due before the backoff has passed
        assert mail.deliver_emails(db, settings, now=NOW + timedelta(seconds=29))["failed"] == 0
        assert mail.deliver_emails(db, settings, now=NOW + timedelta(seconds=30))["failed"] == 1
        with db.session() as s:
            item = s.scalars(select(OutboxItem)).one()
        assert item.next_attempt_at == NOW + timedelta(seconds=30 + 60)  # doubled
        got = mail.deliver_emails(db, settings, now=NOW + timedelta(seconds=90))
        assert got["sent"] == 1 and len(sink.got) == 1
        with db.session() as s:
            assert s.scalars(select(OutboxItem)).one().attempts == 3


def test_a_5xx_unknown_user_suppresses_the_address_and_a_policy_refusal_does_not(
    tmp_path: Path,
) -> None:
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url())
        sink.refuse = {
            "person0@example.com": "550 5.1.1 <person0@example.com>: Recipient address rejected",
            "person1@example.com": "554 5.7.1 Message refused: looks like spam",
        }
        queue_people(db, settings, PEOPLE[:3])
        got = mail.deliver_emails(db, settings, now=NOW)
        assert got == {"sent": 1, "failed": 0, "skipped": 0, "dead": 2}
        with db.session() as s:
            sup = {r.address: r.reason for r in s.scalars(select(Suppression))}
            bounces = s.scalars(select(EmailEvent).where(EmailEvent.kind == "bounce")).all()
        assert sup == {"person0@example.com": "hard_bounce"}
        assert [b.customer_id for b in bounces] == ["c0"] and "5.1.1" in (bounces[0].detail or "")
        # the next campaign skips the bounced address
        queue_people(db, settings, PEOPLE[:1], campaign="summer")
        assert mail.deliver_emails(db, settings, now=NOW)["skipped"] == 1


class Crash(BaseException):
    """A worker killed mid-pass (not an error the pass could catch)."""


class CrashingSender:
    """Sends through the real server, and kills the pass at message ``at``: after the
    server accepted it (``after=True``) or before it was sent."""

    def __init__(self, url: str, at: int, after: bool) -> None:
        self.inner = SmtpSender(parse_smtp_url(url))
        self.at, self.after, self.n = at, after, 0

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        self.n += 1
        if self.n == self.at and not self.after:
            raise Crash
        self.inner.send(from_addr, to_addr, message)
        if self.n == self.at:
            raise Crash

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("after", [True, False], ids=["after-acceptance", "before-sending"])
def test_a_crash_mid_send_resumes_with_at_most_one_resend_of_the_same_message(
    tmp_path: Path, after: bool, db_url: str | None
) -> None:
    with smtp_sink() as sink, app_db(tmp_path, db_url) as db:
        settings = settings_for(tmp_path, sink.url())
        queue_people(db, settings, PEOPLE)
        crashing = CrashingSender(sink.url(), at=3, after=after)
        with pytest.raises(Crash):
            mail.deliver_emails(db, settings, sender=crashing, now=NOW)
        crashing.close()
        sent_before = list(sink.got)
        assert len(sent_before) == (3 if after else 2)
        with db.session() as s:
            states = [i.status for i in s.scalars(select(OutboxItem).order_by(OutboxItem.id))]
        # the first two are settled; the third was in flight; the rest were not touched
        assert states == ["sent", "sent", "sending", "pending", "pending", "pending"]
        # the dead worker's lease still holds its batch: another pass leaves it alone …
        assert mail.deliver_emails(db, settings, now=NOW + timedelta(seconds=60))["sent"] == 0
        assert len(sink.got) == len(sent_before)
        # … until it runs out; then the rest goes, the one in flight again
        later = NOW + timedelta(seconds=settings.delivery_lease_seconds + 1)
        assert mail.deliver_emails(db, settings, now=later) == {
            "sent": 4, "failed": 0, "skipped": 0, "dead": 0}  # fmt: skip
        assert mail.deliver_emails(db, settings, now=later + timedelta(days=1))["sent"] == 0
        got = sink.got
    ids = [m["Message-ID"] for m in sink.messages()]
    assert sorted(set(sink.rcpts)) == sorted(a for _, a in PEOPLE)
    if after:
        # exactly one duplicate: the message in flight, same Message-ID, same bytes
        assert len(got) == 7 and len(set(ids)) == 6
        dup = [b for b in got if got.count(b) == 2]
        assert len(dup) == 2 and dup[0] == dup[1]
    else:
        assert len(got) == 6 and len(set(ids)) == 6


def test_starttls_and_authentication(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with smtp_sink(tls=(cert, key), auth=True) as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url(auth=True, query=f"cafile={cert}"))
        queue_people(db, settings, PEOPLE[:2])
        assert mail.deliver_emails(db, settings, now=NOW)["sent"] == 2
        assert sink.logins == [USER] and len(sink.got) == 2
        # a wrong password: the pass stops, nothing is lost, everything is retried
        bad = settings_for(tmp_path, sink.url(auth=True, query=f"cafile={cert}").replace(
            "password", "wrong"))  # fmt: skip
        queue_people(db, settings, PEOPLE[2:5])
        got = mail.deliver_emails(db, bad, now=NOW)
        assert got["sent"] == 0 and got["failed"] == 1
        with db.session() as s:
            pending = s.scalars(select(OutboxItem).where(OutboxItem.status == "pending")).all()
        assert len(pending) == 3 and all(i.lease_owner is None for i in pending)
        # a server whose certificate is not trusted is refused
        untrusted = settings_for(tmp_path, sink.url(auth=True))
        assert mail.deliver_emails(db, untrusted, now=NOW + timedelta(hours=1))["sent"] == 0
        assert len(sink.got) == 2


def test_implicit_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    with smtp_sink(tls=(cert, key), implicit_tls=True) as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url("smtps", query=f"cafile={cert}"))
        queue_people(db, settings, PEOPLE[:2])
        assert mail.deliver_emails(db, settings, now=NOW)["sent"] == 2


def test_starttls_required_but_not_offered_sends_nothing(tmp_path: Path) -> None:
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url(query="starttls=require"))
        queue_people(db, settings, PEOPLE[:2])
        got = mail.deliver_emails(db, settings, now=NOW)
        assert got["sent"] == 0 and sink.got == []


def test_one_connection_per_batch_and_a_reconnect_when_the_server_drops_it(
    tmp_path: Path,
) -> None:
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url())
        sender = SmtpSender(parse_smtp_url(sink.url()))
        queue_people(db, settings, PEOPLE[:3])
        mail.deliver_emails(db, settings, sender=sender, now=NOW)
        assert sender.connections == 1 and len(sink.got) == 3
        assert sender._smtp is not None
        # the connection is gone meanwhile (an idle timeout on the server's side)
        sender._smtp.sock.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        queue_people(db, settings, PEOPLE[3:])
        assert mail.deliver_emails(db, settings, sender=sender, now=NOW)["sent"] == 3
        assert sender.connections == 2 and len(sink.got) == 6
        sender.close()


def test_the_rate_limit_waits_as_a_token_bucket() -> None:
    clock = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    bucket = TokenBucket(10.0, burst=5, clock=lambda: clock[0], sleep=sleep)
    for _ in range(25):
        bucket.take()
    # a burst of 5 at once, then one every 0.1 s: 25 messages take 2 s
    assert len(waits) == 20
    assert clock[0] == pytest.approx(2.0)
    clock[0] += 10.0  # idle: the bucket refills to its burst, no more
    waits.clear()
    for _ in range(6):
        bucket.take()
    assert len(waits) == 1


def test_an_invalid_recipient_is_refused_when_queued(tmp_path: Path) -> None:
    with app_db(tmp_path) as db:
        settings = settings_for(tmp_path, "smtp://127.0.0.1:1?from=news@brand.example")
        for bad in ("no-at-sign", "a@b", "ann@example.com\r\nBcc: x@example.com", "é@x.example"):
            with pytest.raises(mail.EmailError):
                queue_people(db, settings, [("c9", bad)])
        # a secret never shows in the settings' repr
        shown = repr(settings_for(tmp_path, "smtp://u:s3cr3t-pw@h:25"))
        assert "s3cr3t-pw" not in shown and "smtp_url=SecretStr('**********')" in shown
        assert "s3cr3t-pw" not in repr(parse_smtp_url("smtp://u:s3cr3t-pw@h:25"))


def test_the_from_address_is_required(tmp_path: Path) -> None:
    with app_db(tmp_path) as db:
        settings = settings_for(tmp_path, "smtp://127.0.0.1:1")
        with pytest.raises(mail.EmailError, match="SOCIALCRM_EMAIL_FROM"):
            queue_people(db, settings, PEOPLE[:1])


def test_without_a_server_nothing_is_lost(tmp_path: Path) -> None:
    with app_db(tmp_path) as db:
        settings = settings_for(tmp_path, "smtp://127.0.0.1:1?from=news@brand.example")
        queue_people(db, settings, PEOPLE[:3])
        unset = settings.model_copy(update={"smtp_url": None})
        for s in (unset, settings):  # not configured, then nobody listening
            got = mail.deliver_emails(db, s, now=NOW + timedelta(days=1))
            assert got == {"sent": 0, "failed": 1, "skipped": 0, "dead": 0}
        with db.session() as s:
            items = s.scalars(select(OutboxItem)).all()
        assert {i.status for i in items} == {"pending"}
        assert all(i.lease_owner is None for i in items)
        # each pass spent one attempt (the first item waits its backoff, the next goes first)
        assert sorted(i.attempts for i in items) == [0, 1, 1]


def test_passes_running_at_once_send_each_message_once(tmp_path: Path, db_url: str | None) -> None:
    people = [(f"c{i}", f"person{i}@example.com") for i in range(60)]
    with smtp_sink() as sink, app_db(tmp_path, db_url) as db:
        settings = settings_for(tmp_path, sink.url())
        queue_people(db, settings, people)
        results: list[dict[str, int]] = []
        barrier = threading.Barrier(3)

        def one_pass() -> None:
            barrier.wait()
            results.append(mail.deliver_emails(db, settings, now=NOW, limit=25))

        threads = [threading.Thread(target=one_pass) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        mail.deliver_emails(db, settings, now=NOW)  # whatever the three left
        assert len(sink.got) == 60 and sorted(sink.rcpts) == sorted(a for _, a in people)
    assert sum(r["sent"] for r in results) <= 60


def test_the_pass_leaves_the_connections_as_it_found_them(tmp_path: Path) -> None:
    with smtp_sink() as sink, app_db(tmp_path) as db:
        settings = settings_for(tmp_path, sink.url())
        queue_people(db, settings, PEOPLE[:2])
        mail.deliver_emails(db, settings, now=NOW)
        # every pooled connection commits with the app's own durability again (FULL = 2)
        conns = [db.engine.connect() for _ in range(3)]
        try:
            assert {c.exec_driver_sql("PRAGMA synchronous").scalar() for c in conns} == {2}
        finally:
            for c in conns:
                c.close()


def test_non_ascii_subjects_and_names_are_encoded_and_lines_end_in_crlf(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "smtp://127.0.0.1:1").model_copy(
        update={"email_from": "Bäckerei Größe <news@brand.example>"}
    )
    subject = "Ihr Geschenk, Chloé: Frühlingsrabatt für treue Kundinnen und Kunden 🌷 " * 2
    rendered = RenderedEmail(subject.strip(), "<p>Grüße, Chloé</p>", "Grüße, Chloé")
    raw = mail.build_message(settings, recipient="chloe@example.com", rendered=rendered,
                             campaign_id="spring", customer_id="c1",
                             message_id="<m1@brand.example>")  # fmt: skip
    assert raw.isascii()  # 7-bit clean: any relay takes it
    assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare line feed anywhere
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = message_from_bytes(raw, policy=default)
    assert msg["Subject"] == subject.strip()
    assert msg["From"].addresses[0].display_name == "Bäckerei Größe"
    assert _parts(msg)["text/plain"].startswith("Grüße, Chloé")
