"""Consent in force: who granted which purpose, as of the latest decision.

Modelled on contact-point consent (purpose, status, capture source, capture date): the
consents table is a history, and the latest row per (customer, purpose) is in force, so
a withdrawal simply outranks the grant before it. No row means no consent. Every step
that uses personal data asks this module for the customers it may use, by purpose.
"""

from __future__ import annotations

from ibis.expr import types as ir

from socialcrm.store.schemas import CONSENT_PURPOSES, CONSENTS
from socialcrm.store.workspace import Workspace

CLUSTERS_TABLE = "identity_clusters"


def in_force(consents: ir.Table, purpose: str) -> ir.Table:
    """``customer_id`` of records whose latest ``purpose`` decision is ``granted``.

    Ties at the same instant resolve to the most restrictive status (no consent), so a
    grant and a withdrawal recorded together never read as a grant.
    """
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(
            f"unknown consent purpose {purpose!r}; known: {', '.join(CONSENT_PURPOSES)}"
        )
    c = consents.filter(consents.purpose == purpose)
    latest = c.group_by("customer_id").aggregate(last_at=c.recorded_at.max())
    last = c.inner_join(
        latest, [c.customer_id == latest.customer_id, c.recorded_at == latest.last_at]
    )
    verdict = last.group_by(customer_id=last.customer_id).aggregate(
        all_granted=(last.status == "granted").cast("int8").min()
    )
    return verdict.filter(verdict.all_granted == 1).select("customer_id")


def granted(ws: Workspace, purpose: str, resolved: bool = False) -> ir.Table:
    """Customers with ``purpose`` in force, as an engine table with one ``customer_id``.

    ``resolved=True`` answers for resolved people (``identity_clusters.customer_id``): the
    latest decision on any of the person's records wins, because it is the freshest
    expression of that person's will. Without identity clusters, record ids are people.

    >>> # granted(ws, "social_linking").to_pyarrow()  # doctest: +SKIP
    """
    consents = ws.warehouse.table_or_empty("consents", CONSENTS.arrow_schema)
    if resolved and ws.warehouse.exists(CLUSTERS_TABLE):
        clusters = ws.warehouse.table(CLUSTERS_TABLE).select("record_id", person="customer_id")
        j = consents.inner_join(clusters, consents.customer_id == clusters.record_id)
        consents = j.select(
            customer_id=j.person, purpose=j.purpose, status=j.status, recorded_at=j.recorded_at
        )
    return in_force(consents, purpose)


def is_granted_expr(customer_id: ir.StringValue, allowed: ir.Table) -> ir.BooleanValue:
    """Whether ``customer_id`` is in ``allowed`` (a table from :func:`granted`)."""
    return customer_id.isin(allowed.customer_id)


__all__ = ["granted", "in_force", "is_granted_expr"]
