"""Email over SMTP: one connection per batch, a rate limit, and errors that say whether
to try again.

``SOCIALCRM_SMTP_URL`` names the server (see :func:`parse_smtp_url`):

- ``smtp://[user:pass@]host[:port]``: plain SMTP, upgraded with STARTTLS whenever the
  server offers it (``?starttls=require`` refuses a server that does not);
- ``smtps://…``: TLS from the first byte (implicit TLS, port 465);
- ``?from=brand@example.com``: the From address, unless ``SOCIALCRM_EMAIL_FROM`` says;
- ``?cafile=/path/ca.pem``: trust this CA too (a relay with a private certificate).

A password is sent only over TLS, or to a server on this machine. The URL is a secret:
it is held as ``SecretStr`` and never printed; errors name the host only.

:class:`SmtpSender` keeps one connection across a batch (and reconnects once when the
server dropped it), paces itself with a token bucket (``email_rate_per_second``), and
turns the server's answers into :class:`~socialcrm.outbound.channel.ChannelError`:

- 4xx (greylisting, "try later", a full queue): retryable, with the outbox's backoff;
- 5xx: permanent (:class:`EmailRejected`); a recipient that does not exist (550, 551,
  553, or an enhanced status 5.1.x / 5.2.1) is a *hard bounce*, whose address is
  suppressed, while a policy refusal (5.7.x: spam, authentication) is not the address's
  fault and suppresses nothing;
- no connection, a failed login or TLS handshake: :class:`SmtpUnavailable`, retryable,
  and the pass stops there instead of failing every message in turn.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from socialcrm.config import Settings
from socialcrm.outbound.channel import ChannelError

HARD_BOUNCE_CODES = frozenset({550, 551, 553})
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


class EmailRejected(ChannelError):
    """The server refused one message (or its recipient) for good: a 5xx answer."""

    def __init__(self, message: str, code: int, enhanced: str | None, hard_bounce: bool) -> None:
        super().__init__(message, retryable=False)
        self.code, self.enhanced, self.hard_bounce = code, enhanced, hard_bounce


class SmtpUnavailable(ChannelError):
    """The server cannot be used now (no server set, connection, TLS, login): the
    message is not at fault, so it is always retried later, and the pass stops."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class Unconfirmed(ChannelError):
    """The connection died after the message was handed over, before the server's
    answer: it may have been delivered. Retried once (the same bytes and Message-ID, as
    after a crash), then ``dead``, never resent in a loop (RFC 1047's duplicates)."""

    PREFIX = "unconfirmed: "

    def __init__(self, message: str) -> None:
        super().__init__(self.PREFIX + message, retryable=True)


class _SMTP(smtplib.SMTP):
    """An SMTP connection that knows whether the message has been handed over (DATA)."""

    data_started = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)


class _SMTPS(_SMTP, smtplib.SMTP_SSL):
    """The same over implicit TLS."""


class EmailSender(Protocol):
    """What :func:`socialcrm.outbound.mail.deliver_emails` needs of a sender: one message
    at a time (raise :class:`~socialcrm.outbound.channel.ChannelError` on failure), and
    a ``close`` at the end of the pass. Tests pass a wrapper to simulate crashes."""

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    implicit_tls: bool = False
    starttls: str = "auto"  # auto | require | never
    username: str | None = None
    password: str | None = None
    from_addr: str | None = None
    cafile: str | None = None
    timeout: float = 30.0

    def __repr__(self) -> str:  # never the password, whatever prints this
        return f"SmtpConfig(host={self.host!r}, port={self.port}, tls={self.implicit_tls})"


@lru_cache(maxsize=16)
def parse_smtp_url(url: str) -> SmtpConfig:
    """The parts of an SMTP URL.

    >>> c = parse_smtp_url("smtp://ann:s%40cret@mail.example.com:587?from=b@example.com")
    >>> (c.host, c.port, c.username, c.password, c.from_addr, c.implicit_tls)
    ('mail.example.com', 587, 'ann', 's@cret', 'b@example.com', False)
    >>> parse_smtp_url("smtps://mail.example.com").port
    465
    """
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("SOCIALCRM_SMTP_URL must look like smtp://host:port or smtps://host")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    starttls = query.get("starttls", "auto")
    if starttls not in ("auto", "require", "never"):
        raise ValueError("?starttls= takes auto, require or never")
    implicit = parts.scheme == "smtps"
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or (465 if implicit else 25),
        implicit_tls=implicit,
        starttls=starttls,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        from_addr=query.get("from"),
        cafile=query.get("cafile"),
        timeout=float(query.get("timeout", 30.0)),
    )


def smtp_config(settings: Settings) -> SmtpConfig:
    if settings.smtp_url is None:
        raise SmtpUnavailable("set SOCIALCRM_SMTP_URL to send email")
    return parse_smtp_url(settings.smtp_url.get_secret_value())


