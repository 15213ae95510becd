"""Next-best-action: a ranked list per customer, each with its reason, channel and value.

Candidates come from the ``[[action]]`` rules whose segments hold the customer. A
marketing action goes through the customer's preferred channel if its marketing consent
is in force, else through another consented channel (email, sms, phone), else not at all;
it waits (``not_before``) when the customer's contact frequency says we wrote too
recently. Nobody who asked for nothing (contact frequency ``never`` or preferred channel
``none``) gets a marketing action. Service actions (a personal response) go where the
customer spoke to us. Expected value = uplift × value at stake − cost, where estimable.

The uplift is the rules' assumption unless finished campaigns measured it: programs
writes ``measured_uplifts`` (posterior per action and segment, shrunk toward the
assumption), read here by name — targeting does not import programs. Each row says
which it used (``uplift_source``) and on how much evidence.
"""

from __future__ import annotations

import ibis
import pyarrow as pa
from ibis.expr import types as ir

from socialcrm.store.rounding import round_half_away, whole_seconds
from socialcrm.store.run import RunContext
from socialcrm.store.schemas import TOUCHES
from socialcrm.store.workspace import Workspace
from socialcrm.targeting.rules import Rules, load_rules

TABLE = "customer_actions"
CHANNEL_PURPOSE = {
    "email": "email_marketing",
    "sms": "sms_marketing",
    "phone": "phone_marketing",
    "social": "social_linking",
}
"""Channels we may market through, and the consent each needs. Push and mail have no
recorded consent purpose here, so no marketing goes through them."""
FALLBACK = ("email", "sms", "phone")
CAP_DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91}
MIN_P_ALIVE = 0.05
"""CLV if retained = CLV / P(alive), with P(alive) floored so near-certain dropouts do
not get an unbounded value at stake."""


def contact_profile(ws: Workspace) -> ir.Table:
    """Per person: preferred channel, contact frequency, consents per channel, last mail."""
    from socialcrm.connecting.consent import granted
    from socialcrm.value.relationship import person_records

    wh = ws.warehouse
    people = person_records(ws)
    c = wh.table("customers")
    c = c.inner_join(people, c.customer_id == people.record_id)
    # the newest record's say; two records of one instant: the larger record id (argmax
    # alone picks either, and DuckDB and Spark picked differently)
    newest = whole_seconds(c.created_at).cast("string").lpad(12, "0") + c.customer_id
    prof = c.group_by(p_id=c.customer_id_right).aggregate(
        preferred_channel=c.preferred_channel.argmax(newest, where=c.preferred_channel.notnull()),
        contact_frequency=c.contact_frequency.argmax(newest, where=c.contact_frequency.notnull()),
    )
    resolved = wh.exists("identity_clusters")
    for ch, purpose in CHANNEL_PURPOSE.items():
        ok = granted(ws, purpose, resolved=resolved)
        prof = prof.mutate(**{f"ok_{ch}": prof.p_id.isin(ok.customer_id)})
    t = wh.table_or_empty("touches", TOUCHES.arrow_schema)
    t = t.inner_join(people, t.customer_id == people.record_id)
    sent = t.filter((t.event == "sent") & t.campaign_id.notnull())
    last = sent.group_by(l_id=sent.customer_id_right).aggregate(last_contact=sent.at.max())
    j = prof.left_join(last, prof.p_id == last.l_id)
    return j.drop("l_id")


MEASURED = "measured_uplifts"
"""Learned uplifts, written by the programs domain before this step (when campaigns exist)."""


def measured_uplifts(ws: Workspace) -> dict[tuple[str, str | None], dict[str, object]]:
    """{(action, segment or None): measured row} of the rows with a posterior; empty when
    no campaign has been learned from (or the table lacks the columns this reads)."""
    if not ws.warehouse.exists(MEASURED):
        return {}
    t = ws.warehouse.read_arrow(MEASURED)
    need = {"action", "segment", "posterior", "campaigns", "treated", "control"}
    if not need <= set(t.column_names):
        return {}
    return {
        (r["action"], r["segment"]): r
        for r in t.select(sorted(need)).to_pylist()
        if r["action"] is not None and r["posterior"] is not None
    }


