"""Social accounts: the persons' own handles, bystanders, amplifiers, bots and the brands.

Handles are unique per platform in their canonical form (what ingestion's handle
normaliser produces: lower case, no ``@``). ``display`` is how the platform shows the
handle in posts and follows; customers type yet other variants into forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from socialcrm.store.schemas import PLATFORMS
from socialcrm.synth.catalogue import load_catalogue
from socialcrm.synth.names import COUNTRIES, HANDLE_WORDS, MASTODON_INSTANCES
from socialcrm.synth.people import DETRACTOR, Persons
from socialcrm.synth.strings import S, cat, duplicated, map_unique, pick, sarr, slug, stream, zpad

CUSTOMER, BYSTANDER, AMPLIFIER, BOT, BRAND, COMPETITOR = range(6)
KIND_NAMES = ("customer", "bystander", "amplifier", "bot", "brand", "competitor")
PLATFORM_WEIGHTS = np.array([0.26, 0.12, 0.32, 0.09, 0.09, 0.12])
"""twitter, facebook, instagram, linkedin, mastodon, bluesky (order of ``PLATFORMS``)."""
TW, FB, IG, LI, MA, BS = range(6)
_AMPLIFIER_SUFFIX = (
    "mag",
    "lab",
    "daily",
    "club",
    "reviews",
    "hq",
    "weekly",
    "tv",
    "outdoors",
    "collective",
)
_BOT_WORDS = ("deals", "promo", "free", "giveaway", "sale", "bargain", "coupon", "win", "gift")


@dataclass
class Accounts:
    platform: np.ndarray
    """Index into ``PLATFORMS``."""
    handle: np.ndarray
    """Canonical handle: lower case, no ``@``; Mastodon ``user@instance``."""
    display: np.ndarray
    person: np.ndarray
    """Index of the owning person, -1 for accounts that belong to no customer."""
    kind: np.ndarray
    community: np.ndarray
    """Index into the catalogue's communities, -1 for brands and bots."""
    lang: np.ndarray
    fitness: np.ndarray
    """Attractiveness as a follow target: heavy-tailed, so audiences are."""

    def __len__(self) -> int:
        return len(self.handle)


def _user_part(
    rng: np.random.Generator, first: np.ndarray, last: np.ndarray, styles: np.ndarray
) -> np.ndarray:
    """A handle's user part from a name (or from unrelated words), before platform rules."""
    n = len(first)
    f = map_unique(first, slug)
    lst = map_unique(last, slug)
    w1 = pick(rng, HANDLE_WORDS, n)
    w2 = pick(rng, HANDLE_WORDS, n)
    nn = zpad(rng.integers(0, 100, n), 2)
    yy = sarr(rng.integers(1960, 2006, n).astype(str))
    options = [
        cat(f, lst),
        cat(f, "_", lst),
        cat(np.strings.slice(f, 0, 1), lst),
        cat(f, lst, nn),
        cat(f, ".", lst),
        cat(f, "_", w1),
        cat(w1, w2, nn),
        cat(w1, "_", f),
        cat(lst, np.strings.slice(f, 0, 1), yy),
        cat(f, "runs", nn),
    ]
    out = np.full(n, "", dtype=S)
    for i, o in enumerate(options):
        m = styles == i
        out[m] = o[m]
    return out


def _platform_form(user: np.ndarray, platform: np.ndarray) -> np.ndarray:
    """Apply each platform's character and length rules to a user part."""
    u = sarr(user)
    tw = np.strings.slice(np.strings.replace(u, ".", "_"), 0, 15)
    ig = np.strings.slice(u, 0, 30)
    fb = np.strings.replace(u, "_", ".")
    li = np.strings.replace(np.strings.replace(u, "_", "-"), ".", "-")
    ma = np.strings.slice(np.strings.replace(u, ".", "_"), 0, 30)
    bs = np.strings.replace(np.strings.replace(u, "_", "-"), ".", "-")
    forms = [tw, fb, ig, li, ma, bs]
    out = np.full(len(u), "", dtype=S)
    for p, f in enumerate(forms):
        m = platform == p
        out[m] = f[m]
    return out


