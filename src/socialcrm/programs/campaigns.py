"""Campaigns measured against a randomised holdout, because some would have bought anyway.

A campaign names an audience (a segment, the people whose next-best-action is one
action, or a list of ids); a share of it (the holdout) is drawn at random and not
contacted. What the campaign added is the difference between the groups over the
campaign's window: incremental conversions = (rate_treated − rate_control) × treated,
incremental revenue = (mean_treated − mean_control) × treated, each with a confidence
interval (Newcombe's hybrid score interval for the difference of two proportions, which
keeps its coverage at the low rates campaigns see; Welch's t for revenue). The report
adds what it cost (fixed + per message × messages sent), the net incremental revenue and
the return on cost with their intervals, and, as the seeds ask, the expected reach of
spending the same number of messages on amplifiers beside this blast's.

The holdout is stratified by value band: the value tier the customer 360 shows
(``customer_segments.tier``: top, middle, low, prospect). Within each band the people
are ordered by a hash of (seed, campaign, customer) and the first
round(share × band size) are held out, so every band's holdout share is as close to the
target as whole people allow, and a valuable band can never end up mostly untreated by
chance. The same customer always lands in the same group, and people added to a
campaign later (:func:`add_to_campaign`) never move anyone already assigned: newcomers
fill each band's holdout up to its target, again in hash order.

The warehouse tables ``campaigns`` and ``campaign_assignments`` are owned here. A
campaign that sends (:mod:`socialcrm.programs.sending`) keeps its template source and
subject in ``campaigns``; they are checked when it is created.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from socialcrm.store.workspace import Workspace
from socialcrm.value.orders import customer_orders

CAMPAIGNS = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("name", pa.string()),
        ("kind", pa.string()),
        ("channel", pa.string()),
        ("starts_at", pa.timestamp("us", tz="UTC")),
        ("ends_at", pa.timestamp("us", tz="UTC")),
        ("holdout_share", pa.float64()),
        ("seed", pa.int64()),
        ("post_ids", pa.string()),
        ("created_at", pa.timestamp("us", tz="UTC")),
        # issue 18: what a sending campaign sends, to whom, when, and at what cost
        ("template", pa.string()),
        ("subject", pa.string()),
        ("segment", pa.string()),
        ("action", pa.string()),
        ("cost_per_message", pa.float64()),
        ("fixed_cost", pa.float64()),
        ("currency", pa.string()),
        ("send_at", pa.timestamp("us", tz="UTC")),
        ("quiet_hours", pa.string()),
    ]
)
"""Campaigns created before issue 18 lack the columns after ``created_at``; they read as
nulls (and 0 cost)."""
ASSIGNMENTS = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("customer_id", pa.string()),
        ("grp", pa.string()),
        ("band", pa.string()),
    ]
)
"""``band`` is the value band the person was stratified in (null in older tables)."""
KINDS = ("direct", "amplifier")
# the consent purpose a channel's contact needs; both groups are drawn from those who gave it
CHANNEL_PURPOSE = {
    "email": "email_marketing",
    "sms": "sms_marketing",
    "phone": "phone_marketing",
    "social": "social_linking",
    "mastodon": "social_linking",
    "bluesky": "social_linking",
}
BANDS_TABLE = "customer_segments"
BAND_COLUMN = "tier"
"""The value band of the holdout's strata: the tier the customer 360 shows."""
NO_BAND = "unbanded"
"""The stratum of people without a value tier (not scored yet, or no segments table)."""
SAMPLE_CONTEXT: dict[str, object] = {
    "first_name": "Ann",
    "name": "Ann",
    "last_name": "Lee",
    "email": "ann@example.com",
    "brand": "Nordlicht",
    "next_best_action": "loyalty thanks",
    "action": "loyalty thanks",
    "next_best_action_reason": "thank a loyal buyer (loyalty program)",
    "products": ["Aurora Headlamp"],
    "product": "Aurora Headlamp",
    "unsubscribe_url": "https://crm.example/email/unsubscribe/sample",
    "unsubscribe_link": "https://crm.example/email/unsubscribe/sample",
}
"""What a template may use (:func:`socialcrm.programs.sending.personal_context` fills it
per person); a template is rendered once with this sample when its campaign is created."""
DEFAULT_WINDOW_DAYS = 30
"""Attribution window of a campaign created without an end: orders in the 30 days from
its start (or its ``send_at``) count."""


class CampaignError(ValueError):
    """A campaign that cannot be created or reported."""


