"""Original posts: what customers, bystanders, amplifiers, bots and the brand write.

What a person posts follows who they are: promoters praise, detractors complain (and some
detractors are listened to), buyers write about the product they ordered a few days
after the order, people who defect often complain first. Incidents (a Black Friday
delivery backlog, a bad watch firmware, a shoe launch) make spikes; bots post spam in
copy-paste waves.
"""

from __future__ import annotations

import numpy as np

from socialcrm.store.schemas import PLATFORMS
from socialcrm.synth import phrases
from socialcrm.synth.accounts import AMPLIFIER, BOT, BYSTANDER, CUSTOMER
from socialcrm.synth.clock import DAY, END, START
from socialcrm.synth.people import DETRACTOR, NEUTRAL, PROMOTER
from socialcrm.synth.posting import Batch, PostContext, concat, mix
from socialcrm.synth.purchases import Orders
from socialcrm.synth.strings import S, cat, sarr
from socialcrm.synth.text import Slots, add_noise, fill_templates, supported_aspects

INTENTS = ("praise", "complaint", "question", "suggestion", "other")
SENTIMENTS = ("negative", "neutral", "positive")
_INTENT_MIX = {
    PROMOTER: (0.42, 0.06, 0.16, 0.12, 0.24),
    NEUTRAL: (0.22, 0.16, 0.22, 0.08, 0.32),
    DETRACTOR: (0.05, 0.58, 0.12, 0.10, 0.15),
    "bystander": (0.14, 0.1, 0.3, 0.06, 0.4),
    "amplifier": (0.45, 0.2, 0.05, 0.1, 0.2),
}
_SENTIMENT_MIX = {  # negative, neutral, positive
    "praise": (0.0, 0.0, 1.0),
    "complaint": (1.0, 0.0, 0.0),
    "question": (0.13, 0.75, 0.12),
    "suggestion": (0.2, 0.55, 0.25),
    "other": (0.1, 0.72, 0.18),
}
BRAND_ASPECTS = (
    "delivery",
    "customer_service",
    "returns",
    "sustainability",
    "website",
    "price",
    "quality",
)
_BRAND_ASPECT_W = (0.3, 0.25, 0.12, 0.1, 0.08, 0.1, 0.05)
COMPETITOR_ASPECTS = ("quality", "price", "customer_service", "delivery", "durability")
EVENTS = (
    # name, start, end, kind of posts
    ("zephyr_launch", "2025-03-03", "2025-03-17"),
    ("borealis_firmware", "2025-04-10", "2025-04-24"),
    ("plastic_petition", "2025-09-08", "2025-09-21"),
    ("black_friday_backlog", "2025-11-28", "2025-12-14"),
)
_PLATFORM_ACTIVITY = np.array([1.3, 0.6, 1.0, 0.3, 0.9, 1.0])


def _day(s: str) -> int:
    return int(np.datetime64(s, "s").astype(np.int64))


