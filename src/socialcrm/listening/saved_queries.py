"""Saved listening queries in the app database: created, edited and removed (audited).

A saved query is a name, Boolean terms (:mod:`~socialcrm.listening.query_language`), the
sources to ask for candidates (``kind:base_url`` strings such as
``mastodon:https://mastodon.social``), an optional language and whether its posts need a
response (then the inbox takes them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import select
from sqlalchemy.orm import Session

from socialcrm.appdb.accounts import audit
from socialcrm.appdb.models import ListeningQuery, utcnow
from socialcrm.listening.query_language import MATCH_SCHEMA, Query, QueryError, match_table, parse

if TYPE_CHECKING:
    from socialcrm.config import Settings

SOURCE_KINDS: Final = (
    "mastodon",
    "bluesky",
    "jetstream",
    "rss",
    "atom",
    "reddit",
    "hackernews",
    "file",
)
"""The kinds of source a query may name (those of :mod:`socialcrm.listening.sources`):
``file`` takes a path, ``jetstream`` a ws(s):// stream, the others an http(s) base URL."""
MAX_NAME = 100
MAX_SOURCES = 20


class SavedQueryError(ValueError):
    """A saved query we refuse to store; the message says why, in plain words."""


class UnknownQuery(KeyError):
    """No saved query has that name (a :class:`KeyError` whose text reads plainly)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown query"


class _Unset:
    pass


UNSET: Final = _Unset()
"""``edit_query`` leaves a field alone when it is given this (``lang=None`` clears)."""


@dataclass(frozen=True)
class SavedQuery:
    id: int
    name: str
    terms: str
    sources: tuple[str, ...]
    lang: str | None
    needs_response: bool

    def query(self) -> Query:
        """The parsed terms, with the language filter."""
        return parse(self.terms, lang=self.lang)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "terms": self.terms,
            "sources": list(self.sources),
            "lang": self.lang,
            "needs_response": self.needs_response,
        }


def parse_source(source: str) -> tuple[str, str]:
    """``"mastodon:https://mastodon.social"`` → ``("mastodon", "https://mastodon.social")``.

    >>> parse_source("rss:https://example.com/feed.xml")
    ('rss', 'https://example.com/feed.xml')
    """
    kind, sep, where = source.strip().partition(":")
    kind = kind.lower()
    if not sep or kind not in SOURCE_KINDS:
        raise SavedQueryError(
            f"{source!r} is not a source: write kind:address with kind one of "
            f"{', '.join(SOURCE_KINDS)} (for example mastodon:https://mastodon.social)"
        )
    where = where.strip()
    if kind == "file":
        if not where or "\x00" in where:
            raise SavedQueryError(f"{source!r}: write file: and the path of a posts file")
        return kind, where
    parts = urlsplit(where)
    schemes = ("ws", "wss") if kind == "jetstream" else ("http", "https")
    if parts.scheme not in schemes or not parts.hostname:
        raise SavedQueryError(
            f"{source!r}: the address must be {'a' if kind == 'jetstream' else 'an'} "
            f"{schemes[0]}:// or {schemes[1]}:// URL "
            f"(for example {kind}:{schemes[1]}://{_EXAMPLE[kind]})"
        )
    if parts.username or parts.password:
        raise SavedQueryError(f"{source!r}: put credentials in the settings, not in the address")
    return kind, where.rstrip("/") if parts.path in ("", "/") else where


_EXAMPLE = {
    "mastodon": "mastodon.social",
    "bluesky": "public.api.bsky.app",
    "jetstream": "jetstream2.us-east.bsky.network/subscribe",
    "rss": "example.com/feed.xml",
    "atom": "example.com/feed.atom",
    "reddit": "oauth.reddit.com",
    "hackernews": "hn.algolia.com",
}


def _clean_sources(sources: object) -> tuple[str, ...]:
    if isinstance(sources, str) or not isinstance(sources, list | tuple):
        raise SavedQueryError("sources must be a list of kind:address strings")
    if not sources:
        raise SavedQueryError(
            "name at least one source (for example mastodon:https://mastodon.social)"
        )
    if len(sources) > MAX_SOURCES:
        raise SavedQueryError(f"a query may name at most {MAX_SOURCES} sources")
    out: dict[str, None] = {}
    for src in sources:
        if not isinstance(src, str):
            raise SavedQueryError("sources must be a list of kind:address strings")
        kind, where = parse_source(src)
        out.setdefault(f"{kind}:{where}", None)
    return tuple(out)


def _clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SavedQueryError("give the query a name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise SavedQueryError(f"a name has at most {MAX_NAME} characters")
    if any(not c.isprintable() for c in name):
        raise SavedQueryError("a name cannot hold control characters")
    if any(c in name for c in "/?#%\\"):
        raise SavedQueryError("a name cannot hold / ? # % or \\ (it is part of web addresses)")
    return name


def _clean_terms(terms: object, lang: str | None) -> tuple[str, str | None]:
    if not isinstance(terms, str):
        raise SavedQueryError("terms must be text")
    if lang is not None:
        try:
            parse("x", lang=lang)
        except QueryError as e:
            raise SavedQueryError(str(e)) from e
    try:
        q = parse(terms, lang=lang)
    except QueryError as e:
        raise SavedQueryError(f"the terms cannot be read: {e}") from e
    return terms.strip(), q.lang


def _saved(row: ListeningQuery) -> SavedQuery:
    return SavedQuery(
        id=row.id,
        name=row.name,
        terms=row.terms,
        sources=tuple(json.loads(row.sources or "[]")),
        lang=row.lang,
        needs_response=bool(row.needs_response),
    )


def _row(s: Session, name: str) -> ListeningQuery:
    row = s.scalar(select(ListeningQuery).where(ListeningQuery.name == name))
    if row is None:
        raise UnknownQuery(f"no saved query is named {name!r}")
    return row


def list_queries(s: Session) -> list[SavedQuery]:
    """Every saved query, by name."""
    return [_saved(r) for r in s.scalars(select(ListeningQuery).order_by(ListeningQuery.name))]


def get_query(s: Session, name: str) -> SavedQuery:
    """The saved query ``name``; :class:`KeyError` with a plain message if there is none."""
    return _saved(_row(s, name))


def add_query(
    s: Session,
    name: str,
    terms: str,
    sources: list[str] | tuple[str, ...],
    lang: str | None = None,
    needs_response: bool = False,
    actor: str = "cli",
) -> SavedQuery:
    """Store a new query; its name must be new, its terms readable, its sources known."""
    name = _clean_name(name)
    terms, lang = _clean_terms(terms, lang)
    clean = _clean_sources(sources)
    if s.scalar(select(ListeningQuery.id).where(ListeningQuery.name == name)) is not None:
        raise SavedQueryError(f"a query named {name!r} already exists")
    now = utcnow()
    row = ListeningQuery(
        name=name,
        terms=terms,
        lang=lang,
        sources=json.dumps(list(clean)),
        needs_response=bool(needs_response),
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    s.add(row)
    s.flush()
    audit(s, actor, "listening_query.create", name, terms=terms, sources=list(clean), lang=lang,
          needs_response=bool(needs_response))  # fmt: skip
    return _saved(row)


def edit_query(
    s: Session,
    name: str,
    *,
    new_name: str | _Unset = UNSET,
    terms: str | _Unset = UNSET,
    sources: list[str] | tuple[str, ...] | _Unset = UNSET,
    lang: str | _Unset | None = UNSET,
    needs_response: bool | _Unset = UNSET,
    actor: str = "cli",
) -> SavedQuery:
    """Change the fields given; the others stay as they are."""
    row = _row(s, name)
    changed: dict[str, object] = {}
    if not isinstance(new_name, _Unset) and new_name.strip() != row.name:
        clean = _clean_name(new_name)
        if s.scalar(select(ListeningQuery.id).where(ListeningQuery.name == clean)) is not None:
            raise SavedQueryError(f"a query named {clean!r} already exists")
        row.name = changed["name"] = clean
    new_lang = row.lang if isinstance(lang, _Unset) else lang
    new_terms = row.terms if isinstance(terms, _Unset) else terms
    if not isinstance(lang, _Unset) or not isinstance(terms, _Unset):
        clean_terms, clean_lang = _clean_terms(new_terms, new_lang)
        if clean_terms != row.terms:
            row.terms = changed["terms"] = clean_terms
        if clean_lang != row.lang:
            row.lang = clean_lang
            changed["lang"] = clean_lang
    if not isinstance(sources, _Unset):
        clean_sources = list(_clean_sources(sources))
        if json.dumps(clean_sources) != row.sources:
            row.sources = json.dumps(clean_sources)
            changed["sources"] = clean_sources
    if not isinstance(needs_response, _Unset) and bool(needs_response) != row.needs_response:
        row.needs_response = changed["needs_response"] = bool(needs_response)
    if changed:
        row.updated_at = utcnow()
        s.flush()
        audit(s, actor, "listening_query.edit", name, **changed)
    return _saved(row)


def remove_query(s: Session, name: str, actor: str = "cli") -> None:
    """Delete the saved query ``name`` (the posts it matched stay)."""
    row = _row(s, name)
    s.delete(row)
    s.flush()
    audit(s, actor, "listening_query.remove", name, terms=row.terms)


# -- the pipeline's side: every post records the queries it matches -------------------------
POST_QUERIES_SCHEMA: Final = MATCH_SCHEMA
"""The derived warehouse table ``post_queries``: ``post_id``, ``query`` (a saved query's
name), one row per post and query it matches; the listening step writes it."""


def saved_queries_of(settings: Settings) -> list[SavedQuery]:
    """The saved queries in the workspace's app database (for the pipeline)."""
    from socialcrm.appdb.db import AppDB

    db = AppDB(settings.resolved_database_url)
    try:
        with db.session() as s:
            return list_queries(s)
    finally:
        db.close()