def _draw(seed: int, campaign_id: str, customer_id: str) -> float:
    """Uniform in [0, 1), a hash of (seed, campaign, customer): the person's lot."""
    h = hashlib.blake2b(f"{seed}\x1f{campaign_id}\x1f{customer_id}".encode(), digest_size=8)
    return int.from_bytes(h.digest(), "big") / 2**64


def _check_share(holdout_share: float) -> None:
    if not 0 < holdout_share < 1:
        raise CampaignError(f"holdout share must be between 0 and 1, got {holdout_share}")


def holdout_groups(
    customer_ids: Sequence[str], campaign_id: str, holdout_share: float, seed: int = 0
) -> list[str]:
    """``treatment`` or ``control`` per customer, deterministic by seed, campaign and id;
    unstratified (each person held out with probability ``holdout_share``).

    >>> holdout_groups(["a", "b", "c"], "spring", 0.5, seed=1) == holdout_groups(
    ...     ["c", "b", "a"], "spring", 0.5, seed=1)[::-1]
    True
    """
    _check_share(holdout_share)
    return [
        "control" if _draw(seed, campaign_id, cid) < holdout_share else "treatment"
        for cid in customer_ids
    ]


def stratified_groups(
    customer_ids: Sequence[str],
    bands: Mapping[str, str],
    campaign_id: str,
    holdout_share: float,
    seed: int = 0,
    existing: Mapping[str, tuple[str, str]] | None = None,
) -> list[str]:
    """``treatment`` or ``control`` per customer, the holdout stratified by band.

    ``bands`` maps a customer to their value band (absent: :data:`NO_BAND`);
    ``existing`` maps people already assigned to (group, band), which they keep. In each
    band the holdout is brought to round(share × band size) by holding out the
    newcomers with the lowest lots, as far as newcomers allow.

    >>> ids = [f"c{i}" for i in range(10)]
    >>> g = stratified_groups(ids, {c: "top" for c in ids[:4]}, "spring", 0.5)
    >>> g[:4].count("control"), g[4:].count("control")
    (2, 3)
    """
    _check_share(holdout_share)
    existing = existing or {}
    new = [c for c in dict.fromkeys(customer_ids) if c not in existing]
    size: dict[str, int] = {}
    held: dict[str, int] = {}
    for grp, band in existing.values():
        size[band] = size.get(band, 0) + 1
        held[band] = held.get(band, 0) + (grp == "control")
    by_band: dict[str, list[str]] = {}
    for c in new:
        by_band.setdefault(bands.get(c) or NO_BAND, []).append(c)
    control: set[str] = set()
    for band, people in by_band.items():
        total = size.get(band, 0) + len(people)
        target = math.floor(holdout_share * total + 0.5)
        need = min(max(target - held.get(band, 0), 0), len(people))
        people.sort(key=lambda c: (_draw(seed, campaign_id, c), c))
        control.update(people[:need])
    out = []
    for c in customer_ids:
        if c in existing:
            out.append(existing[c][0])
        else:
            out.append("control" if c in control else "treatment")
    return out


@dataclass(frozen=True)
class GroupStats:
    """Sufficient statistics of one group: all the estimates need."""

    customers: int
    converted: int
    revenue: float
    revenue_sq: float

    @property
    def rate(self) -> float:
        return self.converted / self.customers if self.customers else 0.0

    @property
    def mean_revenue(self) -> float:
        return self.revenue / self.customers if self.customers else 0.0

    @property
    def var_revenue(self) -> float:
        n = self.customers
        if n < 2:
            return 0.0
        return max(0.0, (self.revenue_sq - self.revenue**2 / n) / (n - 1))