def _dedupe(
    rng: np.random.Generator, platform: np.ndarray, user: np.ndarray, taken: set[tuple[int, str]]
) -> np.ndarray:
    """Append digits until every (platform, user) pair is unique and not ``taken``."""
    user = sarr(user)
    taken_keys = sarr(sorted(f"{p}:{u}" for p, u in taken))
    for attempt in range(40):
        key = cat(sarr(platform.astype(str)), ":", user)
        dup = duplicated(key)
        bad = dup | np.isin(key, taken_keys)
        if not bad.any():
            return user
        # Up to three digits first (as people do); a name so common that its prefix has
        # used up a thousand suffixes gets one more digit every few attempts, so a
        # million customers still find free handles (Twitter's 15 characters included).
        digits = 3 + attempt // 4
        extra = sarr(rng.integers(1, 10**digits, int(bad.sum())).astype(str))
        sep = np.where(platform[bad] == LI, "-", "")
        room = np.where(platform[bad] == TW, 15 - digits - 1, 30 - digits - 1)
        user[bad] = cat(np.strings.slice(user[bad], 0, room), sep, extra)
    raise RuntimeError("could not make handles unique")


def _finish(
    rng: np.random.Generator, platform: np.ndarray, user: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(canonical handle, display form) from unique user parts."""
    n = len(user)
    instance = pick(rng, MASTODON_INSTANCES, n, p=_instance_weights())
    handle = np.where(
        platform == MA,
        cat(user, "@", instance),
        np.where(platform == BS, cat(user, ".bsky.social"), user),
    ).astype(S)
    # Twitter shows the case its user chose; everyone else shows lower case.
    fancy = (platform == TW) & (rng.random(n) < 0.35)
    display = np.where(fancy, np.strings.capitalize(handle), handle).astype(S)
    return handle, display


def _instance_weights() -> np.ndarray:
    w = np.array([0.4, 0.12, 0.1, 0.1, 0.1, 0.06, 0.07, 0.05])[: len(MASTODON_INSTANCES)]
    out: np.ndarray = w / w.sum()
    return out


def _choose_platforms(
    rng: np.random.Generator, n_people: int, k: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct platforms per person, ``k`` of them, drawn by weight (Gumbel top-k)."""
    keys = np.log(PLATFORM_WEIGHTS)[None, :] + rng.gumbel(size=(n_people, len(PLATFORMS)))
    ranked = np.argsort(-keys, axis=1)
    owner = np.repeat(np.arange(n_people), k)
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(k) - k, k)
    return owner, ranked[owner, rank]


