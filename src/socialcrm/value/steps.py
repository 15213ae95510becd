"""The value domain's RFM step, and the run's one RFM summary that later steps share.

The ``rfm`` step writes ``customer_rfm``; ``transaction_scores`` (value/transaction.py)
needs the very same summary, so it reads that table back when this run wrote it
rather than summarising the orders a second time.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from socialcrm.value.orders import customer_orders
from socialcrm.value.rfm import rfm_summary

if TYPE_CHECKING:
    from ibis.expr import types as ir

    from socialcrm.store.run import RunContext
    from socialcrm.store.workspace import Workspace

RFM_TABLE = "customer_rfm"
ZERO_AMOUNT_PURCHASES = False
"""The pipeline's summary counts only days of positive net spend (the ``socialcrm clv``
commands may count zero-amount days; the pipeline never does)."""


def scoring_end(ctx: RunContext) -> date:
    """The run's calibration end; an error when there is nothing to score."""
    if ctx.calibration_end is None:
        raise ValueError("the orders table is empty: nothing to score")
    return ctx.calibration_end


def run_rfm_summary(ws: Workspace, ctx: RunContext) -> ir.Table:
    """The RFM summary of this run: attributed orders up to the calibration end.

    ``customer_rfm`` as written by this run's ``rfm`` step when there is one (same
    orders, calibration end, time unit and zero-amount rule), else computed afresh.
    """
    if RFM_TABLE in ctx.written:
        return ws.warehouse.table(RFM_TABLE)
    return _summarise(ws, ctx)


def _summarise(ws: Workspace, ctx: RunContext) -> ir.Table:
    return rfm_summary(
        customer_orders(ws),
        scoring_end(ctx),
        ctx.settings.time_unit,
        zero_amount_purchases=ZERO_AMOUNT_PURCHASES,
    )


def step_rfm(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Pipeline step: ``customer_rfm``, one row per customer who bought by the end."""
    summary = _summarise(ws, ctx).order_by("customer_id")
    return {RFM_TABLE: ws.warehouse.write(RFM_TABLE, summary)}