def match_batch(saved: Sequence[SavedQuery], posts: pa.Table, enriched: pa.Table) -> pa.Table:
    """:data:`POST_QUERIES_SCHEMA` rows for one batch of posts: the language filter reads
    the post's own ``lang`` and, where it has none, the detected one."""
    if not saved or posts.num_rows == 0:
        return POST_QUERIES_SCHEMA.empty_table()
    detected = enriched.column("lang_detected")
    lang = pc.coalesce(posts.column("lang"), detected) if "lang" in posts.column_names else detected
    cols = {"post_id": posts.column("post_id"), "text": posts.column("text"), "lang": lang}
    if "author_handle" in posts.column_names:
        cols["author_handle"] = posts.column("author_handle")
    return match_table(saved, pa.table(cols))


# -- the preview: what a query would match among the stored posts ---------------------------
@dataclass(frozen=True)
class Preview:
    """What an expression matches among ``posts``: how many, per source (platform) and per
    day, and one page of the matching posts (newest first, as given)."""

    total: int
    scanned: int
    by_source: list[tuple[str, int]]
    by_day: list[tuple[str, int]]
    items: list[dict[str, object]]
    page: int
    pages: int


def preview(query: Query, posts: pa.Table, page: int = 1, page_size: int = 20) -> Preview:
    """Match ``query`` against ``posts`` (``post_id``, ``text``; ``lang``,
    ``author_handle``, ``platform``, ``day`` where present) and summarise.

    >>> posts = pa.table({"post_id": ["1", "2"], "text": ["coffee!", "tea"],
    ...                   "platform": ["mastodon", "bluesky"]})
    >>> p = preview(parse("coffee OR tea"), posts)
    >>> p.total, p.by_source
    (2, [('bluesky', 1), ('mastodon', 1)])
    """
    one = _Adhoc("preview", query)
    matched = match_table([one], posts) if posts.num_rows else MATCH_SCHEMA.empty_table()
    hit = pc.is_in(posts.column("post_id"), value_set=matched.column("post_id").unique())
    rows = posts.filter(hit)
    total = rows.num_rows

    def counts(name: str) -> list[tuple[str, int]]:
        if name not in rows.column_names or total == 0:
            return []
        vc = pc.value_counts(pc.cast(rows.column(name), pa.string())).to_pylist()
        return sorted(((str(x["values"] or "unknown"), int(x["counts"])) for x in vc),
                      key=lambda kv: (-kv[1], kv[0]) if name != "day" else (kv[0], 0))  # fmt: skip

    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    items = rows.slice((page - 1) * page_size, page_size).to_pylist()
    return Preview(total, posts.num_rows, counts("platform"), counts("day"), items, page, pages)


@dataclass(frozen=True)
class _Adhoc:
    name: str
    parsed: Query

    def query(self) -> Query:
        return self.parsed
