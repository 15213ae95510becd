"""Filling the inbox: from the warehouse's ``posts_enriched`` and from a connector.

Both paths end in :func:`inbox.ingest`, so grouping, filtering and idempotency are the
same whichever way a post arrives. Influence and customer value are looked up in the
warehouse only for the authors in hand (never a whole table in Python memory).
"""

from __future__ import annotations

import functools
import operator
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
from ibis.expr import types as ir
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from socialcrm.appdb.models import ConnectorCursor, utcnow
from socialcrm.config import Settings
from socialcrm.listening.addressed import (
    addressed,
    brand_accounts,
    needs_response_queries,
    with_address_flags,
)
from socialcrm.responding.connectors import Connector
from socialcrm.responding.inbox import NEEDS_ANSWER, Brand, Context, Post, ingest
from socialcrm.store.workspace import Workspace

if TYPE_CHECKING:
    from socialcrm.appdb.db import AppDB

SYNC_CURSOR = "sync:posts_enriched"
SYNC_BATCH = 500
"""Posts per transaction when the pipeline's inbox step syncs (:func:`sync_warehouse`),
of those the engine kept: ingesting is set-based (a few queries and bulk inserts a
batch, a few tenths of a millisecond of CPU a post), so a batch holds SQLite's write
lock for about a tenth of a second."""
PAUSE_FRACTION = 0.25
MAX_PAUSE_SECONDS = 0.05
T = TypeVar("T")


def context_for(ws: Workspace | None, posts: Sequence[Post]) -> Context:
    """Influence by handle and CLV/risk by customer for the authors of ``posts``."""
    if ws is None or not posts:
        return Context()
    return _context(ws, {p.author_handle.lower() for p in posts},
                    {p.customer_id for p in posts if p.customer_id})  # fmt: skip


def context_for_rows(ws: Workspace, rows: pa.Table) -> Context:
    """:func:`context_for` the posts of ``rows`` (a sync's unread rows), all at once.

    One look-up per warehouse table for the whole sync: each look-up scans its table (as
    large as the brand), so one per batch of posts made a first sync's look-ups grow with
    the square of the brand (27 scans of ~1M-row tables at 1M customers)."""
    if rows.num_rows == 0:
        return Context()
    names = rows.column_names
    handles = rows.column("author_handle").to_pylist() if "author_handle" in names else []
    customers = rows.column("customer_id").to_pylist() if "customer_id" in names else []
    return _context(ws, {(h or "?").lower() for h in handles} or {"?"}, {c for c in customers if c})


def _context(ws: Workspace, handles: set[str], customers: set[str]) -> Context:
    """The warehouse's influence of ``handles`` (lower-cased) and value of ``customers``
    (and of the customers those handles belong to)."""
    ctx = Context()
    wh = ws.warehouse
    if wh.exists("handle_influence"):
        t = wh.table("handle_influence")
        rows = ws.engine.to_arrow(
            t.filter(t.handle.lower().isin(ws.engine.values(sorted(handles)))).select(
                "platform", "handle", "customer_id", "influence_score"
            )
        ).to_pylist()
        for r in rows:
            key = (r["platform"], r["handle"].lower())
            if r["influence_score"] is not None:
                ctx.influence[key] = float(r["influence_score"])
            if r["customer_id"]:
                ctx.customer_of.setdefault(key, r["customer_id"])
    wanted = sorted(customers | set(ctx.customer_of.values()))
    if wanted and wh.exists("customer_transaction_scores"):
        t = wh.table("customer_transaction_scores")
        rows = ws.engine.to_arrow(
            t.filter(t.customer_id.isin(ws.engine.values(wanted))).select(
                "customer_id", "clv", "risk_band"
            )
        ).to_pylist()
        for r in rows:
            if r["clv"] is not None:
                ctx.clv[r["customer_id"]] = float(r["clv"])
            if r["risk_band"]:
                ctx.risk_band[r["customer_id"]] = r["risk_band"]
    return ctx


