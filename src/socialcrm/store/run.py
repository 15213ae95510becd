"""What the steps of one pipeline run share: computed once, handed to every step.

A step is ``step(ws, ctx) -> {table: rows}``. The context lives below the domains so
that every domain can take one without importing the pipeline; the pipeline builds it
(the calibration end through the value domain) and, after each step, records the
tables that step wrote, so a later step may reuse them instead of recomputing them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from socialcrm.config import Settings


@dataclass(frozen=True)
class RunContext:
    """One run's settings, clock and calibration end, the same for every step."""

    settings: Settings
    """The settings the run was started with."""
    started_at: datetime
    """When the run started (timezone-aware, local time): the run's "now"."""
    calibration_end: date | None
    """The configured calibration end, else the day of the last order; None when there
    are no orders (the steps that need one say so)."""
    written: frozenset[str] = field(default_factory=frozenset)
    """What earlier steps of this run reported writing, with this context: warehouse
    tables that are safe to reuse (and the names of app-database counts some report)."""

    @property
    def run_date(self) -> date:
        """The local calendar day the run started on (what per-day history is keyed by)."""
        return self.started_at.date()

    def after(self, tables: Iterable[str]) -> RunContext:
        """This context once a step has written ``tables``."""
        return replace(self, written=self.written | frozenset(tables))
