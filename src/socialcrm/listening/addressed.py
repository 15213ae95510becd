"""Which posts concern the brand, so that only those become work for an agent.

Listening gathers the whole conversation (saved queries over public sources), most of it
about anything but the brand. A post goes to the inbox only when it is *addressed* to
the brand:

- it mentions one of the brand's accounts (``@nordlicht``);
- it names the brand or one of its products (a ``brand`` or ``product`` row in
  ``post_mentions``; a competitor's name is not enough);
- it replies to one of the brand's own posts;
- it is a direct message (those arrive through a connector, which reads the brand's
  mentions and messages only, so connector posts are addressed by construction);
- it matches a saved listening query marked "needs a response" (``post_queries`` joined
  with ``listening_queries.needs_response``; either may be missing, then none do).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import suppress
from functools import cache
from typing import TYPE_CHECKING

import ibis
from ibis.expr import types as ir

from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

BRAND_KINDS = ("brand", "product")


def account_names(*specs: str) -> frozenset[str]:
    """Every handle in ``specs`` (handles or comma-separated ``platform:handle`` lists,
    as the inbox settings hold them), lower-cased without ``@``, and its local part
    (``nordlicht`` of ``nordlicht@mastodon.social``).

    >>> sorted(account_names("mastodon:acme@m.social, @Acme_UK"))
    ['acme', 'acme@m.social', 'acme_uk']
    """
    names = set()
    for spec in specs:
        for part in (spec or "").split(","):
            handle = part.strip().rpartition(":")[2].strip().lower().removeprefix("@")
            if handle:
                names |= {handle, handle.split("@")[0]}
    return frozenset(n for n in names if n)


def brand_accounts(settings: Settings) -> frozenset[str]:
    """The brand's accounts: the inbox settings' handles, and the catalogue's.

    >>> import tempfile
    >>> from pathlib import Path
    >>> sorted(brand_accounts(Settings(home=Path(tempfile.mkdtemp()))))
    ['brand']
    """
    from socialcrm.listening.mentions import Catalogue

    specs = [settings.inbox_brand_handle, settings.inbox_brand_handles]
    if settings.catalogue_path.exists():
        with suppress(OSError, ValueError, KeyError):
            specs.extend(Catalogue.load(settings.catalogue_path).brand_handles())
    return account_names(*specs)


@cache
def _mention_pattern(names: frozenset[str]) -> re.Pattern[str] | None:
    if not names:
        return None
    alts = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w@])@(?:{alts})(?![\w-]|\.\w)", re.IGNORECASE)


def mentions_account(text: str, names: frozenset[str]) -> bool:
    """Whether ``text`` @-mentions one of the accounts ``names``.

    >>> names = frozenset({"acme", "acme.shop"})
    >>> [mentions_account(t, names) for t in
    ...  ["hey @acme!", "@ACME.shop where is it", "@acme_fans lol", "mail a@acme.com"]]
    [True, True, False, False]
    """
    pattern = _mention_pattern(names)
    return bool(pattern and pattern.search(text or ""))


def needs_response_queries(s: Session) -> list[str]:
    """Names of the saved listening queries marked "needs a response" (none when the app
    database has no such table yet)."""
    from sqlalchemy import inspect, select

    from socialcrm.appdb.models import ListeningQuery

    bind = s.get_bind()
    if not inspect(bind).has_table(ListeningQuery.__tablename__):
        return []
    query = select(ListeningQuery.name).where(ListeningQuery.needs_response.is_(True))
    return sorted(s.scalars(query))


def with_address_flags(
    ws: Workspace, t: ir.Table, accounts: frozenset[str], needs_response: Iterable[str] = ()
) -> ir.Table:
    """``t`` (rows of ``posts_enriched``) with ``names_brand``, ``replies_to_brand`` and
    ``needs_response`` booleans, computed on the engine; the @-mention test is
    :func:`mentions_account` (on the rows read, as it needs look-arounds)."""
    wh = ws.warehouse
    false = ibis.literal(False)
    names_brand = false
    if wh.exists("post_mentions"):
        m = wh.table("post_mentions")
        if {"post_id", "entity_kind"} <= set(m.columns):
            ours = m.filter(m.entity_kind.isin(BRAND_KINDS)).select("post_id")
            names_brand = t.post_id.isin(ours.post_id)
    replies = false
    handles = sorted(accounts)
    if handles and "reply_to_post_id" in t.columns:
        every = wh.table("posts_enriched")
        own = every.filter(every.author_handle.lower().isin(ws.engine.values(handles))).select(
            "post_id"
        )
        replies = t.reply_to_post_id.notnull() & t.reply_to_post_id.isin(own.post_id)
    needs = false
    names = sorted(set(needs_response))
    if names and wh.exists("post_queries"):
        q = wh.table("post_queries")
        if {"post_id", "query"} <= set(q.columns):
            hits = q.filter(q.query.isin(ws.engine.values(names))).select("post_id")
            needs = t.post_id.isin(hits.post_id)
    return t.mutate(
        names_brand=names_brand.fill_null(False),
        replies_to_brand=replies.fill_null(False),
        needs_response=needs.fill_null(False),
    )


def addressed(row: dict[str, object], names: frozenset[str]) -> bool:
    """Whether a row of :func:`with_address_flags` concerns the brand.

    >>> addressed({"text": "hi @acme", "names_brand": False}, frozenset({"acme"}))
    True
    >>> addressed({"text": "nice game", "names_brand": False}, frozenset({"acme"}))
    False
    """
    return bool(
        row.get("names_brand")
        or row.get("replies_to_brand")
        or row.get("needs_response")
        or mentions_account(str(row.get("text") or ""), names)
    )
