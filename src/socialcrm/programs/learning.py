"""Uplifts learned from finished campaigns, shrunk toward the assumed ones.

The next-best-action ranking multiplies an *assumed* uplift (``targeting/rules.toml``) by
the value at stake. A finished campaign measured against its holdout says what the
action really added: the difference of conversion rates, treated − holdout, with its
standard error. One small campaign is noisy, so the measurement is combined with the
assumption by a normal–normal (empirical-Bayes) weight:

    posterior = (prior / τ² + measured / se²) / (1 / τ² + 1 / se²)

τ is how far the true uplift may plausibly be from the assumed one: the action's
``uplift_sd`` in the rules file (:data:`DEFAULT_UPLIFT_SD` when absent). It is stated in
advance and never fitted to the campaigns it judges. The share of the posterior owed to
the campaigns, ``weight_of_evidence = τ² / (τ² + se²)``, is near 1 for a large campaign
with a clear effect and near 0 for a tiny one, where the assumption stands.

Campaigns count when they ended (``ends_at`` before the run) and name the ``action``
they carried out, the ``segment`` they went to, or both. A campaign with a segment and
no action is the segment's one marketing action in the rules when there is exactly one
(otherwise it is kept with no prior and is not used). Several campaigns of one
(action, segment) are pooled by inverse variance. ``segment`` null means every segment
the action's audience came from.

The warehouse table ``measured_uplifts`` is owned here; targeting reads it by name.
Targeting must not import this module (sibling domains), and this one does not import
targeting: the priors are read from the rules *file*, which is data.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pyarrow as pa
from scipy import stats

from socialcrm.programs.campaigns import CampaignError, campaign_report
from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

TABLE = "measured_uplifts"
MEASURED_UPLIFTS = pa.schema(
    [
        ("action", pa.string()),
        ("segment", pa.string()),
        ("campaigns", pa.int64()),
        ("treated", pa.int64()),
        ("control", pa.int64()),
        ("measured", pa.float64()),
        ("se", pa.float64()),
        ("prior", pa.float64()),
        ("posterior", pa.float64()),
        ("weight_of_evidence", pa.float64()),
        ("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
DEFAULT_UPLIFT_SD = 0.05
"""τ when an action does not state ``uplift_sd``: the true uplift is taken to lie within
±0.10 (2τ) of the assumed one. Holdout tests of direct marketing report incremental
conversion of a few points at most; an assumption off by more than ten points would be
a mistake in the rules, not a surprise (docs/programs.md)."""
CONFIDENCE = 0.95


class LearningError(ValueError):
    """Rules whose priors cannot be read."""


@dataclass(frozen=True)
class Prior:
    """What the rules assume of one action: its uplift and how sure they are."""

    uplift: float
    sd: float
    segments: tuple[str, ...]
    marketing: bool


@dataclass(frozen=True)
class Measurement:
    """One campaign's (or several pooled campaigns') measured uplift."""

    measured: float
    se: float
    treated: int
    control: int
    campaigns: int = 1


def priors(path: Path | None = None) -> dict[str, Prior]:
    """The ``[[action]]`` priors of the rules file at ``path`` (or the shipped one).

    >>> p = priors()
    >>> p["retention_gesture"].uplift, p["retention_gesture"].sd
    (0.1, 0.05)
    """
    if path is None:
        source = "socialcrm/targeting/rules.toml"
        text = resources.files("socialcrm.targeting").joinpath("rules.toml").read_text()
    else:
        source = str(path)
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise LearningError(f"{path}: cannot read rules: {e.strerror}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise LearningError(f"{source}: not valid TOML: {e}") from None
    out = {}
    for a in doc.get("action", []):
        sd = float(a.get("uplift_sd", DEFAULT_UPLIFT_SD))
        if not sd > 0:
            raise LearningError(f"{source}: action {a.get('name')!r}: uplift_sd must be > 0")
        out[str(a["name"])] = Prior(
            float(a.get("uplift", 0.0)),
            sd,
            tuple(a.get("segments", [])),
            bool(a.get("marketing", True)),
        )
    return out


def shrink(m: Measurement, prior: float, tau: float) -> tuple[float, float]:
    """(posterior mean, weight of evidence) of the normal–normal model.

    >>> post, w = shrink(Measurement(0.08, 0.05, 200, 200), prior=0.02, tau=0.05)
    >>> round(post, 3), round(w, 2)
    (0.05, 0.5)
    """
    se2 = max(m.se, 1e-12) ** 2
    t2 = tau * tau
    w = t2 / (t2 + se2)
    return w * m.measured + (1 - w) * prior, w


def pool(ms: Iterable[Measurement]) -> Measurement:
    """Several measurements of one uplift, combined by inverse variance.

    >>> m = pool([Measurement(0.1, 0.02, 100, 10), Measurement(0.0, 0.02, 100, 10)])
    >>> round(m.measured, 3), round(m.se, 4), m.treated, m.campaigns
    (0.05, 0.0141, 200, 2)
    """
    ms = list(ms)
    w = [1 / max(m.se, 1e-12) ** 2 for m in ms]
    return Measurement(
        measured=sum(wi * m.measured for wi, m in zip(w, ms, strict=True)) / sum(w),
        se=1 / math.sqrt(sum(w)),
        treated=sum(m.treated for m in ms),
        control=sum(m.control for m in ms),
        campaigns=sum(m.campaigns for m in ms),
    )


def measure(ws: Workspace, campaign_id: str) -> Measurement:
    """The campaign's rate difference (treated − holdout) from its report, and its
    standard error: the half-width of the report's 95% interval over z, so the error
    keeps the interval's behaviour at low rates (it is never 0, as a plug-in one is
    when nobody converted)."""
    u = campaign_report(ws, campaign_id, CONFIDENCE, seeding=False)
    z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
    lo, hi = u.rate_difference_ci
    return Measurement(
        measured=u.rate_difference,
        se=(hi - lo) / (2 * z),
        treated=u.treatment.customers,
        control=u.control.customers,
    )


@dataclass(frozen=True)
class Finished:
    """A campaign that ended, with what it carried out and to whom."""

    campaign_id: str
    action: str | None
    segment: str | None


def finished_campaigns(ws: Workspace, now: datetime) -> list[Finished]:
    """Campaigns that ended before ``now`` and name an action or a segment.

    The ``action`` and ``segment`` columns are read when the table has them (campaigns
    created before they existed have neither, and teach nothing here)."""
    if not ws.warehouse.exists("campaigns"):
        return []
    t = ws.warehouse.read_arrow("campaigns")
    rows = t.to_pylist()
    out = []
    for r in rows:
        action, segment = r.get("action") or None, r.get("segment") or None
        ends = r.get("ends_at")
        if ends is None or (action is None and segment is None):
            continue
        ends = ends if ends.tzinfo else ends.replace(tzinfo=UTC)
        if ends <= now:
            out.append(Finished(str(r["campaign_id"]), action, segment))
    return out


def _action_of(segment: str | None, action: str | None, rules: Mapping[str, Prior]) -> str | None:
    if action is not None or segment is None:
        return action
    found = [n for n, p in rules.items() if p.marketing and segment in p.segments]
    return found[0] if len(found) == 1 else None


def learn_uplifts(
    ws: Workspace, now: datetime | None = None, rules: Mapping[str, Prior] | None = None
) -> pa.Table:
    """``measured_uplifts``: one row per (action, segment) measured by finished campaigns."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    rules = priors(ws.settings.targeting_rules) if rules is None else rules
    groups: dict[tuple[str | None, str | None], list[Measurement]] = {}
    for c in finished_campaigns(ws, now):
        try:
            m = measure(ws, c.campaign_id)
        except CampaignError:  # no orders, an empty group: nothing measured yet
            continue
        key = (_action_of(c.segment, c.action, rules), c.segment)
        groups.setdefault(key, []).append(m)
    rows = []
    for (action, segment), ms in sorted(
        groups.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]))
    ):
        m = pool(ms)
        prior = rules.get(action) if action else None
        post, weight = shrink(m, prior.uplift, prior.sd) if prior else (None, None)
        rows.append(
            {
                "action": action,
                "segment": segment,
                "campaigns": m.campaigns,
                "treated": m.treated,
                "control": m.control,
                "measured": m.measured,
                "se": m.se,
                "prior": prior.uplift if prior else None,
                "posterior": post,
                "weight_of_evidence": weight,
                "updated_at": now.astimezone(UTC),
            }
        )
    return pa.Table.from_pylist(rows, schema=MEASURED_UPLIFTS)


def step_learning(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: write ``measured_uplifts`` before the actions step ranks with it."""
    table = learn_uplifts(ws, ctx.started_at, priors(ctx.settings.targeting_rules))
    return {TABLE: ws.warehouse.write(TABLE, table)}


__all__ = [
    "DEFAULT_UPLIFT_SD",
    "MEASURED_UPLIFTS",
    "TABLE",
    "Finished",
    "LearningError",
    "Measurement",
    "Prior",
    "finished_campaigns",
    "learn_uplifts",
    "measure",
    "pool",
    "priors",
    "shrink",
    "step_learning",
]
