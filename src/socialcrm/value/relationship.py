"""Relationship value: how much each customer chose to share with us, along the Four Ps.

The relationship axis of the Value TRInity. Each P is a *depth* in [0, 1], the mean of a
few items the customer may or may not have given us (see :data:`ITEMS`); the score
weighs the four depths (:data:`WEIGHTS`) and discounts them by how long ago the customer
last shared or engaged (half-life :data:`HALF_LIFE_DAYS`, never below
:data:`RECENCY_FLOOR`)::

    depth = sum(WEIGHTS[p] * depth_p)
    relationship = 100 * depth * (floor + (1 - floor) * 0.5 ** (age / half_life))

Records of one person (``identity_clusters``) count together: an item is shared if any
of the person's records holds it. Everything runs on the engine; nothing is pulled back.

>>> sorted(WEIGHTS) == sorted(ITEMS)
True
"""

from __future__ import annotations

import ibis
from ibis.expr import types as ir

from socialcrm.store.rounding import round_half_away, whole_seconds
from socialcrm.store.run import RunContext
from socialcrm.store.schemas import CONSENT_PURPOSES, CONSENTS, IDENTITIES, PLATFORMS, TOUCHES
from socialcrm.store.workspace import Workspace

TABLE = "customer_relationship"

WEIGHTS = {"personal": 0.20, "profile": 0.25, "preferential": 0.25, "performance": 0.30}
"""Performance weighs most: engaging with our channels costs the customer effort every
time, so it is the strongest sign of a chosen relationship. Personal data weighs least:
a name and an address are mostly required to get an order delivered, not chosen."""
ITEMS = {
    "personal": ("name", "birth_date", "gender", "address", "country", "email", "phone"),
    "profile": ("interests", "occupation", "handles"),
    "preferential": ("preferred_channel", "social_sites", "contact_frequency", "consents"),
    "performance": ("opens", "clicks", "replies", "reviews", "surveys"),
}
"""What each P is made of; each item is in [0, 1] (see :func:`relationship_parts`)."""
HALF_LIFE_DAYS = 365.0
RECENCY_FLOOR = 0.5
"""A deep relationship that went quiet still counts half: what was shared stays shared."""
CAP = {"interests": 3, "handles": 2, "reviews": 3, "surveys": 3}
"""Counts saturate here: the third interest says more than the tenth."""


def person_records(ws: Workspace) -> ir.Table:
    """(record_id, customer_id): customer records and the person they belong to.

    Resolved people once identity resolution has run, else each record is a person.
    """
    if ws.warehouse.exists("identity_clusters"):
        return ws.warehouse.table("identity_clusters").select("record_id", "customer_id")
    if not ws.warehouse.exists("customers"):
        raise KeyError("no customers table: relationship needs customer records")
    c = ws.warehouse.table("customers")
    return c.select(record_id=c.customer_id, customer_id=c.customer_id)


def _capped(n: ir.NumericValue, cap: int) -> ir.FloatingValue:
    return ibis.least(n.cast("float64"), float(cap)) / float(cap)


def _filled(col: ir.Value) -> ir.IntegerValue:
    if col.type().is_string():
        return (col.notnull() & (col.strip() != "")).cast("int64")
    return col.notnull().cast("int64")


