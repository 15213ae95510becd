"""The follower graph: interest communities and heavy-tailed audiences.

Follows are drawn per platform from a fitness model (Chung-Lu style): the chance to
follow an account is proportional to its fitness, mostly within the follower's own
community. Heavy-tailed fitness gives what a preferential-attachment process would -
a few amplifiers with thousands of followers, most accounts with almost none - in one
vectorised pass, with the community structure that influence analysis has to find.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from socialcrm.synth.accounts import (
    AMPLIFIER,
    BOT,
    BRAND,
    BYSTANDER,
    COMPETITOR,
    CUSTOMER,
    Accounts,
)
from socialcrm.synth.clock import DAY, END, SOCIAL_START
from socialcrm.synth.people import Persons
from socialcrm.synth.strings import stream

IN_COMMUNITY = 0.78
"""Share of a member's follows that stay inside their community."""


@dataclass
class Graph:
    follower: np.ndarray
    followed: np.ndarray
    since: np.ndarray
    """Seconds since epoch; -1 when the platform does not say."""
    in_degree: np.ndarray
    followers_ptr: np.ndarray
    """CSR over followed accounts: followers of ``a`` are
    ``followers_idx[followers_ptr[a]:followers_ptr[a + 1]]``."""
    followers_idx: np.ndarray

    def __len__(self) -> int:
        return len(self.follower)


def _sampler(
    group: np.ndarray, weight: np.ndarray, members: np.ndarray, n_groups: int
) -> Callable[[np.random.Generator, np.ndarray], np.ndarray]:
    """Draw members of a group with probability proportional to weight."""
    order = members[np.argsort(group[members], kind="stable")]
    g_sorted = group[order]
    cum = np.cumsum(weight[order])
    starts = np.searchsorted(g_sorted, np.arange(n_groups))
    ends = np.searchsorted(g_sorted, np.arange(n_groups), side="right")
    before = np.where(starts > 0, cum[np.maximum(starts - 1, 0)], 0.0)
    total = np.where(ends > starts, cum[np.maximum(ends - 1, 0)] - before, 0.0)

    def draw(rng: np.random.Generator, g: np.ndarray) -> np.ndarray:
        target = before[g] + rng.random(len(g)) * total[g]
        pos = np.searchsorted(cum, target, side="right")
        pos = np.clip(pos, starts[g], np.maximum(ends[g] - 1, starts[g]))
        out = order[np.minimum(pos, len(order) - 1)]
        return np.where(ends[g] > starts[g], out, -1)

    return draw


def make_graph(accounts: Accounts, persons: Persons, seed: int) -> Graph:
    rng = stream(seed, "graph")
    n = len(accounts)
    kind = accounts.kind
    plat = accounts.platform
    comm = accounts.community
    n_comm = int(comm.max()) + 1
    n_plat = int(plat.max()) + 1
    eng = np.where(accounts.person >= 0, persons.engagement[accounts.person.clip(0)], 0.3)

    # Out-degree per account.
    deg: np.ndarray = np.zeros(n)
    m = kind == CUSTOMER
    deg[m] = rng.lognormal(np.log(6.0), 0.9, m.sum()) * (0.5 + eng[m])
    m = kind == BYSTANDER
    deg[m] = rng.lognormal(np.log(8.0), 0.9, m.sum())
    m = kind == AMPLIFIER
    deg[m] = rng.lognormal(np.log(40.0), 0.6, m.sum())
    m = kind == BOT
    deg[m] = rng.lognormal(np.log(60.0), 0.5, m.sum())
    deg = np.minimum(np.round(deg), 400).astype(np.int64)

    src = np.repeat(np.arange(n), deg)
    social = np.isin(kind, [CUSTOMER, BYSTANDER, AMPLIFIER])
    members = np.flatnonzero(social)
    in_comm = (comm[src] >= 0) & (rng.random(len(src)) < IN_COMMUNITY)
    comm_group = plat * n_comm + comm.clip(0)
    draw_comm = _sampler(comm_group, accounts.fitness, members, n_plat * n_comm)
    draw_glob = _sampler(plat, accounts.fitness, members, n_plat)
    draw_any = _sampler(plat, np.ones(n), members, n_plat)
    dst = np.where(in_comm, draw_comm(rng, comm_group[src]), draw_glob(rng, plat[src]))
    bots = kind[src] == BOT
    dst[bots] = draw_any(rng, plat[src[bots]])

    # Reciprocity: many people follow back.
    back = (dst >= 0) & np.isin(kind[src], [CUSTOMER, BYSTANDER]) & (rng.random(len(src)) < 0.22)
    back &= np.isin(kind[dst.clip(0)], [CUSTOMER, BYSTANDER])
    src = np.concatenate([src, dst[back]])
    dst = np.concatenate([dst, src[: len(back)][back]])

    # The brand's and competitors' audiences, and whom the brand follows.
    company = np.flatnonzero(np.isin(kind, [BRAND, COMPETITOR]))
    comp_of: dict[int, list[int]] = {}
    for co in company:
        comp_of.setdefault(int(plat[co]), []).append(int(co))
    extra_src, extra_dst = [], []
    p_follow = {CUSTOMER: (0.12, 0.10), BYSTANDER: (0.08, 0.12), AMPLIFIER: (0.5, 0.4)}
    for p_idx, cs in comp_of.items():
        on = np.flatnonzero((plat == p_idx) & social)
        for rank, c in enumerate(cs):
            is_brand = kind[c] == BRAND
            base = np.zeros(len(on))
            for k, (pb, pc) in p_follow.items():
                base[kind[on] == k] = pb if is_brand else pc / max(rank, 1)
            if is_brand:
                base = base + 0.55 * eng[on] * (kind[on] == CUSTOMER)
            f = on[rng.random(len(on)) < base]
            extra_src.append(f)
            extra_dst.append(np.full(len(f), c))
            if is_brand:
                amps = on[kind[on] == AMPLIFIER]
                fans = on[(kind[on] == CUSTOMER) & (rng.random(len(on)) < 0.01)]
                extra_src.append(np.full(len(amps) + len(fans), c))
                extra_dst.append(np.concatenate([amps, fans]))
    src = np.concatenate([src, *extra_src])
    dst = np.concatenate([dst, *extra_dst])

    ok = (dst >= 0) & (src != dst)
    src, dst = src[ok], dst[ok]
    key = src.astype(np.int64) * n + dst
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    src, dst = src[first], dst[first]

    # When: social accounts predate the brand; a customer follows it around joining.
    e = len(src)
    since = SOCIAL_START + (rng.random(e) ** 0.7 * (END - SOCIAL_START)).astype(np.int64)
    to_brand = np.isin(kind[dst], [BRAND]) & (kind[src] == CUSTOMER)
    join = persons.join[accounts.person[src[to_brand]].clip(0)]
    since[to_brand] = np.clip(
        join + (rng.normal(20, 90, to_brand.sum()) * DAY).astype(np.int64), SOCIAL_START, END - 1
    )
    since[rng.random(e) < 0.15] = -1

    in_degree = np.bincount(dst, minlength=n)
    order = np.argsort(dst, kind="stable")
    ptr = np.concatenate([[0], np.cumsum(in_degree)])
    return Graph(
        follower=src,
        followed=dst,
        since=since,
        in_degree=in_degree,
        followers_ptr=ptr,
        followers_idx=src[order],
    )
