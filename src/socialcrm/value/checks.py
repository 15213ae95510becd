"""Model checks an analyst can read: does the fitted purchase model describe the data?

Three checks, after Fader, Hardie & Lee (2005):

* **calibration histogram** — how many customers made 0, 1, ..., 6, 7+ repeat purchases
  in calibration, actual vs expected (each customer contributes P(X(T_i) = n) for her own
  T_i), with Pearson's χ² over the bins;
* **tracking** — cumulative repeat purchases over calendar time, actual vs the model's
  forecast for the cohort, through calibration and the holdout;
* **conditional expectations** — mean holdout purchases by calibration frequency,
  actual vs the model's conditional expectation.

Each returns a DataFrame; :func:`plot_checks` draws them as PNG charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import chi2 as chi2_dist

from socialcrm.value.clv import PurchaseModel
from socialcrm.value.mle import compact

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HISTOGRAM_BINS = 7
"""Repeat-purchase counts 0..6 each get a bin; 7 and more share the last one."""


@dataclass(frozen=True)
class Histogram:
    """Calibration-period histogram of repeat purchases with its χ² statistic."""

    table: pd.DataFrame
    chi2: float
    dof: int
    p_value: float


def calibration_histogram(
    model: PurchaseModel,
    frequency: ArrayLike,
    T: ArrayLike,
    bins: int = HISTOGRAM_BINS,
) -> Histogram:
    """Actual vs expected number of customers by repeat purchases in calibration.

    The χ² has ``bins + 1 - 1 - k`` degrees of freedom for a model with k parameters.

    Examples
    --------
    >>> from socialcrm.value.bgnbd import BGNBD
    >>> h = calibration_histogram(BGNBD(0.24, 4.4, 0.79, 2.4), [0, 0, 1, 3], [30, 38, 38, 35])
    >>> h.table.purchases.tolist()
    ['0', '1', '2', '3', '4', '5', '6', '7+']
    """
    x = np.asarray(frequency, dtype=np.float64)
    c = compact(np.asarray(T, dtype=np.float64))
    ts, w = c.column(0), c.weights
    n = np.arange(bins)
    probs = model.probability_of_purchases(n[None, :], ts[:, None])
    expected = w @ probs
    expected = np.append(expected, w.sum() - expected.sum())
    actual = np.append([(x == k).sum() for k in n], (x >= bins).sum()).astype(float)
    chi2 = float((((actual - expected) ** 2) / expected).sum())
    dof = max(bins + 1 - 1 - len(model.params), 1)
    table = pd.DataFrame(
        {
            "purchases": [*(str(k) for k in n), f"{bins}+"],
            "actual": actual.astype(int),
            "expected": expected,
        }
    )
    return Histogram(table, chi2, dof, float(chi2_dist.sf(chi2, dof)))


def tracking(
    model: PurchaseModel,
    first_purchase: ArrayLike,
    repeat_purchases: ArrayLike,
    calibration_end: float,
    end: float,
    step: float = 1.0,
) -> pd.DataFrame:
    """Cumulative repeat purchases per period, actual vs the model's forecast.

    Parameters
    ----------
    model
        A fitted purchase model.
    first_purchase
        Each customer's first purchase, as a time from a common origin (e.g. weeks
        since the first day of the data).
    repeat_purchases
        The times of all repeat purchase occasions of those customers, same origin.
    calibration_end, end
        End of calibration and of the holdout, same origin.
    step
        Period length (1 = one time unit).

    Returns
    -------
    DataFrame with ``period_end``, ``actual``, ``expected`` (repeat purchases in the
    period), ``actual_cumulative``, ``expected_cumulative`` and ``holdout`` (whether
    the period is after calibration).

    Examples
    --------
    >>> from socialcrm.value.bgnbd import BGNBD
    >>> t = tracking(BGNBD(0.24, 4.4, 0.79, 2.4), [0, 0, 1], [2.5, 3.5], 3, 5)
    >>> t.actual_cumulative.tolist()
    [0, 0, 1, 2, 2]
    """
    c = compact(np.asarray(first_purchase, dtype=np.float64))
    starts, w = c.column(0), c.weights
    ends = np.arange(step, end + step / 2, step)
    ends = ends[ends <= end + 1e-9]
    age = np.maximum(ends[:, None] - starts[None, :], 0.0)
    expected_cum = model.expected_purchases_new(age) @ w
    repeats = np.sort(np.asarray(repeat_purchases, dtype=np.float64))
    actual_cum = np.searchsorted(repeats, ends + 1e-9, side="right")
    return pd.DataFrame(
        {
            "period_end": ends,
            "actual": np.diff(actual_cum, prepend=0),
            "expected": np.diff(expected_cum, prepend=0.0),
            "actual_cumulative": actual_cum,
            "expected_cumulative": expected_cum,
            "holdout": ends > calibration_end + 1e-9,
        }
    )


def conditional_expectations(
    model: PurchaseModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    frequency_holdout: ArrayLike,
    duration_holdout: float,
    bins: int = HISTOGRAM_BINS,
) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency, actual vs conditional expectation.

    Examples
    --------
    >>> from socialcrm.value.bgnbd import BGNBD
    >>> t = conditional_expectations(BGNBD(0.24, 4.4, 0.79, 2.4), [0, 1], [0, 5], [9, 9],
    ...                              [0, 2], 10)
    >>> t.customers.tolist()[:2]
    [1, 1]
    """
    x = np.asarray(frequency, dtype=np.float64)
    c = compact(x, np.asarray(recency, dtype=np.float64), np.asarray(T, dtype=np.float64))
    per_triple = model.expected_purchases(duration_holdout, c.column(0), c.column(1), c.column(2))
    expected = per_triple[c.inverse]
    group = np.minimum(x, bins).astype(int)
    frame = pd.DataFrame(
        {"group": group, "actual": np.asarray(frequency_holdout, float), "expected": expected}
    )
    out = frame.groupby("group").agg(
        customers=("actual", "size"), actual=("actual", "mean"), expected=("expected", "mean")
    )
    out = out.reindex(range(bins + 1), fill_value=0).reset_index()
    out.insert(0, "frequency", [*(str(k) for k in range(bins)), f"{bins}+"])
    return out.drop(columns="group")


