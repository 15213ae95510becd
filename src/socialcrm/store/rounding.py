"""One rounding rule for every engine, for numbers and for moments.

DuckDB's ``round(x, 2)`` rounds the double ``x * 100`` half away from zero; Spark's
rounds the exact decimal value of the double ``x`` (a ``BigDecimal``) half up. For a
score such as 10.885, whose double is 10.88499999999..., DuckDB gives 10.89 and Spark
10.88: at 100,000 customers 260 TRInity scores differed by 0.01 between the engines.
:func:`round_half_away` spells DuckDB's rule in plain arithmetic on doubles, which both
engines do alike (IEEE 754), so what a step rounds is the same on either.
"""

from __future__ import annotations

import ibis.expr.types as ir


def round_half_away(value: ir.NumericValue, digits: int) -> ir.FloatingValue:
    """``value`` rounded to ``digits`` decimals, halves away from zero (as DuckDB's
    ``round``: ``sign(x) * floor(|x| * 10^d + 0.5) / 10^d``); null stays null."""
    scale = 10.0**digits
    v = value.cast("float64")
    whole = (v.abs() * scale + 0.5).floor().cast("float64")
    rounded: ir.FloatingValue = whole / scale * v.sign()
    return rounded


def whole_seconds(moment: ir.TimestampValue) -> ir.IntegerValue:
    """Seconds since 1970 of ``moment``, a fraction of a second dropped (floor): DuckDB's
    ``epoch`` keeps the fraction and Spark's ``unix_timestamp`` drops it, so ages measured
    from raw epochs differed between the engines."""
    seconds: ir.IntegerValue = moment.epoch_seconds().floor().cast("int64")
    return seconds


__all__ = ["round_half_away", "whole_seconds"]
