"""Buy-till-you-die simulation: purchase logs and summaries with known parameters.

Used by the benchmark, the tests and the examples: data drawn from the BG/NBD model
itself, so a fit must recover the parameters it was drawn with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PRESETS: dict[str, dict[str, float]] = {
    # CDNOW's published BG/NBD and Gamma-Gamma parameters: ~2.8 purchases per customer
    "cdnow": {
        "r": 0.2426,
        "alpha": 4.4136,
        "a": 0.7929,
        "b": 2.4259,
        "p": 6.25,
        "q": 3.74,
        "gamma": 15.44,
    },
    # frequent buyers who rarely stop: ~14 purchases per customer
    "heavy": {"r": 2.0, "alpha": 6.0, "a": 0.6, "b": 8.0, "p": 6.25, "q": 3.74, "gamma": 15.44},
}


@dataclass(frozen=True)
class Simulated:
    """A simulated purchase log (one row per purchase) and the window it covers."""

    transactions: pd.DataFrame
    """Columns ``customer_id`` (int64), ``date`` (datetime64[ns], midnight), ``amount``."""
    start: pd.Timestamp
    end: pd.Timestamp


def simulate_transactions(
    n_customers: int,
    preset: str = "cdnow",
    weeks: float = 78.0,
    cohort_weeks: float = 12.0,
    seed: int = 0,
    start: str = "2024-01-01",
) -> Simulated:
    """Draw BG/NBD purchase logs with Gamma-Gamma spends, in weeks.

    Customers make a first purchase uniformly in the first ``cohort_weeks``; while
    alive each buys at rate λ ~ Gamma(r, α) per week and drops out after a purchase with
    probability p ~ Beta(a, b). Purchases are recorded by day.

    Examples
    --------
    >>> sim = simulate_transactions(1000, seed=1)
    >>> sim.transactions.columns.tolist()
    ['customer_id', 'date', 'amount']
    """
    prm = PRESETS[preset]
    rng = np.random.default_rng(seed)
    lam = rng.gamma(prm["r"], 1 / prm["alpha"], n_customers)
    drop = rng.beta(prm["a"], prm["b"], n_customers)
    nu = rng.gamma(prm["q"], 1 / prm["gamma"], n_customers)
    first = rng.uniform(0, cohort_weeks, n_customers)
    ids, times = [np.arange(n_customers)], [first]
    now = first.copy()
    active = np.arange(n_customers)
    while active.size:
        now_a = now[active] + rng.exponential(1.0, active.size) / np.maximum(lam[active], 1e-300)
        inside = now_a <= weeks
        active, now_a = active[inside], now_a[inside]
        now[active] = now_a
        ids.append(active)
        times.append(now_a)
        active = active[rng.random(active.size) >= drop[active]]
    cid = np.concatenate(ids)
    t = np.concatenate(times)
    amount = rng.gamma(prm["p"], 1 / nu[cid])
    origin = pd.Timestamp(start)
    days = np.floor(t * 7).astype("int64")
    order = np.lexsort((days, cid))
    frame = pd.DataFrame(
        {
            "customer_id": cid[order],
            "date": origin + pd.to_timedelta(days[order], unit="D"),
            "amount": np.round(amount[order], 2),
        }
    )
    return Simulated(frame, origin, origin + pd.Timedelta(days=int(weeks * 7)))


def simulate_summary(
    n_customers: int, preset: str = "cdnow", weeks: float = 39.0, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw (x, t_x, T) summaries in weeks directly (continuous time, no day rounding).

    Examples
    --------
    >>> x, t_x, T = simulate_summary(5, seed=2)
    >>> bool((t_x <= T).all())
    True
    """
    sim = simulate_transactions(n_customers, preset, weeks, cohort_weeks=12.0, seed=seed)
    tx = sim.transactions
    t = (tx.date - sim.start).dt.days.to_numpy() / 7.0
    df = pd.DataFrame({"c": tx.customer_id.to_numpy(), "t": t}).drop_duplicates()
    g = df.groupby("c").t
    first, last, n = g.min(), g.max(), g.size()
    return (
        (n - 1).to_numpy(dtype=float),
        (last - first).to_numpy(),
        (weeks - first).to_numpy(),
    )
