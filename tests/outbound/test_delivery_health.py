"""A failing delivery pass is reported once, and the passes after it back off."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.outbound import delivery, periodic


class Waits:
    """A stop event that never fires and records how long each wait would have been."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return False

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return False


class Flaky:
    """An app database that fails (like SQLite's "database is locked") while ``broken``."""

    def __init__(self, real: AppDB, broken: list[bool]) -> None:
        self.real, self.broken = real, broken

    def session(self) -> Any:
        if self.broken.pop(0):
            raise RuntimeError("database is locked")
        return self.real.session()


def test_a_failing_pass_is_logged_once_and_backs_off_until_one_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(home=tmp_path / "ws")
    real = AppDB(settings.resolved_database_url)
    # the outbox asks for one session a pass while it fails; a working pass asks for more
    db = Flaky(real, [True, True, True] + [False] * 20 + [True])
    stop = Waits()
    results: list[Any] = []
    with caplog.at_level(logging.DEBUG, logger="socialcrm.outbound.periodic"):
        n = delivery.watch(db, settings, 1.0, stop=stop, on_pass=results.append, passes=4)
    real.close()
    assert n == 4 and results[:3] == [None, None, None] and results[3]["webhooks"]["failed"] == 0
    assert stop.waits == [2.0, 4.0, 8.0]  # doubled after each failure in a row, not a storm
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # three failures, one report, with its reason
    assert "RuntimeError: database is locked" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert sum(r.levelno == logging.DEBUG for r in caplog.records) == 2
    (back,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "work again after 3 failed" in back.getMessage()


def test_the_backoff_is_capped_and_a_new_reason_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    h = periodic.Health()
    with caplog.at_level(logging.ERROR, logger="socialcrm.outbound.periodic"):
        for _ in range(40):
            h.failed(RuntimeError("database is locked"), 30.0)
        assert h.wait(30.0) == periodic.MAX_BACKOFF_SECONDS
        h.failed(ValueError("disk full"), 30.0)
    assert [r.getMessage().split(";")[0] for r in caplog.records] == [
        "delivery pass failed (RuntimeError: database is locked)",
        "delivery pass failed (ValueError: disk full)",
    ]
    assert h.failures == 41
    h.passed()
    assert h.failures == 0 and h.wait(30.0) == 30.0