@dataclass(frozen=True)
class Uplift:
    treatment: GroupStats
    control: GroupStats
    confidence: float
    rate_difference: float
    rate_difference_ci: tuple[float, float]
    incremental_conversions: float
    incremental_conversions_ci: tuple[float, float]
    revenue_difference: float
    revenue_difference_ci: tuple[float, float]
    incremental_revenue: float
    incremental_revenue_ci: tuple[float, float]
    reach: dict[str, object] = field(default_factory=dict)
    """Amplifier campaigns: reshares of the campaign's posts (:func:`reshare_reach`)."""
    currency: str | None = None
    messages_sent: int = 0
    """Messages the campaign sent (``touches`` with event ``sent``)."""
    cost: float = 0.0
    """Fixed cost + cost per message × messages sent."""
    net_incremental_revenue: float = 0.0
    """Incremental revenue − cost, with the revenue's interval shifted by the cost."""
    net_incremental_revenue_ci: tuple[float, float] = (0.0, 0.0)
    return_on_cost: float | None = None
    """(incremental revenue − cost) / cost; None when the campaign cost nothing."""
    return_on_cost_ci: tuple[float, float] | None = None
    engagement: dict[str, int] = field(default_factory=dict)
    """Distinct treated people per touch event (sent, delivered, open, click, ...)."""
    seeding: dict[str, object] = field(default_factory=dict)
    """This blast's reach beside the expected reach of as many amplifier seeds as it
    sent messages (:func:`seeding_comparison`)."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _wilson(x: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def estimate_uplift(treatment: GroupStats, control: GroupStats, confidence: float = 0.95) -> Uplift:
    """Incremental conversions and revenue of the treated group, with intervals.

    >>> t = GroupStats(1000, 60, 3000.0, 300000.0)
    >>> c = GroupStats(1000, 30, 1500.0, 150000.0)
    >>> round(estimate_uplift(t, c).incremental_conversions, 1)
    30.0
    """
    if not 0 < confidence < 1:
        raise CampaignError(f"confidence must be between 0 and 1, got {confidence}")
    if treatment.customers == 0 or control.customers == 0:
        raise CampaignError("both the treated group and the holdout need customers")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p1, p2 = treatment.rate, control.rate
    l1, u1 = _wilson(treatment.converted, treatment.customers, z)
    l2, u2 = _wilson(control.converted, control.customers, z)
    d = p1 - p2
    d_lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    d_hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    m1, m2 = treatment.mean_revenue, control.mean_revenue
    v1 = treatment.var_revenue / treatment.customers
    v2 = control.var_revenue / control.customers
    se = math.sqrt(v1 + v2)
    if se > 0:
        dof_den = (v1**2 / max(treatment.customers - 1, 1)) + (
            v2**2 / max(control.customers - 1, 1)
        )
        dof = (v1 + v2) ** 2 / dof_den if dof_den > 0 else 1e9
        t = float(stats.t.ppf(0.5 + confidence / 2, dof))
    else:
        t = 0.0
    r = m1 - m2
    nt = treatment.customers
    return Uplift(
        treatment=treatment,
        control=control,
        confidence=confidence,
        rate_difference=d,
        rate_difference_ci=(d_lo, d_hi),
        incremental_conversions=d * nt,
        incremental_conversions_ci=(d_lo * nt, d_hi * nt),
        revenue_difference=r,
        revenue_difference_ci=(r - t * se, r + t * se),
        incremental_revenue=r * nt,
        incremental_revenue_ci=((r - t * se) * nt, (r + t * se) * nt),
        net_incremental_revenue=r * nt,
        net_incremental_revenue_ci=((r - t * se) * nt, (r + t * se) * nt),
    )


def with_cost(u: Uplift, cost: float) -> Uplift:
    """``u`` with its cost, net incremental revenue and return on cost.

    The revenue interval is shifted by the cost (a known number), and the return's
    interval is the net interval over the cost.

    >>> u = with_cost(estimate_uplift(GroupStats(1000, 60, 3000.0, 300000.0),
    ...     GroupStats(1000, 30, 1500.0, 150000.0)), 500.0)
    >>> u.net_incremental_revenue, u.return_on_cost
    (1000.0, 2.0)
    """
    if cost < 0:
        raise CampaignError(f"cost must not be negative, got {cost}")
    lo, hi = u.incremental_revenue_ci
    net = u.incremental_revenue - cost
    roc = net / cost if cost > 0 else None
    roc_ci = ((lo - cost) / cost, (hi - cost) / cost) if cost > 0 else None
    return replace(
        u,
        cost=cost,
        net_incremental_revenue=net,
        net_incremental_revenue_ci=(lo - cost, hi - cost),
        return_on_cost=roc,
        return_on_cost_ci=roc_ci,
    )


def parse_quiet_hours(text: str | None) -> tuple[int, int] | None:
    """``"21-8"`` or ``"21:00-08:00"`` → (21, 8): local hours from which, and until which,
    nobody is written to. None or ``""`` → no quiet hours.

    >>> parse_quiet_hours("21:00-08:00"), parse_quiet_hours("")
    ((21, 8), None)
    """
    if text is None or not text.strip():
        return None
    hours = []
    for part in text.replace(" ", "").split("-"):
        h, _, m = part.partition(":")
        hours.append(int(h) if h.isdigit() and m in ("", "0", "00") else -1)
    if len(hours) != 2 or min(hours) < 0:
        raise CampaignError(
            f"quiet hours {text!r}: write them as START-END in whole local hours, e.g. 21-8"
        )
    start, end = hours
    if not (0 <= start <= 23 and 0 <= end <= 23) or start == end:
        raise CampaignError(f"quiet hours {text!r}: two different hours between 0 and 23")
    return start, end


def _utc(t: datetime | None) -> pd.Timestamp | None:
    if t is None:
        return None
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``: columns it lacks (an older version of it) as nulls."""
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _read_arrow(ws: Workspace, name: str, schema: pa.Schema) -> pa.Table:
    if not ws.warehouse.exists(name):
        return schema.empty_table()
    return _conform(ws.warehouse.read_arrow(name), schema)


