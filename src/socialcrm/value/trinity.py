"""The Value TRInity: transaction, relationship and influence as percentiles and a composite.

Each axis becomes a percentile 0-100 among the customers for whom it is *known*
(``percent_rank``: the lowest value is 0, the highest 100, ties share a rank), and the
composite is the weighted mean of the known axes' percentiles, the weights renormalised
over them. An axis is unknown, never zero, when its data is missing:

- transaction: no purchase model could be fitted (customers without orders, in a
  workspace that has orders, are known non-buyers with value 0);
- relationship: the customer has no record in ``customers`` (transactions-only data such
  as CDNOW, or guest buyers known only by an email);
- influence: no social data at all, or the person has no ``social_linking`` consent in
  force — then nothing social is counted for them, however visible they are.

``unknown`` says which axes are unknown and why, in words, so a reader of the table is
never left to guess whether a 0 means "none" or "not measured".

>>> from socialcrm.value.trinity import AXES
>>> AXES
('transaction', 'relationship', 'influence')
"""

from __future__ import annotations

import ibis
from ibis.expr import types as ir

from socialcrm.store.rounding import round_half_away
from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

TABLE = "customer_scores"
AXES = ("transaction", "relationship", "influence")
TRANSACTION_COLUMNS = (
    "frequency", "recency", "T", "monetary", "first_purchase", "last_purchase", "spend",
    "rfm_code", "p_alive", "expected_purchases", "expected_spend", "clv", "risk_band", "overdue",
)  # fmt: skip
RELATIONSHIP_COLUMNS = (
    "personal_depth", "profile_depth", "preferential_depth", "performance_depth",
    "recency_factor", "days_since_shared",
)  # fmt: skip
INFLUENCE_COLUMNS = ("amplifier", "community_id", "community_role", "followers", "posts",
                     "responses_per_post", "cascade_reach", "pagerank")  # fmt: skip
# Types of the explaining columns, so ``customer_scores`` keeps one schema whatever inputs
# exist (segment rules name these columns; an absent input reads as null, not an error).
COLUMN_TYPES: dict[str, str] = {
    "frequency": "int64", "recency": "float64", "T": "float64", "monetary": "float64",
    "first_purchase": "date", "last_purchase": "date", "spend": "float64",
    "rfm_code": "string", "p_alive": "float64", "expected_purchases": "float64",
    "expected_spend": "float64", "clv": "float64", "risk_band": "string", "overdue": "boolean",
    **{c: "float64" for c in RELATIONSHIP_COLUMNS},
    "amplifier": "boolean", "community_id": "int64", "community_role": "string",
    "followers": "int64", "posts": "int64", "responses_per_post": "float64",
    "cascade_reach": "int64", "pagerank": "float64",
}  # fmt: skip


def percentile(value: ir.NumericValue, known: ir.BooleanValue) -> ir.FloatingValue:
    """0-100 rank of ``value`` among the rows where ``known``; null elsewhere."""
    pr = ibis.percent_rank().over(group_by=known, order_by=value)
    return ibis.cases((known, round_half_away(100.0 * pr, 2)), else_=ibis.null("float64"))


def _weights(ws: Workspace) -> dict[str, float]:
    s = ws.settings
    w = {
        "transaction": s.trinity_weight_transaction,
        "relationship": s.trinity_weight_relationship,
        "influence": s.trinity_weight_influence,
    }
    if sum(w.values()) <= 0:
        raise ValueError("TRInity weights are all 0: give at least one axis a weight")
    return w


def _universe(ws: Workspace) -> ir.Table:
    """Every person the workspace knows: customer records' people and every buyer."""
    from socialcrm.value.relationship import person_records

    parts = []
    if ws.warehouse.exists("customers"):
        p = person_records(ws)
        parts.append(p.select(customer_id=p.customer_id.cast("string")))
    if ws.warehouse.exists("customer_transaction_scores"):
        t = ws.warehouse.table("customer_transaction_scores")
        parts.append(t.select(customer_id=t.customer_id.cast("string")))
    if not parts:
        raise KeyError("no customers and no customer_transaction_scores: nothing to score")
    return ibis.union(*parts, distinct=True)


