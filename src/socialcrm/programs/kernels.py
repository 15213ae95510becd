"""Compiled inner loops (numba): reverse-reachable sets, greedy coverage, cascades,
counting sorts for building graphs.

Every random draw comes from a SplitMix64 stream seeded by ``(seed, item index)``, so a
batch of RR sets or simulations is the same whatever the number of threads that split it;
the functions release the GIL (``nogil``) and are run on threads by the callers.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(inline="always", cache=True)
def _mix(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always", cache=True)
def _stream(seed: np.uint64, index: np.int64) -> np.uint64:
    return _mix(seed ^ _mix(np.uint64(index) * _GOLDEN + _GOLDEN))


@njit(inline="always", cache=True)
def _uniform(state: np.uint64) -> tuple[np.uint64, float]:
    state = state + _GOLDEN
    return state, float(_mix(state) >> _S11) * _INV53


@njit(inline="always", cache=True)
def _geometric_skip(state: np.uint64, logq: float) -> tuple[np.uint64, np.int64]:
    """Failures before the next success of a coin with log(1-p) = logq."""
    state, r = _uniform(state)
    if r <= 0.0:
        r = _INV53
    return state, np.int64(np.log(r) / logq)


@njit(nogil=True, cache=True)
def rr_sets_ic(
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    in_p: np.ndarray,
    in_uniform: np.ndarray,
    seed: np.uint64,
    first: np.int64,
    count: np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` IC reverse-reachable sets, numbered from ``first``: (nodes, offsets)."""
    n = in_ptr.shape[0] - 1
    mark = np.full(n, -1, dtype=np.int64)
    cap = max(np.int64(1024), count * 8)
    nodes = np.empty(cap, dtype=np.int32)
    offsets = np.empty(count + 1, dtype=np.int64)
    size = np.int64(0)
    for s in range(count):
        offsets[s] = size
        state = _stream(seed, first + s)
        state, r = _uniform(state)
        root = min(np.int64(r * n), n - 1)
        if size + 1 > cap:
            cap *= 2
            grown = np.empty(cap, dtype=np.int32)
            grown[:size] = nodes[:size]
            nodes = grown
        mark[root] = s
        nodes[size] = root
        head = size
        size += 1
        while head < size:
            v = nodes[head]
            head += 1
            lo = in_ptr[v]
            hi = in_ptr[v + 1]
            pu = in_uniform[v]
            logq = 0.0
            if pu >= 1.0:
                j = lo
                step_geo = False
            elif pu > 0.0:
                step_geo = True
                logq = np.log1p(-pu)
                state, skip = _geometric_skip(state, logq)
                j = lo + skip
            else:
                step_geo = False
                j = lo
            while j < hi:
                if not step_geo and pu < 1.0:
                    state, r = _uniform(state)
                    if r >= in_p[j]:
                        j += 1
                        continue
                u = in_src[j]
                if mark[u] != s:
                    mark[u] = s
                    if size + 1 > cap:
                        cap *= 2
                        grown = np.empty(cap, dtype=np.int32)
                        grown[:size] = nodes[:size]
                        nodes = grown
                    nodes[size] = u
                    size += 1
                if step_geo:
                    state, skip = _geometric_skip(state, logq)
                    j += 1 + skip
                else:
                    j += 1
    offsets[count] = size
    return nodes[:size].copy(), offsets


