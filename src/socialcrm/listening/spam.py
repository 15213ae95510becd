"""Spam and bot heuristics, each with the reason it fired.

A listening tool that silently drops posts is not trusted, so every flag says why.
Post-level reasons are computed here over whole Arrow columns; author-level reasons
(posting rate, one author repeating the same text) need the whole table and are
computed on the engine by :func:`author_flags`, then merged with :func:`merge_reasons`.

===================  ======================================================
reason               fires when
===================  ======================================================
``hashtag_stuffing`` 6 or more hashtags
``mention_stuffing`` 5 or more handles
``promo_link``       a link together with giveaway / free / discount / crypto /
                     follow-back / "DM me" style wording
``link_only``        nothing but links, handles and hashtags
``bot_handle``       a handle ending in 6+ digits with fewer than 10 followers
``bot_rate``         the author posted more than ``max_per_day`` posts in a day
``bot_repeat``       the author posted the same text 3 or more times
===================  ======================================================
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.listening.text import as_arrow

if TYPE_CHECKING:
    from ibis.expr import types as ir

PROMO = (
    r"(?i)\b(?:giveaway|give away|win a|free (?:gift|followers|iphone|money)|discount code"
    r"|promo code|coupon|click (?:here|the link|link)|dm (?:me|us) for|follow ?back|f4f"
    r"|crypto|bitcoin|btc"
    r"|nft|earn \$|\$\d+ (?:a|per) day|casino|betting|onlyfans|buy followers|limited offer"
    r"|100% free|work from home|cheap \w+ here)\b"
)
_LINK = r"(?:https?://|www\.)\S+"


def post_reasons(
    texts: Sequence[str] | pa.Array | pa.ChunkedArray,
    handles: Sequence[str] | pa.Array | pa.ChunkedArray | None = None,
    followers: Sequence[int | None] | pa.Array | pa.ChunkedArray | None = None,
) -> np.ndarray:
    """Semicolon-separated spam reasons per post ('' when none fired).

    >>> post_reasons(["WIN a FREE iPhone!!! click here https://spam.ly/x",
    ...               "#a #b #c #d #e #f",
    ...               "My Zephyrs fit great"],
    ...              handles=["deals4u", "tagger", "trailrunner88"]).tolist()
    ['promo_link', 'hashtag_stuffing;link_only', '']
    """
    arr = as_arrow(texts)
    n = len(arr)
    flags: list[tuple[str, np.ndarray]] = []

    def count(pattern: str) -> np.ndarray:
        return np.asarray(pc.count_substring_regex(arr, pattern), dtype=np.int64)

    flags.append(("hashtag_stuffing", count(r"(?:^|\s)#\w") >= 6))
    flags.append(("mention_stuffing", count(r"(?:^|\s)@\w") >= 5))
    has_link = count(_LINK) > 0
    promo = np.asarray(pc.match_substring_regex(arr, PROMO), dtype=bool)
    flags.append(("promo_link", has_link & promo))
    leftover = pc.replace_substring_regex(arr, rf"{_LINK}|[#@]\w+|[^\w]", "")
    empty = np.asarray(pc.equal(pc.utf8_length(leftover), 0), dtype=bool)
    nonblank = np.asarray(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(arr)), 0), dtype=bool)
    flags.append(("link_only", empty & nonblank))
    if handles is not None:
        h = as_arrow(handles)
        digits = np.asarray(pc.match_substring_regex(h, r"\d{6,}$"), dtype=bool)
        if followers is not None:
            f = (
                pa.array(followers, pa.int64())
                if not isinstance(followers, pa.Array | pa.ChunkedArray)
                else followers
            )
            few = np.asarray(pc.fill_null(f, 0), dtype=np.int64) < 10
        else:
            few = np.ones(n, dtype=bool)
        flags.append(("bot_handle", digits & few))
    return merge_reasons(*[np.where(m, name, "") for name, m in flags])


def merge_reasons(*columns: np.ndarray) -> np.ndarray:
    """Join reason columns element-wise with ``;``, skipping empty ones.

    >>> merge_reasons(np.array(["a", ""]), np.array(["b", ""])).tolist()
    ['a;b', '']
    """
    if not columns:
        return np.zeros(0, dtype=object)
    out = np.array([""] * len(columns[0]), dtype=object)
    for col in columns:
        col = np.asarray(col, dtype=object)
        has = col != ""
        both = has & (out != "")
        out = np.where(both, out + ";" + col, np.where(has, col, out))
    return out


def author_flags(
    posts: ir.Table,
    max_per_day: int = 50,
    max_repeats: int = 3,
    trusted: Iterable[str] = (),
) -> ir.Table:
    """Authors whose behaviour looks automated, with the reason (an engine expression).

    ``posts`` needs ``platform``, ``author_handle``, ``created_at`` and ``skeleton``.
    ``trusted`` handles (the brand's and competitors' own accounts, whose templated
    replies repeat by design) are never flagged. Returns ``platform``,
    ``author_handle``, ``author_reason`` for flagged authors only.
    """
    import ibis

    trusted = sorted(set(trusted))
    if trusted:
        posts = posts.filter(~posts.author_handle.lower().isin(trusted))
    day = posts.created_at.date()
    per_day = (
        posts.group_by([posts.platform, posts.author_handle, day.name("day")])
        .aggregate(n=posts.count())
        .group_by(["platform", "author_handle"])
        .aggregate(peak=lambda t: t.n.max())
    )
    long_text = posts.filter(
        (posts.skeleton.length() >= 20) & (posts.skeleton.split(" ").length() >= 5)
    )
    repeats = (
        long_text.group_by([long_text.platform, long_text.author_handle, long_text.skeleton])
        .aggregate(n=long_text.count())
        .group_by(["platform", "author_handle"])
        .aggregate(most=lambda t: t.n.max())
    )
    joined = per_day.outer_join(
        repeats,
        [per_day.platform == repeats.platform, per_day.author_handle == repeats.author_handle],
    )
    platform = ibis.coalesce(joined.platform, joined.platform_right)
    handle = ibis.coalesce(joined.author_handle, joined.author_handle_right)
    rate = ibis.ifelse(joined.peak.fill_null(0) > max_per_day, "bot_rate", None)
    repeat = ibis.ifelse(joined.most.fill_null(0) >= max_repeats, "bot_repeat", None)
    reason = ibis.coalesce(
        ibis.ifelse(rate.notnull() & repeat.notnull(), "bot_rate;bot_repeat", None), rate, repeat
    )
    out = joined.select(platform=platform, author_handle=handle, author_reason=reason)
    return out.filter(out.author_reason.notnull())