def _read(ws: Workspace, name: str, schema: pa.Schema) -> pd.DataFrame:
    return _read_arrow(ws, name, schema).to_pandas()


def get_campaign(ws: Workspace, campaign_id: str) -> dict[str, Any]:
    """The campaign's row of ``campaigns`` (older rows: new columns null)."""
    if not ws.warehouse.exists("campaigns"):
        raise CampaignError("no campaigns defined (socialcrm campaign create …)")
    t = _read_arrow(ws, "campaigns", CAMPAIGNS)
    rows: list[dict[str, Any]] = t.filter(
        pc.equal(t.column("campaign_id"), campaign_id)
    ).to_pylist()
    if not rows:
        raise CampaignError(f"unknown campaign {campaign_id!r}")
    return rows[0]


def people_of(ws: Workspace, ids: Sequence[str]) -> list[str]:
    """The resolved people of ``ids`` (record ids or people's ids), in first-seen order.

    Orders are attributed to people once identity resolution has run
    (:func:`~socialcrm.value.orders.customer_orders`), so groups must hold people too.
    """
    people = list(dict.fromkeys(str(c).strip() for c in ids if str(c).strip()))
    if not ws.warehouse.exists("identity_clusters"):
        return people
    clusters = ws.warehouse.read_arrow("identity_clusters").select(["record_id", "customer_id"])
    person = dict(
        zip(
            clusters.column("record_id").to_pylist(),
            clusters.column("customer_id").to_pylist(),
            strict=True,
        )
    )
    return list(dict.fromkeys(person.get(c, c) for c in people))


def consenting(ws: Workspace, channel: str) -> set[str] | None:
    """People whose consent for ``channel``'s purpose is in force (None: the channel has
    no consent purpose here). Person-level once identities are resolved: the latest
    decision on any of the person's records wins."""
    from socialcrm.connecting.consent import granted

    purpose = CHANNEL_PURPOSE.get(channel)
    if purpose is None:
        return None
    resolved = ws.warehouse.exists("identity_clusters")
    t = ws.engine.to_arrow(granted(ws, purpose, resolved=resolved))
    return set(t.column("customer_id").to_pylist())


def value_bands(ws: Workspace) -> dict[str, str]:
    """Person → value band (:data:`BAND_COLUMN` of :data:`BANDS_TABLE`); empty when the
    segments step has not run."""
    if not ws.warehouse.exists(BANDS_TABLE):
        return {}
    t = ws.warehouse.read_arrow(BANDS_TABLE)
    if BAND_COLUMN not in t.column_names:
        return {}
    return {
        str(c): str(b)
        for c, b in zip(
            t.column("customer_id").to_pylist(), t.column(BAND_COLUMN).to_pylist(), strict=True
        )
        if b is not None
    }


def audience_for(
    ws: Workspace, *, segment: str | None = None, action: str | None = None
) -> list[str]:
    """The people of a segment (``customer_segments``), or those whose next-best-action
    (rank 1 in ``customer_actions``) is ``action``, sorted. Consent is not checked
    here: :func:`create_campaign` does, and sending checks again."""
    if (segment is None) == (action is None):
        raise CampaignError("name a segment or an action (one of them)")
    table, column, value = (
        ("customer_segments", "segment", segment)
        if segment is not None
        else ("customer_actions", "action", action)
    )
    if not ws.warehouse.exists(table):
        raise CampaignError(f"no {table} yet: run `socialcrm score` first")
    t = ws.warehouse.table(table)
    known = sorted(
        str(v) for v in ws.engine.to_arrow(t.select(column).distinct())[column].to_pylist() if v
    )
    if value not in known:
        raise CampaignError(f"unknown {column} {value!r}; known: {', '.join(known) or 'none'}")
    chosen = t.filter(t[column] == value)
    if action is not None:
        chosen = chosen.filter(chosen["rank"] == 1)
    ids = ws.engine.to_arrow(chosen.select("customer_id").distinct())["customer_id"].to_pylist()
    return sorted(str(c) for c in ids)


