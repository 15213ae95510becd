"""What every listening source shares: one small interface, the rows it returns, and one
polite HTTP client.

A source answers one question: *what is new for this query after this cursor?*
(:meth:`Source.fetch` → :class:`Batch`). The rows are ``posts`` rows (the shape of
:data:`socialcrm.store.schemas.POSTS`), ready for the same validated ingestion as a file;
an item the source cannot read is a :class:`Reject` that keeps the item verbatim with a
reason. The cursor is opaque text that the collector stores per (query, source) and
hands back next time, only after the posts are in; a crash in between fetches the same
items again, and ingestion stores each post once by its id (``platform:native_id``).

:class:`Http` is the one HTTP client of every adapter: through
:class:`~socialcrm.outbound.urls.GuardedTransport` unless a transport is given (so a
source URL cannot reach private or metadata addresses), it waits when the service says
so (429 with ``Retry-After``; ``X-RateLimit-*``/``RateLimit-*`` headers with nothing
left), retries 5xx and network errors with exponential backoff and jitter, and raises a
:class:`SourceError` in plain words when it gives up.
"""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from html import unescape
from typing import Any, Protocol

import httpx

from socialcrm.outbound.urls import GuardedTransport

USER_AGENT = "socialcrm-listening/1.0 (+https://github.com/socialcrm)"
DEFAULT_MAX_PAGES = 10
"""Pages one source reads per run and stream: a bound, so one busy query cannot starve
the others; the cursor carries on from there next run."""


class SourceError(Exception):
    """A source failed for this run; ``retryable`` says whether a later run may work."""

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Reject:
    """An item the source returned but that cannot be a post: verbatim, with why."""

    raw: str
    reason: str


@dataclass
class Batch:
    """What one fetch found: ``posts`` rows, rejects, and the cursor to keep once the
    rows are stored (``None``: nothing to keep yet)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    next_cursor: str | None = None


@dataclass(frozen=True)
class SourceQuery:
    """What a source is asked for: the query's positive terms (words, ``"phrases"``,
    ``#hashtags``, ``@handles``), its language, and, for sources that cannot search
    (a stream, a feed), the query's own test."""

    terms: tuple[str, ...]
    lang: str | None = None
    matches: Callable[[str, str | None, str | None], bool] | None = None

    @property
    def hashtags(self) -> list[str]:
        return [t[1:] for t in self.terms if t.startswith("#") and len(t) > 1]

    @property
    def searches(self) -> list[str]:
        """The terms as search strings (a phrase keeps its quotes)."""
        return [t for t in self.terms if t.strip()]


class Source(Protocol):
    """A listening source: ``name`` is its spec (``mastodon:https://mastodon.social``)."""

    name: str
    platform: str

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        """Items newer than ``cursor`` (all recent ones when None), bounded per run."""
        ...

    def close(self) -> None: ...


# -- rows ---------------------------------------------------------------------------------
def post_row(
    platform: str,
    native_id: str,
    *,
    author_handle: str | None,
    created_at: datetime | str | None,
    text: str | None,
    raw: Any,
    source: str,
    **optional: Any,
) -> dict[str, Any]:
    """A ``posts`` row: id ``platform:native_id``, the raw payload as JSON, and the
    optional columns given (``None`` left out, so a later run never blanks a value)."""
    when = created_at.isoformat() if isinstance(created_at, datetime) else created_at
    row: dict[str, Any] = {
        "post_id": f"{platform}:{native_id}",
        "platform": platform,
        "author_handle": author_handle,
        "created_at": when,
        "text": text,
        "source": source,
        "raw_payload": json.dumps(raw, ensure_ascii=False, separators=(",", ":")),
    }
    row.update({k: v for k, v in optional.items() if v is not None})
    return row


def verbatim(item: Any) -> str:
    """An item as text, exactly as received (a dict as compact JSON)."""
    if isinstance(item, str):
        return item
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"), default=str)


def from_unix(seconds: float | int | str) -> str:
    return datetime.fromtimestamp(float(seconds), UTC).isoformat()


_BREAK = re.compile(r"<(?:br|p|div|li)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")


def html_text(html: str) -> str:
    """HTML (a Mastodon status, a feed summary, an HN comment) as plain text: tags
    dropped (a break or a paragraph is a space), entities decoded. Regular expressions,
    not a parser: the same text for the markup these services send, at a tenth the cost.

    >>> html_text('<p><a href="x">#<span>coffee</span></a> hi &amp; bye</p><p>2&lt;3</p>')
    '#coffee hi & bye 2<3'
    """
    return _SPACE.sub(" ", unescape(_TAG.sub("", _BREAK.sub(" ", html)))).strip()


def load_cursor(cursor: str | None) -> dict[str, Any]:
    """A cursor kept as a JSON object (one position per stream of a source)."""
    if not cursor:
        return {}
    try:
        doc = json.loads(cursor)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def dump_cursor(doc: Mapping[str, Any]) -> str | None:
    return json.dumps(dict(sorted(doc.items())), separators=(",", ":")) if doc else None


