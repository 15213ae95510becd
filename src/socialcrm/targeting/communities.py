"""Community recommendations: which topic to bring to each community, and when; whom to
reach privately instead of discounting the whole community.

One row per community of the connecting step, with the numbers behind the advice: its
members' value and at-risk share, what it talks about and how it feels (connecting and
listening), its busiest weekday (``community_daily``), its amplifiers, and what a private
retention gesture to its at-risk members costs and returns compared with a discount to
every member. Member figures count only people with social_linking consent — the only
ones a community can be tied to.
"""

from __future__ import annotations

import ibis
import pandas as pd
import pyarrow as pa

from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

TABLE = "community_recommendations"
AT_RISK = ("at_risk_high_value", "dormant")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SCHEMA = pa.schema(
    [
        ("community_id", pa.int64()),
        ("label", pa.string()),
        ("size", pa.int64()),
        ("customers", pa.int64()),
        ("share_at_risk", pa.float64()),
        ("at_risk_members", pa.int64()),
        ("private_expected_value", pa.float64()),
        ("private_cost", pa.float64()),
        ("broadcast_cost", pa.float64()),
        ("topic", pa.string()),
        ("mean_sentiment", pa.float64()),
        ("peak_weekday", pa.string()),
        ("peak_share", pa.float64()),
        ("amplifiers", pa.int64()),
        ("top_amplifiers", pa.string()),
        ("recommendation", pa.string()),
    ]
)


def _members(ws: Workspace) -> pd.DataFrame:
    """Per community: consenting members, at-risk ones, and their retention actions' value."""
    s = ws.warehouse.table("customer_scores")
    s = s.filter(s.social_linking & s.community_id.notnull())
    seg = ws.warehouse.table("customer_segments").select("customer_id", "segment")
    j = s.inner_join(seg, "customer_id")
    if ws.warehouse.exists("customer_actions"):
        a = ws.warehouse.table("customer_actions")
        a = a.filter(a.action == "retention_gesture").select(
            a_id=a.customer_id, ev=a.expected_value
        )
        j = j.left_join(a, j.customer_id == a.a_id)
        ev = j.ev
    else:
        ev = ibis.null("float64")
    risky = j.segment.isin(AT_RISK)
    g = j.group_by("community_id").aggregate(
        members=j.count(),
        at_risk_members=risky.cast("int64").sum(),
        private_expected_value=ev.sum(),
        retained_offers=ev.count(),
    )
    return ws.engine.to_arrow(g).to_pandas()


def _peaks(ws: Workspace) -> pd.DataFrame:
    """Per community: its busiest weekday and that day's share of its posts."""
    if not ws.warehouse.exists("community_daily"):
        return pd.DataFrame(columns=["community_id", "peak_weekday", "peak_share"])
    d = ws.warehouse.table("community_daily")
    d = d.filter(d.dimension == "community")
    g = d.group_by(key=d.key, dow=d.day.day_of_week.index()).aggregate(posts=d.posts.sum())
    df = ws.engine.to_arrow(g).to_pandas()
    rows = []
    for key, part in df.groupby("key"):
        top = part.sort_values(["posts", "dow"], ascending=[False, True]).iloc[0]
        total = part.posts.sum()
        rows.append(
            {
                "community_id": int(key),
                "peak_weekday": WEEKDAYS[int(top.dow)],
                "peak_share": float(top.posts / total) if total else None,
            }
        )
    return pd.DataFrame(rows, columns=["community_id", "peak_weekday", "peak_share"])


def recommend(ws: Workspace, offer_cost: float | None = None) -> pa.Table:
    """The ``community_recommendations`` table (see the module docstring).

    ``offer_cost`` is what one retention offer costs; default the shipped
    ``retention_gesture`` action's cost.
    """
    from socialcrm.targeting.rules import load_rules

    if offer_cost is None:
        rules = load_rules(ws.settings.targeting_rules)
        costs = [a.cost for a in rules.actions if a.name == "retention_gesture"]
        offer_cost = costs[0] if costs else 0.0
    comm = ws.warehouse.read_arrow("communities").to_pandas()
    if comm.empty:
        return SCHEMA.empty_table()
    comm = comm.merge(_members(ws), on="community_id", how="left")
    comm = comm.merge(_peaks(ws), on="community_id", how="left")
    rows = []
    for c in comm.itertuples():
        at_risk = int(0 if pd.isna(c.at_risk_members) else c.at_risk_members)
        ev = None if pd.isna(c.private_expected_value) else float(c.private_expected_value)
        # the community's name carries its most distinctive topic (connecting step)
        topic = c.label.split(" · ", 1)[1] if " · " in c.label else None
        if topic is None and isinstance(c.top_topics, str):
            topic = c.top_topics.split("; ")[0]
        peak = None if pd.isna(c.peak_weekday) else str(c.peak_weekday)
        share = None if pd.isna(c.peak_share) else float(c.peak_share)
        parts = []
        if topic:
            when = f" on {peak}s (its busiest day, {share:.0%} of its posts)" if peak else ""
            parts.append(f"bring '{topic}' to the community{when}")
        if at_risk:
            value = f", expected value {ev:,.2f}" if ev is not None else ""
            parts.append(
                f"reach its {at_risk} at-risk members privately{value}, at a cost of "
                f"{at_risk * offer_cost:,.2f} instead of {c.customers * offer_cost:,.2f} "
                f"for an offer to all {c.customers} customers"
            )
        if c.amplifiers and isinstance(c.top_amplifiers, str):
            parts.append(f"engage its amplifiers {c.top_amplifiers}")
        rows.append(
            {
                "community_id": int(c.community_id),
                "label": c.label,
                "size": int(c.size),
                "customers": int(c.customers),
                "share_at_risk": None if pd.isna(c.share_at_risk) else float(c.share_at_risk),
                "at_risk_members": at_risk,
                "private_expected_value": ev,
                "private_cost": at_risk * offer_cost,
                "broadcast_cost": c.customers * offer_cost,
                "topic": topic,
                "mean_sentiment": None if pd.isna(c.mean_sentiment) else float(c.mean_sentiment),
                "peak_weekday": peak,
                "peak_share": share,
                "amplifiers": int(c.amplifiers),
                "top_amplifiers": c.top_amplifiers if isinstance(c.top_amplifiers, str) else None,
                "recommendation": ("; ".join(parts) or "nothing to do") + ".",
            }
        )
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def step_community_recommendations(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: write ``community_recommendations``."""
    return {TABLE: ws.warehouse.write(TABLE, recommend(ws))}


__all__ = ["TABLE", "recommend", "step_community_recommendations"]
