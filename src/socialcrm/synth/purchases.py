"""Orders from a buy-till-you-die process (BG/NBD) with Gamma-Gamma spend.

Each buyer purchases as a Poisson process with rate ``lambda ~ Gamma`` while alive and,
after every purchase, drops out with probability ``p ~ Beta`` (detractors more often).
Spend per order is Gamma with a per-person scale drawn from a Gamma, as in Fader and
Hardie's Gamma-Gamma model. The latent parameters and dropout times are the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from socialcrm.synth.catalogue import load_catalogue
from socialcrm.synth.clock import DAY, END, YEAR_DAYS
from socialcrm.synth.identities import Identities
from socialcrm.synth.names import COUNTRIES
from socialcrm.synth.people import DETRACTOR, Persons
from socialcrm.synth.records import LOYALTY, SHOP, Records
from socialcrm.synth.strings import S, cat, sarr, stream, zpad

CHANNELS = ("online", "app", "store")
ONLINE, APP, STORE = range(3)
FX = {"EUR": 1.0, "GBP": 0.86, "USD": 1.08}
GG_SHAPE = 5.0
"""Gamma-Gamma ``p``: shape of spend per order around the person's mean."""
GG_Q, GG_GAMMA = 3.5, 55.0
"""Gamma-Gamma ``q`` and ``gamma``: the population of per-person spend scales."""


@dataclass
class Truth:
    person: np.ndarray
    lam: np.ndarray
    """Purchases per year while alive."""
    p_dropout: np.ndarray
    dropped_at: np.ndarray
    """Seconds since epoch; -1 when still alive at the end of the data."""
    n_purchases: np.ndarray
    first_order_at: np.ndarray
    mean_spend: np.ndarray
    """Expected spend per order in EUR."""


@dataclass
class Orders:
    """One row per order line of the orders table (purchases, cancellations, refunds)."""

    order_id: np.ndarray
    person: np.ndarray
    record: np.ndarray
    """Customer record index, -1 for guest checkouts."""
    at: np.ndarray
    amount: np.ndarray
    currency: np.ndarray
    status: np.ndarray
    quantity: np.ndarray
    product: np.ndarray
    """Index into the catalogue's products."""
    channel: np.ndarray
    email: np.ndarray
    """Buyer email as written, '' when absent."""
    offset_hours: np.ndarray
    """UTC offset the timestamp is written with; 99 means ``Z``."""
    truth: Truth

    def __len__(self) -> int:
        return len(self.order_id)