def make_accounts(persons: Persons, seed: int) -> Accounts:
    rng = stream(seed, "accounts")
    cat_ = load_catalogue()
    n = persons.n
    n_comm = len(cat_.communities)

    # Persons' own accounts: 0-3 platforms each, more for engaged people.
    base = rng.choice(4, n, p=[0.36, 0.36, 0.19, 0.09])
    k = np.clip(base + (rng.random(n) < persons.engagement * 0.4), 0, 3)
    owner, plat = _choose_platforms(rng, n, k)
    styles = rng.choice(
        10, len(owner), p=[0.14, 0.12, 0.1, 0.12, 0.1, 0.08, 0.14, 0.08, 0.06, 0.06]
    )
    user_p = _user_part(rng, persons.first[owner], persons.last[owner], styles)

    # Bystanders: people who never bought, some of them amplifiers with big audiences.
    nb = max(300, int(0.3 * n))
    bc = rng.choice(len(COUNTRIES), nb)
    bf = sarr([x for c in COUNTRIES for x in c.female + c.male])
    bl = sarr([x for c in COUNTRIES for x in c.last])
    b_first = bf[rng.integers(0, len(bf), nb)]
    b_last = bl[rng.integers(0, len(bl), nb)]
    b_plat = rng.choice(len(PLATFORMS), nb, p=PLATFORM_WEIGHTS / PLATFORM_WEIGHTS.sum())
    # Amplifiers grow slower than the population: a few big audiences, not many small.
    b_amp = rng.random(nb) < max(2 * len(PLATFORMS), 0.5 * np.sqrt(n)) / nb
    b_amp[: len(PLATFORMS) * 2] = True  # at least two amplifiers per platform
    b_plat[: len(PLATFORMS) * 2] = np.tile(np.arange(len(PLATFORMS)), 2)
    b_user = _user_part(rng, b_first, b_last, rng.choice(10, nb))
    amp_user = cat(
        pick(rng, HANDLE_WORDS, nb),
        np.where(rng.random(nb) < 0.5, "", "_"),
        pick(rng, _AMPLIFIER_SUFFIX, nb),
    )
    b_user = np.where(b_amp, amp_user, b_user).astype(S)
    b_comm = rng.integers(0, n_comm, nb)

    # Spam bots: mostly on Twitter and Instagram.
    nbot = max(20, int(0.012 * n))
    bot_plat = rng.choice(len(PLATFORMS), nbot, p=[0.55, 0.0, 0.3, 0.0, 0.05, 0.1])
    bot_user = cat(
        pick(rng, _BOT_WORDS, nbot),
        np.where(rng.random(nbot) < 0.5, "_", ""),
        pick(rng, HANDLE_WORDS, nbot),
        zpad(rng.integers(0, 10000, nbot), 4),
    )

    platform = np.concatenate([plat, b_plat, bot_plat])
    user = cat(np.concatenate([user_p, b_user, bot_user]))
    user = _platform_form(user, platform)
    company_handles = {
        (p, h)
        for c in (cat_.brand, *cat_.competitors)
        for p, h in ((PLATFORMS.index(k), v) for k, v in c.handles.items())
    }
    taken = {(p, h.split("@")[0].removesuffix(".bsky.social")) for p, h in company_handles}
    user = _dedupe(rng, platform, user, taken)
    handle, display = _finish(rng, platform, user)

    n_p, n_b = len(owner), nb
    kind = np.concatenate(
        [np.full(n_p, CUSTOMER), np.where(b_amp, AMPLIFIER, BYSTANDER), np.full(nbot, BOT)]
    )
    person = np.concatenate([owner, np.full(n_b + nbot, -1)])
    community = np.concatenate([persons.community[owner], b_comm, np.full(nbot, -1)])
    p_lang = sarr([c.lang for c in COUNTRIES])[persons.country[owner]]
    b_lang = sarr([c.lang for c in COUNTRIES])[bc]
    lang = np.concatenate([p_lang, b_lang, np.full(nbot, "en", dtype=S)]).astype(S)

    # Fitness: log-normal base, lurkers nearly invisible, amplifiers enormous.
    total = len(platform)
    fitness = rng.lognormal(0.0, 1.0, total)
    lurker = (kind <= BYSTANDER) & (rng.random(total) < 0.45)
    fitness[lurker] *= 0.05
    is_p = kind == CUSTOMER
    fitness[is_p] *= 0.3 + 2.0 * persons.engagement[owner]
    loud_detractor = (
        is_p & (persons.attitude[person.clip(0)] == DETRACTOR) & (rng.random(total) < 0.12)
    )
    fitness[loud_detractor] *= 25.0
    n_amp = int((kind == AMPLIFIER).sum())
    fitness[kind == AMPLIFIER] = 150.0 * (1.0 + rng.pareto(1.2, n_amp)) * (1 + np.log10(n))
    fitness[kind == BOT] *= 0.01

    # The brand and its competitors, one account per platform each.
    companies = [(BRAND, cat_.brand), *[(COMPETITOR, c) for c in cat_.competitors]]
    c_plat, c_handle, c_kind = [], [], []
    for kd, comp in companies:
        for pname, h in comp.handles.items():
            c_plat.append(PLATFORMS.index(pname))
            c_handle.append(h)
            c_kind.append(kd)
    c_plat_a = np.array(c_plat)
    c_handle_a = sarr(c_handle)
    c_display = np.where(c_plat_a == TW, np.strings.capitalize(c_handle_a), c_handle_a)
    m = len(c_plat)
    return Accounts(
        platform=np.concatenate([platform, c_plat_a]),
        handle=np.concatenate([handle, c_handle_a]).astype(S),
        display=np.concatenate([display, c_display]).astype(S),
        person=np.concatenate([person, np.full(m, -1)]),
        kind=np.concatenate([kind, np.array(c_kind)]),
        community=np.concatenate([community, np.full(m, -1)]),
        lang=np.concatenate([lang, np.full(m, "en", dtype=S)]).astype(S),
        fitness=np.concatenate([fitness, np.full(m, 1.0)]),
    )