@dataclass(frozen=True)
class Unread:
    """What a sync reads: the rows that may concern the brand (in ingest order), how many
    rows there were in all, and the newest one's time (where the cursor ends)."""

    rows: pa.Table
    total: int
    newest: datetime | None


def _unread(
    ws: Workspace, settings: Settings, cursor: str | None, needs_response: Sequence[str] = ()
) -> Unread | None:
    """The ``posts_enriched`` rows a sync reads (from the cursor, looking back), in the
    order they are ingested, with what says whether each concerns the brand
    (:func:`~socialcrm.responding.addressed.with_address_flags`); None when the warehouse
    has no such table.

    Only rows that :func:`~socialcrm.responding.inbox.wanted` may keep come back (most
    are duplicates, spam, reshares or need no answer): the engine drops the rest before
    any Python, by a test that keeps every row ``wanted`` keeps (it decides the rest)."""
    if not ws.warehouse.exists("posts_enriched"):
        return None
    t = ws.warehouse.table("posts_enriched")
    if cursor is not None:
        # Look back: posts may reach the warehouse late (a pipeline re-run, a slow
        # source); those already stored are skipped by their post id.
        since = datetime.fromisoformat(cursor) - timedelta(days=settings.inbox_sync_lookback_days)
        t = t.filter(t.created_at >= since.replace(tzinfo=UTC))
    cols = [c for c in ("post_id", "platform", "author_handle", "text", "created_at",
                        "reply_to_post_id", "topic_id", "sentiment_score", "intent",
                        "customer_id", "is_spam", "is_duplicate", "reshare_of_post_id")
            if c in t.columns]  # fmt: skip
    t = t.select(*cols)
    stats = ws.engine.to_arrow(t.aggregate(n=t.count(), newest=t.created_at.max())).to_pylist()[0]
    flagged = with_address_flags(ws, _may_be_wanted(t, settings), brand_accounts(settings),
                                 needs_response)  # fmt: skip
    rows = ws.engine.to_arrow(flagged.order_by(["created_at", "post_id"]))
    newest = stats["newest"]
    return Unread(rows, int(stats["n"]), None if newest is None else _naive_utc(newest))


def _may_be_wanted(t: ir.Table, settings: Settings) -> ir.Table:
    """``t`` less the rows :func:`~socialcrm.responding.inbox.wanted` surely drops: spam,
    duplicates, reshares, and posts with no intent to answer, not negative and not by a
    handle that could be the brand's (a superset, on the engine: a lower-cased handle
    that contains one of the brand's, or any non-ASCII one, is kept for Python to judge)."""
    cols = set(t.columns)
    keep = []
    for flag in ("is_spam", "is_duplicate"):
        if flag in cols:
            keep.append(~t[flag].fill_null(False))
    if "reshare_of_post_id" in cols:
        keep.append(t.reshare_of_post_id.isnull())
    need = []
    if "intent" in cols:
        need.append(t.intent.isin(list(NEEDS_ANSWER)).fill_null(False))
    if "sentiment_score" in cols:
        need.append((t.sentiment_score < -0.05).fill_null(False))
    if "author_handle" not in cols:
        need = []  # every author is "?": let Python judge
    else:
        brand = Brand.from_settings(settings)
        handle = t.author_handle.fill_null("?")
        need.append(handle.re_search(r"[^\x00-\x7F]"))
        ours = brand.anywhere | {h for _, h in brand.on}
        need.extend(handle.lower().contains(h) for h in sorted(ours))
    if need:
        keep.append(functools.reduce(operator.or_, need))
    return t.filter(functools.reduce(operator.and_, keep)) if keep else t


