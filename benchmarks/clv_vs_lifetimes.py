"""BG/NBD at scale: socialcrm vs lifetimes 0.11.3, on the same simulated logs, in one process.

For each preset (``cdnow``: ~2.8 purchases per customer; ``heavy``: ~14) and size, it
simulates a buy-till-you-die purchase log (BG/NBD purchases, Gamma-Gamma spends, 78
weeks, first purchases in the first 12), then times on the same DataFrame:

* lifetimes: ``summary_data_from_transaction_data`` (days merged, weeks as the unit,
  with the mean repeat spend, as ours),
  ``BetaGeoFitter(penalizer_coef=0).fit``, and scoring (P(alive) and expected purchases
  in the next 52 weeks for every customer);
* socialcrm: ``rfm_summary`` on DuckDB, ``fit_bgnbd`` on the distinct (x, t_x, T)
  triples, and the same scoring on the triples broadcast back to customers.

It checks that the parameters agree (4 significant digits, or ours has the higher
log-likelihood), and prints time ratios and peak memory: the peak of traced Python and
numpy allocations (tracemalloc) and the peak resident-set growth during each phase
(sampled every 5 ms; DuckDB's own memory shows only there). Each phase runs twice, once
timed and once under tracemalloc (which would slow Python-heavy code more than C), after
both libraries have run once on a small log (imports, engine start-up).

lifetimes 0.11.3 does not import with pandas 3 / numpy 2, so run it from a separate
virtual environment that has both packages::

    python3 -m venv /tmp/ltvenv
    /tmp/ltvenv/bin/pip install "lifetimes==0.11.3" "pandas<2" "numpy<2" "scipy<1.14" \\
        "pyarrow<19" "ibis-framework[duckdb]>=12,<13" pydantic-settings threadpoolctl
    /tmp/ltvenv/bin/pip install --no-deps -e .
    /tmp/ltvenv/bin/python benchmarks/clv_vs_lifetimes.py              # 100k and 1M
    /tmp/ltvenv/bin/python benchmarks/clv_vs_lifetimes.py --sizes 100000 --presets cdnow
"""

from __future__ import annotations

import argparse
import gc
import os
import threading
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

HORIZON_WEEKS = 52.0
_BATCH_ROWS = 122_880
"""DuckDB's row-group size: the unit its scans hand out to threads."""


@dataclass
class Measure:
    seconds: float
    traced_mb: float
    rss_mb: float


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(fn: Callable[[], Any]) -> tuple[Any, Measure]:
    """Run ``fn`` twice: timed, with its peak RSS growth; then for its tracemalloc peak.

    Not timed under tracemalloc: tracing slows every Python allocation, which would
    tax Python-heavy code (building SQL) far more than code in C (pandas, DuckDB).
    """
    gc.collect()
    base = _rss_mb()
    peak = [base]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.005)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    t0 = time.perf_counter()
    out = fn()
    seconds = time.perf_counter() - t0
    stop.set()
    thread.join()
    peak[0] = max(peak[0], _rss_mb())
    del out
    gc.collect()
    tracemalloc.start()
    out = fn()
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out, Measure(seconds, traced / 2**20, peak[0] - base)


def run_lifetimes(tx: Any, end: Any) -> dict[str, Any]:
    from lifetimes import BetaGeoFitter
    from lifetimes.utils import summary_data_from_transaction_data

    res: dict[str, Any] = {}
    summary, res["summary"] = measure(
        lambda: summary_data_from_transaction_data(
            tx,
            "customer_id",
            "date",
            monetary_value_col="amount",  # like ours: CLV needs the mean repeat spend
            observation_period_end=end,
            freq="D",
            freq_multiplier=7,
        )
    )
    bgf = BetaGeoFitter(penalizer_coef=0.0)
    _, res["fit"] = measure(lambda: bgf.fit(summary.frequency, summary.recency, summary["T"]))

    def score() -> tuple[Any, Any]:
        p = bgf.conditional_probability_alive(summary.frequency, summary.recency, summary["T"])
        e = bgf.conditional_expected_number_of_purchases_up_to_time(
            HORIZON_WEEKS, summary.frequency, summary.recency, summary["T"]
        )
        return p, e

    (p, e), res["score"] = measure(score)
    params = bgf.params_
    res["params"] = {k: float(params[k]) for k in ("r", "alpha", "a", "b")}
    res["p_alive"], res["expected"] = np.asarray(p), np.asarray(e)
    res["summary_frame"] = summary
    return res


