"""The social graph as a weighted edge list, built on the engine (DuckDB or Spark).

An edge ``src -> dst`` means *src pays attention to dst*: src follows dst, replies to
dst, reshares dst, or mentions dst. Interactions fade with age (a half-life), follows do
not (they are a standing subscription). Nodes are handles on one platform, except that
the handles of a person who consented to social linking are merged into one node for that
person, so her audience on every network counts together. Without that consent her
handles stay anonymous nodes: nothing here ties them to her record.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import ibis
from ibis.expr import types as ir

from socialcrm.connecting.consent import granted
from socialcrm.store.rounding import whole_seconds
from socialcrm.store.schemas import FOLLOWS, IDENTITIES, PLATFORMS, POSTS
from socialcrm.store.workspace import Workspace

KIND_WEIGHTS = {"follow": 1.0, "reply": 1.0, "reshare": 2.0, "mention": 0.5}
"""How much attention each kind of edge shows: a reshare passes a message on to one's
own audience, so it counts double; a mention is the weakest signal."""
MENTION = r"@([A-Za-z0-9_][A-Za-z0-9_.]*[A-Za-z0-9_])"
WEIGHT_UNIT = 2.0**-32
"""Edge weights are summed as whole multiples of this unit, so that every engine adds them
up exactly, in any order: summed as doubles, an edge's decayed interactions came out with
other last bits on DuckDB and on Spark (each adds in its own order), which moved a few
near-tied PageRank percentiles at 100k customers. A unit this small changes no weight by
more than 2.4e-10."""


def handle_owners(ws: Workspace) -> ir.Table:
    """(platform, handle, customer_id) for handles whose person granted social linking.

    Persons are resolved people when identity clusters exist, else customer records.
    """
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    social = ids.filter(ids.kind.isin(list(PLATFORMS)))
    social = social.select(platform=social.kind, handle=social.value, record_id=social.customer_id)
    resolved = ws.warehouse.exists("identity_clusters")
    if resolved:
        clusters = ws.warehouse.table("identity_clusters").select("record_id", "customer_id")
        social = social.left_join(clusters, social.record_id == clusters.record_id)
        social = social.select(
            "platform", "handle", customer_id=ibis.coalesce(social.customer_id, social.record_id)
        )
    else:
        social = social.select("platform", "handle", customer_id=social.record_id)
    allowed = granted(ws, "social_linking", resolved=resolved)
    linked = social.filter(social.customer_id.isin(allowed.customer_id))
    return linked.group_by("platform", "handle").aggregate(customer_id=linked.customer_id.min())


def reference_time(ws: Workspace) -> datetime | None:
    """The moment ages are measured from: the latest post (deterministic, unlike now())."""
    if not ws.warehouse.exists("posts"):
        return None
    # a scalar expression: a pandas Timestamp, a datetime, NaT or None
    value: Any = ws.engine.execute(ws.warehouse.table("posts").created_at.max())
    if value is None or value != value:  # None or NaT: no posts
        return None
    latest: datetime = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    # Spark hands back naive timestamps in its session zone, which we set to UTC
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)


def raw_edges(ws: Workspace, half_life_days: float, ref: datetime | None) -> ir.Table:
    """(platform, src, dst, kind, units) per follow and interaction: its weight, decayed,
    in whole :data:`WEIGHT_UNIT` s."""
    posts = ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)
    follows = ws.warehouse.table_or_empty("follows", FOLLOWS.arrow_schema)
    parts = [
        follows.select(
            "platform",
            src=follows.follower_handle,
            dst=follows.followed_handle,
            kind=ibis.literal("follow"),
            weight=ibis.literal(KIND_WEIGHTS["follow"]),
        )
    ]
    if ref is not None:
        ref_s = math.floor(ref.timestamp())  # whole seconds, as whole_seconds on the engine
        age_s = ibis.literal(ref_s) - whole_seconds(posts.created_at)
        age_days = age_s.clip(lower=0).cast("float64") / 86400.0
        p = posts.mutate(decay=ibis.literal(0.5).pow(age_days / half_life_days))
        parent = posts.select(
            parent_id=posts.post_id,
            parent_platform=posts.platform,
            parent_author=posts.author_handle,
        )
        for kind, column in (("reply", "reply_to_post_id"), ("reshare", "reshare_of_post_id")):
            j = p.inner_join(parent, p[column] == parent.parent_id)
            parts.append(
                j.select(
                    "platform",
                    src=j.author_handle,
                    dst=j.parent_author,
                    kind=ibis.literal(kind),
                    weight=j.decay * KIND_WEIGHTS[kind],
                )
            )
        mentioned = p.mutate(mentioned=p.text.re_extract(MENTION, 1).lower())
        mentioned = mentioned.filter(
            mentioned.mentioned.notnull()
            & (mentioned.mentioned != "")
            & mentioned.reshare_of_post_id.isnull()
        )
        parts.append(
            mentioned.select(
                "platform",
                src=mentioned.author_handle,
                dst=mentioned.mentioned,
                kind=ibis.literal("mention"),
                weight=mentioned.decay * KIND_WEIGHTS["mention"],
            )
        )
    # one schema for all parts: a missing optional table is a memtable with nullable types
    parts = [
        p.select(
            platform=p.platform.cast("string"),
            src=p.src.cast("string"),
            dst=p.dst.cast("string"),
            kind=p.kind.cast("string"),
            units=(p.weight.cast("float64") / WEIGHT_UNIT + 0.5).floor().cast("int64"),
        )
        for p in parts
    ]
    edges = ibis.union(*parts, distinct=False)
    return edges.filter(edges.src != edges.dst)


def node_edges(ws: Workspace, half_life_days: float, ref: datetime | None) -> ir.Table:
    """(platform, src, dst, weight, interactions) between nodes: handles, or consenting people.

    A node id is ``c:<customer_id>`` for a linked person and ``h:<platform>:<handle>``
    otherwise; self-loops (a person's own handles following each other) are dropped. Edges
    stay apart per platform (a person's node can have edges on several): communities are
    found per platform first (``network.layered_communities``); the attention graph of
    PageRank adds them up.
    """
    edges = raw_edges(ws, half_life_days, ref)
    owners = handle_owners(ws)
    s = owners.select(s_platform="platform", s_handle="handle", s_customer="customer_id")
    d = owners.select(d_platform="platform", d_handle="handle", d_customer="customer_id")
    j = edges.left_join(s, [edges.platform == s.s_platform, edges.src == s.s_handle])
    j = j.left_join(d, [j.platform == d.d_platform, j.dst == d.d_handle])
    j = j.select(
        "platform",
        src=node_id(j.platform, j.src, j.s_customer),
        dst=node_id(j.platform, j.dst, j.d_customer),
        units=j.units,
        interaction=(j.kind != "follow").cast("int64"),
    )
    j = j.filter(j.src != j.dst)
    g = j.group_by("platform", "src", "dst").aggregate(
        units=j.units.sum(), interactions=j.interaction.sum()
    )
    # whole units add up exactly (far below 2**53), so the weight has the same bits
    # on every engine
    weight = g.units.cast("float64") * WEIGHT_UNIT
    return g.select("platform", "src", "dst", weight=weight, interactions="interactions")


def node_id(platform: ir.StringValue, handle: ir.StringValue, customer: ir.StringValue) -> ir.Value:
    return ibis.cases((customer.notnull(), "c:" + customer), else_="h:" + platform + ":" + handle)


def handle_nodes(ws: Workspace) -> ir.Table:
    """Every handle seen (author, follower, followed) with its node id and owner."""
    posts = ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)
    follows = ws.warehouse.table_or_empty("follows", FOLLOWS.arrow_schema)
    seen = ibis.union(
        posts.select(
            platform=posts.platform.cast("string"), handle=posts.author_handle.cast("string")
        ),
        follows.select(
            platform=follows.platform.cast("string"), handle=follows.follower_handle.cast("string")
        ),
        follows.select(
            platform=follows.platform.cast("string"), handle=follows.followed_handle.cast("string")
        ),
        distinct=True,
    )
    owners = handle_owners(ws)
    j = seen.left_join(owners, [seen.platform == owners.platform, seen.handle == owners.handle])
    return j.select(
        platform=seen.platform,
        handle=seen.handle,
        customer_id=j.customer_id,
        node=node_id(seen.platform, seen.handle, j.customer_id),
    )
