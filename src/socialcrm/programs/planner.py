"""The amplification planner: an email blast beside a handful of engaged amplifiers.

Email blast: reached = list size; engaged = reached × click rate; conversions = engaged ×
conversion rate; cost = list size × cost per email.

Amplifiers: wave 0 reaches amplifiers × reach each; a share ``engagement_rate`` of
everyone reached engages, a share ``reamplification_rate`` of the engaged reshares to
``secondary_reach`` people of their own, and so on. Each wave is ``b = engagement ×
reamplification × secondary_reach`` times the last, so reach = A0 (1 − b^H) / (1 − b)
over H waves (a geometric series; b ≥ 1 would never stop, so waves are capped). Cost =
amplifiers × fee + conversions × referral reward.

Incrementality: a person converts anyway with the baseline rate q and, independently,
because of the campaign with probability c/N; so of the c attributed conversions a
share q would have happened anyway, and incremental = c × (1 − q). A holdout campaign
(:mod:`socialcrm.programs.campaigns`) measures q for real.

>>> plan = compare(EmailBlast(1_000_000, 0.06, 0.03), Amplifiers(20, 10_000, 0.05))
>>> round(plan["email"].conversions)
1800
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path


class PlanError(ValueError):
    """Planner inputs out of range."""


def _rate(name: str, x: float) -> None:
    if not 0 <= x <= 1:
        raise PlanError(f"{name} must be between 0 and 1, got {x}")


def _count(name: str, x: float) -> None:
    if x < 0:
        raise PlanError(f"{name} must not be negative, got {x}")


@dataclass(frozen=True)
class EmailBlast:
    list_size: int
    click_rate: float
    conversion_rate: float
    cost_per_email: float = 0.001
    baseline_rate: float = 0.0
    """Share of the list who would convert in the period anyway."""

    def __post_init__(self) -> None:
        _count("list size", self.list_size)
        _count("cost per email", self.cost_per_email)
        for name in ("click_rate", "conversion_rate", "baseline_rate"):
            _rate(name.replace("_", " "), getattr(self, name))


@dataclass(frozen=True)
class Amplifiers:
    amplifiers: int
    reach_each: float
    """Measured audience one amplifier's post reaches."""
    engagement_rate: float
    reamplification_rate: float = 0.01
    secondary_reach: float = 75.0
    """People one re-amplifying fan reaches (their own friends)."""
    conversion_rate: float = 0.03
    """Share of engaged people who convert."""
    fee_per_amplifier: float = 0.0
    referral_reward: float = 0.0
    """Paid per converted (referred) sale."""
    baseline_rate: float = 0.0
    max_waves: int = 10

    def __post_init__(self) -> None:
        for name in ("amplifiers", "reach_each", "secondary_reach", "fee_per_amplifier"):
            _count(name.replace("_", " "), getattr(self, name))
        _count("referral reward", self.referral_reward)
        for name in ("engagement_rate", "reamplification_rate", "conversion_rate", "baseline_rate"):
            _rate(name.replace("_", " "), getattr(self, name))
        if self.max_waves < 1:
            raise PlanError(f"max waves must be at least 1, got {self.max_waves}")


@dataclass(frozen=True)
class Outcome:
    reach: float
    engaged: float
    conversions: float
    incremental_conversions: float
    cost: float
    cost_per_incremental: float | None
    reach_by_wave: list[float]

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def plan_email(e: EmailBlast) -> Outcome:
    engaged = e.list_size * e.click_rate
    conv = engaged * e.conversion_rate
    inc = conv * (1 - e.baseline_rate)
    cost = e.list_size * e.cost_per_email
    return Outcome(
        reach=float(e.list_size),
        engaged=engaged,
        conversions=conv,
        incremental_conversions=inc,
        cost=cost,
        cost_per_incremental=cost / inc if inc > 0 else None,
        reach_by_wave=[float(e.list_size)],
    )


def plan_amplifiers(a: Amplifiers) -> Outcome:
    wave = a.amplifiers * a.reach_each
    waves = []
    for _ in range(a.max_waves):
        waves.append(wave)
        wave = wave * a.engagement_rate * a.reamplification_rate * a.secondary_reach
        if wave < 1e-9:
            break
    reach = sum(waves)
    engaged = reach * a.engagement_rate
    conv = engaged * a.conversion_rate
    inc = conv * (1 - a.baseline_rate)
    cost = a.amplifiers * a.fee_per_amplifier + conv * a.referral_reward
    return Outcome(
        reach=reach,
        engaged=engaged,
        conversions=conv,
        incremental_conversions=inc,
        cost=cost,
        cost_per_incremental=cost / inc if inc > 0 else None,
        reach_by_wave=waves,
    )


def compare(email: EmailBlast, amplifiers: Amplifiers) -> dict[str, Outcome]:
    """Both plans' expected reach, engagement, conversions, cost and incrementality."""
    return {"email": plan_email(email), "amplifiers": plan_amplifiers(amplifiers)}


def plan_chart(plan: dict[str, Outcome], path: Path) -> Path:
    """A PNG: the funnel of both plans side by side (log scale) and cost per incremental
    conversion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    stages = ["reach", "engaged", "conversions", "incremental_conversions"]
    labels = ["reached", "engaged", "converted", "incremental"]
    colours = {"email": "#4C78A8", "amplifiers": "#F58518"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.38
    for i, (name, out) in enumerate(plan.items()):
        xs = [j + (i - 0.5) * width for j in range(len(stages))]
        vals = [max(getattr(out, s), 1e-9) for s in stages]
        bars = ax1.bar(xs, vals, width, label=name, color=colours.get(name))
        for b, v in zip(bars, vals, strict=True):
            ax1.annotate(
                f"{v:,.0f}",
                (b.get_x() + b.get_width() / 2, v),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax1.set_yscale("log")
    ax1.set_xticks(range(len(stages)), labels)
    ax1.set_title("Expected funnel")
    ax1.legend(frameon=False)
    names = list(plan)
    cpi = [plan[n].cost_per_incremental or 0.0 for n in names]
    ax2.bar(names, cpi, color=[colours.get(n) for n in names])
    for x, v in enumerate(cpi):
        ax2.annotate(f"${v:,.2f}", (x, v), ha="center", va="bottom", fontsize=8)
    ax2.set_title("Cost per incremental sale")
    for ax in (ax1, ax2):
        ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
