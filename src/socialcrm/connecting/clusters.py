"""From scored links to clusters with stable ids and a lineage of merges and splits.

A CRM's customer id is a promise: other tables, campaigns and people refer to it. So
clusters are not renumbered on every run. A cluster keeps the id it had; when two known
clusters merge, the oldest id survives and the absorbed one is recorded; when a cluster
splits (a reviewer said two records differ), the part holding most of it keeps the id
and the rest gets a new one, also recorded. Records are never dropped, only re-pointed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("match_probability", pa.float64()),
        pa.field("cluster_size", pa.int64(), nullable=False),
        pa.field("id_since", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""``customer_id`` is the resolved person; ``match_probability`` the best link that ties
the record into its cluster (null for a record alone); ``id_since`` when the id was made."""

LINEAGE_SCHEMA = pa.schema(
    [
        pa.field("event", pa.string(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("other_id", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
"""``merge``: ``other_id`` was absorbed into ``customer_id``; ``split``: ``other_id`` was
split off ``customer_id`` with ``records`` records."""

DECISIONS_SCHEMA = pa.schema(
    [
        pa.field("record_id_l", pa.string(), nullable=False),
        pa.field("record_id_r", pa.string(), nullable=False),
        pa.field("decision", pa.string(), nullable=False),
        pa.field("decided_by", pa.string()),
        pa.field("decided_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("note", pa.string()),
    ]
)
"""A person's verdict on a pair (``match`` or ``no_match``); the latest one per pair wins
and overrides the model and the rules."""


class _LineageEvent(TypedDict):
    """A row of :data:`LINEAGE_SCHEMA` before its ``at``."""

    event: str
    customer_id: str
    other_id: str
    records: int


@dataclass
class Clustering:
    clusters: pa.Table
    lineage: pa.Table
    """Only this run's events; callers append them to the history."""


def latest_decisions(decisions: pa.Table | None) -> dict[tuple[str, str], str]:
    """Pair (ordered) -> the latest decision on it."""
    if decisions is None or decisions.num_rows == 0:
        return {}
    rows = sorted(decisions.to_pylist(), key=lambda r: r["decided_at"])
    out = {}
    for r in rows:
        a, b = sorted((r["record_id_l"], r["record_id_r"]))
        out[(a, b)] = r["decision"]
    return out


def cluster_links(
    record_ids: list[str] | pa.Array,
    links: pa.Table,
    threshold: float,
    *,
    created_rank: list[str] | None = None,
    decisions: pa.Table | None = None,
    previous: pa.Table | None = None,
    now: datetime | None = None,
) -> Clustering:
    """Connected components of the accepted links, with stable ids.

    ``created_rank`` lists record ids oldest first (default: sorted ids); a new cluster
    takes the id of its oldest record. ``previous`` is the last run's clusters table.

    >>> links = pa.table({"record_id_l": ["a"], "record_id_r": ["b"],
    ...                   "match_probability": [0.97]})
    >>> c = cluster_links(["a", "b", "c"], links, 0.9).clusters
    >>> c.column("customer_id").to_pylist()
    ['a', 'a', 'c']
    """
    now = now or datetime.now(UTC)
    ids = [
        str(x) for x in (record_ids.to_pylist() if isinstance(record_ids, pa.Array) else record_ids)
    ]
    index = {r: i for i, r in enumerate(ids)}
    n = len(ids)
    decided = latest_decisions(decisions)
    prob = np.asarray(links.column("match_probability").to_numpy(zero_copy_only=False), float)
    left = links.column("record_id_l").to_pylist()
    right = links.column("record_id_r").to_pylist()
    edges: dict[tuple[int, int], float] = {}
    for a, b, p in zip(left, right, prob, strict=True):
        key = tuple(sorted((a, b)))
        verdict = decided.get(key)
        if verdict == "no_match" or (verdict is None and p < threshold):
            continue
        if a in index and b in index:
            i, j = index[a], index[b]
            edges[(i, j)] = max(edges.get((i, j), 0.0), 1.0 if verdict == "match" else p)
    for (a, b), verdict in decided.items():
        if verdict == "match" and a in index and b in index:
            edges[(index[a], index[b])] = 1.0
    src = np.fromiter((e[0] for e in edges), np.int64, len(edges))
    dst = np.fromiter((e[1] for e in edges), np.int64, len(edges))
    w = np.fromiter(edges.values(), float, len(edges))
    graph = coo_matrix((np.ones(len(edges)), (src, dst)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    best = np.full(n, np.nan)
    np.fmax.at(best, src, w)
    np.fmax.at(best, dst, w)

    rank = {r: i for i, r in enumerate(created_rank or sorted(ids))}
    members: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(label):
        members[int(lab)].append(i)
    old_id, old_since = _previous(previous)
    ids_out, since_out, events = _assign(ids, members, rank, old_id, old_since, now)
    size = np.bincount(label, minlength=n)[label]
    clusters = pa.table(
        {
            "record_id": ids,
            "customer_id": ids_out,
            "match_probability": pa.array(best, mask=np.isnan(best)),
            "cluster_size": size.astype(np.int64),
            "id_since": pa.array(since_out, pa.timestamp("us", tz="UTC")),
        },
        schema=CLUSTERS_SCHEMA,
    )
    lineage = (
        pa.Table.from_pylist([{**e, "at": now} for e in events], schema=LINEAGE_SCHEMA)
        if events
        else LINEAGE_SCHEMA.empty_table()
    )
    return Clustering(clusters, lineage)


def _previous(previous: pa.Table | None) -> tuple[dict[str, str], dict[str, datetime]]:
    if previous is None or previous.num_rows == 0:
        return {}, {}
    rid = previous.column("record_id").to_pylist()
    cid = previous.column("customer_id").to_pylist()
    since = previous.column("id_since").to_pylist()
    old_since: dict[str, datetime] = {}
    for c, s in zip(cid, since, strict=True):
        if c not in old_since or s < old_since[c]:
            old_since[c] = s
    return dict(zip(rid, cid, strict=True)), old_since


def _assign(
    ids: list[str],
    members: dict[int, list[int]],
    rank: dict[str, int],
    old_id: dict[str, str],
    old_since: dict[str, datetime],
    now: datetime,
) -> tuple[list[str], list[datetime], list[_LineageEvent]]:
    """Give each component an id: its oldest previous id if it can keep one, else the id
    of its oldest record; record merges and splits."""
    n = len(ids)
    out: list[str] = [""] * n
    since: list[datetime] = [now] * n
    events: list[_LineageEvent] = []
    # who claims each previous id, and with how many of its former records
    claims: dict[str, list[tuple[int, int]]] = defaultdict(list)
    comp_prev: dict[int, Counter[str]] = {}
    for comp, idx in members.items():
        prev = Counter(old_id[ids[i]] for i in idx if ids[i] in old_id)
        comp_prev[comp] = prev
        for pid, count in prev.items():
            claims[pid].append((count, comp))
    winner = {}
    for pid, cs in claims.items():
        # the part holding most of the old cluster keeps its id (ties: the smaller component id)
        winner[pid] = max(cs, key=lambda t: (t[0], -t[1]))[1]
    taken: set[str] = set(old_id.values())
    for comp in sorted(members, key=lambda c: min(rank.get(ids[i], n) for i in members[c])):
        idx = members[comp]
        kept = [p for p in comp_prev[comp] if winner[p] == comp]
        if kept:
            chosen = min(kept, key=lambda p: (old_since.get(p, now), p))
            stamp = old_since.get(chosen, now)
            for p in kept:
                if p != chosen:
                    events.append(
                        {
                            "event": "merge",
                            "customer_id": chosen,
                            "other_id": p,
                            "records": sum(1 for i in idx if old_id.get(ids[i]) == p),
                        }
                    )
        else:
            chosen = _fresh_id(sorted(idx, key=lambda i: rank.get(ids[i], n)), ids, taken)
            stamp = now
            for p, count in comp_prev[comp].items():
                events.append(
                    {"event": "split", "customer_id": p, "other_id": chosen, "records": count}
                )
        taken.add(chosen)
        for i in idx:
            out[i] = chosen
            since[i] = stamp
    return out, since, events


def _fresh_id(ordered: list[int], ids: list[str], taken: set[str]) -> str:
    for i in ordered:
        if ids[i] not in taken:
            return ids[i]
    base, k = ids[ordered[0]], 2
    while f"{base}~{k}" in taken:
        k += 1
    return f"{base}~{k}"


def pairwise_scores(
    predicted: pa.Array | list[str], truth: pa.Array | list[str]
) -> dict[str, float]:
    """Pairwise precision, recall and F1 of a clustering against true entity labels.

    >>> pairwise_scores(["x", "x", "y"], [1, 1, 1])["recall"]
    0.3333333333333333
    """
    p = pa.array(predicted) if not isinstance(predicted, pa.Array) else predicted
    t = pa.array(truth) if not isinstance(truth, pa.Array) else truth
    pairs = pa.table({"p": p, "t": t})

    def pair_count(keys: list[str]) -> int:
        c = (
            pc.struct_field(
                pc.value_counts(
                    pc.binary_join_element_wise(*[pairs[k].cast(pa.string()) for k in keys], "\x1f")
                ),
                "counts",
            )
            if len(keys) > 1
            else pc.struct_field(pc.value_counts(pairs[keys[0]].cast(pa.string())), "counts")
        )
        arr = np.asarray(c.to_numpy(zero_copy_only=False), np.int64)
        return int((arr * (arr - 1) // 2).sum())

    both, pred, true = pair_count(["p", "t"]), pair_count(["p"]), pair_count(["t"])
    precision = both / pred if pred else 1.0
    recall = both / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": float(true),
        "predicted_pairs": float(pred),
    }
