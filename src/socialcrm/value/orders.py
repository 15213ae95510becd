"""Orders attributed to people, and the calibration end they give the value models.

Value (RFM, transaction scores) and programs (campaigns, loyalty, referrals) all count
orders per resolved person; this is the one place that attributes them. It reads the
identity resolution's output (``identity_clusters``) through the warehouse, so the value
domain does not import the connecting domain.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import ibis

from socialcrm.store.schemas import IDENTITIES, ORDERS

if TYPE_CHECKING:
    from ibis.expr import types as ir

    from socialcrm.store.workspace import Workspace


def customer_orders(ws: Workspace) -> ir.Table:
    """Orders with a ``customer_id`` on every row that can have one.

    Guest orders name only an email; they are attributed to the customer record that
    holds that email (the oldest id when several do). Emails no record holds keep a
    stable pseudo id ``email:<address>``, so their buyers are still counted. Once the
    ``identities`` step has run, record ids become resolved people's ids.
    """
    orders = ws.warehouse.table("orders")
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    emails = (
        ids.filter(ids.kind == "email")
        .group_by(email_value=ids.value)
        .aggregate(owner=ids.customer_id.min())
    )
    joined = orders.left_join(emails, orders.email == emails.email_value)
    record = ibis.coalesce(joined.customer_id, joined.owner)
    if ws.warehouse.exists("identity_clusters"):
        # records belong to resolved people (connecting/identity.py): count them once
        people = ws.warehouse.table("identity_clusters").select("record_id", person="customer_id")
        joined = joined.mutate(record=record)
        joined = joined.left_join(people, joined.record == people.record_id)
        record = ibis.coalesce(joined.person, joined.record)
    cid = ibis.coalesce(record, ibis.literal("email:") + joined.email)
    return joined.select(*[c for c in ORDERS.column_names if c != "customer_id"], customer_id=cid)


def calibration_end(ws: Workspace) -> date | None:
    """The configured calibration end, or the day of the last order (None without any).

    Attribution only relabels orders, so the last order is read from the ``orders``
    table itself. The pipeline asks once per run and hands the answer to every step.
    """
    if ws.settings.calibration_end is not None:
        return ws.settings.calibration_end
    if not ws.warehouse.exists("orders"):
        return None
    last = ws.engine.execute(ws.warehouse.table("orders").ordered_at.max())
    return None if last is None else last.date()