def plot_checks(
    directory: Path,
    histogram: Histogram,
    tracking_table: pd.DataFrame | None = None,
    conditional_table: pd.DataFrame | None = None,
    title: str = "",
) -> list[Path]:
    """Draw the checks as PNG charts in ``directory``; returns the files written.

    Needs matplotlib (drawn off-screen with the Agg backend).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    files = []

    fig, ax = plt.subplots(figsize=(7, 4))
    t = histogram.table
    pos = np.arange(len(t))
    ax.bar(pos - 0.2, t.actual, 0.4, label="actual", color="#1f4e79")
    ax.bar(pos + 0.2, t.expected, 0.4, label="model", color="#f4a261")
    ax.set_xticks(pos, t.purchases)
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("customers")
    ax.set_title(f"{title} calibration fit (χ² = {histogram.chi2:.2f}, {histogram.dof} df)")
    ax.legend()
    files.append(_save(fig, directory / "calibration_histogram.png"))

    if tracking_table is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        tt = tracking_table
        ax.plot(tt.period_end, tt.actual_cumulative, label="actual", color="#1f4e79")
        ax.plot(tt.period_end, tt.expected_cumulative, "--", label="model", color="#f4a261")
        if tt.holdout.any():
            ax.axvline(tt.period_end[~tt.holdout].max(), color="grey", lw=0.8)
        ax.set_xlabel("time since the first customer's first purchase")
        ax.set_ylabel("cumulative repeat purchases")
        ax.set_title(f"{title} tracking: calibration | holdout")
        ax.legend()
        files.append(_save(fig, directory / "tracking.png"))

    if conditional_table is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        ct = conditional_table
        ax.plot(ct.frequency, ct.actual, "o-", label="actual", color="#1f4e79")
        ax.plot(ct.frequency, ct.expected, "s--", label="model", color="#f4a261")
        ax.set_xlabel("repeat purchases in calibration")
        ax.set_ylabel("mean purchases in holdout")
        ax.set_title(f"{title} conditional expectations")
        ax.legend()
        files.append(_save(fig, directory / "conditional_expectations.png"))
    plt.close("all")
    return files


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