@njit(nogil=True, cache=True)
def rr_sets_lt(
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    in_p: np.ndarray,
    seed: np.uint64,
    first: np.int64,
    count: np.int64,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` LT reverse-reachable sets: a random walk choosing at most one in-edge."""
    n = in_ptr.shape[0] - 1
    mark = np.full(n, -1, dtype=np.int64)
    cap = max(np.int64(1024), count * 4)
    nodes = np.empty(cap, dtype=np.int32)
    offsets = np.empty(count + 1, dtype=np.int64)
    size = np.int64(0)
    for s in range(count):
        offsets[s] = size
        state = _stream(seed, first + s)
        state, r = _uniform(state)
        v = min(np.int64(r * n), n - 1)
        while True:
            mark[v] = s
            if size + 1 > cap:
                cap *= 2
                grown = np.empty(cap, dtype=np.int32)
                grown[:size] = nodes[:size]
                nodes = grown
            nodes[size] = v
            size += 1
            state, r = _uniform(state)
            nxt = -1
            acc = 0.0
            for j in range(in_ptr[v], in_ptr[v + 1]):
                acc += in_p[j]
                if r < acc:
                    nxt = in_src[j]
                    break
            if nxt < 0 or mark[nxt] == s:
                break
            v = nxt
    offsets[count] = size
    return nodes[:size].copy(), offsets


@njit(nogil=True, cache=True)
def invert(nodes: np.ndarray, offsets: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Node → RR sets containing it, as CSR (ptr, set ids)."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for x in nodes:
        ptr[x + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    sets = np.empty(nodes.shape[0], dtype=np.int32)
    for s in range(offsets.shape[0] - 1):
        for j in range(offsets[s], offsets[s + 1]):
            x = nodes[j]
            sets[fill[x]] = s
            fill[x] += 1
    return ptr, sets


@njit(nogil=True, cache=True)
def cover(
    node: int,
    inv_ptr: np.ndarray,
    inv_sets: np.ndarray,
    nodes: np.ndarray,
    offsets: np.ndarray,
    covered: np.ndarray,
    gain: np.ndarray,
) -> np.int64:
    """Mark the sets ``node`` covers and lower their members' gains; return how many."""
    newly = np.int64(0)
    for i in range(inv_ptr[node], inv_ptr[node + 1]):
        s = inv_sets[i]
        if covered[s]:
            continue
        covered[s] = True
        newly += 1
        for j in range(offsets[s], offsets[s + 1]):
            gain[nodes[j]] -= 1
    return newly


@njit(nogil=True, cache=True)
def coverage(seeds: np.ndarray, n: int, nodes: np.ndarray, offsets: np.ndarray) -> np.int64:
    """RR sets that contain at least one seed."""
    is_seed = np.zeros(n, dtype=np.bool_)
    for x in seeds:
        is_seed[x] = True
    hit = np.int64(0)
    for s in range(offsets.shape[0] - 1):
        for j in range(offsets[s], offsets[s + 1]):
            if is_seed[nodes[j]]:
                hit += 1
                break
    return hit


@njit(nogil=True, cache=True)
def simulate(
    out_ptr: np.ndarray,
    out_dst: np.ndarray,
    out_p: np.ndarray,
    in_ptr: np.ndarray,
    in_src: np.ndarray,
    in_p: np.ndarray,
    linear_threshold: bool,
    seeds: np.ndarray,
    seed: np.uint64,
    first: np.int64,
    count: np.int64,
    max_hops: int,
) -> tuple[np.ndarray, np.ndarray]:
    """``count`` forward cascades from ``seeds``: (spread per run, runs × hop counts).

    IC flips one coin per edge out of each newly active node. LT uses the equivalent
    live-edge form (Kempe et al. 2003): each node keeps at most one incoming edge, drawn
    once per run when first needed, and becomes active if that edge's source is active.
    Hops beyond ``max_hops`` are counted in the last column.
    """
    n = out_ptr.shape[0] - 1
    active = np.full(n, -1, dtype=np.int64)
    chosen_at = np.full(n, -1, dtype=np.int64)
    chosen = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int32)
    hop = np.empty(n, dtype=np.int32)
    spread = np.empty(count, dtype=np.int64)
    by_hop = np.zeros((count, max_hops + 1), dtype=np.int64)
    for s in range(count):
        run = first + s
        state = _stream(seed, run)
        size = 0
        for x in seeds:
            if active[x] != run:
                active[x] = run
                queue[size] = x
                hop[size] = 0
                size += 1
        by_hop[s, 0] = size
        head = 0
        while head < size:
            u = queue[head]
            h = hop[head] + 1
            head += 1
            for j in range(out_ptr[u], out_ptr[u + 1]):
                v = out_dst[j]
                if active[v] == run:
                    continue
                if linear_threshold:
                    if chosen_at[v] != run:
                        chosen_at[v] = run
                        state, r = _uniform(state)
                        pick = -1
                        acc = 0.0
                        for i in range(in_ptr[v], in_ptr[v + 1]):
                            acc += in_p[i]
                            if r < acc:
                                pick = in_src[i]
                                break
                        chosen[v] = pick
                    if chosen[v] != u:
                        continue
                else:
                    state, r = _uniform(state)
                    if r >= out_p[j]:
                        continue
                active[v] = run
                queue[size] = v
                hop[size] = h
                size += 1
                by_hop[s, min(h, max_hops)] += 1
        spread[s] = size
    return spread, by_hop


@njit(nogil=True, cache=True)
def stable_order(keys: np.ndarray, n: int) -> np.ndarray:
    """``np.argsort(keys, kind="stable")`` for keys in ``0..n-1``, by counting: linear in
    keys + n, where a comparison sort of millions of edges grows faster than they do."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for k in keys:
        ptr[k + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    out = np.empty(keys.shape[0], dtype=np.int64)
    for i in range(keys.shape[0]):
        k = keys[i]
        out[ptr[k]] = i
        ptr[k] += 1
    return out


@njit(nogil=True, cache=True)
def reshare_probabilities(
    src: np.ndarray, dst: np.ndarray, reshares: np.ndarray, posts: np.ndarray, strength: float
) -> np.ndarray:
    """Goyal et al.'s p(u→v) = (A(u→v) + s·p0) / (A(u) + s) on unique numbered edges,
    with ``posts[u]`` = A(u) and p0 = 1/in-degree(v), in one pass (numpy's version,
    :func:`socialcrm.programs.social_graph.reshare_probabilities`, makes a temporary
    array of 10M edges per operation)."""
    indeg = np.zeros(posts.shape[0], dtype=np.int64)
    for v in dst:
        indeg[v] += 1
    out = np.empty(src.shape[0], dtype=np.float64)
    for j in range(src.shape[0]):
        prior = 1.0 / indeg[dst[j]]
        a_u = posts[src[j]]
        # a reshare is one of u's posts propagated; never more than u's posts
        a_uv = min(float(reshares[j]), max(a_u, 0.0))
        a_u = max(a_u, a_uv)
        denom = a_u + strength
        out[j] = (a_uv + strength * prior) / max(denom, 1e-12) if denom > 0 else prior
    return out
