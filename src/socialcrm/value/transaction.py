"""Transaction value: RFM, purchase and spend models, P(alive), CLV and defection alerts.

The public surface of the transaction axis of the Value TRInity. The relational work
(purchase occasions, RFM summaries, quintile scores, joins) runs on the engine; the
models are fitted on the compact sufficient statistics pulled back from it — the
distinct (x, t_x, T) triples with their counts, and the distinct (x, mean spend) pairs
of repeat buyers — so the numeric work scales with distinct summaries, not customers.

>>> from socialcrm.value.simulate import simulate_summary
>>> from socialcrm.value.transaction import fit_purchase_model
>>> m = fit_purchase_model("bgnbd", *simulate_summary(3000, seed=3))
>>> m.name
'bgnbd'
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Required, TypedDict

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import ArrayLike

from socialcrm.value.bgnbd import BGNBD, fit_bgnbd
from socialcrm.value.clv import (
    RISK_BANDS,
    PurchaseModel,
    discounted_expected_purchases,
    overdue,
    risk_band,
)
from socialcrm.value.gammagamma import GammaGamma, fit_gammagamma
from socialcrm.value.mle import FitResult, FloatArray, ModelFitError, compact
from socialcrm.value.paretonbd import ParetoNBD, fit_paretonbd
from socialcrm.value.rfm import DAYS_PER_UNIT, purchase_occasions, rfm_scores, rfm_summary
from socialcrm.value.steps import run_rfm_summary

if TYPE_CHECKING:
    from ibis.backends import BaseBackend
    from ibis.expr import types as ir

    from socialcrm.store.run import RunContext
    from socialcrm.store.workspace import Workspace
    from socialcrm.value.checks import Histogram

__all__ = [
    "BGNBD",
    "DEFAULT_DISCOUNT_RATE",
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_MODEL",
    "FitResult",
    "FittedModels",
    "GammaGamma",
    "ModelFitError",
    "ParetoNBD",
    "PurchaseModel",
    "TransactionScores",
    "fit_gammagamma",
    "fit_purchase_model",
    "score_customers",
    "step_transaction_scores",
]

log = logging.getLogger(__name__)

ModelName = Literal["bgnbd", "paretonbd"]
DEFAULT_MODEL: ModelName = "bgnbd"
DEFAULT_HORIZON_DAYS = 365
"""CLV and expected purchases look one year ahead unless configured otherwise."""
DEFAULT_DISCOUNT_RATE = 0.10
"""Annual discount rate of CLV."""

TABLE = "customer_transaction_scores"
_FITTERS: dict[
    str, Callable[[ArrayLike, ArrayLike, ArrayLike, ArrayLike | None], BGNBD | ParetoNBD]
] = {"bgnbd": fit_bgnbd, "paretonbd": fit_paretonbd}
_TRIPLE = ["frequency", "recency", "T"]


def fit_purchase_model(
    name: str,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> BGNBD | ParetoNBD:
    """Fit the purchase model ``name`` (``bgnbd`` or ``paretonbd``).

    Raises
    ------
    ValueError
        For an unknown model name.
    ModelFitError
        When the data cannot support the fit.
    """
    try:
        fitter = _FITTERS[name]
    except KeyError:
        raise ValueError(f"unknown purchase model {name!r}; use bgnbd or paretonbd") from None
    return fitter(frequency, recency, T, weights)


@dataclass(frozen=True)
class FittedModels:
    """The purchase model, and the spend model unless the data could not support it."""

    purchase: BGNBD | ParetoNBD
    spend: GammaGamma | None
    spend_error: str | None = None


@dataclass(frozen=True)
class TransactionScores:
    """Per-customer scores and the models they came from."""

    scores: pd.DataFrame
    models: FittedModels


def score_triples(
    model: PurchaseModel,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    horizon: float,
    discount_rate: float,
    days_per_unit: float,
) -> pd.DataFrame:
    """P(alive), expected and discounted expected purchases, and the overdue flag.

    Meant for distinct triples; ``horizon`` is in the summary's time unit.

    Examples
    --------
    >>> m = BGNBD(0.2426, 4.4136, 0.7929, 2.4259)
    >>> s = score_triples(m, [2], [30.43], [38.86], 39.0, 0.0, 7.0)
    >>> round(float(s.p_alive[0]), 4), round(float(s.expected_purchases[0]), 3)
    (0.7266, 1.226)
    """
    x, t_x, T_ = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    return pd.DataFrame(
        {
            "p_alive": model.p_alive(x, t_x, T_),
            "expected_purchases": model.expected_purchases(horizon, x, t_x, T_),
            "discounted_purchases": discounted_expected_purchases(
                model, horizon, x, t_x, T_, discount_rate, days_per_unit
            ),
            "overdue": overdue(model, x, t_x, T_),
        }
    )


def score_customers(
    summary: pd.DataFrame,
    model: str = DEFAULT_MODEL,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
    time_unit: str = "day",
) -> TransactionScores:
    """Fit the models on an in-memory RFM summary and score every customer.

    ``summary`` has the columns of :func:`socialcrm.value.rfm.rfm_summary`
    (``frequency, recency, T, monetary``). Adds ``p_alive``, ``expected_purchases``
    (over the horizon), ``expected_spend`` (Gamma-Gamma; missing when the spend model
    cannot be fitted), ``clv``, ``risk_band`` and ``overdue``.

    Examples
    --------
    >>> from socialcrm.value.simulate import simulate_summary
    >>> x, t_x, T = simulate_summary(3000, seed=3)
    >>> summary = pd.DataFrame({"frequency": x, "recency": t_x, "T": T,
    ...                         "monetary": np.where(x > 0, 20.0 + x, 0.0)})
    >>> out = score_customers(summary, horizon_days=70, time_unit="week").scores
    >>> bool(out.p_alive.between(0, 1).all())
    True
    """
    days = DAYS_PER_UNIT[time_unit]
    horizon = horizon_days / days
    c = compact(summary.frequency, summary.recency, summary["T"])
    purchase = fit_purchase_model(model, c.column(0), c.column(1), c.column(2), c.weights)
    per_triple = score_triples(
        purchase, c.column(0), c.column(1), c.column(2), horizon, discount_rate, days
    )
    out = summary.copy()
    for col in per_triple.columns:
        out[col] = per_triple[col].to_numpy()[c.inverse]
    spend, error = _fit_spend(summary.frequency.to_numpy(), summary.monetary.to_numpy())
    if spend is not None:
        out["expected_spend"] = spend.expected_spend(out.frequency, out.monetary)
    else:
        out["expected_spend"] = np.nan
    out["clv"] = out.discounted_purchases * out.expected_spend
    out["risk_band"] = risk_band(out.p_alive)
    models = FittedModels(purchase, spend, error)
    return TransactionScores(out.drop(columns="discounted_purchases"), models)


def _fit_spend(
    frequency: ArrayLike, monetary: ArrayLike, weights: ArrayLike | None = None
) -> tuple[GammaGamma | None, str | None]:
    try:
        model = fit_gammagamma(frequency, monetary, weights=weights)
    except ModelFitError as e:
        return None, str(e)
    if model.q <= 1:
        return None, f"gammagamma: q = {model.q:.4g} <= 1 gives an infinite mean spend"
    return model, None


# -- the pipeline step -------------------------------------------------------------------
def transaction_scores(
    rfm: ir.Table,
    to_arrow: Callable[[ir.Table], pa.Table],
    time_unit: str = "day",
    model: str = DEFAULT_MODEL,
    horizon_days: float = DEFAULT_HORIZON_DAYS,
    discount_rate: float = DEFAULT_DISCOUNT_RATE,
) -> tuple[ir.Table, FittedModels | None]:
    """The ``customer_transaction_scores`` expression for an RFM summary.

    ``rfm`` is an :func:`~socialcrm.value.rfm.rfm_summary` in ``time_unit`` (the
    pipeline's ``customer_rfm``). Relational parts stay on the engine; ``to_arrow`` (the
    engine's) pulls back only the distinct triples and (x, mean spend) pairs the fits
    need. Returns the expression to write and the fitted models (None when the purchase
    model cannot be fitted, in which case the model columns are null).
    """
    days = DAYS_PER_UNIT[time_unit]
    summary = rfm_scores(rfm)
    triples = summary.group_by(_TRIPLE).aggregate(n=summary.count())
    tri = to_arrow(triples).to_pandas()
    try:
        purchase = fit_purchase_model(model, tri.frequency, tri.recency, tri["T"], tri.n)
    except ModelFitError as e:
        log.warning("transaction scores without a purchase model: %s", e)
        return _without_model(summary), None
    scored = score_triples(
        purchase, tri.frequency, tri.recency, tri["T"], horizon_days / days, discount_rate, days
    )
    scored = pd.concat([tri[_TRIPLE].reset_index(drop=True), scored], axis=1)
    repeaters = summary.filter(summary.frequency > 0, summary.monetary > 0)
    pairs = to_arrow(
        repeaters.group_by(["frequency", "monetary"]).aggregate(n=repeaters.count())
    ).to_pandas()
    spend, error = _fit_spend(pairs.frequency, pairs.monetary, pairs.n)
    if error:
        log.warning("transaction scores without a spend model: %s", error)
    per_triple = ibis.memtable(
        pa.Table.from_pandas(scored, preserve_index=False).rename_columns(
            ["k_frequency", "k_recency", "k_T", *scored.columns[3:]]
        )
    )
    j = summary.left_join(
        per_triple,
        [
            summary.frequency == per_triple.k_frequency,
            summary.recency == per_triple.k_recency,
            summary["T"] == per_triple.k_T,
        ],
    )
    if spend is not None:
        x = j.frequency.cast("float64")
        m = ibis.cases((j.frequency > 0, j.monetary), else_=0.0)
        expected_spend = spend.p * (spend.gamma + x * m) / (spend.p * x + spend.q - 1)
    else:
        expected_spend = ibis.null("float64")
    out = j.select(
        *[j[c] for c in summary.columns],
        p_alive=j.p_alive,
        expected_purchases=j.expected_purchases,
        expected_spend=expected_spend,
        clv=j.discounted_purchases * expected_spend,
        risk_band=_band_expr(j.p_alive),
        overdue=j.overdue,
    )
    return out.order_by("customer_id"), FittedModels(purchase, spend, error)


def _band_expr(p_alive: ir.FloatingValue) -> ir.StringValue:
    cases = [(p_alive < edge, name) for edge, name in RISK_BANDS[:-1]]
    return ibis.cases(*cases, else_=RISK_BANDS[-1][1])


def _without_model(summary: ir.Table) -> ir.Table:
    null = ibis.null("float64")
    return summary.mutate(
        p_alive=null,
        expected_purchases=null,
        expected_spend=null,
        clv=null,
        risk_band=ibis.null("string"),
        overdue=ibis.null("boolean"),
    ).order_by("customer_id")


def step_transaction_scores(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: write ``customer_transaction_scores`` from the orders.

    One row per customer who bought by the calibration end: the RFM summary with
    quintile scores and code, ``p_alive``, ``expected_purchases`` over the horizon,
    ``expected_spend``, ``clv``, ``risk_band`` and ``overdue``. Reads the settings
    ``clv_model``, ``clv_horizon_days``, ``clv_discount_rate`` and ``time_unit``, and
    the run's calibration end; the summary is this run's ``customer_rfm`` when the
    ``rfm`` step wrote it.
    """
    settings = ctx.settings
    expr, _ = transaction_scores(
        run_rfm_summary(ws, ctx),
        ws.engine.to_arrow,
        time_unit=settings.time_unit,
        model=settings.clv_model,
        horizon_days=settings.clv_horizon_days,
        discount_rate=settings.clv_discount_rate,
    )
    return {TABLE: ws.warehouse.write(TABLE, expr)}


# -- any orders file, without a workspace (the `socialcrm clv` commands) ------------------
def read_orders_csv(
    path: str | Path,
    customer_col: str = "customer_id",
    date_col: str = "date",
    amount_col: str | None = None,
    con: BaseBackend | None = None,
) -> ir.Table:
    """An orders CSV as an engine table with the columns the RFM summary needs.

    Runs on an in-process DuckDB (``con``, or a new one from
    :func:`socialcrm.store.files.file_backend`), which streams the file.
    Without ``amount_col`` every row is a purchase of amount 1 (no spend model then).
    Customer ids are read as text, so leading zeros survive.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "o.csv")
    >>> _ = open(f, "w").write("id,day,total\\n007,2024-01-02,5.5\\n")
    >>> read_orders_csv(f, "id", "day", "total").execute().customer_id.tolist()
    ['007']
    """
    from socialcrm.store.files import file_backend

    con = con or file_backend()
    sniffed = con.read_csv(str(path))
    missing = [c for c in (customer_col, date_col, amount_col) if c and c not in sniffed.columns]
    if missing:
        raise ValueError(
            f"{path}: no column {', '.join(map(repr, missing))}; "
            f"it has {', '.join(sniffed.columns)}"
        )
    raw = con.read_csv(str(path), types={customer_col: "VARCHAR"})
    amount = raw[amount_col].cast("float64") if amount_col else ibis.literal(1.0)
    return raw.select(
        customer_id=raw[customer_col].cast("string"),
        ordered_at=raw[date_col].cast("timestamp"),
        amount=amount,
        status=ibis.literal("completed"),
    )


class HoldoutTotals(TypedDict):
    """Holdout repeat purchases of the calibration customers: actual and forecast."""

    actual: int
    conditional_expectations: float
    tracking_forecast: float
    tracking_actual: int


class ModelChecks(TypedDict, total=False):
    """What :func:`model_checks` returns; ``conditional`` and ``holdout`` with a holdout."""

    model: Required[BGNBD | ParetoNBD]
    histogram: Required[Histogram]
    tracking: Required[pd.DataFrame]
    conditional: pd.DataFrame
    holdout: HoldoutTotals


@dataclass(frozen=True)
class FileSummary:
    """The RFM summary of an orders file, pulled into memory (CLI sizes)."""

    summary: pd.DataFrame
    time_unit: str
    calibration_end: date
    holdout_end: date | None


def summarise_orders(
    orders: ir.Table,
    calibration_end: date,
    time_unit: str = "day",
    holdout_end: date | None = None,
    zero_amount_purchases: bool = False,
) -> FileSummary:
    """RFM summary (and holdout counts) of an orders table, executed into pandas."""
    expr = rfm_summary(
        orders,
        calibration_end,
        time_unit,  # type: ignore[arg-type]
        zero_amount_purchases=zero_amount_purchases,
        holdout_end=holdout_end,
    )
    df = expr.order_by("customer_id").execute()
    if df.empty:
        raise ModelFitError(f"no purchases on or before {calibration_end}")
    return FileSummary(df, time_unit, calibration_end, holdout_end)


def fit_summary(data: FileSummary, model: str) -> FitResult:
    """Fit ``bgnbd``, ``paretonbd`` or ``gammagamma`` on a file's summary."""
    s = data.summary
    fitted: GammaGamma | BGNBD | ParetoNBD
    if model == "gammagamma":
        fitted = fit_gammagamma(s.frequency, s.monetary)
    else:
        c = compact(s.frequency, s.recency, s["T"])
        fitted = fit_purchase_model(model, c.column(0), c.column(1), c.column(2), c.weights)
    assert fitted.fit is not None
    return fitted.fit


def model_checks(
    orders: ir.Table,
    data: FileSummary,
    model: str = DEFAULT_MODEL,
    zero_amount_purchases: bool = False,
) -> ModelChecks:
    """Calibration histogram with χ², tracking and conditional expectations.

    With a holdout (``data.holdout_end``) also the holdout totals: actual repeat
    purchases of the calibration customers, the sum of their conditional expectations,
    and the tracking forecast over the same period.
    """
    from socialcrm.value.checks import calibration_histogram, conditional_expectations, tracking

    s = data.summary
    c = compact(s.frequency, s.recency, s["T"])
    purchase = fit_purchase_model(model, c.column(0), c.column(1), c.column(2), c.weights)
    hist = calibration_histogram(purchase, s.frequency, s["T"])
    end = data.holdout_end or data.calibration_end
    unit = DAYS_PER_UNIT[data.time_unit]
    occ = purchase_occasions(
        orders, "customer_id", end, zero_amount_purchases=zero_amount_purchases
    )
    first = occ.group_by("customer_id").aggregate(first_day=occ.day.min())
    first = first.filter(first.first_day <= ibis.date(data.calibration_end))
    j = occ.join(first, "customer_id")
    later = j.filter(j.day > j.first_day)
    repeats = later.group_by("day").aggregate(n=later.count())
    cohorts = first.group_by("first_day").aggregate(n=first.count())
    rep, coh = repeats.execute(), cohorts.execute()
    origin = pd.Timestamp(coh.first_day.min())

    def offset(days: pd.Series) -> FloatArray:
        # purchases are counted at the end of their day, so the calibration end falls
        # after every calibration purchase and T matches the summary's
        delta = (pd.to_datetime(days) - origin) / pd.Timedelta(days=1) + 1
        return np.asarray(delta, dtype=np.float64) / unit

    starts = np.repeat(offset(coh.first_day), coh.n.to_numpy())
    times = np.repeat(offset(rep.day), rep.n.to_numpy())
    cal = float(offset(pd.Series([data.calibration_end]))[0])
    stop = float(offset(pd.Series([end]))[0])
    track = tracking(purchase, starts, times, cal, stop)
    result: ModelChecks = {"model": purchase, "histogram": hist, "tracking": track}
    if data.holdout_end is not None:
        duration = float(s.duration_holdout.iloc[0])
        cond = conditional_expectations(
            purchase, s.frequency, s.recency, s["T"], s.frequency_holdout, duration
        )
        per_triple = purchase.expected_purchases(duration, c.column(0), c.column(1), c.column(2))
        at_cal = float(np.interp(cal, track.period_end, track.expected_cumulative, left=0.0))
        result["conditional"] = cond
        result["holdout"] = {
            "actual": int(s.frequency_holdout.sum()),
            "conditional_expectations": float(per_triple @ c.weights),
            "tracking_forecast": float(track.expected_cumulative.iloc[-1] - at_cal),
            "tracking_actual": int(track.actual[track.holdout].sum()),
        }
    return result
