"""The one-read patterns of ``clv fit`` equal the compacted RFM summary of the same file,
and its counts those of the two-read path, on a file with returns, zero amounts, bad
rows, offsets, and customers who start after the calibration end."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from socialcrm.store.file_patterns import FilePatterns, read_file_patterns
from socialcrm.store.files import read_orders_file
from socialcrm.value.mle import compact
from socialcrm.value.rfm import rfm_summary

CAL = date(2024, 6, 30)


@pytest.fixture(scope="module")
def orders_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(2)
    lines = ["customer_id,date,amount"]
    for c in range(400):
        cid = f"{c:05d}"  # leading zeros survive
        for _ in range(int(rng.integers(1, 7))):
            day = date.fromordinal(date(2023, 1, 1).toordinal() + int(rng.integers(0, 600)))
            amount = rng.choice(
                [12.5, 7.0, 0.0, -7.0, 30.0, 3.25], p=[0.3, 0.2, 0.1, 0.1, 0.2, 0.1]
            )
            when = day.isoformat()
            if rng.random() < 0.05:
                when += "T23:30:00-05:00"  # the next day in UTC
            lines.append(f"{cid},{when},{amount}")
        if c % 50 == 0:  # net zero on one day: a sale and its return
            lines += [f"{cid},2024-01-05,9.0", f"{cid},2024-01-05,-9.0"]
    lines += ["00001,2024-02-30,5", "00002,not a date,5", "00003,2024-02-02,abc", ",2024-01-01,4"]
    lines += ["99999,2024-09-01,5", "88888,,5"]  # after the end; only an unreadable row
    path = tmp_path_factory.mktemp("orders") / "orders.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _same_patterns_as_the_summary(
    found: FilePatterns, path: Path, columns: tuple[str, str, str], zero: bool
) -> Any:
    """Assert ``found`` holds the compacted RFM summary's patterns of the file; its counts."""
    opened = read_orders_file(path, "csv", *columns)
    s = rfm_summary(opened.orders, CAL, "day", zero_amount_purchases=zero).execute()
    c = compact(s.frequency, s.recency, s["T"])
    got = np.column_stack([found.x, found.recency_days, found.t_days]).astype(float)
    assert np.array_equal(got, c.rows)
    assert np.array_equal(found.customers.astype(float), c.weights)
    return opened.counts(CAL)


@pytest.mark.parametrize("zero", [False, True])
def test_patterns_are_the_compacted_summary(orders_csv: Path, zero: bool) -> None:
    found = read_file_patterns(
        orders_csv, "csv", CAL, amount_col="amount", zero_amount_purchases=zero
    )
    counts = _same_patterns_as_the_summary(
        found, orders_csv, ("customer_id", "date", "amount"), zero
    )
    assert found.rows == counts.rows
    assert found.examples == counts.examples
    assert found.customers_in_file == counts.customers
    assert found.unreadable == counts.unreadable
    assert found.later == counts.later
    assert found.by_calibration_end == counts.by_calibration_end
    assert found.only_zero == counts.only_zero
    assert found.rows["bad_date"] == 3 and found.rows["no_customer_id"] == 1
    assert found.later >= 1 and found.unreadable >= 1


def test_a_clean_csv_is_read_typed_with_the_same_patterns(tmp_path: Path) -> None:
    """Plain dates and finite amounts: DuckDB's reader parses them (no text and casts),
    and the patterns and counts are those of the text path."""
    import duckdb

    from socialcrm.store.file_patterns import _read_typed_csv
    from socialcrm.store.files import create_rows_view

    rng = np.random.default_rng(3)
    lines = ["id,when,paid"]
    for c in range(300):
        for _ in range(int(rng.integers(1, 6))):
            day = date.fromordinal(date(2023, 3, 1).toordinal() + int(rng.integers(0, 500)))
            lines.append(f"c{c},{day.isoformat()},{rng.choice([4.0, 0.0, -4.0, 9.5])}")
    path = tmp_path / "clean.csv"
    path.write_text("\n".join(lines) + "\n")
    db = duckdb.connect()
    create_rows_view(db, path, "csv", "id", "when", "paid")
    assert _read_typed_csv(db, path, "id", "when", "paid")
    typed = db.sql("SELECT * EXCLUDE (dated) FROM clv_read ORDER BY ALL").fetchall()
    text = db.sql(
        "SELECT customer_id, problem, bad_value, CAST(ordered_at AS DATE), amount "
        "FROM clv_rows ORDER BY ALL"
    ).fetchall()
    assert typed == text
    found = read_file_patterns(path, "csv", CAL, "id", "when", "paid")
    opened = read_orders_file(path, "csv", "id", "when", "paid")
    s = rfm_summary(opened.orders, CAL, "day").execute()
    c = compact(s.frequency, s.recency, s["T"])
    got = np.column_stack([found.x, found.recency_days, found.t_days]).astype(float)
    assert np.array_equal(got, c.rows)
    assert np.array_equal(found.customers.astype(float), c.weights)
    counts = opened.counts(CAL)
    assert (found.by_calibration_end, found.only_zero) == (
        counts.by_calibration_end,
        counts.only_zero,
    )
    # an amount the typed reader cannot read sends the file down the text path
    path.write_text("\n".join([*lines, "c1,2024-01-02,12 EUR"]) + "\n")
    db = duckdb.connect()
    create_rows_view(db, path, "csv", "id", "when", "paid")
    assert not _read_typed_csv(db, path, "id", "when", "paid")
    found = read_file_patterns(path, "csv", CAL, "id", "when", "paid")
    assert found.rows["bad_amount"] == 1 and found.examples["bad_amount"] == "12 EUR"