# -- original posts ---------------------------------------------------------------------------
def originals(ctx: PostContext, orders: Orders, scale: float) -> Batch:
    rng, acc, persons = ctx.rng, ctx.accounts, ctx.persons
    n_acc = len(acc)
    person = acc.person
    eng = np.where(person >= 0, persons.engagement[person.clip(0)], 0.2)
    att = np.where(person >= 0, persons.attitude[person.clip(0)], NEUTRAL)
    rate = np.zeros(n_acc)
    is_c = acc.kind == CUSTOMER
    rate[is_c] = (
        rng.gamma(0.5, 2.0, is_c.sum())
        * (0.15 + 2.5 * eng[is_c])
        * np.where(att[is_c] == DETRACTOR, 1.8, 1.0)
    )
    is_b = acc.kind == BYSTANDER
    rate[is_b] = rng.gamma(0.5, 1.0, is_b.sum()) * 0.5
    is_a = acc.kind == AMPLIFIER
    rate[is_a] = 4.0 + rng.gamma(2.0, 3.0, is_a.sum())
    rate *= _PLATFORM_ACTIVITY[acc.platform]
    count = rng.poisson(rate * scale)
    author = np.repeat(np.arange(n_acc), count)
    n = len(author)
    a_kind = acc.kind[author]
    a_person = person[author]
    platform = acc.platform[author]

    group = np.where(a_kind == AMPLIFIER, 10, np.where(a_kind == BYSTANDER, 11, att[author]))
    by_group = {
        PROMOTER: _INTENT_MIX[PROMOTER],
        NEUTRAL: _INTENT_MIX[NEUTRAL],
        DETRACTOR: _INTENT_MIX[DETRACTOR],
        10: _INTENT_MIX["amplifier"],
        11: _INTENT_MIX["bystander"],
    }
    intent = mix(rng, group, by_group, INTENTS)
    sentiment = mix(rng, intent, _SENTIMENT_MIX, SENTIMENTS)

    # Time: buyers often post about what they ordered a few days after the order.
    at = np.where(
        a_person >= 0, np.maximum(START, persons.join[a_person.clip(0)] - 150 * DAY), START
    )
    at = at + (rng.random(n) * (END - at)).astype(np.int64)
    product = np.full(n, -1)
    completed = np.flatnonzero(orders.status == "completed")
    o_person = orders.person[completed]
    by_person = np.argsort(o_person, kind="stable")
    sorted_person = o_person[by_person]
    lo = np.searchsorted(sorted_person, a_person.clip(0))
    hi = np.searchsorted(sorted_person, a_person.clip(0), side="right")
    anchored = (a_person >= 0) & (hi > lo) & (rng.random(n) < 0.55)
    pick = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
    o_idx = completed[by_person[np.minimum(pick, len(by_person) - 1)]]
    delay = (rng.exponential(6.0, n) + 1.0) * DAY
    at = np.where(anchored, orders.at[o_idx] + delay.astype(np.int64), at)
    product = np.where(anchored, orders.product[o_idx], product)
    # Defectors: a complaint shortly before or after they stop buying.
    dropped = np.full(persons.n, -1)
    tr = orders.truth
    dropped[tr.person] = tr.dropped_at
    d_at = dropped[a_person.clip(0)]
    near_drop = (a_person >= 0) & (d_at >= 0) & (intent == "complaint") & (rng.random(n) < 0.5)
    at = np.where(near_drop, d_at + (rng.normal(5, 12, n) * DAY).astype(np.int64), at)
    at = np.clip(at, START, END - 1)

    # What the post is about.
    r = rng.random(n)
    entity_kind = np.where(r < 0.64, 0, np.where(r < 0.9, 1, 2))  # product, brand, competitor
    entity_kind = np.where(anchored, 0, entity_kind)
    pop = np.array([1.4, 1.6, 1.2, 0.7, 1.5, 1.1, 0.9, 0.8, 0.7, 1.0])[: len(ctx.cat.products)]
    product = np.where(
        (entity_kind == 0) & (product < 0), rng.choice(len(pop), n, p=pop / pop.sum()), product
    )
    product = np.where(entity_kind == 0, product, -1)
    company = np.where(entity_kind == 2, 1 + (rng.random(n) < 0.3), 0)
    lang = _post_lang(rng, acc.lang[author], a_kind)
    return _describe(
        ctx,
        author,
        at,
        lang,
        intent,
        sentiment,
        entity_kind,
        product,
        company,
        platform,
        event=np.full(n, "", dtype=S),
    )


def _post_lang(rng: np.random.Generator, account_lang: np.ndarray, kind: np.ndarray) -> np.ndarray:
    local = (account_lang != "en") & (kind != AMPLIFIER) & (rng.random(len(kind)) < 0.4)
    return np.where(local, account_lang, "en").astype(S)


