"""Campaigns measured against a randomised holdout, because some would have bought anyway.

A campaign names an audience; a share of it (the holdout) is drawn at random and not
contacted. What the campaign added is the difference between the groups over the
campaign's window: incremental conversions = (rate_treated − rate_control) × treated,
incremental revenue = (mean_treated − mean_control) × treated, each with a confidence
interval (Newcombe's hybrid score interval for the difference of two proportions, which
keeps its coverage at the low rates campaigns see; Welch's t for revenue).

Assignment is a hash of (seed, campaign, customer): the same customer always lands in the
same group, and adding people to an audience never moves anyone already assigned.

The warehouse tables ``campaigns`` and ``campaign_assignments`` are owned here.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
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
    ]
)
ASSIGNMENTS = pa.schema(
    [("campaign_id", pa.string()), ("customer_id", pa.string()), ("grp", pa.string())]
)
KINDS = ("direct", "amplifier")
# the consent purpose a channel's contact needs; both groups are drawn from those who gave it
CHANNEL_PURPOSE = {
    "email": "email_marketing",
    "sms": "sms_marketing",
    "phone": "phone_marketing",
    "social": "social_linking",
}


class CampaignError(ValueError):
    """A campaign that cannot be created or reported."""


def holdout_groups(
    customer_ids: Sequence[str], campaign_id: str, holdout_share: float, seed: int = 0
) -> list[str]:
    """``treatment`` or ``control`` per customer, deterministic by seed, campaign and id.

    >>> holdout_groups(["a", "b", "c"], "spring", 0.5, seed=1) == holdout_groups(
    ...     ["c", "b", "a"], "spring", 0.5, seed=1)[::-1]
    True
    """
    if not 0 < holdout_share < 1:
        raise CampaignError(f"holdout share must be between 0 and 1, got {holdout_share}")
    out = []
    for cid in customer_ids:
        h = hashlib.blake2b(f"{seed}\x1f{campaign_id}\x1f{cid}".encode(), digest_size=8)
        u = int.from_bytes(h.digest(), "big") / 2**64
        out.append("control" if u < holdout_share else "treatment")
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
    )


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
) -> dict[str, int]:
    """Define a campaign and assign its audience to treatment or holdout.

    Customers without the consent the channel needs are left out of both groups (a
    holdout drawn from people we could not have contacted would flatter the campaign).
    Returns counts per group and of those left out.
    """
    if kind not in KINDS:
        raise CampaignError(f"unknown campaign kind {kind!r}; use {' or '.join(KINDS)}")
    if ends_at <= starts_at:
        raise CampaignError("the campaign must end after it starts")
    existing = _read(ws, "campaigns", CAMPAIGNS)
    if campaign_id in set(existing["campaign_id"]):
        raise CampaignError(f"campaign {campaign_id!r} already exists")
    people = list(dict.fromkeys(str(c) for c in audience if str(c).strip()))
    if not people:
        raise CampaignError("the audience is empty")
    left_out = 0
    purpose = CHANNEL_PURPOSE.get(channel)
    if purpose:
        from socialcrm.programs.social_graph import consent_in_force

        cons = consent_in_force(ws, purpose)
        granted = set(cons.loc[cons["status"] == "granted", "customer_id"])
        kept = [c for c in people if c in granted]
        left_out = len(people) - len(kept)
        people = kept
    if not people:
        raise CampaignError(f"nobody in the audience gave {purpose} consent")
    groups = holdout_groups(people, campaign_id, holdout_share, seed)
    row = pd.DataFrame(
        [
            {
                "campaign_id": campaign_id,
                "name": name or campaign_id,
                "kind": kind,
                "channel": channel,
                "starts_at": pd.Timestamp(starts_at).tz_localize("UTC")
                if pd.Timestamp(starts_at).tzinfo is None
                else pd.Timestamp(starts_at),
                "ends_at": pd.Timestamp(ends_at).tz_localize("UTC")
                if pd.Timestamp(ends_at).tzinfo is None
                else pd.Timestamp(ends_at),
                "holdout_share": holdout_share,
                "seed": seed,
                "post_ids": ";".join(post_ids),
                "created_at": pd.Timestamp(datetime.now(UTC)),
            }
        ]
    )
    assignments = pd.DataFrame({"campaign_id": campaign_id, "customer_id": people, "grp": groups})
    old_assign = _read(ws, "campaign_assignments", ASSIGNMENTS)
    ws.warehouse.write(
        "campaign_assignments",
        pa.Table.from_pandas(
            pd.concat([old_assign, assignments], ignore_index=True),
            schema=ASSIGNMENTS,
            preserve_index=False,
        ),
    )
    ws.warehouse.write(
        "campaigns",
        pa.Table.from_pandas(
            pd.concat([existing, row], ignore_index=True) if len(existing) else row,
            schema=CAMPAIGNS,
            preserve_index=False,
        ),
    )
    return {
        "treatment": groups.count("treatment"),
        "control": groups.count("control"),
        "left_out_without_consent": left_out,
    }


def _read(ws: Workspace, name: str, schema: pa.Schema) -> pd.DataFrame:
    if not ws.warehouse.exists(name):
        return schema.empty_table().to_pandas()
    return ws.warehouse.read_arrow(name).to_pandas()


def campaign_report(ws: Workspace, campaign_id: str, confidence: float = 0.95) -> Uplift:
    """Incremental conversions and revenue of a campaign over its window.

    Only per-group sums leave the engine. A customer converted when they placed a
    completed order in the window; revenue is the net amount (refunds subtract).
    """
    if not ws.warehouse.exists("campaigns"):
        raise CampaignError("no campaigns defined (socialcrm campaign create …)")
    camps = ws.warehouse.table("campaigns")
    found = ws.engine.to_arrow(camps.filter(camps.campaign_id == campaign_id)).to_pylist()
    if not found:
        raise CampaignError(f"unknown campaign {campaign_id!r}")
    camp = found[0]
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
        reach = reshare_reach(ws, camp["post_ids"].split(";"))
        result = Uplift(**{**result.__dict__, "reach": reach})
    return result


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