def _naive_utc(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def _batches(table: pa.Table, batch: int, names: frozenset[str] = frozenset()
             ) -> Iterator[list[Post]]:  # fmt: skip
    for b in table.to_batches(batch):
        posts = [_post(r, names) for r in b.to_pylist()]
        if posts:
            yield posts


def _ingest_batch(
    s: Session, *, posts: list[Post], settings: Settings, ctx: Context, now: datetime
) -> dict[str, int]:
    """Ingest one batch and move the cursor to its newest post, in ``s``.

    Rows are read in ``created_at`` order, so every later batch is at or after the
    cursor: a sync that stops after this batch resumes from here (looking back, and
    skipping what is stored) without losing a post.
    """
    counts = ingest(s, posts, settings, ctx, now=now)
    _set_cursor(s, SYNC_CURSOR, posts[-1].created_at.isoformat())
    return counts


def _empty() -> dict[str, int]:
    return {"messages": 0, "conversations": 0, "skipped": 0, "replies": 0}


def _add(total: dict[str, int], counts: dict[str, int]) -> None:
    for k, v in counts.items():
        total[k] += v


def from_warehouse(
    ws: Workspace, s: Session, settings: Settings, batch: int = 5000, now: datetime | None = None
) -> dict[str, int]:
    """Sync ``posts_enriched`` into conversations, from where the last sync stopped, all
    in the caller's transaction ``s`` (:func:`sync_warehouse` commits as it goes)."""
    cursor = s.get(ConnectorCursor, SYNC_CURSOR)
    unread = _unread(ws, settings, cursor.value if cursor else None, needs_response_queries(s))
    total = _empty()
    if unread is None:
        return total
    now = now or utcnow()
    names = brand_accounts(settings)
    ctx = context_for_rows(ws, unread.rows)
    for posts in _batches(unread.rows, batch, names):
        _add(total, _ingest_batch(s, posts=posts, settings=settings, ctx=ctx, now=now))
    _finish(s, unread, total)
    return total


def _finish(s: Session, unread: Unread, total: dict[str, int]) -> None:
    """Count the rows the engine left out as skipped, and move the cursor to the newest
    row read (as if every row had been ingested)."""
    total["skipped"] += unread.total - unread.rows.num_rows
    if unread.newest is not None:
        _set_cursor(s, SYNC_CURSOR, unread.newest.isoformat())


def sync_warehouse(
    ws: Workspace,
    db: AppDB,
    settings: Settings,
    batch: int | None = None,
    now: datetime | None = None,
    read_batch: int = 5000,
) -> dict[str, int]:
    """:func:`from_warehouse` in short transactions: one per ``batch`` posts (default
    :data:`SYNC_BATCH`), committed.

    For the pipeline's inbox step, which on a 100k-customer brand meets ~100k posts
    while the app may be served: one transaction for all of them would hold SQLite's
    write lock for many seconds and sign-ins would fail ("database is locked"). Here
    the warehouse is read, and the authors' context looked up (once for all the rows,
    :func:`context_for_rows`; the rows become posts ``read_batch`` at a time), before
    any transaction; a batch holds the lock only while its rows are
    written (a few milliseconds for a few hundred posts, set-based:
    :func:`~socialcrm.responding.inbox.ingest`), and the sync pauses after each
    (:func:`in_transaction`) so a waiting writer gets in. Posts are those the engine
    kept (:func:`_unread`): the rows it left out would be skipped anyway.

    The result is the same as one transaction's: batches are applied in the same order
    and each sees the ones before it (committed instead of flushed). Conversations
    change as later posts arrive (message counts, mood, state, priority), but a post's
    message and the change it makes to its conversation are in the same batch, so a
    batch is all or nothing. Each batch moves the cursor with its rows (a last, small
    transaction moves it to the newest row read); a sync that stops half-way (a crash,
    an error) resumes from there, and every post already stored is skipped by its
    unique ``(platform, post_id)``: nothing is lost or added twice. A batch that
    collides with a sync running at the same time (a unique key taken meanwhile) is
    rolled back whole and run again, and then skips those posts.
    ``db`` is an :class:`~socialcrm.appdb.db.AppDB`.
    """
    with db.session() as s:
        cursor = s.get(ConnectorCursor, SYNC_CURSOR)
        value = cursor.value if cursor else None
        needs = needs_response_queries(s)
    unread = _unread(ws, settings, value, needs)
    total = _empty()
    if unread is None:
        return total
    now = now or utcnow()
    batch = batch or SYNC_BATCH
    names = brand_accounts(settings)
    ctx = context_for_rows(ws, unread.rows)  # warehouse reads: before any transaction
    for chunk in _batches(unread.rows, read_batch, names):
        for start in range(0, len(chunk), batch):
            posts = chunk[start : start + batch]
            work = functools.partial(
                _ingest_batch, posts=posts, settings=settings, ctx=ctx, now=now
            )
            _add(total, in_transaction(db, work))
    in_transaction(db, functools.partial(_finish, unread=unread, total=total))
    return total


def in_transaction(db: AppDB, work: Callable[[Session], T], attempts: int = 3) -> T:
    """``work(session)`` in a transaction of its own, committed, then a short pause.

    The pause is a quarter of the transaction's time (at most :data:`MAX_PAUSE_SECONDS`),
    so that a writer waiting for SQLite's lock (a sign-in polls for it every few ms)
    finds it free before the next batch takes it. A transaction that meets a unique key
    another writer took meanwhile is rolled back and run again (up to ``attempts``
    times): its existence checks then skip what is there.
    """
    for attempt in range(1, attempts + 1):
        t0 = time.perf_counter()
        try:
            with db.session() as s:
                result = work(s)
        except IntegrityError:
            if attempt == attempts:
                raise
            continue
        time.sleep(min((time.perf_counter() - t0) * PAUSE_FRACTION, MAX_PAUSE_SECONDS))
        return result
    raise AssertionError("unreachable")


def _post(r: dict[str, Any], names: frozenset[str] = frozenset()) -> Post:
    created = _naive_utc(r["created_at"])
    return Post(
        platform=r.get("platform") or "unknown",
        post_id=str(r["post_id"]),
        author_handle=r.get("author_handle") or "?",
        text=r.get("text") or "",
        created_at=created,
        reply_to_post_id=r.get("reply_to_post_id"),
        topic_id=r.get("topic_id"),
        sentiment_score=r.get("sentiment_score"),
        intent=r.get("intent"),
        customer_id=r.get("customer_id"),
        is_spam=bool(r.get("is_spam")),
        is_duplicate=bool(r.get("is_duplicate")),
        is_reshare=r.get("reshare_of_post_id") is not None,
        addressed=addressed(r, names),
    )


def label(posts: list[Post]) -> list[Post]:
    """Give posts from a connector the listening's sentiment and intent (lexicon)."""
    todo = [p for p in posts if p.sentiment_score is None or p.intent is None]
    if not todo:
        return posts
    from dataclasses import replace

    from socialcrm.listening.intent import classify_intent
    from socialcrm.listening.sentiment import get_analyzer

    texts = [p.text for p in todo]
    _, scores = get_analyzer("lexicon").analyze(texts)
    intents = classify_intent(texts, np.asarray(scores))
    done = {
        id(p): replace(
            p,
            sentiment_score=p.sentiment_score if p.sentiment_score is not None else float(sc),
            intent=p.intent or str(it),
        )
        for p, sc, it in zip(todo, scores, intents, strict=True)
    }
    return [done.get(id(p), p) for p in posts]


def from_connector(
    connector: Connector,
    s: Session,
    settings: Settings,
    ws: Workspace | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Read new mentions from ``connector`` into the inbox and move its cursor.

    The cursor moves in the same transaction as the messages, so a crash re-reads and
    the unique post ids drop what was stored.
    """
    name = f"connector:{connector.name}"
    cursor = s.get(ConnectorCursor, name)
    posts, new = connector.fetch(cursor.value if cursor else None)
    posts = label(posts)
    counts = ingest(s, posts, settings, context_for(ws, posts), now=now)
    if new is not None:
        _set_cursor(s, name, new)
    counts["fetched"] = len(posts)
    return counts


def _set_cursor(s: Session, name: str, value: str) -> None:
    cur = s.get(ConnectorCursor, name)
    if cur is None:
        s.add(ConnectorCursor(name=name, value=value, updated_at=utcnow()))
    else:
        cur.value, cur.updated_at = value, utcnow()
    s.flush()