def _aspects(
    ctx: PostContext, entity_kind: np.ndarray, product: np.ndarray, lang: np.ndarray
) -> np.ndarray:
    rng = ctx.rng
    n = len(entity_kind)
    aspect = np.full(n, "quality", dtype=S)
    for i, p in enumerate(ctx.cat.products):
        m = (entity_kind == 0) & (product == i)
        options = (*p.aspects, "quality")
        aspect[m] = sarr(options)[rng.integers(0, len(options), int(m.sum()))]
    m = entity_kind == 1
    aspect[m] = sarr(BRAND_ASPECTS)[rng.choice(len(BRAND_ASPECTS), int(m.sum()), p=_BRAND_ASPECT_W)]
    m = entity_kind == 2
    aspect[m] = sarr(COMPETITOR_ASPECTS)[rng.integers(0, len(COMPETITOR_ASPECTS), int(m.sum()))]
    # Other languages know fewer aspects: fall back to what they can talk about.
    for code in ("de", "fr", "es"):
        known = supported_aspects(code)
        m = (lang == code) & ~np.isin(aspect, sarr(known))
        fallback = np.where(
            entity_kind[m] == 1,
            sarr(("delivery", "customer_service", "price"))[rng.integers(0, 3, int(m.sum()))],
            "quality",
        )
        aspect[m] = fallback
    return aspect


def _second_aspect(
    ctx: PostContext, aspect: np.ndarray, entity_kind: np.ndarray, product: np.ndarray
) -> np.ndarray:
    alt = _aspects(ctx, entity_kind, product, np.full(len(aspect), "en", dtype=S))
    same = alt == aspect
    alt[same] = np.where(entity_kind[same] == 1, "price", "quality")
    alt[alt == aspect] = "design"
    return alt


def _describe(
    ctx: PostContext,
    author: np.ndarray,
    at: np.ndarray,
    lang: np.ndarray,
    intent: np.ndarray,
    sentiment: np.ndarray,
    entity_kind: np.ndarray,
    product: np.ndarray,
    company: np.ndarray,
    platform: np.ndarray,
    event: np.ndarray,
    aspect: np.ndarray | None = None,
    idea: np.ndarray | None = None,
) -> Batch:
    """Choose topic and idea, write the text, and wrap everything in a batch."""
    rng = ctx.rng
    n = len(author)
    # A language without a template for this class writes in English.
    has = ctx.posts_bank.has(lang, intent, sentiment)
    lang = np.where(has, lang, "en").astype(S)

    # Suggestions: the idea decides what (and whom) they are about.
    if idea is None:
        idea = np.full(n, "", dtype=S)
        sug = np.flatnonzero(intent == "suggestion")
        keys = [i[0] for i in phrases.IDEAS]
        choice = rng.integers(0, len(keys), len(sug))
        idea[sug] = sarr(keys)[choice]
        for j, (_key, idea_aspect, scope, _texts) in enumerate(phrases.IDEAS):
            m = sug[choice == j]
            if scope == "brand":
                entity_kind[m] = 1
                product[m] = -1
                company[m] = 0
            else:
                fits = [i for i, p in enumerate(ctx.cat.products) if idea_aspect in p.aspects]
                ok = np.isin(product[m], fits) & (entity_kind[m] == 0)
                product[m[~ok]] = np.asarray(fits)[rng.integers(0, len(fits), int((~ok).sum()))]
                entity_kind[m] = 0
                company[m] = 0
    if aspect is None:
        aspect = _aspects(ctx, entity_kind, product, lang)
    has_idea = idea != ""
    for key, idea_aspect, _scope, _texts in phrases.IDEAS:
        aspect[idea == key] = idea_aspect
    aspect2 = _second_aspect(ctx, aspect, entity_kind, product)

    tidx = ctx.posts_bank.choose(rng, lang, intent, sentiment)
    other_company = np.where(company == 0, 1 + (rng.random(n) < 0.3), 0)
    slots = Slots(
        lang=lang,
        sentiment=sentiment,
        aspect=aspect,
        aspect2=aspect2,
        idea=idea,
        p=ctx.thing(entity_kind, product.clip(0), company),
        b=ctx.company_alias(company, platform),
        c=ctx.company_alias(other_company, platform),
    )
    text = fill_templates(rng, ctx.posts_bank, ctx.clauses, tidx, slots)
    uses_aspect = np.zeros(n, bool)
    for s in ("pos", "neg", "ask", "neu"):
        uses_aspect |= ctx.posts_bank.slots[s][tidx]
    topic = np.where(uses_aspect | has_idea, aspect, "chatter").astype(S)
    entity = np.where(
        entity_kind == 0, ctx.product_names[product.clip(0)], ctx.company_names[company]
    ).astype(S)
    text = _decorate(ctx, text, intent, entity_kind, product, platform, author)
    return Batch(
        author=author,
        at=at,
        text=text,
        lang=lang,
        intent=intent,
        sentiment=sentiment,
        topic=topic,
        entity=entity,
        product=np.where(entity_kind == 0, product, -1),
        company=company,
        aspect=aspect,
        idea=idea,
        sarcastic=ctx.posts_bank.sarcastic[tidx],
        is_spam=np.zeros(n, bool),
        reply_to=np.full(n, -1),
        reshare_of=np.full(n, -1),
        event=event,
    )