def trinity_scores(ws: Workspace, weights: dict[str, float] | None = None) -> ir.Table:
    """The ``customer_scores`` expression (see the module docstring)."""
    from socialcrm.connecting.consent import granted

    wh = ws.warehouse
    w = weights or _weights(ws)
    j = _universe(ws)
    has_t = wh.exists("customer_transaction_scores")
    has_r = wh.exists("customer_relationship")
    has_i = wh.exists("customer_influence")
    has_c = wh.exists("consents")
    basis, model_ok = "none", False
    # join first, then build every column on the finished join
    if has_t:
        t = wh.table("customer_transaction_scores")
        basis = "clv" if ws.engine.execute(t.clv.count()) else "expected_purchases"
        model_ok = bool(ws.engine.execute(t.p_alive.count()))
        t = t.select("customer_id", *TRANSACTION_COLUMNS).rename(t_id="customer_id")
        j = j.left_join(t, j.customer_id == t.t_id)
    if has_r:
        r = wh.table("customer_relationship").select(
            "customer_id", "relationship_value", *RELATIONSHIP_COLUMNS
        )
        r = r.rename(r_id="customer_id")
        j = j.left_join(r, j.customer_id == r.r_id)
    if has_c:
        resolved = wh.exists("identity_clusters")
        allowed = granted(ws, "social_linking", resolved=resolved).rename(s_id="customer_id")
        j = j.left_join(allowed, j.customer_id == allowed.s_id)
    if has_i:
        inf = wh.table("customer_influence").select(
            "customer_id", "influence_score", *INFLUENCE_COLUMNS
        )
        inf = inf.rename(i_id="customer_id", influence_raw="influence_score")
        j = j.left_join(inf, j.customer_id == inf.i_id)
    j = j.select(~ibis.selectors.matches("^(t_id|r_id|i_id)$"))

    cols: dict[str, ir.Value] = {}
    if has_t:
        t_known = ibis.literal(model_ok)
        # customers without orders, in a workspace with orders, are known non-buyers
        t_value = ibis.cases((j.frequency.notnull(), j[basis].fill_null(0.0)), else_=0.0)
        t_reason = "no purchase model could be fitted"
    else:
        t_known, t_value, t_reason = ibis.literal(False), ibis.null("float64"), "no orders"
    if has_r:
        r_known = j.relationship_value.notnull()
        r_value = j.relationship_value
        r_reason = "no customer record (buyer known only from orders)"
    else:
        r_known, r_value = ibis.literal(False), ibis.null("float64")
        r_reason = "no customer records (transactions-only data)"
    linking = j.s_id.notnull() if has_c else ibis.literal(False)
    if has_i:
        i_known = linking
        # a consenting person with no handle in the graph has no measurable influence: 0
        i_value = ibis.cases((linking, j.influence_raw.fill_null(0.0)), else_=None)
        for c in INFLUENCE_COLUMNS:
            cols[c] = ibis.cases((linking, j[c]), else_=ibis.null(j[c].type()))
        i_reason = "no social_linking consent"
    else:
        i_known, i_value, i_reason = ibis.literal(False), ibis.null("float64"), "no social data"

    known = {"transaction": t_known, "relationship": r_known, "influence": i_known}
    values = {"transaction": t_value, "relationship": r_value, "influence": i_value}
    reasons = {"transaction": t_reason, "relationship": r_reason, "influence": i_reason}
    j = j.mutate(
        **{f"{a}_known": known[a] for a in AXES},
        **{f"{a}_value": values[a].cast("float64") for a in AXES},
        **cols,
        social_linking=linking,
    )
    j = j.mutate(**{f"{a}_score": percentile(j[f"{a}_value"], j[f"{a}_known"]) for a in AXES})
    num = sum(
        (ibis.cases((j[f"{a}_known"], j[f"{a}_score"] * w[a]), else_=0.0) for a in AXES),
        ibis.literal(0.0),
    )
    den = sum((ibis.cases((j[f"{a}_known"], w[a]), else_=0.0) for a in AXES), ibis.literal(0.0))
    axes = [ibis.cases((j[f"{a}_known"], a[0].upper()), else_="") for a in AXES]
    unknown = [ibis.cases((j[f"{a}_known"], ""), else_=f"{a}: {reasons[a]}; ") for a in AXES]
    out = j.mutate(
        trinity_score=ibis.cases(
            (den > 0, round_half_away(num / den, 2)), else_=ibis.null("float64")
        ),
        trinity_axes=axes[0] + axes[1] + axes[2],
        unknown=(unknown[0] + unknown[1] + unknown[2]).re_replace(r";\s*$", "").nullif(""),
        transaction_basis=ibis.literal(basis),
    )
    keep = [
        "customer_id", "trinity_score", "trinity_axes", "unknown",
        *[f"{a}_{k}" for a in AXES for k in ("score", "value", "known")],
        "transaction_basis", *TRANSACTION_COLUMNS, *RELATIONSHIP_COLUMNS,
        "social_linking", *INFLUENCE_COLUMNS,
    ]  # fmt: skip
    return out.select(
        *[out[c] if c in out.columns else ibis.null(COLUMN_TYPES[c]).name(c) for c in keep]
    ).order_by("customer_id")


def step_trinity(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: write ``customer_scores`` (one row per person or buyer)."""
    if not (ws.warehouse.exists("customers") or ws.warehouse.exists("customer_transaction_scores")):
        return {}
    return {TABLE: ws.warehouse.write(TABLE, trinity_scores(ws))}


__all__ = ["AXES", "TABLE", "percentile", "step_trinity", "trinity_scores"]
