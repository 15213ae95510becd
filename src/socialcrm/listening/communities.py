"""Volume and sentiment over time per community, with their spikes.

Communities come from the social graph (``connecting``), which itself reads the enriched
posts, so this runs as its own step after both: ``posts_enriched`` × the community of
each author handle in ``handle_influence`` → ``community_daily`` (same columns as
``listening_daily``, dimension ``community``) and ``community_alerts`` (same columns as
``alerts``). Handles outside any community (``community_id`` −1) are left out.
"""

from __future__ import annotations

import ibis
from ibis.expr import types as ir

from socialcrm.listening.step import (
    ALERT_SCHEMA,
    DAILY_SCHEMA,
    _aggregate,
    counted,
    find_alerts,
)
from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace


def posts_with_community(enriched: ir.Table, handles: ir.Table) -> ir.Table:
    """Enriched posts with the ``community_id`` of their author (−1 when none)."""
    h = handles.select("platform", author_handle=handles.handle, _community=handles.community_id)
    h = h.group_by("platform", "author_handle").aggregate(community_id=h._community.max())
    j = enriched.left_join(
        h, [enriched.platform == h.platform, enriched.author_handle == h.author_handle]
    )
    return j.select(enriched, community_id=j.community_id.fill_null(-1).cast("int64"))


def community_daily(posts: ir.Table, communities: ir.Table | None) -> ir.Table:
    """Per day and community: posts, reach, sentiment counts, mean score, negative share."""
    c = counted(posts)
    c = c.filter(c.community_id >= 0)
    if communities is not None:
        names = communities.select(
            _cid=communities.community_id.cast("int64"), _name=communities.label
        )
        c = c.left_join(names, c.community_id == names._cid).drop("_cid")
        label = ibis.coalesce(c._name, "community " + c.community_id.cast("string"))
    else:
        label = "community " + c.community_id.cast("string")
    daily = _aggregate(c, "community", c.community_id, label, c.sentiment_score, c.sentiment_label)
    return daily.mutate(share_of_voice=ibis.null("float64")).order_by(["day", "key"])


def step_community_listening(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    wh = ws.warehouse
    if not (wh.exists("posts_enriched") and wh.exists("handle_influence")):
        return {}
    posts = posts_with_community(wh.table("posts_enriched"), wh.table("handle_influence"))
    communities = wh.table("communities") if wh.exists("communities") else None
    daily = ws.engine.to_arrow(community_daily(posts, communities)).cast(DAILY_SCHEMA)
    written = {"community_daily": wh.write("community_daily", daily)}
    mentions = wh.table("post_mentions")
    alerts = find_alerts(ws, ws.engine.memtable(daily), posts, mentions)
    written["community_alerts"] = wh.write("community_alerts", alerts.cast(ALERT_SCHEMA))
    return written