def _latent(
    rng: np.random.Generator, persons: Persons, buyers: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = len(buyers)
    heavy = rng.random(b) < 0.04
    lam = np.where(heavy, rng.gamma(3.0, 4.0, b), rng.gamma(2.2, 1.1, b))
    lam *= 0.7 + 0.6 * persons.engagement[buyers]
    detractor = persons.attitude[buyers] == DETRACTOR
    p = np.where(detractor, rng.beta(2.5, 5.0, b), rng.beta(1.2, 5.5, b))
    nu = rng.gamma(GG_Q, 1.0 / GG_GAMMA, b)
    return lam, p, nu


def _purchase_times(
    rng: np.random.Generator, t0: np.ndarray, lam: np.ndarray, p: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner index, purchase time) of all purchases, and each owner's dropout time."""
    b = len(t0)
    horizon = (END - t0) / (YEAR_DAYS * DAY)
    lives = rng.geometric(p)  # purchases made before dropping out, if time were endless
    arrivals = rng.poisson(lam * horizon)
    repeats = np.minimum(lives - 1, arrivals)
    owner = np.repeat(np.arange(b), arrivals)
    u = rng.random(len(owner))
    key = owner + u * 0.999
    order = np.argsort(key, kind="stable")
    owner, u = owner[order], u[order]
    rank = np.arange(len(owner)) - np.repeat(np.cumsum(arrivals) - arrivals, arrivals)
    keep = rank < repeats[owner]
    owner, u = owner[keep], u[keep]
    times = t0[owner] + (u * (END - t0[owner])).astype(np.int64)
    all_owner = np.concatenate([np.arange(b), owner])
    all_time = np.concatenate([t0, times])
    # A day profile: people shop at lunch and in the evening.
    hour_w = np.array(
        [
            1,
            0.5,
            0.3,
            0.2,
            0.2,
            0.3,
            0.8,
            1.5,
            2.5,
            3,
            3.2,
            3.6,
            4.5,
            4.2,
            3.4,
            3.2,
            3.3,
            3.8,
            4.5,
            5.5,
            6,
            5,
            3.5,
            2,
        ]
    )
    hour = rng.choice(24, len(all_time), p=hour_w / hour_w.sum())
    secs = hour * 3600 + rng.integers(0, 3600, len(all_time))
    day = all_time // DAY * DAY
    all_time = np.minimum(day + secs, END - 1)
    all_time[:b] = t0  # the first order is the join
    order = np.lexsort((all_time, all_owner))
    all_owner, all_time = all_owner[order], all_time[order]
    n = np.bincount(all_owner, minlength=b)
    last = np.cumsum(n) - 1
    dropped = lives - 1 < arrivals
    dropped_at = np.where(dropped, all_time[last], -1)
    return all_owner, all_time, dropped_at


def make_orders(persons: Persons, records: Records, identities: Identities, seed: int) -> Orders:
    rng = stream(seed, "orders")
    cat_ = load_catalogue()
    buyers = np.flatnonzero(persons.buyer)
    lam, p, nu = _latent(rng, persons, buyers)
    t0 = persons.join[buyers]
    owner, at, dropped_at = _purchase_times(rng, t0, lam, p)
    person = buyers[owner]
    n = len(person)

    # Spend: Gamma-Gamma in EUR, then the main product and the quantity it implies.
    z = rng.gamma(GG_SHAPE, 1.0 / nu[owner])
    prices = np.array([pr.price_eur for pr in cat_.products])
    by_price = np.argsort(prices)
    top = np.clip(np.searchsorted(prices[by_price], z * 1.1) - 1, 0, len(prices) - 1)
    pos = np.minimum((rng.random(n) ** 0.6 * (top + 1)).astype(np.int64), top)
    product = by_price[pos]
    quantity = np.maximum(1, np.round(z / prices[product] * rng.uniform(0.6, 1.0, n))).astype(
        np.int64
    )
    quantity = np.minimum(quantity, 6)

    country = persons.country[person]
    ccy_by_country = sarr([c.currency for c in COUNTRIES])
    currency = ccy_by_country[country]
    fx = np.array([FX[c.currency] for c in COUNTRIES])[country]
    amount = np.round(z * fx, 2)

    # Which record the order lands on: the shop account, a second shop account opened
    # later, or the loyalty card at a store.
    shop_primary = np.full(persons.n, -1)
    second_shop = np.full(persons.n, -1)
    loyalty = np.full(persons.n, -1)
    is_shop = records.source == SHOP
    prim_shop = is_shop & records.primary
    shop_primary[records.person[prim_shop]] = np.flatnonzero(prim_shop)
    other_shop = is_shop & ~records.primary
    second_shop[records.person[other_shop]] = np.flatnonzero(other_shop)
    is_loy = records.source == LOYALTY
    loyalty[records.person[is_loy]] = np.flatnonzero(is_loy)
    created = records.created_at
    r = rng.random(n)
    channel = np.where(r < 0.72, ONLINE, np.where(r < 0.9, APP, STORE))
    lo = loyalty[person]
    has_card = (lo >= 0) & (created[lo.clip(0)] <= at)
    channel = np.where((channel == STORE) & ~has_card, ONLINE, channel)
    channel = np.where(has_card & (rng.random(n) < 0.25), STORE, channel)
    record = shop_primary[person]
    sec = second_shop[person]
    use_second = (sec >= 0) & (created[sec.clip(0)] <= at) & (rng.random(n) < 0.5)
    record = np.where(use_second, sec, record)
    record = np.where(channel == STORE, lo, record)
    guest = (channel == ONLINE) & (rng.random(n) < 0.07)
    record = np.where(guest, -1, record)
    # An email comes with guest checkouts and with a quarter of the other online orders.
    with_email = guest | ((channel != STORE) & (rng.random(n) < 0.25))
    email = np.full(n, "", dtype=S)
    pe = identities.person_emails[person[with_email]]
    k = len(pe)
    rr = rng.random(k)
    email[with_email] = np.where(
        rr < 0.1, np.strings.upper(pe), np.where(rr < 0.2, cat(" ", pe), pe)
    )

    # Cancelled attempts just before some purchases; refunds some days after others.
    cancel = rng.random(n) < 0.03
    ci = np.flatnonzero(cancel)
    refund = rng.random(n) < 0.055
    ri = np.flatnonzero(refund)
    refund_at = at[ri] + ((2 + rng.exponential(10, len(ri))) * DAY).astype(np.int64)
    ri_ok = refund_at < END
    ri, refund_at = ri[ri_ok], refund_at[ri_ok]
    partial = rng.random(len(ri)) < 0.3
    refund_amount = -np.round(
        np.where(partial, amount[ri] * rng.uniform(0.2, 0.8, len(ri)), amount[ri]), 2
    )
    refund_qty = np.where(partial, np.maximum(1, quantity[ri] // 2), quantity[ri])

    src = np.concatenate([np.arange(n), ci, ri])
    status = np.concatenate(
        [np.zeros(n, np.int64), np.full(len(ci), 2), np.ones(len(ri), np.int64)]
    )
    t_all = np.concatenate([at, at[ci] - rng.integers(60, 3600, len(ci)), refund_at])
    amount_all = np.concatenate([amount, amount[ci], refund_amount])
    qty_all = np.concatenate([quantity, quantity[ci], refund_qty])

    # Ids run with time; refunds keep their order's id with a suffix.
    order = np.argsort(t_all[: n + len(ci)], kind="stable")
    seq = np.empty(n + len(ci), np.int64)
    seq[order] = np.arange(n + len(ci)) + 1
    prefix = sarr(["W", "A", "S"])[channel[src[: n + len(ci)]]]
    base_id = cat(prefix, "-", zpad(seq + 1_000_000, 7))
    order_id = np.concatenate([base_id, cat(base_id[ri], "-R")])

    # Store tills write local time with an offset; the web shop writes UTC.
    ch_all = channel[src]
    eu = np.array([c.code not in ("GB", "US") for c in COUNTRIES])[country[src]]
    gb = np.array([c.code == "GB" for c in COUNTRIES])[country[src]]
    month = (t_all.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12) + 1
    summer = (month >= 4) & (month <= 10)
    offset = np.where(eu, 1, np.where(gb, 0, -5)) + summer
    offset = np.where(ch_all == STORE, offset, np.where(ch_all == APP, 0, 99))

    truth = Truth(
        person=buyers,
        lam=lam,
        p_dropout=p,
        dropped_at=dropped_at,
        n_purchases=np.bincount(owner, minlength=len(buyers)),
        first_order_at=t0,
        mean_spend=GG_SHAPE / nu,
    )
    final = np.argsort(t_all, kind="stable")
    return Orders(
        order_id=order_id[final],
        person=person[src][final],
        record=record[src][final],
        at=t_all[final],
        amount=amount_all[final],
        currency=currency[src][final],
        status=sarr(["completed", "returned", "cancelled"])[status[final]],
        quantity=qty_all[final],
        product=product[src][final],
        channel=sarr(CHANNELS)[ch_all[final]],
        email=email[src][final],
        offset_hours=offset[final],
        truth=truth,
    )