def create_campaign(
    ws: Workspace,
    campaign_id: str,
    audience: Sequence[str],
    *,
    starts_at: datetime,
    ends_at: datetime,
    holdout_share: float = 0.1,
    name: str | None = None,
    kind: str = "direct",
    channel: str = "email",
    post_ids: Sequence[str] = (),
    seed: int = 0,
    template: str | None = None,
    subject: str | None = None,
    segment: str | None = None,
    action: str | None = None,
    cost_per_message: float = 0.0,
    fixed_cost: float = 0.0,
    currency: str | None = None,
    send_at: datetime | None = None,
    quiet_hours: str | None = None,
) -> dict[str, int]:
    """Define a campaign and assign its audience to treatment or holdout.

    Customers without the consent the channel needs are left out of both groups (a
    holdout drawn from people we could not have contacted would flatter the campaign).
    Record ids are replaced by their person's id. A ``template`` (Jinja2 source) and
    ``subject`` are checked now, so a mistake shows here and not half-way through a
    send. Returns counts per group and of those left out.
    """
    if kind not in KINDS:
        raise CampaignError(f"unknown campaign kind {kind!r}; use {' or '.join(KINDS)}")
    if ends_at <= starts_at:
        raise CampaignError("the campaign must end after it starts")
    if not campaign_id.strip() or any(c in campaign_id for c in "|\n\r"):
        raise CampaignError(f"campaign id {campaign_id!r}: not empty, no '|' or line breaks")
    _check_share(holdout_share)
    if cost_per_message < 0 or fixed_cost < 0:
        raise CampaignError("costs must not be negative")
    parse_quiet_hours(quiet_hours)
    if template is not None or subject is not None:
        _check_template(channel, template, subject)
    people = people_of(ws, audience)
    if not people:
        raise CampaignError("the audience is empty")
    granted = consenting(ws, channel)
    kept = people if granted is None else [c for c in people if c in granted]
    if not kept:
        raise CampaignError(f"nobody in the audience gave {CHANNEL_PURPOSE[channel]} consent")
    bands = value_bands(ws)
    groups = stratified_groups(kept, bands, campaign_id, holdout_share, seed)
    row = {
        "campaign_id": campaign_id,
        "name": name or campaign_id,
        "kind": kind,
        "channel": channel,
        "starts_at": _utc(starts_at),
        "ends_at": _utc(ends_at),
        "holdout_share": holdout_share,
        "seed": seed,
        "post_ids": ";".join(post_ids),
        "created_at": pd.Timestamp(datetime.now(UTC)),
        "template": template,
        "subject": subject,
        "segment": segment,
        "action": action,
        "cost_per_message": float(cost_per_message),
        "fixed_cost": float(fixed_cost),
        "currency": currency.upper() if currency else None,
        "send_at": _utc(send_at),
        "quiet_hours": quiet_hours or None,
    }
    assignments = pa.table(
        {
            "campaign_id": [campaign_id] * len(kept),
            "customer_id": kept,
            "grp": groups,
            "band": [bands.get(c) or NO_BAND for c in kept],
        },
        schema=ASSIGNMENTS,
    )
    wh = ws.warehouse
    with wh.lock("campaign_assignments", "campaigns"), wh.transaction() as tx:
        existing = _read_arrow(ws, "campaigns", CAMPAIGNS)
        if campaign_id in set(existing.column("campaign_id").to_pylist()):
            raise CampaignError(f"campaign {campaign_id!r} already exists")
        old = _read_arrow(ws, "campaign_assignments", ASSIGNMENTS)
        tx.write("campaign_assignments", pa.concat_tables([old, assignments]))
        tx.write("campaigns", pa.concat_tables([existing, pa.Table.from_pylist([row], CAMPAIGNS)]))
    return {
        "treatment": groups.count("treatment"),
        "control": groups.count("control"),
        "left_out_without_consent": len(people) - len(kept),
    }


