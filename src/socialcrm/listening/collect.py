"""Collection runs: every saved query over each of its sources, into the ``posts`` table.

One run, per (query, source):

1. read the cursor kept in the app database (``listening_source_states``);
2. ask the source for what is new after it (:mod:`socialcrm.listening.sources`);
3. keep the posts the query matches (a network's search is looser than our Boolean
   terms, a feed or a stream is not searched at all);
4. load them through the same validated ingestion as a file
   (:func:`socialcrm.store.ingest.ingest_file`, from a staged JSON-lines file): a post
   seen twice is stored once by its id; invalid rows land in ``rejects`` with their
   reasons, and so do items the source could not read;
5. only then move the cursor and record the health (last success, totals).

A crash between 2 and 5 leaves the cursor where it was: the next run fetches the same
items again and ingestion counts them as duplicates, so nothing is lost or doubled. The
staged file is named after the cursor it was fetched from, so a repeated import replaces
its own rejects instead of adding them again. A source that fails is reported (its
error, in words, kept for the Listening page) and the others go on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import ListeningSourceState
from socialcrm.config import Settings
from socialcrm.listening.saved_queries import SavedQuery, get_query, list_queries
from socialcrm.listening.sources import Source, SourceError, SourceQuery, open_source, parse_spec
from socialcrm.listening.sources.base import Reject
from socialcrm.outbound.periodic import Periodic
from socialcrm.outbound.urls import ALLOW_HOSTS_ENV, OutboundURLError
from socialcrm.store.ingest import IngestError, ingest_file
from socialcrm.store.schemas import REJECTS
from socialcrm.store.workspace import Workspace

log = logging.getLogger(__name__)
INTERVALS: Mapping[str, float] = {
    "mastodon": 60.0,
    "bluesky": 60.0,
    "jetstream": 0.0,
    "rss": 900.0,
    "atom": 900.0,
    "reddit": 120.0,
    "hackernews": 300.0,
    "file": 30.0,
}
"""Seconds between runs of a source kind under ``--watch`` (a feed changes slowly, the
stream is read continuously); a failing source waits longer (× 2 per failure, ≤ 1 h)."""
MAX_SOURCE_BACKOFF = 3600.0

Opener = Callable[[str, Settings], Source]


@dataclass
class SourceRun:
    """What one (query, source) run did: ``fetched`` items the source returned,
    ``matched`` of them the query kept, ``new`` posts stored for the first time,
    ``duplicates`` posts already stored, ``rejected`` items and rows refused."""

    source: str
    fetched: int = 0
    matched: int = 0
    new: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    """The first reasons items were rejected (all are in the ``rejects`` table)."""
    skipped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "fetched": self.fetched,
            "new": self.new,
            "duplicates": self.duplicates,
            "errors": list(self.errors),
            "matched": self.matched,
            "rejected": self.rejected,
            "rejects": list(self.rejects[:10]),
        }


@dataclass
class QueryRun:
    name: str
    sources: list[SourceRun] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "sources": [s.as_dict() for s in self.sources if not s.skipped]}


def as_json(runs: Iterable[QueryRun]) -> dict[str, Any]:
    """The ``listen collect --json`` document."""
    return {"queries": [r.as_dict() for r in runs]}


# -- one run ------------------------------------------------------------------------------
def collect(
    db: AppDB,
    ws: Workspace,
    *,
    query: str | None = None,
    opener: Opener | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] | None = None,
    due: Callable[[str, ListeningSourceState | None], bool] | None = None,
    on_source: Callable[[str, SourceRun], None] | None = None,
) -> list[QueryRun]:
    """Run every saved query (or the one named ``query``) once over its sources.

    ``opener`` builds a source from its spec (default: :func:`open_source` with
    ``transport`` and ``sleep``); ``due`` says whether a source runs now (``--watch``);
    ``on_source`` hears each (query name, result) as it ends, for progress.
    """
    settings = ws.settings
    if opener is None:

        def opener(spec: str, st: Settings) -> Source:
            return open_source(spec, st, transport, sleep=sleep)

    with db.session() as s:
        saved = [get_query(s, query)] if query is not None else list_queries(s)
    runs = []
    for q in saved:
        run = QueryRun(q.name)
        for spec in q.sources:
            if due is not None and not due(spec, _state(db, q.id, spec)):
                run.sources.append(SourceRun(spec, skipped=True))
                continue
            result = collect_source(db, ws, q, spec, opener, settings)
            run.sources.append(result)
            if on_source is not None:
                on_source(q.name, result)
        runs.append(run)
    return runs


def collect_source(
    db: AppDB, ws: Workspace, q: SavedQuery, spec: str, opener: Opener, settings: Settings
) -> SourceRun:
    """One saved query over one source; a failure is reported in the result, never
    raised, and leaves the cursor where it was."""
    result = SourceRun(spec)
    started = _now()
    cursor = st.cursor if (st := _state(db, q.id, spec)) else None
    try:
        parse_spec(spec)
        source = opener(spec, settings)
    except Exception as e:  # a bad address or settings: this source only
        message = str(e) or type(e).__name__
        result.errors.append(message)
        _record_failure(db, q.id, spec, message, started)
        return result
    try:
        query = q.query()
        ask = SourceQuery(tuple(query.search_terms()), q.lang, query.matches)
        batch = source.fetch(ask, cursor)
        result.fetched = len(batch.rows) + len(batch.rejects)
        matched = [r for r in batch.rows if _matches(query.matches, r)]
        rows = _unique(matched)
        result.matched = len(matched)
        result.duplicates = len(matched) - len(rows)  # the same post twice in one fetch
        staged = _staged_path(ws, q.name, spec, cursor)
        if rows:
            report = _ingest(ws, staged, rows)
            result.new = report.accepted
            result.duplicates += report.unchanged + report.updated
            result.rejected += report.rejected
            result.rejects += [f"line {r.line}: {r.field or 'row'}: {r.reason}"
                               for r in report.rejects[:5]]  # fmt: skip
        _record_source_rejects(ws, staged, batch.rejects)
        result.rejected += len(batch.rejects)
        result.rejects += [r.reason for r in batch.rejects[:5]]
        _record_success(db, q.id, spec, batch.next_cursor, result, rows, started)
    except Exception as e:  # one source's failure, whatever it is, must not stop the others
        expected = isinstance(
            e, SourceError | IngestError | OSError | httpx.HTTPError | OutboundURLError
        )
        if not expected:
            log.warning("listening source %s failed unexpectedly", spec, exc_info=e)
        message = str(e) or type(e).__name__
        if isinstance(e, OutboundURLError):
            message += f" (an admin may allow a host with {ALLOW_HOSTS_ENV})"
        result.errors.append(message if expected else f"{type(e).__name__}: {message}")
        _record_failure(db, q.id, spec, message, started)
    finally:
        source.close()
    return result


def _matches(matches: Callable[..., bool], row: Mapping[str, Any]) -> bool:
    text = row.get("text")
    if not isinstance(text, str):
        return True  # ingestion rejects it with its reason
    return bool(matches(text, row.get("lang"), row.get("author_handle")))


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per post id (two streams of a source may both return a post): the first."""
    seen: dict[Any, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault(r.get("post_id"), r)
    return list(seen.values())


_SLUG = re.compile(r"[^a-z0-9]+")


def _staged_path(ws: Workspace, name: str, spec: str, cursor: str | None) -> Path:
    key = hashlib.sha256(f"{name}\0{spec}\0{cursor or ''}".encode()).hexdigest()[:16]
    slug = _SLUG.sub("-", name.lower()).strip("-")[:40] or "query"
    return Path(ws.settings.home) / "listening" / "collected" / f"{slug}-{key}.jsonl"


def _ingest(ws: Workspace, staged: Path, rows: list[dict[str, Any]]) -> Any:
    staged.parent.mkdir(parents=True, exist_ok=True)
    tmp = staged.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    tmp.replace(staged)
    try:
        return ingest_file(ws, "posts", staged, fmt="jsonl")
    finally:
        with contextlib.suppress(OSError):
            staged.unlink()


def _record_source_rejects(ws: Workspace, staged: Path, rejects: list[Reject]) -> None:
    """Items the source could not read, verbatim with the reason, in ``rejects`` (under
    the staged file's name with ``#source``; a repeat of the same fetch replaces them)."""
    wh = ws.warehouse
    label = f"{staged.resolve()}#source"
    if not rejects and not wh.exists("rejects"):
        return
    now = datetime.now(UTC)
    new = pa.table(
        {
            "table_name": ["posts"] * len(rejects),
            "file": [label] * len(rejects),
            "line": list(range(1, len(rejects) + 1)),
            "field": [None] * len(rejects),
            "reason": [r.reason for r in rejects],
            "raw": [r.raw for r in rejects],
            "rejected_at": [now] * len(rejects),
        },
        schema=REJECTS,
    )
    with wh.lock("rejects"):
        if wh.exists("rejects"):
            old = wh.read_arrow("rejects")
            keep = [f != label for f in old.column("file").to_pylist()]
            if not rejects and all(keep):
                return
            new = pa.concat_tables([old.filter(pa.array(keep)), new.cast(old.schema)])
        with wh.transaction() as tx:
            tx.write("rejects", new)


# -- state and health ---------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _state(db: AppDB, query_id: int, spec: str) -> ListeningSourceState | None:
    with db.session() as s:
        st = s.scalar(
            select(ListeningSourceState).where(
                ListeningSourceState.query_id == query_id, ListeningSourceState.source == spec
            )
        )
        if st is not None:
            s.expunge(st)
        return st


def _upsert(s: Session, query_id: int, spec: str) -> ListeningSourceState:
    st = s.scalar(
        select(ListeningSourceState).where(
            ListeningSourceState.query_id == query_id, ListeningSourceState.source == spec
        )
    )
    if st is None:
        st = ListeningSourceState(query_id=query_id, source=spec, failures=0, fetched=0, new=0,
                                  duplicates=0, rejected=0)  # fmt: skip
        s.add(st)
    return st


def _newest(rows: list[dict[str, Any]]) -> datetime | None:
    found = None
    for r in rows:
        try:
            at = datetime.fromisoformat(str(r.get("created_at")).replace("Z", "+00:00"))
        except ValueError:
            continue
        at = at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at
        found = at if found is None or at > found else found
    return found


def _record_success(
    db: AppDB,
    query_id: int,
    spec: str,
    cursor: str | None,
    result: SourceRun,
    rows: list[dict[str, Any]],
    started: datetime,
) -> None:
    with db.session() as s:
        st = _upsert(s, query_id, spec)
        if cursor is not None:
            st.cursor = cursor
        st.last_run_at = started
        st.last_success_at = _now()
        st.failures = 0
        newest = _newest(rows)
        if newest is not None and (st.newest_post_at is None or newest > st.newest_post_at):
            st.newest_post_at = newest
        st.fetched += result.fetched
        st.new += result.new
        st.duplicates += result.duplicates
        st.rejected += result.rejected


def _record_failure(db: AppDB, query_id: int, spec: str, error: str, started: datetime) -> None:
    with db.session() as s:
        st = _upsert(s, query_id, spec)
        st.last_run_at = started
        st.last_error, st.last_error_at = error[:500], _now()
        st.failures = (st.failures or 0) + 1


@dataclass(frozen=True)
class SourceHealth:
    """One (query, source) as the Listening page shows it."""

    query: str
    source: str
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int
    newest_post_at: datetime | None
    fetched: int
    new: int
    duplicates: int
    rejected: int

    @property
    def ok(self) -> bool:
        return self.failures == 0 and self.last_success_at is not None

    def lag(self, now: datetime | None = None) -> timedelta | None:
        """How long since the last successful run (None: never succeeded)."""
        return self.lag_of(self.last_success_at, now)

    @staticmethod
    def lag_of(at: datetime | None, now: datetime | None = None) -> timedelta | None:
        """How long ago ``at`` was (None: never)."""
        return None if at is None else (now or _now()) - at


def health(db: AppDB) -> list[SourceHealth]:
    """Every saved query's sources with their health; never-run sources included."""
    from socialcrm.appdb.models import ListeningQuery

    with db.session() as s:
        states = {(st.query_id, st.source): st for st in s.scalars(select(ListeningSourceState))}
        out = []
        for q in s.scalars(select(ListeningQuery).order_by(ListeningQuery.name)):
            for spec in list_queries_sources(q.sources):
                st = states.get((q.id, spec))
                out.append(SourceHealth(
                    q.name, spec,
                    st.last_success_at if st else None, st.last_error if st else None,
                    st.last_error_at if st else None, st.failures if st else 0,
                    st.newest_post_at if st else None, st.fetched if st else 0,
                    st.new if st else 0, st.duplicates if st else 0, st.rejected if st else 0,
                ))  # fmt: skip
        return out


def list_queries_sources(stored: str) -> list[str]:
    """The sources column of ``listening_queries`` (a JSON list) as specs."""
    try:
        doc = json.loads(stored or "[]")
    except ValueError:
        return []
    return [str(x) for x in doc] if isinstance(doc, list) else []


def ago(delta: timedelta | None) -> str:
    """A time span in words, for people.

    >>> ago(timedelta(seconds=90)), ago(timedelta(hours=5)), ago(None)
    ('2 minutes ago', '5 hours ago', 'never')
    """
    if delta is None:
        return "never"
    secs = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if secs >= size:
            n = round(secs / size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


# -- watching -----------------------------------------------------------------------------
def due_by_interval(
    intervals: Mapping[str, float] = INTERVALS, now: Callable[[], datetime] = _now
) -> Callable[[str, ListeningSourceState | None], bool]:
    """A ``due`` test for :func:`collect`: a source runs when its kind's interval has
    passed since its last run (doubled per failure in a row, up to an hour)."""

    def due(spec: str, st: ListeningSourceState | None) -> bool:
        if st is None or st.last_run_at is None:
            return True
        kind = spec.partition(":")[0].lower()
        every = intervals.get(kind, 60.0)
        if st.failures:
            every = min(max(every, 30.0) * 2.0 ** min(st.failures, 10), MAX_SOURCE_BACKOFF)
        return (now() - st.last_run_at).total_seconds() >= every

    return due


def watch(
    db: AppDB,
    settings: Settings,
    *,
    query: str | None = None,
    tick: float = 5.0,
    intervals: Mapping[str, float] = INTERVALS,
    stop: threading.Event | None = None,
    passes: int | None = None,
    on_pass: Callable[[list[QueryRun]], None] | None = None,
    on_source: Callable[[str, SourceRun], None] | None = None,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Collect until ``stop`` is set (or ``passes`` ran): every ``tick`` seconds, each
    source whose interval has passed. Blocking: for ``socialcrm listen collect --watch``."""
    stop = stop or threading.Event()
    due = due_by_interval(intervals)
    n = 0
    while not stop.is_set():
        with Workspace.open(settings) as ws:
            runs = collect(db, ws, query=query, due=due, on_source=on_source,
                           transport=transport)  # fmt: skip
        n += 1
        if on_pass is not None:
            on_pass(runs)
        if passes is not None and n >= passes:
            break
        stop.wait(tick)
    return n


def run_once(db: AppDB, settings: Settings) -> dict[str, Any]:
    """One background pass of the web app: the sources that are due."""
    t0 = time.monotonic()
    with Workspace.open(settings) as ws:
        runs = collect(db, ws, due=due_by_interval())
    doc = as_json(runs)
    doc["seconds"] = round(time.monotonic() - t0, 3)
    return doc


def start(db: AppDB, settings: Settings) -> Periodic[dict[str, Any]] | None:
    """Collect in the background of the web app (when
    ``SOCIALCRM_LISTEN_INTERVAL_SECONDS`` > 0), each source at its own interval."""
    interval = settings.listen_interval_seconds
    if interval <= 0:
        return None
    return Periodic("listening collection", lambda: run_once(db, settings), interval)


__all__ = [
    "INTERVALS",
    "QueryRun",
    "SourceHealth",
    "SourceRun",
    "ago",
    "as_json",
    "collect",
    "collect_source",
    "due_by_interval",
    "health",
    "run_once",
    "start",
    "watch",
]
