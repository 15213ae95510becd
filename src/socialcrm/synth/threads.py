"""How posts spread: reply threads (the brand answering too) and reshare cascades.

Replies come from the author's followers, the brand answers complaints and questions
(faster for influential authors), and reshares travel along the follow graph as an
independent cascade, so amplifiers' posts go far and lurkers' posts do not.
"""

from __future__ import annotations

import numpy as np

from socialcrm.synth.accounts import AMPLIFIER, BOT, BRAND, BS, BYSTANDER, CUSTOMER, MA, TW
from socialcrm.synth.clock import DAY, END
from socialcrm.synth.posting import Batch, PostContext
from socialcrm.synth.strings import S, cat, sarr
from socialcrm.synth.text import Slots, TemplateBank, fill_templates

_RESHARE_P = {
    "praise": 0.009,
    "complaint": 0.015,
    "question": 0.0015,
    "suggestion": 0.008,
    "other": 0.004,
    "spam": 0.0,
}


# -- replies -------------------------------------------------------------------------------
def _followers_sample(ctx: PostContext, account: np.ndarray) -> np.ndarray:
    """One random follower of each account (a random same-platform account if none)."""
    rng, g, acc = ctx.rng, ctx.graph, ctx.accounts
    deg = g.in_degree[account]
    pick = g.followers_ptr[account] + (rng.random(len(account)) * deg).astype(np.int64)
    follower = g.followers_idx[np.minimum(pick, len(g.followers_idx) - 1)]
    social = np.flatnonzero(np.isin(acc.kind, [CUSTOMER, BYSTANDER]))
    fallback = social[rng.integers(0, len(social), len(account))]
    out = np.where(deg > 0, follower, fallback)
    # Replies come from people (not bots or brands) on the platform of the post.
    wrong = (acc.platform[out] != acc.platform[account]) | ~np.isin(
        acc.kind[out], [CUSTOMER, BYSTANDER, AMPLIFIER]
    )
    for p in np.unique(acc.platform[account[wrong]]):
        m = wrong & (acc.platform[account] == p)
        pool = social[acc.platform[social] == p]
        out[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    return out


def _reply_batch(
    ctx: PostContext,
    parent: np.ndarray,
    parents: Batch,
    offset: int,
    author: np.ndarray,
    at: np.ndarray,
    bank: TemplateBank,
    intent_key: np.ndarray,
    sentiment_key: np.ndarray,
    intent: np.ndarray,
    sentiment: np.ndarray,
    lang: np.ndarray,
    user: np.ndarray | None = None,
) -> Batch:
    """Replies to ``parents[parent]``; ``offset`` turns batch positions into global ones."""
    rng = ctx.rng
    k = len(parent)
    acc = ctx.accounts
    platform = acc.platform[author]
    company = parents.company[parent]
    product = parents.product[parent]
    entity_kind = np.where(product >= 0, 0, np.where(company == 0, 1, 2))
    tidx = bank.choose(rng, lang, intent_key, sentiment_key)
    extra = {"u": user} if user is not None else None
    slots = Slots(
        lang=lang,
        sentiment=sentiment,
        aspect=parents.aspect[parent],
        aspect2=parents.aspect[parent],
        idea=parents.idea[parent],
        p=ctx.thing(entity_kind, product.clip(0), company),
        b=ctx.company_alias(np.zeros(k, np.int64), platform),
        c=ctx.company_alias(np.ones(k, np.int64), platform),
        extra=extra,
    )
    text = fill_templates(rng, bank, ctx.clauses, tidx, slots)
    # Threaded platforms prefix a reply with the handle it answers.
    parent_author = acc.display[parents.author[parent]]
    threaded = np.isin(platform, [TW, MA, BS]) & (user is None)
    text = np.where(threaded, cat("@", parent_author, " ", text), text).astype(S)
    uses_aspect = np.zeros(k, bool)
    for s in ("pos", "neg", "ask", "neu"):
        if s in bank.slots:
            uses_aspect |= bank.slots[s][tidx]
    topic = parents.topic[parent]
    return Batch(
        author=author,
        at=np.minimum(at, END - 1),
        text=text,
        lang=lang,
        intent=intent,
        sentiment=sentiment,
        topic=topic,
        entity=parents.entity[parent],
        product=product,
        company=company,
        aspect=parents.aspect[parent],
        idea=parents.idea[parent],
        sarcastic=np.zeros(k, bool),
        is_spam=np.zeros(k, bool),
        reply_to=parent + offset,
        reshare_of=np.full(k, -1),
        event=parents.event[parent],
    )


_COMMUNITY_REPLY = {
    # root intent -> (reply intent, reply sentiment, template key intent, key sentiment, p)
    "complaint": (
        ("complaint", "negative", "complaint", "negative", 0.45),
        ("question", "neutral", "question", "neutral", 0.2),
        ("other", "neutral", "other", "neutral", 0.2),
        ("praise", "positive", "praise", "positive", 0.15),
    ),
    "question": (
        ("other", "positive", "other", "positive", 0.45),
        ("other", "neutral", "other", "neutral", 0.35),
        ("complaint", "negative", "complaint", "negative", 0.2),
    ),
    "praise": (
        ("praise", "positive", "praise", "positive", 0.6),
        ("question", "neutral", "question", "neutral", 0.3),
        ("other", "neutral", "other", "neutral", 0.1),
    ),
    "suggestion": (
        ("suggestion", "positive", "suggestion", "positive", 0.7),
        ("other", "neutral", "other", "neutral", 0.3),
    ),
    "other": (
        ("other", "neutral", "other", "neutral", 0.6),
        ("other", "positive", "other", "positive", 0.25),
        ("question", "neutral", "question", "neutral", 0.15),
    ),
}


def replies(ctx: PostContext, roots: Batch, offset: int) -> list[Batch]:
    rng, acc, g = ctx.rng, ctx.accounts, ctx.graph
    out: list[Batch] = []
    human = ~roots.is_spam & (acc.kind[roots.author] != BRAND)
    followers = g.in_degree[roots.author]
    reach = np.minimum(1.0, np.log10(1 + followers) / 3)

    # The brand answers complaints and questions, faster for influential authors.
    p_brand = np.select(
        [roots.intent == "complaint", roots.intent == "question", roots.intent == "praise"],
        [0.5, 0.4, 0.12],
        0.0,
    ) * (1 + reach)
    answered = np.flatnonzero(human & (rng.random(len(roots)) < p_brand))
    brand_author = ctx.brand_account[acc.platform[roots.author[answered]]]
    ok = brand_author >= 0
    answered, brand_author = answered[ok], brand_author[ok]
    delay = (
        np.where(
            reach[answered] > 0.5,
            rng.exponential(2 * 3600, len(answered)),
            rng.exponential(14 * 3600, len(answered)),
        )
        + 600
    )
    at = roots.at[answered] + delay.astype(np.int64)
    lang = roots.lang[answered]
    key = roots.intent[answered]
    sentiment = np.where(key == "praise", "positive", "neutral").astype(S)
    user = cat("@", acc.display[roots.author[answered]])
    brand_replies = _reply_batch(
        ctx,
        answered,
        roots,
        offset,
        brand_author,
        at,
        ctx.brand_bank,
        key,
        np.full(len(answered), "-", dtype=S),
        np.full(len(answered), "other", dtype=S),
        sentiment,
        lang,
        user=user,
    )
    brand_replies.topic = roots.topic[answered]
    out.append(brand_replies)
    brand_offset = offset + len(roots)

    # Some complainers come back to say whether it was sorted.
    comp = np.flatnonzero(roots.intent[answered] == "complaint")
    back = comp[rng.random(len(comp)) < 0.35]
    sorted_ok = rng.random(len(back)) < 0.55
    intent = np.where(sorted_ok, "praise", "complaint").astype(S)
    sentiment = np.where(sorted_ok, "positive", "negative").astype(S)
    key = cat("follow_up_", intent)
    at = brand_replies.at[back] + (rng.exponential(1.0, len(back)) * DAY).astype(np.int64)
    out.append(
        _reply_batch(
            ctx,
            back,
            brand_replies,
            brand_offset,
            roots.author[answered[back]],
            at,
            ctx.reply_bank,
            key,
            sentiment,
            intent,
            sentiment,
            np.full(len(back), "en", dtype=S),
        )
    )

    # The community chimes in, more under posts of people with an audience.
    rate = (0.12 + 0.25 * np.log1p(followers)) * np.where(roots.intent == "complaint", 1.4, 1.0)
    n_rep = np.where(human, rng.poisson(rate), 0)
    parent = np.repeat(np.arange(len(roots)), n_rep)
    replier = _followers_sample(ctx, roots.author[parent])
    keep = replier != roots.author[parent]
    parent, replier = parent[keep], replier[keep]
    k = len(parent)
    r_intent = np.full(k, "", dtype=S)
    r_sent = np.full(k, "", dtype=S)
    root_intent = roots.intent[parent]
    for ri, options in _COMMUNITY_REPLY.items():
        m = np.flatnonzero(root_intent == ri)
        probs = np.array([o[4] for o in options])
        pick = rng.choice(len(options), len(m), p=probs / probs.sum())
        r_intent[m] = sarr([o[0] for o in options])[pick]
        r_sent[m] = sarr([o[1] for o in options])[pick]
    at = roots.at[parent] + (rng.exponential(5 * 3600, k) + 120).astype(np.int64)
    community = _reply_batch(
        ctx,
        parent,
        roots,
        offset,
        replier,
        at,
        ctx.reply_bank,
        r_intent,
        r_sent,
        r_intent,
        r_sent,
        np.full(k, "en", dtype=S),
    )
    # Global positions: roots, then every batch of ``out`` in order.
    community_offset = offset + len(roots) + sum(len(b) for b in out)
    out.append(community)

    # The original author thanks some of them.
    thank = np.flatnonzero(rng.random(k) < 0.12)
    at = community.at[thank] + (rng.exponential(3 * 3600, len(thank)) + 60).astype(np.int64)
    n_t = len(thank)
    thanks = _reply_batch(
        ctx,
        thank,
        community,
        community_offset,
        roots.author[parent[thank]],
        at,
        ctx.reply_bank,
        np.full(n_t, "thanks", dtype=S),
        np.full(n_t, "positive", dtype=S),
        np.full(n_t, "other", dtype=S),
        np.full(n_t, "positive", dtype=S),
        np.full(n_t, "en", dtype=S),
    )
    out.append(thanks)
    return out


# -- reshares ------------------------------------------------------------------------------
def reshares(ctx: PostContext, posts: Batch, start_offset: int) -> Batch:
    """Independent-cascade reshares along the follow graph, generation by generation."""
    rng, acc, g = ctx.rng, ctx.accounts, ctx.graph
    n = len(posts)
    original = (posts.reply_to < 0) & (posts.reshare_of < 0)
    q = np.zeros(n)
    for intent, p in _RESHARE_P.items():
        q[posts.intent == intent] = p
    q[posts.topic == "announcement"] = 0.003
    q *= np.where(acc.kind[posts.author] == AMPLIFIER, 1.5, 1.0)
    q *= np.where(posts.sarcastic, 1.5, 1.0)
    q[~original] = 0.0

    roots_l, parent_l, author_l, at_l = [], [], [], []
    act_root = np.flatnonzero(q > 0)
    act_post = act_root.copy()
    act_acc = posts.author[act_root]
    act_at = posts.at[act_root]
    seen: set[int] = set()
    next_index = start_offset
    for gen in range(5):
        if not len(act_root):
            break
        deg = g.in_degree[act_acc]
        hits = rng.binomial(deg, q[act_root])
        src = np.repeat(np.arange(len(act_root)), hits)
        if not len(src):
            break
        pick = g.followers_ptr[act_acc[src]] + (rng.random(len(src)) * deg[src]).astype(np.int64)
        who = g.followers_idx[pick]
        root = act_root[src]
        key = root.astype(np.int64) * len(acc) + who
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)
        fresh = np.array([int(x) not in seen for x in key[first]], dtype=bool)
        first = first[
            fresh
            & (who[first] != posts.author[root[first]])
            & np.isin(acc.kind[who[first]], [CUSTOMER, BYSTANDER, AMPLIFIER])
        ]
        seen.update(int(x) for x in key[first])
        k = len(first)
        at = act_at[src[first]] + (rng.exponential(3 * 3600 * (gen + 1), k) + 30).astype(np.int64)
        roots_l.append(root[first])
        parent_l.append(act_post[src[first]])
        author_l.append(who[first])
        at_l.append(at)
        new_index = np.arange(next_index, next_index + k)
        next_index += k
        act_root, act_acc, act_at = root[first], who[first], at
        act_post = new_index
    # Bots boost each other's spam.
    spam = np.flatnonzero(posts.is_spam & original)
    bots = np.flatnonzero(acc.kind == BOT)
    boosts = rng.poisson(1.2, len(spam))
    b_post = np.repeat(spam, boosts)
    b_plat = acc.platform[posts.author[b_post]]
    b_who = np.full(len(b_post), -1)
    for p in np.unique(b_plat):
        m = b_plat == p
        pool = bots[acc.platform[bots] == p]
        if len(pool):
            b_who[m] = pool[rng.integers(0, len(pool), int(m.sum()))]
    okb = (b_who >= 0) & (b_who != posts.author[b_post])
    b_post, b_who = b_post[okb], b_who[okb]
    b_at = posts.at[b_post] + (rng.exponential(2 * 3600, len(b_post)) + 30).astype(np.int64)

    root = np.concatenate([*roots_l, b_post]) if roots_l else b_post
    parent = np.concatenate([*parent_l, b_post]) if parent_l else b_post
    author = np.concatenate([*author_l, b_who]) if author_l else b_who
    at = np.concatenate([*at_l, b_at]) if at_l else b_at
    k = len(root)
    # Reshares carry the original text; Twitter prefixes "RT @parent:".
    plat = acc.platform[author]
    parent_author_acc = np.where(parent < n, posts.author[np.minimum(parent, n - 1)], -1)
    # Parents that are reshares themselves: look their authors up in this batch.
    is_inner = parent >= start_offset
    inner_pos = parent - start_offset
    parent_author_acc = np.where(
        is_inner, author[np.clip(inner_pos, 0, max(k - 1, 0))], parent_author_acc
    )
    rt = cat("RT @", acc.display[parent_author_acc.clip(0)], ": ", posts.text[root])
    text = np.where(plat == TW, rt, posts.text[root]).astype(S)
    return Batch(
        author=author,
        at=np.minimum(at, END - 1),
        text=text,
        lang=posts.lang[root],
        intent=posts.intent[root],
        sentiment=posts.sentiment[root],
        topic=posts.topic[root],
        entity=posts.entity[root],
        product=posts.product[root],
        company=posts.company[root],
        aspect=posts.aspect[root],
        idea=posts.idea[root],
        sarcastic=posts.sarcastic[root],
        is_spam=posts.is_spam[root],
        reply_to=np.full(k, -1),
        reshare_of=parent,
        event=posts.event[root],
    )
