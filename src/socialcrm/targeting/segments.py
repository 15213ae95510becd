"""Social segments inside value tiers, each with its reason; sizes and value per run.

``customer_segments``: one row per customer of ``customer_scores``, with the value tier
and social segment of the first matching rule of each kind (see ``rules.toml``) and the
reasons quoting the values that matched. ``segment_summary`` accumulates one block of
rows per run date, so sizes and value can be followed over time.
"""

from __future__ import annotations

from datetime import date

import ibis
import pyarrow as pa
from ibis.expr import types as ir

from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace
from socialcrm.targeting.rules import Rules, first_match, load_rules

SEGMENTS_TABLE = "customer_segments"
SUMMARY_TABLE = "segment_summary"
AT_RISK = ("high", "very_high")
COUNTS = (
    "posts",
    "negative_posts",
    "positive_posts",
    "complaints",
    "praise",
    "suggestions",
    "original_posts",
    "original_praise",
    "original_complaints",
)
"""Per-person counts of own posts (not reshares, not spam) that rules can use. The
``original_*`` counts leave replies out too: a reply answers someone else's post and takes
the thread's tone, so what a person thinks of the brand shows in the posts they start."""
SUMMARY_SCHEMA = pa.schema(
    [
        ("run_date", pa.date32()),
        ("tier", pa.string()),
        ("segment", pa.string()),
        ("customers", pa.int64()),
        ("total_clv", pa.float64()),
        ("mean_clv", pa.float64()),
        ("mean_trinity", pa.float64()),
        ("share_at_risk", pa.float64()),
    ]
)


def social_activity(ws: Workspace) -> ir.Table | None:
    """Per person with linked posts: own posts, negative/positive, complaints, praise, ideas,
    and posts, praise and complaints among the original ones (not replies).

    ``posts_enriched.customer_id`` is set only under social_linking consent; trinity's
    ``social_linking`` flag is checked again where this is joined.
    """
    if not ws.warehouse.exists("posts_enriched"):
        return None
    p = ws.warehouse.table("posts_enriched")
    p = p.filter(
        p.customer_id.notnull() & p.reshare_of_post_id.isnull() & ~p.is_spam.fill_null(False)
    )
    original = p.reply_to_post_id.isnull()
    return p.group_by(a_id=p.customer_id).aggregate(
        posts=p.count(),
        negative_posts=(p.sentiment_label == "negative").cast("int64").sum(),
        positive_posts=(p.sentiment_label == "positive").cast("int64").sum(),
        complaints=(p.intent == "complaint").cast("int64").sum(),
        praise=(p.intent == "praise").cast("int64").sum(),
        suggestions=(p.intent == "suggestion").cast("int64").sum(),
        original_posts=original.cast("int64").sum(),
        original_praise=(original & (p.intent == "praise")).cast("int64").sum(),
        original_complaints=(original & (p.intent == "complaint")).cast("int64").sum(),
        mean_sentiment=p.sentiment_score.mean(),
    )


def segment_inputs(scores: ir.Table, activity: ir.Table | None) -> ir.Table:
    """customer_scores plus social activity (consented only) and silence."""
    t = scores
    if "posts" in t.columns:  # customer_influence's count; ours (own, not spam) replaces it
        t = t.drop("posts")
    if activity is not None:
        j = t.left_join(activity, t.customer_id == activity.a_id)
        social = j.social_linking.fill_null(False)
        t = j.select(
            *[j[c] for c in t.columns],
            **{
                c: ibis.cases((social, j[c].fill_null(0)), else_=ibis.null(j[c].type()))
                for c in COUNTS
            },
            mean_sentiment=ibis.cases((social, j.mean_sentiment), else_=ibis.null("float64")),
        )
    else:
        t = t.mutate(
            **{c: ibis.null("int64") for c in COUNTS},
            mean_sentiment=ibis.null("float64"),
        )
    if "T" in t.columns:
        t = t.mutate(silence=t["T"] - t.recency)
    return t


def assign_segments(inputs: ir.Table, rules: Rules) -> ir.Table:
    """Tier, segment and both reasons per customer (first matching rule of each kind)."""
    tier, tier_reason = first_match(inputs, rules.tiers)
    seg, seg_reason = first_match(inputs, rules.segments)
    keep = [c for c in ("trinity_score", "clv", "p_alive", "risk_band") if c in inputs.columns]
    return inputs.select(
        "customer_id",
        *keep,
        tier=tier,
        segment=seg,
        reason=seg_reason,
        tier_reason=tier_reason,
    )


def segment_summary(segments: ir.Table, run_date: date) -> ir.Table:
    """Customers, CLV, TRInity and at-risk share per (tier, segment) on ``run_date``."""
    s = segments
    clv = s.clv if "clv" in s.columns else ibis.null("float64")
    risk = s.risk_band.isin(AT_RISK) if "risk_band" in s.columns else ibis.literal(False)
    s = s.mutate(_clv=clv.cast("float64"), _risk=risk.fill_null(False).cast("float64"))
    return (
        s.group_by(tier=s.tier, segment=s.segment)
        .aggregate(
            customers=s.count(),
            total_clv=s._clv.sum(),
            mean_clv=s._clv.mean(),
            mean_trinity=s.trinity_score.mean(),
            share_at_risk=s._risk.mean(),
        )
        .mutate(run_date=ibis.literal(run_date))
        .select(*SUMMARY_SCHEMA.names)
    )


def step_segments(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: ``customer_segments``, and the run day's block of ``segment_summary``."""
    rules = load_rules(ws.settings.targeting_rules)
    inputs = segment_inputs(ws.warehouse.table("customer_scores"), social_activity(ws))
    segs = assign_segments(inputs, rules).order_by("customer_id")
    n = ws.warehouse.write(SEGMENTS_TABLE, segs)
    run_date = ctx.run_date
    today = ws.engine.to_arrow(segment_summary(ws.warehouse.table(SEGMENTS_TABLE), run_date))
    today = today.cast(SUMMARY_SCHEMA)
    if ws.warehouse.exists(SUMMARY_TABLE):
        past = ws.warehouse.read_arrow(SUMMARY_TABLE).cast(SUMMARY_SCHEMA)
        keep = [d != run_date for d in past.column("run_date").to_pylist()]
        past = past.filter(pa.array(keep, pa.bool_()))
        today = pa.concat_tables([past, today])
    today = today.sort_by(
        [("run_date", "ascending"), ("tier", "ascending"), ("segment", "ascending")]
    )
    return {SEGMENTS_TABLE: n, SUMMARY_TABLE: ws.warehouse.write(SUMMARY_TABLE, today)}


__all__ = [
    "SEGMENTS_TABLE",
    "SUMMARY_TABLE",
    "assign_segments",
    "segment_inputs",
    "segment_summary",
    "social_activity",
    "step_segments",
]