def run_ours(tx: Any, end: Any, threads: int | None = None) -> dict[str, Any]:
    import ibis
    import pyarrow as pa

    from socialcrm.value.bgnbd import fit_bgnbd
    from socialcrm.value.mle import compact
    from socialcrm.value.rfm import rfm_summary

    res: dict[str, Any] = {}
    con = ibis.duckdb.connect(**({"threads": threads} if threads else {}))

    def summarise() -> Any:
        # through Arrow (ibis 12 cannot infer schemas from the old pandas lifetimes
        # needs), and back as Arrow: the summary never becomes a pandas frame. The log
        # is a table of the DuckDB connection, as the warehouse's orders are, handed
        # over in row batches as a Parquet file or a DuckDB read_csv gives them (a single
        # 15M-row chunk would confine DuckDB's scan, and its aggregation, to one thread)
        whole = pa.Table.from_pandas(tx, preserve_index=False)
        con.con.register("purchase_log", pa.Table.from_batches(whole.to_batches(_BATCH_ROWS)))
        raw = con.table("purchase_log")
        orders = raw.select(
            customer_id=raw.customer_id,
            ordered_at=raw.date,
            amount=raw.amount,
            status=ibis.literal("completed"),  # a purchase log: every row is an order
        )
        return con.to_pyarrow(rfm_summary(orders, end.date(), "week"))

    summary, res["summary"] = measure(summarise)
    holder: dict[str, Any] = {}

    def fit() -> Any:
        c = compact(*(summary.column(k).to_numpy() for k in ("frequency", "recency", "T")))
        holder["c"] = c
        return fit_bgnbd(c.column(0), c.column(1), c.column(2), weights=c.weights)

    model, res["fit"] = measure(fit)
    c = holder["c"]

    def score() -> tuple[Any, Any]:
        x, t_x, T = c.column(0), c.column(1), c.column(2)
        p = model.p_alive(x, t_x, T)[c.inverse]
        e = model.expected_purchases(HORIZON_WEEKS, x, t_x, T)[c.inverse]
        return p, e

    (p, e), res["score"] = measure(score)
    res["params"] = model.params
    res["log_likelihood"] = model.fit.log_likelihood
    res["n_distinct"] = model.fit.n_distinct
    res["p_alive"], res["expected"] = p, e
    res["summary_frame"] = summary.to_pandas()
    res["model"] = model
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--presets", nargs="+", default=["cdnow", "heavy"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="DuckDB threads (default: all cores; 1 compares with single-threaded pandas)",
    )
    args = parser.parse_args()

    from socialcrm.value.simulate import simulate_transactions

    # first calls pay for lazy imports, code pages and engine start-up: not what we time
    warm = simulate_transactions(2_000, "cdnow", seed=args.seed + 1)
    run_ours(warm.transactions, warm.end, args.threads)
    run_lifetimes(warm.transactions, warm.end)
    print(
        f"{'preset':<7}{'customers':>10}{'rows':>11}{'triples':>9}  "
        f"{'phase':<8}{'lifetimes s':>12}{'ours s':>9}{'ratio':>8}"
        f"{'lt MB':>9}{'our MB':>9}{'lt RSS':>9}{'our RSS':>9}"
    )
    for preset in args.presets:
        for n in args.sizes:
            sim = simulate_transactions(n, preset, seed=args.seed)
            tx = sim.transactions
            ours = run_ours(tx, sim.end, args.threads)
            theirs = run_lifetimes(tx, sim.end)
            rows = []
            for phase in ("summary", "fit", "score"):
                rows.append((phase, theirs[phase], ours[phase]))
            total_lt = sum(m.seconds for _, m, _ in rows)
            total_us = sum(m.seconds for _, _, m in rows)
            peak = (max(m.traced_mb for _, m, _ in rows), max(m.traced_mb for _, _, m in rows))
            rss = (max(m.rss_mb for _, m, _ in rows), max(m.rss_mb for _, _, m in rows))
            for phase, lt, us in rows:
                print(
                    f"{preset:<7}{n:>10,}{len(tx):>11,}{ours['n_distinct']:>9,}  {phase:<8}"
                    f"{lt.seconds:>12.3f}{us.seconds:>9.3f}{lt.seconds / us.seconds:>7.1f}x"
                    f"{lt.traced_mb:>9.0f}{us.traced_mb:>9.0f}{lt.rss_mb:>9.0f}{us.rss_mb:>9.0f}"
                )
            print(
                f"{preset:<7}{n:>10,}{len(tx):>11,}{'':>9}  {'total':<8}{total_lt:>12.3f}"
                f"{total_us:>9.3f}{total_lt / total_us:>7.1f}x{peak[0]:>9.0f}{peak[1]:>9.0f}"
                f"{rss[0]:>9.0f}{rss[1]:>9.0f}"
            )
            # same summaries, same parameters, same scores
            a = theirs["summary_frame"].sort_index()
            b = ours["summary_frame"].set_index("customer_id").sort_index()
            same_summary = (
                np.allclose(a.frequency, b.frequency)
                and np.allclose(a.recency, b.recency)
                and np.allclose(a["T"], b["T"])
                and np.allclose(a.monetary_value, b.monetary)
            )
            rel = {k: abs(ours["params"][k] / theirs["params"][k] - 1) for k in ours["params"]}
            model = ours["model"]
            ll_theirs = model.__class__(**theirs["params"]).log_likelihood(
                b.frequency, b.recency, b["T"]
            )
            # ours are in the summary's row order, lifetimes' by customer id
            order = np.argsort(ours["summary_frame"].customer_id.to_numpy())
            ids = theirs["summary_frame"].index.to_numpy()
            assert (ours["summary_frame"].customer_id.to_numpy()[order] == ids).all()
            p_diff = np.abs(ours["p_alive"][order] - theirs["p_alive"]).max()
            print(
                f"        summaries identical: {same_summary}; params ours "
                + ", ".join(f"{k}={v:.5g}" for k, v in ours["params"].items())
                + "; lifetimes "
                + ", ".join(f"{k}={v:.5g}" for k, v in theirs["params"].items())
                + f"; max rel diff {max(rel.values()):.1e} "
                f"({'agree to 4 significant digits' if max(rel.values()) < 5e-4 else 'DIFFER'})"
                f"; LL ours {ours['log_likelihood']:.3f} vs lifetimes' params {ll_theirs:.3f}"
                f"; max |P(alive) diff| {p_diff:.1e}",
                flush=True,
            )


if __name__ == "__main__":
    main()
