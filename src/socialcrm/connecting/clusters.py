"""From scored links to clusters with stable ids and a lineage of merges and splits.

A CRM's customer id is a promise: other tables, campaigns and people refer to it. So
clusters are not renumbered on every run. A cluster keeps the id it had; when two known
clusters merge, the oldest id survives and the absorbed one is recorded; when a cluster
splits (a reviewer said two records differ), the part holding most of it keeps the id
and the rest gets a new one, also recorded. Records are never dropped, only re-pointed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypedDict

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
    refused: list[tuple[str, str]] = field(default_factory=list)
    """Accepted links (ordered pairs) not used because they would join conflicting
    records: they go to the review queue."""


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
    attributes: pa.Table | None = None,
    now: datetime | None = None,
) -> Clustering:
    """People from accepted links, with stable ids; a link never joins conflicting records.

    Links are accepted in order of certainty: a reviewer's ``match`` first, then the rules'
    shared identifiers, then model links by falling probability. A link is used only when
    it is at or above ``threshold`` and carries distinguishing evidence (its ``evidence``
    column, when there is one, is not null: an identifier, a birth date, a phone, a street
    address; name and place alone never join two records). It joins the two clusters only
    if the result stays consistent (:func:`_conflict`): no two different birth dates, no
    declared female and male, no pair a reviewer said differs (``no_match``). So a chain of
    namesakes through records that hold little more than a name cannot become one person;
    the links that were refused come back in ``Clustering.refused`` for the review queue.

    ``attributes`` has ``record_id`` and any of ``birth_date`` and ``gender``.
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
    forest = _Forest(n, _attributes(attributes, index))
    for (a, b), verdict in decided.items():
        if verdict == "no_match" and a in index and b in index:
            forest.cannot(index[a], index[b])
    for (a, b), verdict in sorted(decided.items()):
        if verdict == "match" and a in index and b in index:
            forest.union(index[a], index[b], 1.0, force=True)
    refused: list[tuple[str, str]] = []
    for a, b, p, address_only in _candidates(links, threshold, decided):
        if a in index and b in index and not forest.union(index[a], index[b], p, address_only):
            refused.append((a, b))
    label = np.fromiter((forest.find(i) for i in range(n)), np.int64, n)
    best = forest.best

    rank = {r: i for i, r in enumerate(created_rank or sorted(ids))}
    members: dict[int, list[int]] = defaultdict(list)
    for i, lab in enumerate(label):
        members[int(lab)].append(i)
    old_id, old_since = _previous(previous)
    ids_out, since_out, events = _assign(ids, members, rank, old_id, old_since, now)
    size = np.bincount(label, minlength=n)[label] if n else np.zeros(0, np.int64)
    clusters = pa.table(
        {
            "record_id": pa.array(ids, pa.string()),
            "customer_id": pa.array(ids_out, pa.string()),
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
    return Clustering(clusters, lineage, refused)


ADDRESS_EVIDENCE = frozenset({"street address", "address line 2"})
"""Evidence a household shares: on its own it may attach a record to a person, never
join two people who each hold records of their own."""


def _candidates(
    links: pa.Table, threshold: float, decided: dict[tuple[str, str], str]
) -> list[tuple[str, str, float, bool]]:
    """Links that may join clusters, most certain first (ties by ids: the same order on
    every engine and run), each with whether an address is all that distinguishes it."""
    left = links.column("record_id_l").to_pylist()
    right = links.column("record_id_r").to_pylist()
    prob = links.column("match_probability").to_pylist()
    evidence = (
        links.column("evidence").to_pylist()
        if "evidence" in links.column_names
        else [""] * links.num_rows
    )
    out = []
    for a, b, p, ev in zip(left, right, prob, evidence, strict=True):
        key = (a, b) if a < b else (b, a)
        if key in decided or p is None or p < threshold or ev is None:
            continue
        address_only = bool(ev) and set(str(ev).split(", ")) <= ADDRESS_EVIDENCE
        out.append((key[0], key[1], float(p), address_only))
    out.sort(key=lambda t: (-t[2], t[0], t[1]))
    return out


def _attributes(attributes: pa.Table | None, index: dict[str, int]) -> list[_Traits]:
    traits = [_Traits() for _ in index]
    if attributes is None:
        return traits
    rid = attributes.column("record_id").to_pylist()
    cols = attributes.column_names
    births = attributes.column("birth_date").to_pylist() if "birth_date" in cols else None
    genders = attributes.column("gender").to_pylist() if "gender" in cols else None
    for k, r in enumerate(rid):
        i = index.get(r)
        if i is None:
            continue
        if births is not None and births[k]:
            digits = "".join(ch for ch in str(births[k]) if ch.isdigit())
            if digits:
                traits[i].births = frozenset([digits])
        if genders is not None and genders[k]:
            g = str(genders[k]).strip().lower()
            if g in ("female", "male", "f", "m"):
                traits[i].genders = frozenset([g[0]])
    return traits


@dataclass
class _Traits:
    """What a cluster's records declare that two different people would not share."""

    births: frozenset[str] = frozenset()
    genders: frozenset[str] = frozenset()


def same_birth_date(a: str, b: str) -> bool:
    """Two birth dates (digits) one typing slip apart: at most two digits edited or
    transposed, or day and month swapped.

    >>> same_birth_date("19800120", "19810120"), same_birth_date("19800120", "19751102")
    (True, False)
    """
    if a == b:
        return True
    if len(a) == 8 and len(b) == 8 and a[:4] == b[:4] and a[4:6] == b[6:8] and a[6:8] == b[4:6]:
        return True
    return _edits(a, b) <= 2


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance (Damerau–Levenshtein without repeated edits)."""
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


def _conflict(x: _Traits, y: _Traits) -> bool:
    if len(x.genders | y.genders) > 1:
        return True
    return any(not same_birth_date(a, b) for a in x.births for b in y.births)


class _Forest:
    """Union-find over records whose unions keep every cluster consistent."""

    def __init__(self, n: int, traits: list[_Traits]) -> None:
        self.parent = list(range(n))
        self.members: list[list[int]] = [[i] for i in range(n)]
        self.traits = traits
        self.apart: dict[int, set[int]] = defaultdict(set)
        self.best = np.full(n, np.nan)

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def cannot(self, i: int, j: int) -> None:
        self.apart[i].add(j)
        self.apart[j].add(i)

    def _kept_apart(self, ra: int, rb: int) -> bool:
        small, big = sorted((ra, rb), key=lambda r: len(self.members[r]))
        inside = set(self.members[big])
        return any(self.apart.get(i, set()) & inside for i in self.members[small])

    def union(
        self, i: int, j: int, p: float, address_only: bool = False, force: bool = False
    ) -> bool:
        """Join the clusters of ``i`` and ``j`` unless they conflict, a reviewer kept them
        apart, or only an address ties two clusters of several records each (two people
        known by their own records, living together: a household)."""
        ra, rb = self.find(i), self.find(j)
        if ra != rb:
            two_people = address_only and min(len(self.members[ra]), len(self.members[rb])) > 1
            if not force and (
                two_people
                or _conflict(self.traits[ra], self.traits[rb])
                or self._kept_apart(ra, rb)
            ):
                return False
            if len(self.members[ra]) < len(self.members[rb]):
                ra, rb = rb, ra
            self.parent[rb] = ra
            self.members[ra].extend(self.members[rb])
            self.members[rb] = []
            t, u = self.traits[ra], self.traits[rb]
            self.traits[ra] = _Traits(t.births | u.births, t.genders | u.genders)
        for k in (i, j):
            if not self.best[k] >= p:
                self.best[k] = p
        return True


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