def _decorate(
    ctx: PostContext,
    text: np.ndarray,
    intent: np.ndarray,
    entity_kind: np.ndarray,
    product: np.ndarray,
    platform: np.ndarray,
    author: np.ndarray,
) -> np.ndarray:
    """Hashtags and @mentions of the brand, as people add them."""
    rng = ctx.rng
    n = len(text)
    tags = np.full(n, "", dtype=S)
    comm = ctx.accounts.community[author]
    for ci, name in enumerate(ctx.cat.communities):
        m = (comm == ci) & (rng.random(n) < 0.25)
        tags[m] = sarr(phrases.COMMUNITY_TAGS[name])[rng.integers(0, 3, int(m.sum()))]
    for i, p in enumerate(ctx.cat.products):
        m = (entity_kind == 0) & (product == i) & (rng.random(n) < 0.2)
        ptag = sarr(p.hashtags)[rng.integers(0, len(p.hashtags), int(m.sum()))]
        tags[m] = np.where(tags[m] == "", ptag, cat(tags[m], " ", ptag))
    m = rng.random(n) < 0.08
    btag = sarr(ctx.cat.brand.hashtags)[rng.integers(0, len(ctx.cat.brand.hashtags), int(m.sum()))]
    tags[m] = np.where(tags[m] == "", btag, cat(tags[m], " ", btag))
    handles = sarr([ctx.cat.brand.handles[p] for p in PLATFORMS])[platform]
    p_mention = np.where(intent == "complaint", 0.3, 0.08)
    mention = np.where(rng.random(n) < p_mention, cat("@", handles), "").astype(S)
    already = np.strings.find(text, cat("@", handles)) >= 0
    mention[already] = ""
    return add_noise(rng, text, tags, mention)


# -- incidents and campaigns --------------------------------------------------------------
def events(ctx: PostContext, n_originals: int) -> list[Batch]:
    rng, acc = ctx.rng, ctx.accounts
    customers = np.flatnonzero(acc.kind == CUSTOMER)
    prods = {p.name: i for i, p in enumerate(ctx.cat.products)}
    out = []
    for name, start, end in EVENTS:
        t0, t1 = _day(start), _day(end)
        share = {
            "zephyr_launch": 0.025,
            "borealis_firmware": 0.02,
            "plastic_petition": 0.012,
            "black_friday_backlog": 0.035,
        }[name]
        k = max(10, int(share * n_originals))
        author = customers[rng.integers(0, len(customers), k)]
        at = t0 + (rng.beta(1.3, 3.0, k) * (t1 - t0)).astype(np.int64)
        platform = acc.platform[author]
        lang = _post_lang(rng, acc.lang[author], acc.kind[author])
        ev = np.full(k, name, dtype=S)
        if name == "plastic_petition":
            out.append(_petition(ctx, author, at, platform, ev))
            continue
        if name == "zephyr_launch":
            intent = sarr(("praise", "question", "other"))[rng.choice(3, k, p=[0.5, 0.35, 0.15])]
            entity_kind = np.zeros(k, np.int64)
            product = np.full(k, prods["Zephyr Trail Shoe"])
            aspect = sarr(("comfort", "fit", "price"))[rng.integers(0, 3, k)]
        elif name == "borealis_firmware":
            intent = sarr(("complaint", "question"))[rng.choice(2, k, p=[0.75, 0.25])]
            entity_kind = np.zeros(k, np.int64)
            product = np.full(k, prods["Borealis GPS Watch"])
            aspect = sarr(("app", "battery"))[rng.choice(2, k, p=[0.8, 0.2])]
        else:
            intent = sarr(("complaint", "question"))[rng.choice(2, k, p=[0.8, 0.2])]
            entity_kind = np.ones(k, np.int64)
            product = np.full(k, -1)
            aspect = np.full(k, "delivery", dtype=S)
        sentiment = np.where(
            intent == "praise",
            "positive",
            np.where(
                intent == "complaint",
                "negative",
                np.where((intent == "question") & (name != "zephyr_launch"), "negative", "neutral"),
            ),
        )
        sentiment = sarr(sentiment)
        lang = np.where(np.isin(aspect, sarr(supported_aspects("de"))), lang, "en").astype(S)
        out.append(
            _describe(
                ctx,
                author,
                at,
                lang,
                intent,
                sentiment,
                entity_kind,
                product,
                np.zeros(k, np.int64),
                platform,
                ev,
                aspect=aspect,
            )
        )
    return out


