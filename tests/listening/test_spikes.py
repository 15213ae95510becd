"""Spike detection on synthetic series with known injected spikes.

The series look like a brand's daily mentions: a weekly rhythm (weekends at 40-45% of
weekdays), a slow trend and over-dispersed (gamma-Poisson) noise. Ten spikes a year
are injected, each 5 to 8 noise standard deviations above the day's expected value.
Over 20 simulated years the detector finds 93% of them with about 1 false alarm per
year (run with ``-s`` to see the numbers), while a detector
that ignores the weekday finds far fewer at the same threshold, because weekends blow
up its estimate of the noise.
"""

import numpy as np

from socialcrm.listening.spikes import (
    detect_negative_share_spikes,
    detect_volume_spikes,
    expected_volume,
)

WEEKLY = np.array([1.15, 1.1, 1.05, 1.0, 0.95, 0.45, 0.4])


def synthetic_year(seed: int, days: int = 364, n_spikes: int = 10):
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    weekday = t % 7
    level = 80 * (1 + 0.3 * t / days) * WEEKLY[weekday]
    shape = 20.0  # gamma-Poisson: variance = level + level² / shape
    counts = rng.poisson(rng.gamma(shape, level / shape)).astype(float)
    sd = np.sqrt(level + level**2 / shape)
    spikes = rng.choice(np.arange(35, days), n_spikes, replace=False)
    counts[spikes] = np.round(level[spikes] + rng.uniform(5, 8, n_spikes) * sd[spikes])
    return counts, weekday, set(spikes.tolist())


def naive_detector(counts: np.ndarray, threshold: float = 4.0) -> set[int]:
    """Rolling 28-day mean + threshold × sd, no weekday: the usual dashboard alert."""
    found = set()
    for t in range(28, len(counts)):
        window = counts[t - 28 : t]
        if counts[t] > window.mean() + threshold * window.std():
            found.add(t)
    return found


def score(detect) -> tuple[float, float]:
    hits = false = total = 0
    for seed in range(20):
        counts, weekday, truth = synthetic_year(seed)
        found = detect(counts, weekday)
        hits += len(found & truth)
        false += len(found - truth)
        total += len(truth)
    return hits / total, false / 20


def test_volume_spikes_recall_and_false_alarms():
    recall, false_per_year = score(lambda c, w: {s.index for s in detect_volume_spikes(c, w)})
    naive_recall, _ = score(lambda c, w: naive_detector(c))
    print(
        f"seasonal: recall {recall:.3f}, false alarms/year {false_per_year:.2f}; "
        f"naive: recall {naive_recall:.3f}"
    )
    assert recall >= 0.9
    assert false_per_year <= 2.0
    assert recall > naive_recall + 0.1


def test_weekly_rhythm_alone_raises_no_alarm():
    days = np.arange(140)
    counts = 100 * WEEKLY[days % 7]
    assert detect_volume_spikes(counts, days % 7) == []
    expected, _ = expected_volume(counts, days % 7)
    assert np.allclose(expected[28:], counts[28:], rtol=0.01)


def test_a_weekday_volume_on_a_sunday_is_a_spike():
    days = np.arange(84)
    counts = np.round(100 * WEEKLY[days % 7])
    sunday = 76  # 76 % 7 == 6
    counts[sunday] = 100  # a normal Monday, but three times a Sunday
    spikes = detect_volume_spikes(counts, days % 7)
    assert [s.index for s in spikes] == [sunday]
    assert spikes[0].expected < 45


def test_negative_share_spikes():
    rng = np.random.default_rng(3)
    hits = false = 0
    for _ in range(20):
        total = rng.poisson(150 * WEEKLY[np.arange(200) % 7])
        negative = rng.binomial(total, 0.12).astype(float)
        spike_days = rng.choice(np.arange(30, 200), 5, replace=False)
        negative[spike_days] = np.round(total[spike_days] * 0.4)
        found = {s.index for s in detect_negative_share_spikes(negative, total)}
        hits += len(found & set(spike_days.tolist()))
        false += len(found - set(spike_days.tolist()))
    assert hits / 100 >= 0.95
    assert false <= 5