@pytest.mark.parametrize("zero", [False, True])
def test_a_clean_csv_is_counted_by_arrow_with_the_same_patterns(tmp_path: Path, zero: bool) -> None:
    """Every amount above 0 (or 0 with zero-amount purchases), plain days, no blank id:
    Arrow reads the file and numpy counts it; patterns and counts equal the summary's.
    Same-day orders, customers who start after the end, and ids with leading zeros or
    inner spaces are in the file."""
    from socialcrm.store.file_patterns import _clean_csv_patterns

    rng = np.random.default_rng(5)
    lines = ["id,when,paid"]
    amounts = [4.0, 9.5, 0.0] if zero else [4.0, 9.5, 0.01]
    for c in range(500):
        cid = f"{c:04d}" if c % 3 else f"c {c}"
        for _ in range(int(rng.integers(1, 8))):
            day = date.fromordinal(date(2023, 3, 1).toordinal() + int(rng.integers(0, 560)))
            lines.append(f"{cid},{day.isoformat()},{rng.choice(amounts)}")
        if c % 7 == 0:
            lines.append(f"{cid},2024-02-02,3.0")
            lines.append(f"{cid},2024-02-02,5.0")  # two orders, one occasion
    lines += ["late,2024-08-01,5.0", "zero,2024-01-01,0.0" if zero else "zero,2024-01-01,1.0"]
    path = tmp_path / "clean.csv"
    path.write_text("\n".join(lines) + "\n")
    fast = _clean_csv_patterns(path, CAL, "id", "when", "paid", zero)
    assert fast is not None
    counts = _same_patterns_as_the_summary(fast, path, ("id", "when", "paid"), zero)
    assert fast.rows == counts.rows and fast.examples == counts.examples == {}
    assert (fast.customers_in_file, fast.unreadable, fast.later) == (
        counts.customers,
        counts.unreadable,
        counts.later,
    )
    assert (fast.by_calibration_end, fast.only_zero) == (
        counts.by_calibration_end,
        counts.only_zero,
    )
    assert fast.later >= 1 and fast.customers_in_file == 502
    assert fast.only_zero >= 1 if zero else fast.only_zero == 0
    again = read_file_patterns(path, "csv", CAL, "id", "when", "paid", zero)
    for name in ("x", "recency_days", "t_days", "customers"):
        assert np.array_equal(getattr(again, name), getattr(fast, name))


@pytest.mark.parametrize(
    "row",
    [
        "c1,2024-01-02,-4.0",  # a return: days are netted, only SQL does that
        "c1,2024-01-02,0.0",  # a zero amount without zero-amount purchases
        "c1,2024-01-02,12 EUR",
        "c1,2024-01-02T23:30:00-05:00,4.0",  # the next day in UTC
        "c1,2024-02-30,4.0",
        "c1,,4.0",
        " ,2024-01-02,4.0",
        "c1,2024-01-02,inf",
    ],
)
def test_anything_unclean_goes_to_duckdb(tmp_path: Path, row: str) -> None:
    from socialcrm.store.file_patterns import _clean_csv_patterns

    path = tmp_path / "orders.csv"
    path.write_text("id,when,paid\nc1,2024-01-01,4.0\nc2,2024-01-03,5.0\n" + row + "\n")
    assert _clean_csv_patterns(path, CAL, "id", "when", "paid", False) is None
    clean = tmp_path / "clean.csv"
    clean.write_text("id,when,paid\nc1,2024-01-01,4.0\nc2,2024-01-03,5.0\n")
    assert _clean_csv_patterns(clean, CAL, "id", "when", "paid", False) is not None