# -- HTTP -----------------------------------------------------------------------------------
def _seconds_until(value: str, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After``/``*-Reset`` value: seconds, a Unix time,
    an HTTP date or an ISO 8601 time (Mastodon's ``X-RateLimit-Reset``)."""
    v = value.strip()
    try:
        n = float(v)
    except ValueError:
        n = None
    if n is not None:
        return max(0.0, n - now) if n > 1e9 else max(0.0, n)

    def iso(s: str) -> datetime:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    for parse in (parsedate_to_datetime, iso):
        try:
            when = parse(v)
        except (TypeError, ValueError, IndexError):
            continue
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    return None


def _header(r: httpx.Response, *names: str) -> str | None:
    for n in names:
        if n in r.headers:
            return r.headers[n]
    return None


class Http:
    """An HTTP client for one service that is polite and patient, within bounds.

    ``sleep``, ``clock`` and ``jitter`` are injectable so tests see every wait asked for
    without waiting. A wait longer than ``max_wait`` is not slept: the run gives up on
    this source with a retryable :class:`SourceError` and the next run tries again.
    """

    def __init__(
        self,
        base_url: str,
        transport: httpx.BaseTransport | None = None,
        *,
        who: str,
        headers: Mapping[str, str] | None = None,
        retries: int = 4,
        backoff: float = 1.0,
        max_wait: float = 120.0,
        timeout: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.who = who
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait
        self.sleep, self.clock, self.jitter = sleep, clock, jitter
        self.waits: list[float] = []
        """Every wait asked for, in seconds (what a test, or a log, reads)."""
        self.requests = 0
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            transport=transport or GuardedTransport(),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )

    def _wait(self, seconds: float) -> None:
        if seconds > self.max_wait:
            raise SourceError(f"{self.who}: rate limited; asked to wait {seconds:.0f} s")
        self.waits.append(seconds)
        if seconds > 0:
            self.sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        # exponential, with "equal jitter": half fixed, half random, so clients spread out
        base = min(self.max_wait, self.backoff * 2.0**attempt)
        return base / 2 + base / 2 * self.jitter()

    def request(
        self, method: str, url: str, *, ok: Iterable[int] = (), **kw: Any
    ) -> httpx.Response:
        """The service's answer; 429, 5xx and network errors retried; other errors raised
        as :class:`SourceError` (``ok``: statuses the caller handles, such as 304)."""
        allowed = set(ok)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                self.requests += 1
                r = self.client.request(method, url, **kw)
            except httpx.TransportError as e:
                if last:
                    raise SourceError(f"{self.who}: cannot connect ({type(e).__name__})") from e
                self._wait(self._backoff(attempt))
                continue
            if r.status_code == 429 or r.status_code >= 500:
                if last:
                    raise SourceError(f"{self.who}: HTTP {r.status_code} after {attempt + 1} tries")
                after = _header(r, "retry-after")
                wait = _seconds_until(after, self.clock()) if after else None
                if wait is None and r.status_code == 429:
                    wait = self._reset_wait(r)
                self._wait(wait if wait is not None else self._backoff(attempt))
                continue
            if r.status_code >= 400 and r.status_code not in allowed:
                raise SourceError(
                    f"{self.who}: HTTP {r.status_code} {_detail(r)}".strip(),
                    retryable=r.status_code in (408, 425),
                )
            self._throttle(r)
            return r
        raise AssertionError("unreachable")  # pragma: no cover

    def _reset_wait(self, r: httpx.Response) -> float | None:
        reset = _header(r, "x-ratelimit-reset", "ratelimit-reset")
        return _seconds_until(reset, self.clock()) if reset else None

    def _throttle(self, r: httpx.Response) -> None:
        """Nothing left in the window (``X-RateLimit-Remaining: 0``): wait for its reset
        before the next call, rather than be answered 429."""
        left = _header(r, "x-ratelimit-remaining", "ratelimit-remaining")
        try:
            empty = left is not None and float(left) < 1
        except ValueError:
            empty = False
        if empty:
            wait = self._reset_wait(r)
            if wait:
                self._wait(wait)

    def get_json(self, url: str, **kw: Any) -> Any:
        r = self.request("GET", url, **kw)
        try:
            return r.json()
        except ValueError as e:
            raise SourceError(f"{self.who}: the answer is not JSON") from e

    def close(self) -> None:
        self.client.close()


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return " ".join(str(body[k]) for k in ("error", "message") if body.get(k))[:200]
    return ""


_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?([a-z]+)"?')


def link_params(r: httpx.Response, rel: str) -> dict[str, str]:
    """The query parameters of the ``Link`` header's ``rel`` URL (Mastodon's paging)."""
    for url, name in _LINK.findall(r.headers.get("link", "")):
        if name == rel:
            return dict(httpx.URL(url).params)
    return {}


__all__ = [
    "DEFAULT_MAX_PAGES",
    "Batch",
    "Http",
    "Reject",
    "Source",
    "SourceError",
    "SourceQuery",
    "dump_cursor",
    "from_unix",
    "html_text",
    "link_params",
    "load_cursor",
    "post_row",
    "verbatim",
]