def _check_template(channel: str, template: str | None, subject: str | None) -> None:
    from socialcrm.outbound.templates import TemplateError, load_template

    if template is None:
        raise CampaignError("a subject without a template: give both")
    if channel == "email" and not (subject or "").strip():
        raise CampaignError("an email campaign needs a subject")
    try:  # compiled, then rendered once for a sample person: a misspelt name fails here
        load_template(template, subject or "").render(SAMPLE_CONTEXT)
    except TemplateError as e:
        raise CampaignError(f"template: {e}") from None


def add_to_campaign(ws: Workspace, campaign_id: str, audience: Sequence[str]) -> dict[str, int]:
    """Assign people who joined a campaign's audience after it was created (a segment
    that grew, a journey's new entrants). Nobody already assigned moves; newcomers with
    the channel's consent fill each band's holdout towards its target."""
    camp = get_campaign(ws, campaign_id)
    people = people_of(ws, audience)
    granted = consenting(ws, str(camp["channel"]))
    bands = value_bands(ws)
    wh = ws.warehouse
    with wh.lock("campaign_assignments"), wh.transaction() as tx:
        old = _read_arrow(ws, "campaign_assignments", ASSIGNMENTS)
        mine = old.filter(pc.equal(old.column("campaign_id"), campaign_id)).to_pylist()
        existing = {r["customer_id"]: (r["grp"], r["band"] or NO_BAND) for r in mine}
        new = [c for c in people if c not in existing]
        kept = new if granted is None else [c for c in new if c in granted]
        groups = stratified_groups(
            [*existing, *kept],
            bands,
            campaign_id,
            float(camp["holdout_share"]),
            int(camp["seed"]),
            existing,
        )[len(existing) :]
        if kept:
            rows = pa.table(
                {
                    "campaign_id": [campaign_id] * len(kept),
                    "customer_id": kept,
                    "grp": groups,
                    "band": [bands.get(c) or NO_BAND for c in kept],
                },
                schema=ASSIGNMENTS,
            )
            tx.write("campaign_assignments", pa.concat_tables([old, rows]))
    return {
        "treatment": groups.count("treatment"),
        "control": groups.count("control"),
        "left_out_without_consent": len(new) - len(kept),
        "already_assigned": len(people) - len(new),
    }


def assignments(ws: Workspace, campaign_id: str) -> dict[str, str]:
    """Person → group (``treatment`` or ``control``) of one campaign."""
    t = _read_arrow(ws, "campaign_assignments", ASSIGNMENTS)
    t = t.filter(pc.equal(t.column("campaign_id"), campaign_id))
    return dict(zip(t.column("customer_id").to_pylist(), t.column("grp").to_pylist(), strict=True))


def list_campaigns(ws: Workspace) -> list[dict[str, object]]:
    """Every campaign, newest first, with its treated and held-out counts."""
    camps = _read_arrow(ws, "campaigns", CAMPAIGNS).to_pylist()
    a = _read_arrow(ws, "campaign_assignments", ASSIGNMENTS)
    counts: dict[tuple[str, str], int] = {}
    for cid, grp in zip(
        a.column("campaign_id").to_pylist(), a.column("grp").to_pylist(), strict=True
    ):
        counts[(cid, grp)] = counts.get((cid, grp), 0) + 1
    for c in camps:
        c["treatment"] = counts.get((c["campaign_id"], "treatment"), 0)
        c["control"] = counts.get((c["campaign_id"], "control"), 0)
    return sorted(camps, key=lambda c: (c["created_at"] is None, c["created_at"]), reverse=True)


