"""What the steps of one pipeline run share: computed once, handed to every step.

A step is ``step(ws, ctx) -> {table: rows}``. The context lives below the domains so
that every domain can take one without importing the pipeline; the pipeline builds it
(the calibration end through the value domain) and, after each step, records the
tables that step wrote, so a later step may reuse them instead of recomputing them.

Each step gets its own copy that notes which of the run's clock values it asked for
(:attr:`RunContext.clock_used`): a step that never asked for "now" or the calibration end
need not rerun only because the day changed (see :mod:`socialcrm.store.fingerprints`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any

from socialcrm.config import Settings

CLOCK = ("started_at", "run_date", "calibration_end")
"""The context's values that depend on when the run is, noted when a step reads them."""


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
    clock_used: set[str] | None = field(default=None, compare=False, repr=False)
    """Which of :data:`CLOCK` were read through this context (None: not noted)."""

    def __getattribute__(self, name: str) -> Any:
        if name in CLOCK:
            used = object.__getattribute__(self, "clock_used")
            if used is not None:
                used.add(name)
        return object.__getattribute__(self, name)

    @property
    def run_date(self) -> date:
        """The local calendar day the run started on (what per-day history is keyed by)."""
        started: datetime = object.__getattribute__(self, "started_at")  # noted as run_date
        return started.date()

    def clock(self) -> dict[str, str | None]:
        """The clock values as text, without noting them."""
        started: datetime = object.__getattribute__(self, "started_at")
        end: date | None = object.__getattribute__(self, "calibration_end")
        return {
            "started_at": started.isoformat(),
            "run_date": started.date().isoformat(),
            "calibration_end": end.isoformat() if end else None,
        }

    def noting_clock(self) -> RunContext:
        """A copy of this context that notes which clock values are read through it."""
        return self._copy(clock_used=set())

    def after(self, tables: Iterable[str]) -> RunContext:
        """This context once a step has written ``tables``."""
        return self._copy(written=self.written | frozenset(tables))

    def _copy(self, **changes: Any) -> RunContext:
        """``dataclasses.replace`` without noting the clock values it copies."""
        values = {f.name: object.__getattribute__(self, f.name) for f in fields(self)}
        return RunContext(**{**values, **changes})
