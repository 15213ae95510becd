"""The priority of a conversation: a 0-100 score made of named parts, each shown.

``priority = 100 * sum(weight * part)``; every part is in [0, 1], so an agent can read
why one thread is above another ("negative 0.8 × 25 = 20 points…"). Waiting time is a
part too, so a neglected thread rises as it nears its SLA.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

WEIGHTS: dict[str, float] = {
    "negativity": 0.25,
    "intent": 0.15,
    "influence": 0.20,
    "value": 0.20,
    "risk": 0.10,
    "waiting": 0.10,
}
INTENT_URGENCY = {"complaint": 1.0, "question": 0.8, "suggestion": 0.5, "praise": 0.3}
RISK = {"very_high": 1.0, "high": 0.75, "medium": 0.4, "low": 0.1}
CLV_HALF = 500.0
"""A customer worth this CLV gets half the value part: value = clv / (clv + CLV_HALF)."""


def parts(
    *,
    sentiment: float | None,
    intent: str | None,
    influence: float | None,
    clv: float | None,
    risk_band: str | None,
    waited_hours: float,
    sla_hours: float,
) -> dict[str, float]:
    """Each part in [0, 1].

    >>> p = parts(sentiment=-0.8, intent="complaint", influence=90.0, clv=500.0,
    ...           risk_band="high", waited_hours=2.0, sla_hours=4.0)
    >>> p["negativity"], p["value"], p["waiting"]
    (0.8, 0.5, 0.5)
    """
    clv_v = max(clv or 0.0, 0.0)
    return {
        "negativity": _clip(-(sentiment or 0.0)),
        "intent": INTENT_URGENCY.get(intent or "", 0.1),
        "influence": _clip((influence or 0.0) / 100.0),
        "value": 0.0 if not math.isfinite(clv_v) else clv_v / (clv_v + CLV_HALF),
        "risk": RISK.get(risk_band or "", 0.0),
        "waiting": _clip(waited_hours / sla_hours) if sla_hours > 0 else 0.0,
    }


def score(p: dict[str, float]) -> float:
    """The 0-100 priority of ``parts``.

    >>> score({k: 1.0 for k in WEIGHTS})
    100.0
    """
    return round(100.0 * sum(WEIGHTS[k] * p.get(k, 0.0) for k in WEIGHTS), 2)


def explain(p: dict[str, float]) -> list[dict[str, Any]]:
    """Parts with their weight and points, biggest first: what the page shows."""
    rows = [
        {"part": k, "value": round(p.get(k, 0.0), 3), "weight": w,
         "points": round(100.0 * w * p.get(k, 0.0), 2)}
        for k, w in WEIGHTS.items()
    ]  # fmt: skip
    return sorted(rows, key=lambda r: -r["points"])


def waited_hours(since: datetime, now: datetime) -> float:
    return max((now - since).total_seconds() / 3600.0, 0.0)


def _clip(x: float) -> float:
    return min(max(float(x), 0.0), 1.0)
