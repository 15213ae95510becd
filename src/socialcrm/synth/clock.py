"""The demo's time window and vectorised ISO 8601 formatting.

Times are carried as int64 seconds since the Unix epoch (UTC) from generation to the
writer, so that millions of timestamps never become Python ``datetime`` objects.
"""

from __future__ import annotations

import numpy as np

DAY = 86_400
YEAR_DAYS = 365.25

START = int(np.datetime64("2024-01-01T00:00:00", "s").astype(np.int64))
"""First day on which the brand's records and orders begin."""
END = int(np.datetime64("2026-07-01T00:00:00", "s").astype(np.int64))
"""Exclusive end: the data runs to 2026-06-30 23:59:59 UTC."""
SOCIAL_START = int(np.datetime64("2019-01-01T00:00:00", "s").astype(np.int64))
"""Earliest follow relationship (social accounts predate the brand's records)."""


def iso_utc(seconds: np.ndarray) -> np.ndarray:
    """``2025-03-01T12:00:00Z`` strings."""
    return np.datetime_as_string(
        np.asarray(seconds, np.int64).astype("datetime64[s]"), unit="s", timezone="UTC"
    )


def iso_offset(seconds: np.ndarray, offset_hours: np.ndarray) -> np.ndarray:
    """Local wall-clock time with its UTC offset, e.g. ``2025-03-01T13:00:00+01:00``."""
    seconds = np.asarray(seconds, np.int64)
    offset_hours = np.asarray(offset_hours, np.int64)
    local = np.datetime_as_string((seconds + offset_hours * 3600).astype("datetime64[s]"), unit="s")
    sign = np.where(offset_hours < 0, "-", "+")
    hh = np.char.zfill(np.abs(offset_hours).astype(str), 2)
    suffix = np.char.add(np.char.add(sign, hh), ":00")
    return np.char.add(local.astype(str), suffix)


def iso_date(seconds: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` strings."""
    days = np.asarray(seconds, np.int64).astype("datetime64[s]").astype("datetime64[D]")
    return np.datetime_as_string(days, unit="D")


def european_offset(seconds: np.ndarray) -> np.ndarray:
    """CET/CEST offset in hours, with summer time approximated as April to October."""
    month = (
        np.asarray(seconds, np.int64)
        .astype("datetime64[s]")
        .astype("datetime64[M]")
        .astype(np.int64)
        % 12
    ) + 1
    return np.where((month >= 4) & (month <= 10), 2, 1)