class TokenBucket:
    """At most ``rate`` takes per second on average, bursts of up to ``burst``.

    ``clock`` and ``sleep`` are injectable so that tests count waits instead of timing.
    A ``rate`` of 0 never waits.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.clock, self.sleep = clock, sleep
        self.tokens = self.burst
        self.at = clock()
        self.waited = 0.0
        self._lock = threading.Lock()

    def take(self) -> None:
        if self.rate <= 0:
            return
        with self._lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
            self.at = now
            if self.tokens < 1.0:
                wait = (1.0 - self.tokens) / self.rate
                self.waited += wait
                self.sleep(wait)
                self.tokens, self.at = 1.0, self.clock()
            self.tokens -= 1.0


def classify(code: int, text: str) -> ChannelError:
    """The error for an SMTP answer ``code`` ``text`` (a refusal, not a success).

    >>> e = classify(550, "5.1.1 <nobody@example.com>: user unknown")
    >>> type(e).__name__, e.retryable, e.hard_bounce
    ('EmailRejected', False, True)
    >>> classify(550, "5.7.1 message refused as spam").hard_bounce
    False
    >>> classify(451, "4.7.1 greylisted, try again").retryable
    True
    """
    m = _ENHANCED.search(text)
    enhanced = m.group(0) if m else None
    message = f"SMTP {code} {' '.join(text.split())}"[:400]
    if 400 <= code < 500:
        return ChannelError(message, retryable=True)
    if enhanced is not None:
        hard = enhanced.startswith("5.1.") or enhanced == "5.2.1"
    else:
        hard = code in HARD_BOUNCE_CODES
    if code >= 500:
        return EmailRejected(message, code, enhanced, hard)
    return ChannelError(message, retryable=True)  # an answer outside the protocol


def _decode(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SmtpSender:
    """Sends messages through one SMTP server, reusing one connection.

    ``ssl_context`` replaces the default (the system's trusted CAs, plus ``cafile``).
    """

    def __init__(
        self,
        config: SmtpConfig,
        rate_per_second: float = 0.0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        bucket: TokenBucket | None = None,
    ) -> None:
        self.config = config
        self.bucket = bucket or TokenBucket(rate_per_second)
        self._ssl = ssl_context
        self._smtp: _SMTP | _SMTPS | None = None
        self.connections = 0
        """Connections opened so far: one per batch unless the server drops us."""

    @classmethod
    def from_settings(cls, settings: Settings, **kw: object) -> SmtpSender:
        return cls(smtp_config(settings), settings.email_rate_per_second, **kw)  # type: ignore[arg-type]

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.config.cafile)
        return self._ssl

    def _connect(self) -> _SMTP | _SMTPS:
        c = self.config
        helo = socket.gethostname() or "localhost"  # not getfqdn: no DNS lookups here
        try:
            smtp: _SMTP | _SMTPS
            if c.implicit_tls:
                smtp = _SMTPS(c.host, c.port, local_hostname=helo, timeout=c.timeout,
                              context=self._context())  # fmt: skip
            else:
                smtp = _SMTP(c.host, c.port, local_hostname=helo, timeout=c.timeout)
            try:
                smtp.ehlo()
                tls = c.implicit_tls
                if not tls and c.starttls != "never" and smtp.has_extn("starttls"):
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                    tls = True
                if not tls and c.starttls == "require":
                    raise SmtpUnavailable(f"smtp {c.host}: STARTTLS required but not offered")
                if c.username:
                    if not tls and not _loopback(c.host):
                        raise SmtpUnavailable(
                            f"smtp {c.host}: refusing to send the password without TLS "
                            "(use smtps:// or a server that offers STARTTLS)"
                        )
                    smtp.login(c.username, c.password or "")
            except BaseException:
                with contextlib.suppress(Exception):
                    smtp.close()
                raise
        except SmtpUnavailable:
            raise
        except smtplib.SMTPAuthenticationError as e:
            raise SmtpUnavailable(f"smtp {c.host}: login refused ({e.smtp_code})") from None
        except smtplib.SMTPResponseException as e:
            raise SmtpUnavailable(
                f"smtp {c.host}: {e.smtp_code} {_decode(e.smtp_error)[:200]}"
            ) from None
        except (OSError, smtplib.SMTPException) as e:  # refused, timed out, TLS failed
            raise SmtpUnavailable(
                f"smtp {c.host}:{c.port}: {type(e).__name__}: {e}"[:300]
            ) from None
        self.connections += 1
        return smtp

    def send(self, from_addr: str, to_addr: str, message: bytes) -> None:
        """Hand one message to the server; raises a :class:`ChannelError` on refusal."""
        self.bucket.take()
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            self._smtp.data_started = False
            try:
                self._smtp.sendmail(from_addr, [to_addr], message)
                return
            except smtplib.SMTPRecipientsRefused as e:
                code, text = next(iter(e.recipients.values()))
                raise classify(code, _decode(text)) from None
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as e:
                raise classify(e.smtp_code, _decode(e.smtp_error)) from None
            except smtplib.SMTPResponseException as e:
                if e.smtp_code in (421,):  # the server is closing this connection
                    self._drop()
                raise classify(e.smtp_code, _decode(e.smtp_error)) from None
            except (smtplib.SMTPServerDisconnected, OSError) as e:
                handed_over = self._smtp is not None and self._smtp.data_started
                self._drop()
                if handed_over:  # not again now: the server may have it already
                    raise Unconfirmed(
                        f"smtp {self.config.host}: {type(e).__name__} after the message was "
                        "sent, before the server answered; it may have been delivered"
                    ) from None
                # an idle connection the server dropped: reconnect once, then give up
                if attempt == 2:
                    raise SmtpUnavailable(f"smtp {self.config.host}: {type(e).__name__}") from None

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.quit()
            with contextlib.suppress(Exception):
                smtp.close()

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "EmailRejected",
    "EmailSender",
    "SmtpConfig",
    "SmtpSender",
    "SmtpUnavailable",
    "TokenBucket",
    "Unconfirmed",
    "classify",
    "parse_smtp_url",
    "smtp_config",
]
