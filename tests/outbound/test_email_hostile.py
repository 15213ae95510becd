"""The email channel against hostile input: personalisation values, recipients and From
addresses that try to add headers, hide as encoded words, or smuggle several addresses."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import event, func, select

from socialcrm.appdb.models import EmailEvent, OutboxItem
from socialcrm.config import Settings
from socialcrm.outbound import mail
from socialcrm.outbound.suppression import record
from socialcrm.outbound.templates import load_template
from tests.outbound.email_world import (
    NOW,
    PUBLIC,
    app_db,
    fresh_postgres_database,
    queue_people,
    settings_for,
)
from tests.waiting import wait_until

ENCODED = "=?utf-8?b?QWRtaW4gdGVhbQ==?="  # decodes to "Admin team"


def _settings(tmp_path: Path, sender: str = "Brand <news@brand.example>") -> Settings:
    return Settings(home=tmp_path, public_url=PUBLIC, email_from=sender,
                    web_secret_key="test-secret-key-for-email-links-0123456789")  # fmt: skip


def _build(settings: Settings, name: str, recipient: str = "ann@example.com") -> EmailMessage:
    t = load_template("<p>Hello {{ name }}</p>", "News for {{ name }}")
    raw = mail.build_message(settings, recipient=recipient, rendered=t.render({"name": name}),
                             campaign_id="spring", customer_id="c1",
                             message_id="<x1@brand.example>")  # fmt: skip
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


@pytest.mark.parametrize(
    "name",
    [
        "Ann\r\nBcc: eve@evil.example",
        "Ann\nBcc: eve@evil.example",
        "Ann\rBcc: eve@evil.example\x00",
        "Ann\u2028Bcc: eve@evil.example",
        "Ann\x85Bcc: eve@evil.example",
    ],
)
def test_a_line_break_in_a_personalised_subject_adds_no_header(tmp_path: Path, name: str) -> None:
    msg = _build(_settings(tmp_path), name)
    assert "Bcc" not in msg and msg.get_all("To") == ["ann@example.com"]
    subject = str(msg["Subject"])
    assert subject.startswith("News for Ann") and "Bcc: eve@evil.example" in subject
    assert not any(c in subject for c in "\r\n\x00\x85\u2028")


def test_an_encoded_word_in_a_name_is_shown_as_typed_not_decoded(tmp_path: Path) -> None:
    msg = _build(_settings(tmp_path), ENCODED)
    assert str(msg["Subject"]) == f"News for {ENCODED}"  # not "News for Admin team"


def test_html_in_a_name_is_escaped_in_the_html_part_and_plain_in_the_text_part(
    tmp_path: Path,
) -> None:
    msg = _build(_settings(tmp_path), '<a href="https://evil.example">Ann</a>')
    html = msg.get_body(("html",))
    text = msg.get_body(("plain",))
    assert html is not None and text is not None
    html_s, text_s = html.get_content(), text.get_content()
    assert "&lt;a href=&#34;https://evil.example&#34;&gt;Ann&lt;/a&gt;" in html_s
    assert "evil.example/email/click" not in html_s  # an escaped link is not tracked
    assert '<a href="https://evil.example">Ann</a>' in text_s


@pytest.mark.parametrize(
    "recipient",
    [
        "ann@example.com, eve@evil.example",
        "ann@example.com; eve@evil.example",
        '"eve@evil.example"@example.com',
        "Ann <ann@example.com>",
        "ann@example.com\r\nBcc: eve@evil.example",
        "eve%evil.example@example.com",
        "eve!evil.example@example.com",
        "ann@example..com",
        ".ann@example.com",
        "ann@example",
    ],
)
def test_a_recipient_that_is_not_exactly_one_plain_address_is_refused(
    tmp_path: Path, recipient: str
) -> None:
    with pytest.raises(mail.EmailError):
        _build(_settings(tmp_path), "Ann", recipient)


@pytest.mark.parametrize(
    "sender",
    [
        "Brand <news@brand.example>, eve@evil.example",
        "news@brand.example, eve@evil.example",
        "Brand <news@brand.example>\r\nBcc: eve@evil.example",
        "Brand",
    ],
)
def test_a_from_that_is_not_one_address_is_refused(tmp_path: Path, sender: str) -> None:
    with pytest.raises(mail.EmailError):
        _build(_settings(tmp_path, sender), "Ann")


def test_an_encoded_word_in_the_from_name_is_encoded_not_passed_through(tmp_path: Path) -> None:
    msg = _build(_settings(tmp_path, f"{ENCODED} <news@brand.example>"), "Ann")
    assert msg["From"].addresses[0].display_name == ENCODED
    assert msg["From"].addresses[0].addr_spec == "news@brand.example"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "sqlite":
        return None
    return fresh_postgres_database(request.getfixturevalue("postgres_url"))


def test_two_requests_recording_one_event_at_once_record_it_once(
    tmp_path: Path, db_url: str | None
) -> None:
    """The second of two simultaneous one-click POSTs (or pixel fetches) checks for the
    key before the first commits; the database's unique key then refuses its row, which
    must make it a duplicate (None), not a failed request."""
    with app_db(tmp_path, db_url) as db:
        inserting = threading.Event()
        got: list[object] = []

        @event.listens_for(db.engine, "before_cursor_execute")
        def _seen(_c: object, _cur: object, statement: str, *_: object) -> None:
            if threading.current_thread().name == "second" and "INSERT INTO email_events" in (
                statement
            ):
                inserting.set()

        def second() -> None:
            try:
                with db.session() as s:
                    got.append(record(s, "unsubscribe", customer_id="c1", key="unsub:c1"))
            except Exception as e:  # the failure is what is tested
                got.append(e)

        with db.session() as s:
            assert record(s, "unsubscribe", customer_id="c1", key="unsub:c1") is not None
            t = threading.Thread(target=second, name="second")
            t.start()
            wait_until(inserting.is_set, "the second session checking")  # its insert waits for ours
        t.join()
        assert got == [None]
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(EmailEvent)) == 1


class HangUpAfterData:
    """A real SMTP server on loopback that takes the whole message, then hangs up instead
    of answering 250 (RFC 1047's case): the sender cannot know whether it was delivered."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn, conn.makefile("rb") as r:
                conn.sendall(b"220 hangup.example ESMTP\r\n")
                for line in r:
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 hangup.example\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go on\r\n")
                        for body in r:
                            if body == b".\r\n":
                                break
                        self.received += 1
                        break  # the message is in; hang up without a word
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        break
                    else:
                        conn.sendall(b"250 ok\r\n")

    def close(self) -> None:
        self.sock.close()


def test_a_server_that_hangs_up_after_the_message_gets_it_at_most_twice(tmp_path: Path) -> None:
    """Handed over and no answer: it may be delivered. Not sent again at once on a new
    connection, and retried once (as after a crash, same Message-ID), then dead: never a
    copy per attempt."""
    server = HangUpAfterData()
    try:
        with app_db(tmp_path) as db:
            settings = settings_for(
                tmp_path, f"smtp://127.0.0.1:{server.port}?from=news@brand.example"
            )
            queue_people(db, settings, [("c1", "ann@example.com")])
            results = [
                mail.deliver_emails(db, settings, now=NOW + timedelta(days=day))
                for day in range(1, 6)
            ]
            with db.session() as s:
                [item] = s.scalars(select(OutboxItem)).all()
    finally:
        server.close()
    assert server.received == 2
    assert item.status == "dead" and item.attempts == 2
    assert (item.last_error or "").startswith("unconfirmed: ")
    assert [r["failed"] + r["dead"] for r in results] == [1, 1, 0, 0, 0]
