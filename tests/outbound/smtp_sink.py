"""A real SMTP server (aiosmtpd) on loopback that keeps what it accepts and answers from
a script: refused recipients, "try later" at DATA, STARTTLS, implicit TLS, AUTH."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.ports import free_port

USER, PASSWORD = "brand", "smtp password 123"


@dataclass
class Sink:
    port: int
    refuse: dict[str, str] = field(default_factory=dict)
    """recipient → the answer to its RCPT (``"550 5.1.1 user unknown"``)."""
    data_answers: list[str] = field(default_factory=list)
    """Answers to the next DATA commands, in order; then 250."""
    got: list[bytes] = field(default_factory=list)
    rcpts: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    sessions: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[Message]:
        with self.lock:
            return [message_from_bytes(b) for b in self.got]

    def url(self, scheme: str = "smtp", auth: bool = False, query: str = "") -> str:
        cred = f"{USER}:{PASSWORD.replace(' ', '%20')}@" if auth else ""
        q = "from=news@brand.example" + (f"&{query}" if query else "")
        return f"{scheme}://{cred}127.0.0.1:{self.port}?{q}"


class _Handler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:  # fmt: skip
        with self.sink.lock:
            self.sink.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:  # fmt: skip
        answer = self.sink.refuse.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.sink.lock:
            if self.sink.data_answers:
                return self.sink.data_answers.pop(0)
            self.sink.got.append(envelope.content)
            self.sink.rcpts.extend(envelope.rcpt_tos)
        return "250 Message accepted for delivery"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command makes the test certificate; install openssl")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


@contextmanager
def smtp_sink(
    *,
    tls: tuple[Path, Path] | None = None,
    implicit_tls: bool = False,
    auth: bool = False,
) -> Iterator[Sink]:
    """A running sink; with ``tls`` (cert, key) it offers STARTTLS (or speaks TLS from the
    start: ``implicit_tls``); with ``auth`` it requires AUTH with USER/PASSWORD."""
    import ssl

    sink = Sink(free_port())
    kw: dict[str, Any] = {}
    if tls is not None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(tls[0]), str(tls[1]))
        if implicit_tls:
            kw["ssl_context"] = ctx
        else:
            kw["tls_context"] = ctx
            kw["require_starttls"] = True
    if auth:

        def check(server: Any, session: Any, envelope: Any, mechanism: str,
                  data: Any) -> AuthResult:  # fmt: skip
            ok = isinstance(data, LoginPassword) and (
                data.login.decode(), data.password.decode()) == (USER, PASSWORD)  # fmt: skip
            if ok:
                sink.logins.append(data.login.decode())
            return AuthResult(success=ok, handled=False)

        kw.update(authenticator=check, auth_required=True, auth_require_tls=tls is not None)
    controller = Controller(_Handler(sink), hostname="127.0.0.1", port=sink.port,
                            ready_timeout=30, **kw)  # fmt: skip
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
