"""Spike detection on daily volumes and negative shares, aware of weekly seasonality.

Social volume has a weekly rhythm (quiet weekends for a B2B brand, busy ones for a
coffee chain), so a Monday that is twice a Sunday is not news. For each day the
detector builds its expectation from the past only:

- **level**: the median of the previous ``window`` days (robust to earlier spikes);
- **weekday factor**: for the day's weekday, the median ratio of that weekday's volume
  to its own week's median, over the previous ``season_weeks`` weeks;
- **expected** = level × factor; **noise** = the larger of the Poisson noise
  ``sqrt(expected)`` and the robust spread (MAD) of recent residuals, so an
  over-dispersed series needs a bigger jump.

A day is a *volume* spike when ``(observed − expected) / noise ≥ threshold`` and the
observed count is at least ``min_count`` and ``min_ratio`` × expected. A *negative-share*
alert compares the day's negative posts with a binomial expectation from the previous
``window`` days' share, inflated by the recent over-dispersion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spike:
    """One unusual day: its index in the series, what was seen and what was expected."""

    index: int
    observed: float
    expected: float
    z: float


def _mad(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def _windows(x: np.ndarray, ts: np.ndarray, width: int) -> np.ndarray:
    """Row i: ``x[ts[i] - width : ts[i]]``, NaN-padded on the left where it starts
    before the series."""
    padded = np.concatenate([np.full(width, np.nan), np.asarray(x, dtype=np.float64)])
    index = ts[:, None] + np.arange(width)[None, :]  # padded position of t - width + k
    return padded[index]


def _nanmedian(rows: np.ndarray) -> np.ndarray:
    """Median of each row's finite values (NaN where none): ``np.median`` of each."""
    out = np.full(len(rows), np.nan)
    if rows.size == 0:
        return out
    ordered = np.sort(rows, axis=1)  # NaN sorts last
    k = np.isfinite(rows).sum(axis=1)
    has = k > 0
    lo = ordered[np.arange(len(rows)), np.maximum((k - 1) // 2, 0)]
    hi = ordered[np.arange(len(rows)), np.maximum(k // 2, 0)]
    out[has] = np.where((k % 2 == 1), lo, (lo + hi) / 2)[has]
    return out


def _mads(rows: np.ndarray) -> np.ndarray:
    """:func:`_mad` of each row's finite values."""
    centre = _nanmedian(rows)
    return 1.4826 * _nanmedian(np.abs(rows - centre[:, None]))


def expected_volume(
    counts: np.ndarray,
    weekdays: np.ndarray,
    window: int = 28,
    season_weeks: int = 12,
) -> tuple[np.ndarray, np.ndarray]:
    """Expected count and noise scale for each day, from earlier days only.

    Days with fewer than 14 earlier days get ``nan``.

    >>> days = np.arange(70)
    >>> counts = np.where(days % 7 >= 5, 20.0, 100.0)  # quiet weekends
    >>> exp, _ = expected_volume(counts, days % 7)
    >>> float(exp[63]), float(exp[68])  # a Monday, a Saturday
    (100.0, 20.0)
    """
    counts = np.asarray(counts, dtype=np.float64)
    weekdays = np.asarray(weekdays)
    n = len(counts)
    expected = np.full(n, np.nan)
    noise = np.full(n, np.nan)
    if n <= 14:
        return expected, noise
    # Every day's windows at once (rows: days t >= 14; columns: the earlier days in the
    # window, NaN where before the series starts): the same medians as a loop over t,
    # in a few array operations instead of a dozen np.median calls per day.
    ts = np.arange(14, n)
    season = _windows(counts, ts, 7 * season_weeks)
    season_days = _windows(weekdays.astype(np.float64), ts, 7 * season_weeks)
    overall = _nanmedian(season)
    factor = np.ones((len(ts), 7))
    for d in range(7):
        same = np.where(season_days == d, season, np.nan)
        enough = (np.isfinite(same).sum(axis=1) >= 2) & (overall > 0)
        if enough.any():
            factor[enough, d] = np.maximum(_nanmedian(same[enough]) / overall[enough], 0.05)
    recent = _windows(counts, ts, window)
    recent_days = _windows(weekdays.astype(np.float64), ts, window)
    known = np.isfinite(recent_days)
    per_day = np.take_along_axis(factor, np.where(known, recent_days, 0).astype(np.int64), axis=1)
    level = _nanmedian(np.where(known, recent / per_day, np.nan))
    e = np.maximum(level * factor[np.arange(len(ts)), weekdays[ts]], 0.5)
    expected[ts] = e
    resid = np.full(n, np.nan)
    resid[ts] = (counts[ts] - e) / np.sqrt(e)
    past = _windows(resid, ts, 7 * season_weeks)  # NaN before day 14, as in the loop
    enough = np.isfinite(past).sum(axis=1) >= 7
    spread = np.ones(len(ts))
    if enough.any():
        spread[enough] = _mads(past[enough])
    noise[ts] = np.sqrt(e) * np.maximum(1.0, spread)
    return expected, noise


def detect_volume_spikes(
    counts: np.ndarray,
    weekdays: np.ndarray,
    threshold: float = 4.0,
    min_count: int = 10,
    min_ratio: float = 1.5,
    window: int = 28,
) -> list[Spike]:
    """Days whose volume is unusually high for their weekday and the recent level.

    >>> rng = np.random.default_rng(0)
    >>> days = np.arange(120)
    >>> base = np.where(days % 7 >= 5, 30, 100)
    >>> counts = rng.poisson(base).astype(float)
    >>> counts[90] += 150
    >>> [s.index for s in detect_volume_spikes(counts, days % 7)]
    [90]
    """
    counts = np.asarray(counts, dtype=np.float64)
    expected, noise = expected_volume(counts, weekdays, window=window)
    z = (counts - expected) / noise
    hits = (
        np.isfinite(z)
        & (z >= threshold)
        & (counts >= min_count)
        & (counts >= min_ratio * np.nan_to_num(expected, nan=np.inf))
    )
    return [
        Spike(int(i), float(counts[i]), float(expected[i]), float(z[i]))
        for i in np.flatnonzero(hits)
    ]


def detect_negative_share_spikes(
    negative: np.ndarray,
    total: np.ndarray,
    threshold: float = 4.0,
    min_total: int = 10,
    min_lift: float = 0.10,
    window: int = 28,
) -> list[Spike]:
    """Days whose share of negative posts is unusually high; ``observed``/``expected``
    are shares.

    >>> rng = np.random.default_rng(1)
    >>> total = rng.poisson(200, 100)
    >>> negative = rng.binomial(total, 0.15).astype(float)
    >>> negative[80] = 0.45 * total[80]
    >>> [s.index for s in detect_negative_share_spikes(negative, total)]
    [80]
    """
    neg = np.asarray(negative, dtype=np.float64)
    tot = np.asarray(total, dtype=np.float64)
    n = len(tot)
    resid = np.full(n, np.nan)
    p0s = np.full(n, np.nan)
    for t in range(14, n):
        lo = max(0, t - window)
        base_n = tot[lo:t].sum()
        if base_n <= 0 or tot[t] <= 0:
            continue
        p0 = float(np.clip(neg[lo:t].sum() / base_n, 0.01, 0.99))
        sd = np.sqrt(tot[t] * p0 * (1 - p0))
        resid[t] = (neg[t] - tot[t] * p0) / sd
        p0s[t] = p0
    ts = np.flatnonzero(np.isfinite(p0s))
    if len(ts) == 0:
        return []
    # the over-dispersion of every day at once (the residuals do not depend on it)
    recent = _windows(resid, ts, window)  # NaN before day 14 and on skipped days
    enough = np.isfinite(recent).sum(axis=1) >= 7
    disp = np.ones(len(ts))
    if enough.any():
        disp[enough] = _mads(recent[enough])
    z = resid[ts] / np.maximum(1.0, disp)
    share = neg[ts] / tot[ts]
    hits = (z >= threshold) & (tot[ts] >= min_total) & (share - p0s[ts] >= min_lift)
    return [
        Spike(int(ts[i]), float(share[i]), float(p0s[ts[i]]), float(z[i]))
        for i in np.flatnonzero(hits)
    ]
