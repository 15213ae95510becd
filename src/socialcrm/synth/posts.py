"""Posts about the brand: originals, spam, reply threads and reshare cascades, assembled.

The posts are put in time order and given platform-style ids, and their reply, reshare
and like counts and their authors' audience are filled in from what was generated.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from socialcrm.synth import authored, threads
from socialcrm.synth.accounts import BOT, BS, IG, LI, MA, TW, Accounts
from socialcrm.synth.graph import Graph
from socialcrm.synth.people import Persons
from socialcrm.synth.posting import Batch, PostContext, concat
from socialcrm.synth.purchases import Orders
from socialcrm.synth.strings import S, cat, sarr

_PREFIX = ("tw-", "fb-", "ig-", "li-", "ma-", "bs-")


@dataclass
class Posts:
    batch: Batch
    platform: np.ndarray
    post_id: np.ndarray
    likes: np.ndarray
    reshares: np.ndarray
    replies: np.ndarray
    author_followers: np.ndarray
    url: np.ndarray
    """'' when the platform gives none."""
    is_bot: np.ndarray


def make_posts(
    persons: Persons, accounts: Accounts, graph: Graph, orders: Orders, seed: int
) -> Posts:
    ctx = PostContext(persons, accounts, graph, seed)
    # Activity is scaled so that customers write about 0.6 originals each on average.
    own = authored.originals(ctx, orders, scale=0.55)
    roots = concat(
        [own, *authored.events(ctx, len(own)), authored.brand_posts(ctx, max(12, persons.n // 250))]
    )
    roots = concat([roots, authored.spam(ctx, max(40, int(0.09 * len(roots))))])
    body = concat([roots, *threads.replies(ctx, roots, 0)])
    everything = concat([body, threads.reshares(ctx, body, len(body))])
    return _finish(ctx, everything, ctx.rng)


def _finish(ctx: PostContext, b: Batch, rng: np.random.Generator) -> Posts:
    acc, g = ctx.accounts, ctx.graph
    n = len(b)
    # Sort by time; re-point replies and reshares.
    order = np.argsort(b.at, kind="stable")
    new_pos = np.empty(n, np.int64)
    new_pos[order] = np.arange(n)
    b = Batch(**{f.name: getattr(b, f.name)[order] for f in fields(Batch)})
    b.reply_to = np.where(b.reply_to >= 0, new_pos[b.reply_to.clip(0)], -1)
    b.reshare_of = np.where(b.reshare_of >= 0, new_pos[b.reshare_of.clip(0)], -1)

    platform = acc.platform[b.author]
    numbers = 1_700_000_000_000 + np.cumsum(rng.integers(1, 5000, n))
    post_id = cat(sarr(_PREFIX)[platform], sarr(numbers.astype(str)))
    replies = np.bincount(b.reply_to[b.reply_to >= 0], minlength=n)
    reshares = np.bincount(b.reshare_of[b.reshare_of >= 0], minlength=n)
    indeg = g.in_degree[b.author]
    followers = indeg + rng.poisson(0.2 * indeg)
    factor = np.select(
        [
            b.intent == "praise",
            b.intent == "complaint",
            b.intent == "question",
            b.intent == "suggestion",
            b.intent == "spam",
        ],
        [1.5, 1.1, 0.5, 1.2, 0.05],
        0.8,
    )
    lam = (0.3 + 0.05 * followers**0.85) * factor + 2.5 * reshares + 0.5 * replies
    lam = np.where(b.reshare_of >= 0, 0.1, lam)
    likes = rng.poisson(lam)

    num = sarr(numbers.astype(str))
    handle = acc.handle[b.author]
    user, _sep, instance = np.strings.partition(handle, np.asarray("@", dtype=S))
    url = np.full(n, "", dtype=S)
    m = platform == TW
    url[m] = cat("https://twitter.com/", acc.display[b.author[m]], "/status/", num[m])
    m = platform == IG
    url[m] = cat("https://www.instagram.com/p/", num[m], "/")
    m = platform == MA
    url[m] = cat("https://", instance[m], "/@", user[m], "/", num[m])
    m = platform == BS
    url[m] = cat("https://bsky.app/profile/", handle[m], "/post/", num[m])
    m = platform == LI
    url[m] = cat("https://www.linkedin.com/feed/update/urn:li:activity:", num[m], "/")
    return Posts(
        batch=b,
        platform=platform,
        post_id=post_id,
        likes=likes,
        reshares=reshares,
        replies=replies,
        author_followers=followers,
        url=url,
        is_bot=acc.kind[b.author] == BOT,
    )