def relationship_parts(ws: Workspace) -> ir.Table:
    """One row per person: every Four-Ps item, the four depths, last sharing time."""
    wh = ws.warehouse
    people = person_records(ws)
    cust = wh.table("customers")
    c = cust.inner_join(people, cust.customer_id == people.record_id)
    gender_given = c.gender.notnull() & (c.gender != "undisclosed")
    per = c.group_by(person=c.customer_id_right).aggregate(
        name=(_filled(c.first_name) * _filled(c.last_name)).max(),
        birth_date=_filled(c.birth_date).max(),
        gender=gender_given.cast("int64").max(),
        address=(_filled(c.street) * _filled(c.city) * _filled(c.postcode)).max(),
        country=_filled(c.country).max(),
        n_interests=(c.interests.re_split(";").length() * _filled(c.interests)).max(),
        occupation=_filled(c.occupation).max(),
        preferred_channel=_filled(c.preferred_channel).max(),
        social_sites=_filled(c.preferred_social_sites).max(),
        contact_frequency=_filled(c.contact_frequency).max(),
        reviews_n=c.reviews_written.fill_null(0).max(),
        surveys_n=c.surveys_answered.fill_null(0).max(),
        created_last=c.created_at.max(),
    )

    ids = wh.table_or_empty("identities", IDENTITIES.arrow_schema)
    i = ids.inner_join(people, ids.customer_id == people.record_id)
    idn = i.group_by(person=i.customer_id_right).aggregate(
        email=(i.kind == "email").cast("int64").max(),
        phone=(i.kind == "phone").cast("int64").max(),
        n_handles=(i.kind + ":" + i.value).nunique(where=i.kind.isin(list(PLATFORMS))),
        ids_last=i.last_seen.max(),
    )

    cons = wh.table_or_empty("consents", CONSENTS.arrow_schema)
    k = cons.inner_join(people, cons.customer_id == people.record_id)
    k = k.select(person=k.customer_id_right, purpose=k.purpose, status=k.status, at=k.recorded_at)
    # the latest status per person and purpose (all granted when several share the latest
    # moment): one row per moment first, then the one at the latest moment; two
    # aggregations, where joining the consents back to their latest moment took a second
    # pass over them and the largest join of the step
    moment = k.group_by("person", "purpose", "at").aggregate(
        ok=(k.status == "granted").cast("int64").min()
    )
    kl = moment.group_by("person", "purpose").aggregate(
        ok=moment.ok.argmax(moment.at), at=moment.at.max()
    )
    con = kl.group_by("person").aggregate(
        n_granted=kl.ok.sum(), consents_last=kl.at.max(where=kl.ok == 1)
    )

    tch = wh.table_or_empty("touches", TOUCHES.arrow_schema)
    t = tch.inner_join(people, tch.customer_id == people.record_id)
    engaged = t.event.isin(["open", "click", "reply"])
    tou = t.group_by(person=t.customer_id_right).aggregate(
        sent=(t.event == "sent").cast("int64").sum(),
        opened=(t.event == "open").cast("int64").sum(),
        clicked=(t.event == "click").cast("int64").sum(),
        replied=(t.event == "reply").cast("int64").sum(),
        touches_last=t.at.max(where=engaged),
    )

    j = per.left_join(idn, per.person == idn.person).drop("person_right")
    j = j.left_join(con, j.person == con.person).drop("person_right")
    j = j.left_join(tou, j.person == tou.person).drop("person_right")
    z = 0
    sent = j.sent.fill_null(z).cast("float64")
    opened = j.opened.fill_null(z).cast("float64")
    items = {
        "name": j.name.cast("float64"),
        "birth_date": j.birth_date.cast("float64"),
        "gender": j.gender.cast("float64"),
        "address": j.address.cast("float64"),
        "country": j.country.cast("float64"),
        "email": j.email.fill_null(z).cast("float64"),
        "phone": j.phone.fill_null(z).cast("float64"),
        "interests": _capped(j.n_interests.fill_null(z), CAP["interests"]),
        "occupation": j.occupation.cast("float64"),
        "handles": _capped(j.n_handles.fill_null(z), CAP["handles"]),
        "preferred_channel": j.preferred_channel.cast("float64"),
        "social_sites": j.social_sites.cast("float64"),
        "contact_frequency": j.contact_frequency.cast("float64"),
        "consents": j.n_granted.fill_null(z).cast("float64") / len(CONSENT_PURPOSES),
        # opens per mail received, clicks per open: how much of what we send is read
        "opens": ibis.cases((sent > 0, ibis.least(opened / sent, 1.0)), else_=0.0),
        "clicks": ibis.cases(
            (opened > 0, ibis.least(j.clicked.fill_null(z).cast("float64") / opened, 1.0)),
            else_=0.0,
        ),
        "replies": ibis.least(j.replied.fill_null(z).cast("float64"), 1.0),
        "reviews": _capped(j.reviews_n, CAP["reviews"]),
        "surveys": _capped(j.surveys_n, CAP["surveys"]),
    }
    depths = {
        p: sum((items[name] for name in names), ibis.literal(0.0)) / len(names)
        for p, names in ITEMS.items()
    }
    last = ibis.greatest(
        j.created_last,
        ibis.coalesce(j.ids_last, j.created_last),
        ibis.coalesce(j.consents_last, j.created_last),
        ibis.coalesce(j.touches_last, j.created_last),
    )
    return j.select(
        customer_id=j.person,
        **{f"p_{name}": v for name, v in items.items()},
        **{f"{p}_depth": d for p, d in depths.items()},
        last_shared_at=last,
    )


def relationship_scores(
    ws: Workspace,
    half_life_days: float = HALF_LIFE_DAYS,
    weights: dict[str, float] | None = None,
) -> ir.Table:
    """The ``customer_relationship`` expression: parts, depth, recency and the 0-100 score.

    Recency is measured from the latest sharing moment in the data (deterministic, unlike
    today's date), so re-running on the same data gives the same scores.
    """
    w = weights or WEIGHTS
    if abs(sum(w.values()) - 1.0) > 1e-9 or set(w) != set(WEIGHTS):
        raise ValueError(f"relationship weights must name {sorted(WEIGHTS)} and sum to 1")
    parts = relationship_parts(ws)
    ref = parts.last_shared_at.max().as_scalar()
    age = (whole_seconds(ref) - whole_seconds(parts.last_shared_at)).cast("float64") / 86400.0
    recency = ibis.literal(0.5).pow(age.clip(lower=0) / half_life_days)
    depth = sum((parts[f"{p}_depth"] * w[p] for p in WEIGHTS), ibis.literal(0.0))
    factor = RECENCY_FLOOR + (1 - RECENCY_FLOOR) * recency
    return parts.mutate(
        depth=depth,
        days_since_shared=age,
        recency_factor=factor,
        relationship_value=round_half_away(100.0 * depth * factor, 2),
    ).order_by("customer_id")


def step_relationship(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: write ``customer_relationship`` (one row per person)."""
    expr = relationship_scores(ws, ws.settings.relationship_half_life_days)
    return {TABLE: ws.warehouse.write(TABLE, expr)}


__all__ = [
    "HALF_LIFE_DAYS",
    "ITEMS",
    "TABLE",
    "WEIGHTS",
    "person_records",
    "relationship_parts",
    "relationship_scores",
    "step_relationship",
]