def campaign_report(
    ws: Workspace,
    campaign_id: str,
    confidence: float = 0.95,
    *,
    seeding: bool | Literal["planned"] = True,
) -> Uplift:
    """Incremental conversions and revenue of a campaign over its window, its cost and
    return, what its messages did, and (``seeding``) the amplifier comparison.

    ``seeding="planned"`` reads the comparison from the pipeline's ``amplifier_seeds``
    only, never running IMM: what a page shown on every visit can afford.

    Only per-group sums leave the engine. A customer converted when they placed a
    completed order in the window; revenue is the net amount (refunds subtract).
    """
    camp = get_campaign(ws, campaign_id)
    if not ws.warehouse.exists("orders"):
        raise CampaignError("the orders table is empty: nothing to measure")
    a = ws.warehouse.table("campaign_assignments")
    a = a.filter(a.campaign_id == campaign_id)
    o = customer_orders(ws)
    o = o.filter((o.ordered_at >= camp["starts_at"]) & (o.ordered_at < camp["ends_at"]))
    per = o.group_by(o.customer_id).aggregate(
        converted=(o.status == "completed").any().cast("int64"),
        revenue=o.amount.sum(),
    )
    j = a.left_join(per, a.customer_id == per.customer_id)
    j = j.select(
        grp=j.grp,
        converted=j.converted.fill_null(0),
        revenue=j.revenue.fill_null(0.0),
    )
    sums = j.group_by("grp").aggregate(
        customers=j.count(),
        converted=j.converted.sum(),
        revenue=j.revenue.sum(),
        revenue_sq=(j.revenue * j.revenue).sum(),
    )
    rows = {r["grp"]: r for r in ws.engine.to_arrow(sums).to_pylist()}
    group = {
        g: GroupStats(
            int(rows.get(g, {}).get("customers") or 0),
            int(rows.get(g, {}).get("converted") or 0),
            float(rows.get(g, {}).get("revenue") or 0.0),
            float(rows.get(g, {}).get("revenue_sq") or 0.0),
        )
        for g in ("treatment", "control")
    }
    result = estimate_uplift(group["treatment"], group["control"], confidence)
    if camp["kind"] == "amplifier" and camp["post_ids"]:
        reach = reshare_reach(ws, str(camp["post_ids"]).split(";"))
        result = replace(result, reach=reach)
    engagement, sent = _engagement(ws, campaign_id)
    cost = float(camp["fixed_cost"] or 0.0) + float(camp["cost_per_message"] or 0.0) * sent
    result = replace(
        with_cost(result, cost),
        currency=camp["currency"] or _main_currency(ws),
        messages_sent=sent,
        engagement=engagement,
    )
    if seeding and sent:
        reached = sent - engagement.get("bounce", 0)
        compare = planned_seeding if seeding == "planned" else seeding_comparison
        result = replace(result, seeding=compare(ws, sent, reached))
    return result


ENGAGEMENT = ("sent", "delivered", "open", "click", "unsubscribe", "bounce", "complaint")


def _engagement(ws: Workspace, campaign_id: str) -> tuple[dict[str, int], int]:
    """Distinct people per touch event of the campaign, and the messages sent."""
    from socialcrm.store.schemas import TOUCHES

    t = ws.warehouse.table_or_empty("touches", TOUCHES.arrow_schema)
    t = t.filter(t.campaign_id == campaign_id)
    per = t.group_by("event").aggregate(people=t.customer_id.nunique(), rows=t.count())
    got = {r["event"]: r for r in ws.engine.to_arrow(per).to_pylist()}
    engagement = {e: int(got[e]["people"]) if e in got else 0 for e in ENGAGEMENT}
    return engagement, int(got["sent"]["rows"]) if "sent" in got else 0


def _main_currency(ws: Workspace) -> str | None:
    o = ws.warehouse.table("orders")
    top = ws.engine.to_arrow(
        o.group_by("currency").aggregate(n=o.count()).order_by(ibis.desc("n")).limit(1)
    ).to_pylist()
    return str(top[0]["currency"]) if top else None


def seeding_comparison(ws: Workspace, messages: int, reached: int) -> dict[str, object]:
    """The seeds' comparison: this blast reached ``reached`` people with ``messages``
    messages; what would the same number of messages, spent on seeding amplifiers
    (engaged customers whose posts spread), be expected to reach?

    The expected spread of the best k = ``messages`` seeds among consenting amplifiers
    (IMM, :func:`~socialcrm.programs.maximization.select_seeds`, on the workspace's
    influence graph; the pipeline's ``amplifier_seeds`` when they are enough), k capped
    at the amplifiers there are.
    """
    out: dict[str, object] = {
        "messages": messages,
        "blast_reach": reached,
        "amplifier_seeds": 0,
        "amplifier_expected_reach": None,
        "eligible_amplifiers": 0,
    }
    from socialcrm.programs.maximization import select_seeds
    from socialcrm.programs.social_graph import workspace_graph

    s = ws.settings
    try:
        wg = workspace_graph(ws, s.amplifier_model)
    except ValueError:  # no follows or reshares: nobody to seed
        out["note"] = "no social graph in the workspace"
        return out
    n_elig = int(wg.eligible.sum())
    out["eligible_amplifiers"] = n_elig
    if n_elig == 0:
        out["note"] = "no customer with social_linking consent in the graph"
        return out
    k = min(messages, n_elig)
    out["amplifier_seeds"] = k
    if ws.warehouse.exists("amplifier_seeds") and ws.warehouse.rows("amplifier_seeds") >= k:
        seeds = ws.warehouse.read_arrow("amplifier_seeds").sort_by("rank")
        out["amplifier_expected_reach"] = float(seeds.column("cumulative_spread")[k - 1].as_py())
        return out
    sel = select_seeds(wg.graph, k, eligible=wg.eligible, epsilon=s.amplifier_epsilon)
    out["amplifier_expected_reach"] = float(sel.expected_spread)
    return out


