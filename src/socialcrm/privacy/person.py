"""Who a privacy request is about: one email, phone, handle or record id → every record of
the person and everything they are known by.

A request names one thing; the brand holds the person under several (a shop account and a
newsletter sign-up, two emails, a phone, handles on three networks). Identity resolution
already decided which records are one person (``identity_clusters``), so the person is
that cluster: every record in it, and every email, phone and handle of those records
(``identities``, ``orders.email``), with the names on the records. Without a resolved
cluster (the pipeline has not run) the records that carry the value are the person.
A value known only as the author of posts (no customer record) is a person with a
handle and no records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.store.schemas import PLATFORMS
from socialcrm.store.warehouse import Warehouse

ERASED = "[erased]"


class PersonNotFound(LookupError):
    """Nothing in the warehouse is known by the value asked about."""


@dataclass
class Person:
    """A person and everything they are known by (lower case, as stored)."""

    person_id: str | None
    records: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    handles: set[str] = field(default_factory=set)
    """Handles without ``@``, and also as ``platform:handle`` (how graph nodes name them)."""
    loyalty_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    """Full names ("First Last") on their records."""

    @property
    def values(self) -> set[str]:
        """Every value a key column may hold for them, lower-cased (records as written)."""
        return {
            *(r.lower() for r in self.records),
            *self.emails,
            *self.phones,
            *self.handles,
            *(f"@{h}" for h in self.handles if ":" not in h),
            *self.loyalty_ids,
        }

    def mentions(self) -> re.Pattern[str]:
        """Where they are named inside a text: emails, phones and full names anywhere;
        handles and record ids as whole words (``anna`` is not in ``annabel``)."""
        plain = sorted({*self.emails, *self.phones, *self.names}, key=len, reverse=True)
        words = sorted({*self.handles, *self.records, *self.loyalty_ids}, key=len, reverse=True)
        parts = [re.escape(p) for p in plain if len(p) >= 3]
        if words:
            alt = "|".join(re.escape(w) for w in words if w)
            parts.append(rf"(?<![\w.@:-])@?(?:{alt})(?![\w@-]|\.\w)")
        return re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)

    def literals(self) -> list[str]:
        """Plain substrings that any mention contains (a cheap first filter)."""
        return sorted(
            {*self.emails, *self.phones, *self.names, *self.records, *self.loyalty_ids}
            | {h.split(":", 1)[-1] for h in self.handles}
        )


def _norm(query: str) -> str:
    return query.strip().lower().removeprefix("mailto:")


def _read(wh: Warehouse, name: str) -> pa.Table | None:
    return wh.read_arrow(name) if wh.exists(name) else None


def _lower_in(col: pa.ChunkedArray, values: set[str]) -> pa.ChunkedArray:
    return pc.fill_null(pc.is_in(pc.utf8_lower(col), value_set=pa.array(sorted(values))), False)


def find_person(wh: Warehouse, query: str) -> Person:
    """The person ``query`` (an email, phone, handle or record id) is about.

    Raises :class:`PersonNotFound` when nothing holds it. Values are compared as stored
    (lower case; handles without ``@``; phones in E.164 form, spaces ignored).
    """
    q = _norm(query)
    keys = {q, q.removeprefix("@"), q.replace(" ", "")}
    identities = _read(wh, "identities")
    orders = _read(wh, "orders")
    records: set[str] = set()
    if identities is not None:
        hit = pc.or_(
            _lower_in(identities.column("value"), keys),
            pc.or_(
                _lower_in(identities.column("raw_value"), keys),
                _lower_in(identities.column("customer_id"), keys),
            ),
        )
        records |= set(identities.filter(hit).column("customer_id").to_pylist())
    customers = _read(wh, "customers")
    if customers is not None:
        hit = _lower_in(customers.column("customer_id"), keys)
        records |= set(customers.filter(hit).column("customer_id").to_pylist())
    if orders is not None:
        hit = _lower_in(orders.column("email"), keys)
        records |= {r for r in orders.filter(hit).column("customer_id").to_pylist() if r}
    person = Person(None)
    if records:
        records = _cluster(wh, records)
        person.records = records
        person.person_id = _person_id(wh, records)
        _identifiers(person, identities, orders, customers)
    else:
        posts = _read(wh, "posts")
        handle = q.removeprefix("@")
        if posts is None or not pc.any(_lower_in(posts.column("author_handle"), {handle})).as_py():
            raise PersonNotFound(f"nothing in the warehouse is known by {query!r}")
        person.handles = {handle}
        person.person_id = None
    for platform, handle in _platform_handles(wh, person):
        person.handles.add(f"{platform}:{handle}")
    return person


def _cluster(wh: Warehouse, records: set[str]) -> set[str]:
    """``records`` and every record resolved into the same person as one of them."""
    clusters = _read(wh, "identity_clusters")
    if clusters is None:
        return records
    mine = clusters.filter(pc.is_in(clusters.column("record_id"), pa.array(sorted(records))))
    people = set(mine.column("customer_id").to_pylist())
    if not people:
        return records
    same = clusters.filter(pc.is_in(clusters.column("customer_id"), pa.array(sorted(people))))
    return records | set(same.column("record_id").to_pylist())


def _person_id(wh: Warehouse, records: set[str]) -> str:
    clusters = _read(wh, "identity_clusters")
    if clusters is not None:
        mine = clusters.filter(pc.is_in(clusters.column("record_id"), pa.array(sorted(records))))
        ids = sorted(set(mine.column("customer_id").to_pylist()))
        if ids:
            return str(ids[0])
    return min(records)


def _identifiers(
    person: Person,
    identities: pa.Table | None,
    orders: pa.Table | None,
    customers: pa.Table | None,
) -> None:
    recs = pa.array(sorted(person.records))
    if identities is not None:
        mine = identities.filter(pc.is_in(identities.column("customer_id"), recs)).to_pylist()
        for row in mine:
            kind, value = row["kind"], (row["value"] or "").lower()
            if not value:
                continue
            if kind == "email":
                person.emails.add(value)
            elif kind == "phone":
                person.phones.add(value)
            elif kind == "loyalty_id":
                person.loyalty_ids.add(value)
            elif kind in PLATFORMS:
                person.handles.add(value.removeprefix("@"))
    if orders is not None:
        mine_o = orders.filter(pc.fill_null(pc.is_in(orders.column("customer_id"), recs), False))
        person.emails |= {e.lower() for e in mine_o.column("email").to_pylist() if e}
    if customers is not None:
        mine_c = customers.filter(pc.is_in(customers.column("customer_id"), recs)).to_pylist()
        for row in mine_c:
            first, last = row.get("first_name") or "", row.get("last_name") or ""
            full = f"{first} {last}".strip()
            if " " in full:
                person.names.add(full.lower())


def _platform_handles(wh: Warehouse, person: Person) -> list[tuple[str, str]]:
    """(platform, handle) of their posts: graph tables name nodes ``platform:handle``."""
    posts = _read(wh, "posts")
    bare = {h for h in person.handles if ":" not in h}
    if posts is None or not bare:
        return [(p, h) for p in PLATFORMS for h in bare]
    mine = posts.filter(_lower_in(posts.column("author_handle"), bare))
    pairs = set(
        zip(
            mine.column("platform").to_pylist(),
            mine.column("author_handle").to_pylist(),
            strict=True,
        )
    )
    return sorted({(p, h.lower()) for p, h in pairs} | {(p, h) for p in PLATFORMS for h in bare})