def _people(m: dict[str, object]) -> int:
    return sum(int(m[k] or 0) for k in ("treated", "control"))  # type: ignore[call-overload]


def action_table(
    rules: Rules, measured: dict[tuple[str, str | None], dict[str, object]] | None = None
) -> pa.Table:
    """The action rules as a table: one row per (segment, action).

    The uplift is the measured posterior of (action, segment) where campaigns measured
    it, else of (action, any segment), else the rule's assumption."""
    measured = measured or {}
    rows = []
    for order, a in enumerate(rules.actions):
        for seg in a.segments:
            m = measured.get((a.name, seg)) or measured.get((a.name, None))
            rows.append(
                {
                    "a_segment": seg,
                    "action": a.name,
                    "action_reason": a.reason,
                    "marketing": a.marketing,
                    "uplift": a.uplift if m is None else m["posterior"],
                    "uplift_source": "assumed" if m is None else "measured",
                    "uplift_campaigns": 0 if m is None else m["campaigns"],
                    "uplift_people": 0 if m is None else _people(m),
                    "value_kind": a.value,
                    "cost": a.cost,
                    "priority": order,
                }
            )
    schema = pa.schema(
        [
            ("a_segment", pa.string()),
            ("action", pa.string()),
            ("action_reason", pa.string()),
            ("marketing", pa.bool_()),
            ("uplift", pa.float64()),
            ("uplift_source", pa.string()),
            ("uplift_campaigns", pa.int64()),
            ("uplift_people", pa.int64()),
            ("value_kind", pa.string()),
            ("cost", pa.float64()),
            ("priority", pa.int64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def candidate_actions(segments: ir.Table, actions: ir.Table) -> ir.Table:
    """One row per (customer, action rule that applies to the customer's segment).

    ``actions`` is :func:`action_table` as an engine table (a join, not a literal per
    rule, so column types are the same on every engine).
    """
    j = segments.inner_join(actions, segments.segment == actions.a_segment)
    return j.select(
        "customer_id",
        "segment",
        segment_reason=j.reason,
        clv=j.clv.cast("float64"),
        p_alive=j.p_alive.cast("float64"),
        action=j.action,
        action_reason=j.action_reason,
        marketing=j.marketing,
        uplift=j.uplift,
        uplift_source=j.uplift_source,
        uplift_campaigns=j.uplift_campaigns,
        uplift_people=j.uplift_people,
        value_kind=j.value_kind,
        cost=j.cost,
        priority=j.priority,
    )


def next_best_actions(cands: ir.Table, contact: ir.Table, now: ir.Value) -> ir.Table:
    """Channel, consent, frequency cap, expected value and rank for the candidates."""
    j = cands.left_join(contact, cands.customer_id == contact.p_id)
    pref = j.preferred_channel
    ok = {ch: j[f"ok_{ch}"].fill_null(False) for ch in CHANNEL_PURPOSE}
    pref_ok = ibis.cases(*[(pref == ch, ok[ch]) for ch in CHANNEL_PURPOSE], else_=False)
    fallback = ibis.cases(*[(ok[ch], ch) for ch in FALLBACK], else_=ibis.null("string"))
    asked_nothing = (j.contact_frequency == "never").fill_null(False) | (pref == "none").fill_null(
        False
    )
    channel = ibis.cases(
        (~j.marketing, "reply where they posted"),
        (asked_nothing, ibis.null("string")),
        (pref_ok, pref),
        else_=fallback,
    )
    retained = j.clv / ibis.greatest(j.p_alive.fill_null(1.0), MIN_P_ALIVE)
    stake = ibis.cases(
        (j.value_kind == "clv_if_retained", retained),
        (j.value_kind == "clv", j.clv),
        else_=ibis.null("float64"),
    )
    ev = ibis.cases(
        (stake.notnull(), round_half_away(j.uplift * stake - j.cost, 2)), else_=ibis.null("float64")
    )
    blocked = ibis.cases(
        (~j.marketing, ibis.null("string")),
        (asked_nothing, "asked not to be contacted"),
        (channel.isnull(), "no marketing consent on any channel"),
        (ev < 0, "not worth it: expected value " + ev.cast("string") + " < 0"),
        else_=ibis.null("string"),
    )
    via = ibis.cases(
        (~j.marketing, ""),
        (pref_ok, "; via preferred channel " + pref.fill_null("")),
        (pref.isnull() & channel.notnull(), "; via " + channel.fill_null("") + " (no preference)"),
        (
            channel.notnull(),
            "; via "
            + channel.fill_null("")
            + " (preferred "
            + pref.fill_null("")
            + " has no marketing consent)",
        ),
        else_="",
    )
    cap = ibis.cases(
        *[(j.contact_frequency == k, d) for k, d in CAP_DAYS.items()], else_=ibis.null("int64")
    )
    due = j.last_contact + cap.cast("int64").as_interval("D")
    not_before = ibis.cases(
        (j.marketing & cap.notnull() & j.last_contact.notnull() & (due > now), due),
        else_=ibis.null("timestamp"),
    )
    out = j.select(
        "customer_id",
        "segment",
        "action",
        channel=channel,
        reason=j.action_reason + " — " + j.segment_reason + via,
        expected_value=ev,
        value_at_stake=round_half_away(stake, 2),
        uplift=j.uplift,
        uplift_source=j.uplift_source,
        uplift_campaigns=j.uplift_campaigns,
        uplift_people=j.uplift_people,
        marketing=j.marketing,
        not_before=not_before.cast("timestamp('UTC')"),
        blocked=blocked,
        priority=j.priority,
    )
    allowed = out.filter(out.blocked.isnull())
    # customers whose every candidate was blocked get one explicit "none", with why
    stopped = out.filter(out.blocked.notnull() & ~out.customer_id.isin(allowed.customer_id))
    none = stopped.group_by("customer_id").aggregate(
        segment=stopped.segment.min(), reason=stopped.blocked.min()
    )
    none = none.select(
        "customer_id",
        "segment",
        action=ibis.literal("none"),
        channel=ibis.null("string"),
        reason="no action: " + none.reason,
        expected_value=ibis.null("float64"),
        value_at_stake=ibis.null("float64"),
        uplift=ibis.null("float64"),
        uplift_source=ibis.null("string"),
        uplift_campaigns=ibis.null("int64"),
        uplift_people=ibis.null("int64"),
        marketing=ibis.literal(False),
        not_before=ibis.null("timestamp('UTC')"),
        blocked=ibis.null("string"),
        priority=ibis.literal(999, "int64"),
    )
    both = ibis.union(allowed, none, distinct=False)
    rank = ibis.row_number().over(
        group_by=both.customer_id,
        order_by=[both.expected_value.isnull(), ibis.desc(both.expected_value), both.priority],
    )
    return both.mutate(rank=(rank + 1).cast("int64")).drop("blocked", "priority")


def step_actions(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: write ``customer_actions`` from ``customer_segments``."""
    rules = load_rules(ws.settings.targeting_rules)
    segments = ws.warehouse.table("customer_segments")
    if not rules.actions:
        return {}
    table = action_table(rules, measured_uplifts(ws))
    cands = candidate_actions(segments, ws.engine.memtable(table))
    if ws.warehouse.exists("customers"):
        contact = contact_profile(ws)
    else:  # transactions only: nothing says how or whether we may contact anyone
        contact = ws.engine.memtable(pa.table({"p_id": pa.array([], "string")})).mutate(
            preferred_channel=ibis.null("string"),
            contact_frequency=ibis.null("string"),
            last_contact=ibis.null("timestamp('UTC')"),
            **{f"ok_{ch}": ibis.literal(False) for ch in CHANNEL_PURPOSE},
        )
    t = ws.warehouse.table_or_empty("touches", TOUCHES.arrow_schema)
    now = ws.engine.execute(t.at.max()) if ws.warehouse.exists("touches") else None
    now_expr = ibis.literal(now) if now is not None else ibis.now()
    expr = next_best_actions(cands, contact, now_expr).order_by(["customer_id", "rank"])
    return {TABLE: ws.warehouse.write(TABLE, expr)}


__all__ = [
    "TABLE",
    "action_table",
    "candidate_actions",
    "contact_profile",
    "measured_uplifts",
    "next_best_actions",
    "step_actions",
]