def planned_seeding(ws: Workspace, messages: int, reached: int) -> dict[str, object]:
    """:func:`seeding_comparison` from the pipeline's ``amplifier_seeds`` alone (k capped at
    the seeds it planned), so nothing is computed: for pages, where IMM on every visit
    would cost seconds at a brand's size. ``planned_only`` says the cap applied."""
    out: dict[str, object] = {
        "messages": messages,
        "blast_reach": reached,
        "amplifier_seeds": 0,
        "amplifier_expected_reach": None,
        "eligible_amplifiers": None,
        "planned_only": True,
    }
    if not ws.warehouse.exists("amplifier_seeds") or not ws.warehouse.rows("amplifier_seeds"):
        out["note"] = "no amplifier plan yet (the pipeline's amplifiers step makes one)"
        return out
    seeds = ws.warehouse.read_arrow("amplifier_seeds").sort_by("rank")
    k = min(messages, seeds.num_rows)
    out["amplifier_seeds"] = k
    out["amplifier_expected_reach"] = float(seeds.column("cumulative_spread")[k - 1].as_py())
    return out


def reshare_reach(ws: Workspace, post_ids: Sequence[str], max_hops: int = 10) -> dict[str, object]:
    """Reach of posts through reshares: reshares per hop, distinct resharers, and the
    distinct followers of the authors and resharers (who could have seen it)."""
    from socialcrm.store.schemas import FOLLOWS, POSTS

    posts = ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)
    frontier = list(post_ids)
    seen = set(frontier)
    by_hop: list[int] = []
    handles: set[tuple[str, str]] = set()
    roots = ws.engine.to_arrow(
        posts.filter(posts.post_id.isin(ws.engine.values(frontier))).select(
            "platform", "author_handle"
        )
    ).to_pylist()
    handles.update((r["platform"], r["author_handle"]) for r in roots)
    authors = set(handles)
    resharers: set[tuple[str, str]] = set()
    for _ in range(max_hops):
        if not frontier:
            break
        nxt = ws.engine.to_arrow(
            posts.filter(posts.reshare_of_post_id.isin(ws.engine.values(frontier))).select(
                "post_id", "platform", "author_handle"
            )
        ).to_pylist()
        new = [r for r in nxt if r["post_id"] not in seen]
        if not new:
            break
        by_hop.append(len(new))
        for r in new:
            seen.add(r["post_id"])
            resharers.add((r["platform"], r["author_handle"]))
        frontier = [r["post_id"] for r in new]
    spreaders = authors | resharers
    f = ws.warehouse.table_or_empty("follows", FOLLOWS.arrow_schema)
    key = f.platform + ":" + f.followed_handle
    wanted = [f"{p}:{h}" for p, h in spreaders]
    audience = 0
    if wanted:
        audience = int(
            ws.engine.execute(
                f.filter(key.isin(ws.engine.values(wanted)))
                .select(x=f.platform + ":" + f.follower_handle)
                .x.nunique()
            )
            or 0
        )
    return {
        "reshares_by_hop": by_hop,
        "reshares": int(sum(by_hop)),
        "distinct_resharers": len(resharers - authors),
        "potential_audience": audience,
    }


def simulate_campaign(
    n: int,
    base_rate: float,
    uplift: float,
    holdout_share: float,
    rng: np.random.Generator,
    mean_order: float = 50.0,
) -> tuple[GroupStats, GroupStats]:
    """A simulated campaign with a known true uplift (rate_treated − rate_control):
    conversions are Bernoulli, order values lognormal. For checks and demos."""
    control = rng.random(n) < holdout_share
    p = np.where(control, base_rate, base_rate + uplift)
    conv = rng.random(n) < p
    value = np.where(conv, rng.lognormal(np.log(mean_order) - 0.5, 1.0, n), 0.0)

    def g(mask: np.ndarray) -> GroupStats:
        return GroupStats(
            int(mask.sum()),
            int(conv[mask].sum()),
            float(value[mask].sum()),
            float((value[mask] ** 2).sum()),
        )

    return g(~control), g(control)
