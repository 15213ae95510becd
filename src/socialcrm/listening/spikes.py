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
    resid = np.full(n, np.nan)
    for t in range(14, n):
        season = slice(max(0, t - 7 * season_weeks), t)
        overall = np.median(counts[season])
        factor = np.ones(7)
        if overall > 0:
            for d in range(7):
                same = counts[season][weekdays[season] == d]
                if len(same) >= 2:
                    factor[d] = max(np.median(same) / overall, 0.05)
        recent = slice(max(0, t - window), t)
        level = np.median(counts[recent] / factor[weekdays[recent]])
        e = max(float(level * factor[weekdays[t]]), 0.5)
        expected[t] = e
        past = resid[max(14, t - 7 * season_weeks) : t]
        spread = _mad(past) if np.isfinite(past).sum() >= 7 else 1.0
        noise[t] = np.sqrt(e) * max(1.0, spread)
        resid[t] = (counts[t] - e) / np.sqrt(e)
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
    spikes = []
    resid = np.full(n, np.nan)
    for t in range(14, n):
        lo = max(0, t - window)
        base_n = tot[lo:t].sum()
        if base_n <= 0 or tot[t] <= 0:
            continue
        p0 = float(np.clip(neg[lo:t].sum() / base_n, 0.01, 0.99))
        sd = np.sqrt(tot[t] * p0 * (1 - p0))
        resid[t] = (neg[t] - tot[t] * p0) / sd
        recent = resid[max(14, t - window) : t]
        disp = _mad(recent) if np.isfinite(recent).sum() >= 7 else 1.0
        z = resid[t] / max(1.0, disp)
        share = neg[t] / tot[t]
        if z >= threshold and tot[t] >= min_total and share - p0 >= min_lift:
            spikes.append(Spike(t, float(share), p0, float(z)))
    return spikes
