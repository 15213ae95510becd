"""The read path: one in-process DuckDB per process over the warehouse.

Pages, the API, the CLI and the domains that read the warehouse while serving a request
(ideas' values and routes) read through here, never through the pipeline's engine: a
request must not start Spark, and must answer in milliseconds at a million customers.
The customer list and the customer 360's detail tables are copied into DuckDB's memory,
sorted by ``customer_id`` (so a point lookup touches one row group through its zone
map) and rebuilt when the warehouse swaps a new version in. Everything else is read
straight from the current Parquet files. Any table may be missing: readers get empty
results, and the pages say what to run.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, cast, overload

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field

from socialcrm.store.warehouse import POINTER

# The tables the customer list is built from; a new version of any rebuilds it.
LIST_SOURCES = (
    "customers", "customer_transaction_scores", "identities", "customer_influence",
    "customer_segments", "customer_scores", "identity_clusters",
)  # fmt: skip
# Per-customer detail tables of the 360 and the order of a customer's rows in each.
DETAIL_TABLES = {
    "identities": "kind, value",
    "consents": "purpose, recorded_at",
    "orders": "ordered_at DESC",
    "posts_enriched": "created_at DESC",
    "customer_influence": "customer_id",
    "customer_scores": "customer_id",
    "customer_actions": "rank",
}
# Detail tables kept with only these columns (those present): what the 360 explains.
# customer_scores repeats the transaction scores the list already holds; at a million
# customers every column kept costs memory in each server process.
DETAIL_COLUMNS = {
    "customer_scores": (
        "trinity_score", "trinity_axes", "unknown", "transaction_basis",
        *(f"{a}_{k}" for a in ("transaction", "relationship", "influence")
          for k in ("score", "value", "known")),
        "personal_depth", "profile_depth", "preferential_depth", "performance_depth",
        "recency_factor", "days_since_shared", "social_linking", "amplifier", "community_id",
        "community_role", "followers", "posts", "responses_per_post", "cascade_reach",
        "pagerank",
    ),
}  # fmt: skip

# What a row of the customer list carries (the 360 has every column).
LIST_COLUMNS = [
    "customer_id", "name", "city", "country", "email", "phone", "frequency", "spend",
    "last_purchase", "p_alive", "clv", "risk_band", "influence_score", "amplifier",
    "community_id", "segment", "trinity_score",
]  # fmt: skip

# Columns the list takes from the targeting tables: name in the list -> (column, type).
SEGMENT_COLUMNS = {
    "tier": ("tier", "VARCHAR"),
    "segment": ("segment", "VARCHAR"),
    "segment_reason": ("reason", "VARCHAR"),
    "tier_reason": ("tier_reason", "VARCHAR"),
}
TRINITY_COLUMNS = {
    "trinity_score": ("trinity_score", "DOUBLE"),
    "transaction_pct": ("transaction_score", "DOUBLE"),
    "relationship_pct": ("relationship_score", "DOUBLE"),
    "influence_pct": ("influence_score", "DOUBLE"),
}

SORTS = {
    "clv": "clv",
    "p_alive": "p_alive",
    "expected_purchases": "expected_purchases",
    "spend": "spend",
    "frequency": "frequency",
    "last_purchase": "last_purchase",
    "influence": "influence_score",
    "trinity": "trinity_score",
    "name": "name",
    "customer_id": "customer_id",
}
T = TypeVar("T")


class CustomerFilter(BaseModel):
    """Which customers a list shows, in what order: declared once for the API (query
    parameters, validated: 422 on a bad value), the page (each field parsed on its own,
    a blank or malformed one ignored: see ``web.deps``) and :meth:`ReadModel.customers`.
    """

    model_config = ConfigDict(frozen=True)

    q: str | None = Field(None, max_length=200, description="Name or id (email/phone: agent+).")
    risk_band: Literal["low", "medium", "high", "very_high"] | None = None
    segment: str | None = Field(None, max_length=100)
    tier: str | None = Field(None, max_length=100, description="Value tier (top, …).")
    min_clv: float | None = Field(None, ge=-1e12, le=1e12)
    max_clv: float | None = Field(None, ge=-1e12, le=1e12)
    min_p_alive: float | None = Field(None, ge=0, le=1)
    max_p_alive: float | None = Field(None, ge=0, le=1)
    community_id: int | None = Field(None, ge=-(2**62), le=2**62)
    amplifier: bool | None = None
    min_trinity: float | None = Field(None, ge=0, le=100, description="TRInity composite.")
    max_trinity: float | None = Field(None, ge=0, le=100)
    sort: Literal[tuple(SORTS)] = "clv"  # type: ignore[valid-type]
    order: Literal["asc", "desc"] = "desc"


class ReadModel:
    """Read-only queries over the warehouse at ``root``; safe to share between threads."""

    def __init__(
        self,
        root: Path,
        threads: int | None = None,
        recheck_seconds: float = 1.0,
        *,
        freeze_heap: bool = False,
    ) -> None:
        self.root = root
        self.recheck_seconds = recheck_seconds
        self.freeze_heap = freeze_heap  # a server's: see _freeze_heap
        self._checked = -1e9
        self._con = duckdb.connect(":memory:")
        if threads:
            self._con.execute(f"SET threads = {int(threads)}")
        self._lock = threading.Lock()
        self._built: dict[str, str | None] = {}
        self._index: CustomerIndex | None = None
        self._details: dict[str, Detail | None] = {}
        self._generation = 0  # +1 whenever an in-memory copy is rebuilt
        self._columns: dict[tuple[str, str], frozenset[str]] = {}
        self._memo: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._memo_locks: dict[tuple[Any, ...], threading.Lock] = {}

    # -- plumbing ----------------------------------------------------------------------
    def version(self, name: str) -> str | None:
        try:
            return (self.root / name / POINTER).read_text().strip()
        except FileNotFoundError:
            return None

    def loaded(self, name: str) -> str | None:
        """The version of ``name`` held in memory (a table of the customer list or of the
        360), as of the last :meth:`refresh`; None before the first. No file read, unlike
        :meth:`version`, and no rebuild: a page that shows no customer must not wait for
        (or fail in) the building of a million-row list."""
        return self._built.get(name)

    def exists(self, name: str) -> bool:
        return self.version(name) is not None

    def source(self, name: str) -> str:
        """A ``read_parquet`` of the current version of ``name`` (callers check it exists)."""
        return self._source_at(name, self.version(name))

    def _source_at(self, name: str, version: str | None) -> str:
        folder = self.root / name / (version or "_missing")
        return f"read_parquet('{(folder / '*.parquet').as_posix()}', union_by_name=true)"

    def columns(self, name: str) -> frozenset[str]:
        """The columns of the current version of ``name`` (empty when it is missing),
        read once per version: a version's files never change."""
        version = self.version(name)
        if version is None:
            return frozenset()
        found = self._columns.get((name, version))
        if found is None:  # that version's files, even if the pointer moved meanwhile
            described = self.rows(
                f"DESCRIBE SELECT * FROM {self._source_at(name, version)}", raw=True
            )
            found = frozenset(r[0] for r in described)
            if len(self._columns) > 256:
                self._columns.clear()
            self._columns[(name, version)] = found
        return found

    def memo(self, key: tuple[Any, ...], tables: Sequence[str], compute: Callable[[], T]) -> T:
        """``compute()``, remembered until a table it reads changes: ``tables`` (read from
        Parquet) gets a new version, or an in-memory copy (the customer list, a 360 detail
        table) is rebuilt. For aggregates over every customer, which cost a scan of a
        million rows a request: a page that shows them reads them from here.

        The versions are read before ``compute`` runs, so a result can only ever be
        remembered under versions as old as the data it was computed from (never newer):
        the next request after a change computes it again. One caller computes a missing
        result while the others wait for it, rather than all of them scanning at once.
        Each caller gets its own copy of the result's lists and dicts, free to change.
        """
        self.refresh()
        full = (*key, self._generation, *(self.version(t) for t in tables))
        with self._lock:
            if full in self._memo:
                self._memo.move_to_end(full)
                return _copy(cast(T, self._memo[full]))
            lock = self._memo_locks.setdefault(full, threading.Lock())
        with lock:
            try:
                with self._lock:
                    if full in self._memo:
                        return _copy(cast(T, self._memo[full]))
                found = compute()
                with self._lock:
                    self._memo[full] = found
                    if len(self._memo) > 128:
                        self._memo.popitem(last=False)
            finally:  # also when compute fails: the next caller tries again
                with self._lock:
                    self._memo_locks.pop(full, None)
        return _copy(found)

    @overload
    def rows(
        self, sql: str, params: Sequence[Any] = (), *, raw: Literal[False] = False
    ) -> list[dict[str, Any]]: ...
    @overload
    def rows(
        self, sql: str, params: Sequence[Any] = (), *, raw: Literal[True]
    ) -> list[tuple[Any, ...]]: ...
    def rows(
        self, sql: str, params: Sequence[Any] = (), *, raw: bool = False
    ) -> list[dict[str, Any]] | list[tuple[Any, ...]]:
        """Rows of ``sql`` as dicts by column name, or as tuples with ``raw``."""
        cur = self._con.cursor()
        try:
            result = cur.execute(sql, list(params))
            if raw:
                return result.fetchall()
            names = [d[0] for d in result.description]
            return [dict(zip(names, r, strict=True)) for r in result.fetchall()]
        finally:
            cur.close()

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The result of ``sql`` as an Arrow table (columns for vectorised work)."""
        cur = self._con.cursor()
        try:
            return cur.execute(sql, list(params)).fetch_arrow_table()
        finally:
            cur.close()

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    # -- materialised tables -----------------------------------------------------------
    def stale(self) -> bool:
        """Whether :meth:`refresh` would look at the warehouse now (it may then rebuild)."""
        return self._index is None or time.monotonic() - self._checked >= self.recheck_seconds

    def refresh(self) -> None:
        """Rebuild the in-memory copies whose warehouse tables changed.

        The version pointers are read at most every ``recheck_seconds``: a new pipeline
        run shows up within that time, and a busy server does not read files per request.
        """
        now = time.monotonic()
        if self._index is not None and now - self._checked < self.recheck_seconds:
            return
        self._checked = now
        wanted = {n: self.version(n) for n in {*LIST_SOURCES, *DETAIL_TABLES}}
        if all(self._built.get(n, "?") == v for n, v in wanted.items()):
            return
        with self._lock:
            wanted = {n: self.version(n) for n in wanted}
            changed = {n for n, v in wanted.items() if self._built.get(n, "?") != v}
            if not changed:
                return
            con = self._con.cursor()
            try:
                if changed & set(LIST_SOURCES) or self._index is None:
                    self._index = self._build_list(con)
                    changed |= set(DETAIL_TABLES)  # positions moved: re-slice every detail
                details = dict(self._details)
                for name in DETAIL_TABLES:
                    if name in changed:
                        details[name] = self._build_detail(con, name)
                self._details = details
            finally:
                con.close()
            # Before the versions are recorded: a caller that sees them (and so skips the
            # lock) must find the new generation too (see memo).
            self._generation += 1
            self._built.update(wanted)
        if self.freeze_heap:
            _freeze_heap()

    def _build_detail(self, con: duckdb.DuckDBPyConnection, name: str) -> Detail | None:
        """A customer's rows of ``name`` as one slice: rows ordered by list position."""
        available = self.columns(name)
        if self._index is None or "customer_id" not in available:
            return None
        keep = DETAIL_COLUMNS.get(name)
        cols = "d.*"
        if keep is not None:
            cols = ", ".join(f"d.{c}" for c in ("customer_id", *keep) if c in available)
        rows = con.execute(
            f"""SELECT {cols}, l.pos AS _pos FROM {self.source(name)} d
                JOIN (SELECT customer_id, (row_number() OVER (ORDER BY customer_id)) - 1 AS pos
                      FROM customer_list) l USING (customer_id)
                ORDER BY l.pos, {DETAIL_TABLES[name]}"""
        ).to_arrow_table()
        pos = rows.column("_pos").to_numpy()
        offsets = np.searchsorted(pos, np.arange(self._index.n + 1), side="left")
        return Detail(rows.drop_columns(["_pos"]), offsets)

    def _build_list(self, con: duckdb.DuckDBPyConnection) -> CustomerIndex | None:
        if not self.exists("customers"):
            con.execute("DROP TABLE IF EXISTS customer_list")
            return None
        scores = self.exists("customer_transaction_scores")
        influence = self.exists("customer_influence")
        ids = self.exists("identities")
        infl_cols = self.columns("customer_influence")
        joins = []
        if scores:
            joins.append(
                f"LEFT JOIN {self.source('customer_transaction_scores')} s USING (customer_id)"
            )
        if influence:
            joins.append(f"LEFT JOIN {self.source('customer_influence')} f USING (customer_id)")
        if ids:
            joins.append(
                f"""LEFT JOIN (SELECT customer_id,
                       min(value) FILTER (WHERE kind = 'email') AS email,
                       min(value) FILTER (WHERE kind = 'phone') AS phone
                     FROM {self.source("identities")} GROUP BY customer_id) i USING (customer_id)"""
            )
        # Targeting and TRInity are per resolved person, whose id is one of their records'
        # ids: a record joins its own row (a person's other records show none, like the
        # transaction scores); person_id lets the 360 find the person's.
        extra = {
            "identity_clusters": ("k", {"person_id": ("customer_id", "VARCHAR")}, "record_id"),
            "customer_segments": ("g", SEGMENT_COLUMNS, "customer_id"),
            "customer_scores": ("t", TRINITY_COLUMNS, "customer_id"),
        }
        selects = []
        for name, (alias, spec, key) in extra.items():
            available = self.columns(name)
            present = {out: src for out, (src, _) in spec.items() if src in available}
            selects.append(
                ", ".join(
                    f"{alias}.{out}::{t} AS {out}" if out in present else f"NULL::{t} AS {out}"
                    for out, (_, t) in spec.items()
                )
            )
            if present and key in available:
                picked = ", ".join(f"{src} AS {out}" for out, src in present.items())
                joins.append(
                    f"LEFT JOIN (SELECT {key} AS customer_id, {picked} FROM {self.source(name)})"
                    f" {alias} USING (customer_id)"
                )
        have = self.columns("customers")

        def val(name: str, kind: str = "VARCHAR") -> str:  # a table written by hand may lack it
            return f"c.{name}" if name in have else f"NULL::{kind}"

        def col(name: str, kind: str = "VARCHAR") -> str:
            return f"{val(name, kind)} AS {name}"

        first, last = val("first_name"), val("last_name")
        sql = f"""
        CREATE OR REPLACE TABLE customer_list AS
        SELECT c.customer_id, {col("source")}, {col("first_name")}, {col("last_name")},
               trim(coalesce({first}, '') || ' ' || coalesce({last}, '')) AS name,
               lower(trim(coalesce({first}, '') || ' ' || coalesce({last}, ''))) AS name_lc,
               {col("city")}, {col("country")}, {col("preferred_channel")},
               {col("created_at", "TIMESTAMPTZ")},
               {"i.email, i.phone" if ids else "NULL::VARCHAR AS email, NULL::VARCHAR AS phone"},
               {_score_cols(scores)},
               {_influence_cols(influence, infl_cols)},
               {", ".join(selects)}
        FROM {self.source("customers")} c
        {" ".join(joins)}
        ORDER BY c.customer_id
        """
        con.execute(sql)
        return CustomerIndex(con.execute("SELECT * FROM customer_list").to_arrow_table())

    # -- the customer list -------------------------------------------------------------
    def customers(
        self,
        f: CustomerFilter | None = None,
        *,
        search_contacts: bool = False,
        page: int = 1,
        page_size: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of customers matching every given filter, and how many match in all."""
        self.refresh()
        index = self._index
        if index is None:
            return [], 0
        f = f or CustomerFilter()
        mask = index.cached_mask(
            q=f.q,
            search_contacts=search_contacts,
            equal={
                "risk_band": f.risk_band,
                "segment": f.segment,
                "tier": f.tier,
                "community_id": f.community_id,
                "amplifier": f.amplifier,
            },
            ranges={
                "clv": (f.min_clv, f.max_clv),
                "p_alive": (f.min_p_alive, f.max_p_alive),
                "trinity_score": (f.min_trinity, f.max_trinity),
            },
        )
        descending = f.order == "desc"
        return index.page(mask, SORTS[f.sort], descending, (page - 1) * page_size, page_size)

    def customer(self, customer_id: str) -> dict[str, Any] | None:
        self.refresh()
        index = self._index
        if index is None or (i := index.pos.get(customer_id)) is None:
            return None
        return index.rows(np.array([i]), full=True)[0]

    def records_of(self, person_id: str) -> list[str]:
        """Every customer record resolved to ``person_id`` (itself included), in id order;
        just ``[person_id]`` before identity resolution has run."""
        self.refresh()
        index = self._index
        if index is None:
            return []
        return index.records_of(person_id)

    def summaries(self, customer_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The list row (summary columns) of each known id, in one take."""
        self.refresh()
        index = self._index
        if index is None:
            return {}
        known = [c for c in dict.fromkeys(customer_ids) if c in index.pos]
        if not known:  # the usual answer on a 360 page; a take of nothing costs as much
            return {}
        rows = index.rows(np.array([index.pos[c] for c in known], dtype=np.int64))
        return dict(zip(known, rows, strict=True))

    def detail(self, name: str, customer_id: str, limit: int = 200) -> list[dict[str, Any]]:
        """Rows of a per-customer table for one customer (empty when the table is missing)."""
        self.refresh()
        index, found = self._index, self._details.get(name)
        if index is None or found is None or (i := index.pos.get(customer_id)) is None:
            return []
        start = int(found.offsets[i])
        end = min(int(found.offsets[i + 1]), start + limit)
        if end - start <= FEW:
            return _pylist(found.table, range(start, end))
        rows: list[dict[str, Any]] = found.table.slice(start, end - start).to_pylist()
        return rows


@dataclass(frozen=True)
class Detail:
    table: pa.Table
    offsets: np.ndarray
    """Rows of the customer at list position i are table[offsets[i]:offsets[i + 1]]."""


class CustomerIndex:
    """The customer list in memory with what makes a filtered, sorted page cheap.

    A page is found by walking a cached sort permutation and keeping rows whose filter
    mask is set, stopping once the page is full: a few hundred thousand comparisons at
    most, however many customers match. DuckDB's top-N would sort every match on each
    request (see ``benchmarks/web_customers.py`` for the comparison).
    """

    def __init__(self, table: pa.Table) -> None:
        # Timestamps as naive UTC: turning zone-aware ones into Python objects costs
        # more than the rest of a page.
        for i, field in enumerate(table.schema):
            if pa.types.is_timestamp(field.type) and field.type.tz is not None:
                table = table.set_column(
                    i, field.name, table.column(i).cast(pa.timestamp(field.type.unit))
                )
        self.table = table.combine_chunks()
        # A list page carries what the list shows; the 360 reads the full row. Fewer
        # columns is most of what a page costs (Arrow to Python objects).
        self.summary = self.table.select(LIST_COLUMNS)
        self.n = table.num_rows
        self.pos = dict(
            zip(self.table.column("customer_id").to_pylist(), range(self.n), strict=True)
        )
        self._numeric = {
            c: self.table.column(c).to_numpy(zero_copy_only=False).astype("float64")
            for c in ("clv", "p_alive", "community_id", "trinity_score")
        }
        self._codes: dict[str, tuple[np.ndarray, dict[Any, int]]] = {}
        for c in ("risk_band", "segment", "tier", "amplifier"):
            enc = pc.dictionary_encode(self.table.column(c)).combine_chunks()
            codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
            codes = codes.astype(np.int8 if len(enc.dictionary) < 127 else np.int32)
            self._codes[c] = (codes, {v: k for k, v in enumerate(enc.dictionary.to_pylist())})
        self._perms: dict[tuple[str, bool], np.ndarray] = {}
        self._ranks: dict[tuple[str, bool], np.ndarray] = {}
        self._person_codes: tuple[np.ndarray, dict[Any, int]] | None = None
        self._masks: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._parts: OrderedDict[tuple[str, str, Any], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        for key in SORTS.values():  # every order ready before the first request
            for descending in (True, False):
                self.perm(key, descending)

    def records_of(self, person_id: str) -> list[str]:
        """Record ids whose ``person_id`` is this one (a vectorised scan, ~1 ms at 1M)."""
        with self._lock:
            if self._person_codes is None:
                enc = pc.dictionary_encode(self.table.column("person_id")).combine_chunks()
                codes = pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False)
                lookup = {v: k for k, v in enumerate(enc.dictionary.to_pylist())}
                self._person_codes = (codes, lookup)
            codes, lookup = self._person_codes
        code = lookup.get(person_id)
        found = [] if code is None else np.flatnonzero(codes == code).tolist()
        own = self.pos.get(person_id)
        if own is not None and own not in found:
            found.append(own)
        ids = self.table.column("customer_id")
        return sorted(ids[i].as_py() for i in found)

    def cached_mask(self, **filters: Any) -> np.ndarray | None:
        """:meth:`mask`, remembered for the last 64 filter combinations.

        Paging through one filtered list, or many people opening the same view, asks
        for the same mask again; on a hit a page costs only the walk. The cache lives
        and dies with this index, so a pipeline run never serves stale rows.
        """
        key = repr(sorted(filters.items()))
        with self._lock:
            if key in self._masks:
                self._masks.move_to_end(key)
                return self._masks[key]
        found = self.mask(**filters)
        with self._lock:
            self._masks[key] = found
            if len(self._masks) > 64:
                self._masks.popitem(last=False)
        return found

    def mask(
        self,
        *,
        q: str | None,
        search_contacts: bool,
        equal: dict[str, Any],
        ranges: dict[str, tuple[float | None, float | None]],
    ) -> np.ndarray | None:
        """Rows matching every filter (None: no filter, every row)."""
        m: np.ndarray | None = None

        def both(x: np.ndarray) -> None:
            nonlocal m
            m = x if m is None else m & x

        for column, value in equal.items():
            if value is not None:
                both(self._part(("=", column, value)))
        for column, (lo, hi) in ranges.items():
            if lo is not None:
                both(self._part((">=", column, lo)))
            if hi is not None:
                both(self._part(("<=", column, hi)))
        if q and q.strip():
            needle = q.strip()
            hit = pc.match_substring(self.table.column("name_lc"), needle.lower())
            hit = pc.fill_null(hit, False).to_numpy(zero_copy_only=False)
            if needle in self.pos:
                hit[self.pos[needle]] = True
            if search_contacts:
                for c, v in (("email", needle.lower()), ("phone", needle)):
                    eq = pc.fill_null(pc.equal(self.table.column(c), v), False)
                    hit |= eq.to_numpy(zero_copy_only=False)
            both(hit)
        return m

    def _part(self, cond: tuple[str, str, Any]) -> np.ndarray:
        """The rows meeting one condition, remembered: a list view combines a few of a
        small set of conditions (a risk band, a segment, a CLV floor), so combinations
        miss the whole-mask cache far more often than their parts miss this one."""
        with self._lock:
            found = self._parts.get(cond)
            if found is not None:
                self._parts.move_to_end(cond)
                return found
        op, column, value = cond
        if op == "=" and column != "community_id":
            codes, lookup = self._codes[column]
            code = lookup.get(value)
            found = codes == code if code is not None else np.zeros(self.n, dtype=bool)
        else:
            values = self._numeric[column]
            if op == "=":
                found = values == float(value)
            else:
                found = values >= value if op == ">=" else values <= value
        with self._lock:
            self._parts[cond] = found
            if len(self._parts) > 64:  # 1 byte per customer each: 64 MB at 1M
                self._parts.popitem(last=False)
        return found

    def perm(self, key: str, descending: bool) -> np.ndarray:
        """Row positions in sort order (nulls last, ties by customer_id), computed once."""
        found = self._perms.get((key, descending))
        if found is None:
            with self._lock:
                column = self.table.column(key)
                if (
                    pa.types.is_integer(column.type)
                    or pa.types.is_floating(column.type)
                    or (pa.types.is_date(column.type))
                ):
                    # Rows are in customer_id order, so a stable sort breaks ties by it;
                    # NaN (null) sorts last either way round.
                    if pa.types.is_date(column.type):
                        column = column.cast(pa.int32())
                    values = column.to_numpy(zero_copy_only=False).astype("float64")
                    found = np.argsort(-values if descending else values, kind="stable")
                else:
                    keys = [(key, "descending" if descending else "ascending")]
                    if key != "customer_id":
                        keys.append(("customer_id", "ascending"))
                    found = _sort_indices(self.table, keys).to_numpy()
                self._perms[(key, descending)] = found
        return found

    def page(
        self, mask: np.ndarray | None, key: str, descending: bool, offset: int, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        perm = self.perm(key, descending)
        if mask is None:
            return self.rows(perm[offset : offset + limit]), self.n
        total = int(np.count_nonzero(mask))
        need = offset + limit
        if total == 0 or offset >= total:
            return [], total
        if need * 8 > total:
            # Few matches for this page depth: the walk below would expect to touch over
            # an eighth of all rows (every row, for a page near the last match), so rank
            # the matches instead.
            return self.rows(self._ranked(mask, key, descending, offset, need)), total
        found, start, chunk = [], 0, 4096
        have = 0
        while start < self.n and have < need:
            if start * 8 > self.n:
                # The matches sit late in this order (a filter against the sort, as
                # p_alive >= 0.5 sorted ascending): stop walking and rank them.
                return self.rows(self._ranked(mask, key, descending, offset, need)), total
            part = perm[start : start + chunk]
            kept = part[mask[part]]
            found.append(kept)
            have += len(kept)
            start += chunk
            chunk *= 4
        picked = np.concatenate(found)[offset:need] if found else np.empty(0, dtype=np.int64)
        return self.rows(picked), total

    def _ranked(
        self, mask: np.ndarray, key: str, descending: bool, offset: int, need: int
    ) -> np.ndarray:
        """Positions ``offset:need`` of the masked rows in sort order, by the rows' ranks
        in the cached order: O(matches), the same order (and tie-breaks) as the walk."""
        rank = self._rank(key, descending)
        cand = np.flatnonzero(mask)
        r = rank[cand]
        if need < len(cand):
            top = np.argpartition(r, need - 1)[:need]
            cand, r = cand[top], r[top]
        return cand[np.argsort(r, kind="stable")][offset:need]

    def _rank(self, key: str, descending: bool) -> np.ndarray:
        """Each row's place in :meth:`perm` (int32, 4 bytes a row), made on first use."""
        found = self._ranks.get((key, descending))
        if found is None:
            perm = self.perm(key, descending)
            found = np.empty(self.n, dtype=np.int32)
            found[perm] = np.arange(self.n, dtype=np.int32)
            with self._lock:
                self._ranks[(key, descending)] = found
        return found

    def rows(self, positions: np.ndarray, *, full: bool = False) -> list[dict[str, Any]]:
        """Rows at ``positions``: the list's summary columns, or every column (the 360)."""
        table = self.table if full else self.summary
        out: list[dict[str, Any]]
        if len(positions) <= FEW:
            out = _pylist(table, positions.tolist())
        else:
            out = table.take(pa.array(positions, type=pa.int64())).to_pylist()
        if full:
            for r in out:
                del r["name_lc"]
        return out


def _freeze_heap() -> None:
    """Collect garbage once, then exempt every object left from later collections.

    For a server, after each rebuild: a full collection walks every object the process
    holds (the app, its libraries and the customer list), about half a second at a
    million customers, every few hundred pages, with every request in flight waiting on
    it. Frozen objects are still freed when the last reference goes (a rebuild's old
    list); only cycles among them wait for the next rebuild, which unfreezes first.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


# Up to this many rows are converted value by value (:func:`_pylist`).
FEW = 8


def _pylist(table: pa.Table, positions: Iterable[int]) -> list[dict[str, Any]]:
    """The rows of ``table`` at ``positions`` as dicts, as ``to_pylist`` gives them, value
    by value: for a few rows (the 360's list row, a customer's rows of a detail table) a
    take or slice and its ``to_pylist`` cost two to six times as much."""
    names, columns = table.column_names, table.columns
    return [dict(zip(names, [c[i].as_py() for c in columns], strict=True)) for i in positions]


def _copy(value: T) -> T:
    """``value`` with its lists and dicts copied, however deep (the rest shared)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [_copy(v) for v in value]  # type: ignore[return-value]
    return value


def _sort_indices(table: pa.Table, keys: list[tuple[str, str]]) -> pa.Array:
    """Sort indices with nulls last, on pyarrow before and after 25 (per-key placement)."""
    try:
        return pc.sort_indices(table, sort_keys=[(k, o, "at_end") for k, o in keys])
    except (TypeError, ValueError):
        return pc.sort_indices(table, sort_keys=keys, null_placement="at_end")


def _score_cols(present: bool) -> str:
    cols = {
        "frequency": "BIGINT",
        "recency": "DOUBLE",
        "monetary": "DOUBLE",
        "spend": "DOUBLE",
        "last_purchase": "DATE",
        "rfm_code": "VARCHAR",
        "p_alive": "DOUBLE",
        "expected_purchases": "DOUBLE",
        "clv": "DOUBLE",
        "risk_band": "VARCHAR",
        "overdue": "BOOLEAN",
    }
    if present:
        return ", ".join(f"s.{c}" for c in cols)
    return ", ".join(f"NULL::{t} AS {c}" for c, t in cols.items())


def _influence_cols(present: bool, available: AbstractSet[str]) -> str:
    cols = {"influence_score": "DOUBLE", "amplifier": "BOOLEAN", "community_id": "BIGINT"}
    return ", ".join(
        f"f.{c}::{t} AS {c}" if present and c in available else f"NULL::{t} AS {c}"
        for c, t in cols.items()
    )
