"""Time units of RFM summaries and purchase models, apart from the Ibis expressions of
:mod:`socialcrm.value.rfm`, so that code fitting on plain arrays needs no Ibis."""

from __future__ import annotations

DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0}
"""Days in each time unit of recency and T."""