def _petition(
    ctx: PostContext, author: np.ndarray, at: np.ndarray, platform: np.ndarray, ev: np.ndarray
) -> Batch:
    """A copy-paste campaign by real people: same words, not spam."""
    k = len(author)
    handles = sarr([ctx.cat.brand.handles[p] for p in PLATFORMS])[platform]
    text = cat(
        "Dear @",
        handles,
        ", every order still comes wrapped in plastic. It's time "
        "for plastic-free packaging. #PlasticFreeNordlicht",
    )
    return Batch(
        author=author,
        at=at,
        text=text,
        lang=np.full(k, "en", dtype=S),
        intent=np.full(k, "suggestion", dtype=S),
        sentiment=np.full(k, "negative", dtype=S),
        topic=np.full(k, "sustainability", dtype=S),
        entity=np.full(k, ctx.cat.brand.name, dtype=S),
        product=np.full(k, -1),
        company=np.zeros(k, np.int64),
        aspect=np.full(k, "sustainability", dtype=S),
        idea=np.full(k, "plastic_free", dtype=S),
        sarcastic=np.zeros(k, bool),
        is_spam=np.zeros(k, bool),
        reply_to=np.full(k, -1),
        reshare_of=np.full(k, -1),
        event=ev,
    )


def brand_posts(ctx: PostContext, n: int) -> Batch:
    rng = ctx.rng
    brand = ctx.brand_account[ctx.brand_account >= 0]
    author = brand[rng.integers(0, len(brand), n)]
    at = START + (rng.random(n) * (END - START)).astype(np.int64)
    product = rng.integers(0, len(ctx.cat.products), n)
    tpl = sarr(phrases.BRAND_POSTS)[rng.integers(0, len(phrases.BRAND_POSTS), n)]
    names = ctx.product_names[product]
    tags = sarr(ctx.cat.brand.hashtags)[rng.integers(0, len(ctx.cat.brand.hashtags), n)]
    text = np.strings.replace(np.strings.replace(tpl, "{p}", names), "{h}", tags)
    uses_p = np.strings.find(tpl, "{p}") >= 0
    sentiment = np.where(rng.random(n) < 0.6, "positive", "neutral").astype(S)
    return Batch(
        author=author,
        at=at,
        text=text.astype(S),
        lang=np.full(n, "en", dtype=S),
        intent=np.full(n, "other", dtype=S),
        sentiment=sentiment,
        topic=np.full(n, "announcement", dtype=S),
        entity=np.where(uses_p, names, ctx.cat.brand.name).astype(S),
        product=np.where(uses_p, product, -1),
        company=np.zeros(n, np.int64),
        aspect=np.full(n, "announcement", dtype=S),
        idea=np.full(n, "", dtype=S),
        sarcastic=np.zeros(n, bool),
        is_spam=np.zeros(n, bool),
        reply_to=np.full(n, -1),
        reshare_of=np.full(n, -1),
        event=np.full(n, "", dtype=S),
    )


