"""A small brand whose every referral decision and point can be worked out by hand.

People (records → resolved person):
  ana  = c1 + c2 (the same phone: one person, id c1)   ben = c3   cy = c4   dee = c5
Consent: dee granted social_linking; ben did not (his handle stays anonymous).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from socialcrm.connecting.clusters import cluster_links
from socialcrm.connecting.identity import rule_links
from socialcrm.store.schemas import CONSENTS, CUSTOMERS, IDENTITIES, ORDERS, POSTS
from socialcrm.store.workspace import Workspace

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _table(schema, rows: list[dict]) -> pa.Table:
    cols = {c: [r.get(c) for r in rows] for c in schema.arrow_schema.names}
    return pa.table(cols, schema=schema.arrow_schema)


ORDER_ROWS = [
    # order, record, email, day, amount, status
    ("o1", "c3", None, 1, 100.0, "completed"),  # ben, referred by ana's code: rewarded
    ("o2", "c2", None, 2, 80.0, "completed"),  # ana's second record with ana's code: same person
    ("o3", "c1", None, 3, 50.0, "completed"),  # ana with her own code: self-referral
    ("o4", "c5", None, 4, 30.0, "cancelled"),  # not a sale
    ("o5", None, "cy@x.com", 12, 60.0, "completed"),  # guest order by cy, after a link click
    ("o6", "c4", None, 20, 1200.5, "completed"),  # cy again: not his first order after the click
    ("o7", "c3", None, 5, 10.0, "completed"),  # claimed with an unknown code
    ("o9", "c3", None, 6, -40.0, "returned"),  # ben's refund
]


def build(ws: Workspace, with_clusters: bool = True) -> None:
    wh = ws.warehouse
    wh.write(
        "customers",
        _table(
            CUSTOMERS,
            [
                {"customer_id": f"c{i}", "source": "shop", "created_at": day(-100 + i)}
                for i in range(1, 6)
            ],
        ),
    )
    ident = [
        ("c1", "email", "ana@x.com"),
        ("c1", "phone", "+4915100000001"),
        ("c2", "email", "ana.other@y.com"),
        ("c2", "phone", "+4915100000001"),
        ("c3", "email", "ben@x.com"),
        ("c3", "twitter", "ben_tw"),
        ("c4", "email", "cy@x.com"),
        ("c5", "email", "dee@x.com"),
        ("c5", "twitter", "dee_tw"),
    ]
    wh.write(
        "identities",
        _table(
            IDENTITIES,
            [
                {
                    "customer_id": c,
                    "kind": k,
                    "value": v,
                    "raw_value": v,
                    "source": "shop",
                    "verified": True,
                }
                for c, k, v in ident
            ],
        ),
    )
    wh.write(
        "orders",
        _table(
            ORDERS,
            [
                {
                    "order_id": o,
                    "customer_id": c,
                    "email": e,
                    "ordered_at": day(d),
                    "amount": a,
                    "currency": "EUR",
                    "status": s,
                }
                for o, c, e, d, a, s in ORDER_ROWS
            ],
        ),
    )
    wh.write(
        "consents",
        _table(
            CONSENTS,
            [
                {
                    "customer_id": "c5",
                    "purpose": "social_linking",
                    "status": "granted",
                    "recorded_at": day(-50),
                },
                {
                    "customer_id": "c3",
                    "purpose": "social_linking",
                    "status": "refused",
                    "recorded_at": day(-50),
                },
            ],
        ),
    )
    posts = [
        ("p1", "acme", None, 1),  # the brand's post
        ("p2", "dee_tw", "p1", 2),  # dee reshares it: 10 points
        ("p3", "ben_tw", "p1", 2),  # ben reshares it, but his handle is not linked
        ("p4", "acme", "p1", 3),  # the brand resharing itself earns nobody anything
        ("p5", "dee_tw", None, 3),  # an own post, not a reshare
    ]
    wh.write(
        "posts",
        _table(
            POSTS,
            [
                {
                    "post_id": p,
                    "platform": "twitter",
                    "author_handle": h,
                    "created_at": day(d),
                    "text": "hello",
                    "reshare_of_post_id": r,
                }
                for p, h, r, d in posts
            ],
        ),
    )
    if with_clusters:
        links = ws.engine.to_arrow(rule_links(ws))
        ids = [f"c{i}" for i in range(1, 6)]
        wh.write("identity_clusters", cluster_links(ids, links, 0.9, created_rank=ids).clusters)


def rules_file(tmp: Path) -> Path:
    """The shipped rules with the brand's handle named."""
    from importlib.resources import files

    text = files("socialcrm.programs").joinpath("loyalty_rules.toml").read_text("utf-8")
    path = tmp / "rules.toml"
    path.write_text(text.replace("brand_handles = []", 'brand_handles = ["twitter:acme"]'))
    return path