def spam(ctx: PostContext, n_total: int) -> Batch:
    """Bots posting links and promo codes, mostly in copy-paste waves; a few resellers."""
    rng, acc = ctx.rng, ctx.accounts
    bots = np.flatnonzero(acc.kind == BOT)
    resellers = np.flatnonzero((acc.kind == BYSTANDER) & (rng.random(len(acc)) < 0.01))
    n_campaigns = int(np.clip(4 + n_total // 600, 4, 40))
    parts = []
    per_campaign = max(5, int(0.7 * n_total / n_campaigns))
    for _ in range(n_campaigns):
        plat = acc.platform[bots[rng.integers(0, len(bots))]]
        pool = bots[acc.platform[bots] == plat]
        k = int(rng.integers(per_campaign // 2, per_campaign * 3 // 2 + 1))
        t0 = START + int(rng.random() * (END - START - 12 * DAY))
        author = pool[rng.integers(0, len(pool), k)]
        at = t0 + (rng.random(k) * rng.uniform(2, 10) * DAY).astype(np.int64)
        tpl = np.full(k, int(rng.integers(0, len(phrases.SPAM))))
        same_code = rng.random() < 0.5
        parts.append((author, at, tpl, same_code))
    k = max(5, n_total - sum(len(p[0]) for p in parts))
    pool = np.concatenate([bots, resellers])
    author = pool[rng.integers(0, len(pool), k)]
    at = START + (rng.random(k) * (END - START)).astype(np.int64)
    parts.append((author, at, rng.integers(0, len(phrases.SPAM), k), False))

    batches = []
    for author, at, tpl, same_code in parts:
        k = len(author)
        product = rng.integers(0, len(ctx.cat.products), k)
        if same_code:
            product[:] = product[0]
        templates = sarr([t for t, _ in phrases.SPAM])[tpl]
        sentiment = sarr([s for _, s in phrases.SPAM])[tpl]
        domain = sarr(phrases.SPAM_DOMAINS)[rng.integers(0, len(phrases.SPAM_DOMAINS), k)]
        alphabet = sarr(list("ABCDEFGHJKLMNPQRSTUVWXYZ23456789"))
        code = cat(*[alphabet[rng.integers(0, len(alphabet), k)] for _ in range(5)])
        if same_code:
            domain[:] = domain[0]
            code[:] = code[0]
        url = cat("https://", domain, code)
        pct = sarr(rng.choice([30, 40, 50, 60, 70, 80], k).astype(str))
        left = sarr(rng.integers(2, 9, k).astype(str))
        text = templates
        uses_p = np.strings.find(text, "{p}") >= 0
        uses_b = np.strings.find(text, "{b}") >= 0
        for slot, values in (
            ("{p}", ctx.product_names[product]),
            ("{b}", np.full(k, ctx.cat.brand.name, dtype=S)),
            ("{url}", url),
            ("{code}", cat("SAVE", pct, "-", code)),
            ("{pct}", pct),
            ("{n}", left),
        ):
            text = np.strings.replace(text, slot, values)
        entity = np.where(
            uses_p, ctx.product_names[product], np.where(uses_b, ctx.cat.brand.name, "")
        ).astype(S)
        batches.append(
            Batch(
                author=author,
                at=np.minimum(at, END - 1),
                text=text.astype(S),
                lang=np.full(k, "en", dtype=S),
                intent=np.full(k, "spam", dtype=S),
                sentiment=sentiment,
                topic=np.full(k, "promo", dtype=S),
                entity=entity,
                product=np.where(uses_p, product, -1),
                company=np.zeros(k, np.int64),
                aspect=np.full(k, "promo", dtype=S),
                idea=np.full(k, "", dtype=S),
                sarcastic=np.zeros(k, bool),
                is_spam=np.ones(k, bool),
                reply_to=np.full(k, -1),
                reshare_of=np.full(k, -1),
                event=np.full(k, "", dtype=S),
            )
        )
    return concat(batches)
