"""`socialcrm clv` reads CSV, JSON lines and Parquet alike, and says what it left out."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from socialcrm.cli.clv import clv_app
from socialcrm.value.simulate import simulate_transactions

runner = CliRunner()
CAL = "2024-06-30"
HORIZON = "2024-12-31"
FORMATS = {"csv": "orders.csv", "jsonl": "orders.jsonl", "parquet": "orders.parquet"}


def _run(args: list[str], code: int = 0):
    result = runner.invoke(clv_app, args)
    assert result.exit_code == code, result.output
    return result


def _json(args: list[str]) -> dict:
    return json.loads(_run([*args, "--json"]).stdout)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    elif path.suffix in (".jsonl", ".ndjson", ".json"):
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    """A BG/NBD purchase log: 800 customers, ids with leading zeros, ISO dates."""
    t = simulate_transactions(800, seed=7, weeks=52, cohort_weeks=8).transactions
    return pd.DataFrame(
        {
            "who": t.customer_id.map(lambda i: f"{i:05d}"),
            "day": t.date.dt.strftime("%Y-%m-%d"),
            "total": t.amount.astype(float),
        }
    )


# customers the summary cannot hold, one group per reason, and rows that are no orders
EXTRA = [
    # only zero-amount orders by the calibration end
    ("z1", "2024-02-01", "0"),
    ("z1", "2024-03-01", "0"),
    ("z2", "2024-02-02", "0"),
    ("z3", "2024-02-03", "0.0"),
    ("z3", "2024-07-15", "12.5"),  # buys after the calibration end: still left out
    # a sale and its return on one day: net zero, counted as a zero-amount day
    ("n2", "2024-03-05", "5"),
    ("n2", "2024-03-05", "-5"),
    # first order after the calibration end
    ("l1", "2024-07-01", "10"),
    ("l2", "2024-09-09", "20"),
    ("l2", "2024-10-10", "0"),
    # only a return by the calibration end
    ("n1", "2024-04-01", "-7.5"),
    # no readable row
    ("u1", "soon", "10"),
    ("u1", "2024-05-01", "n/a"),
    # rows that are no orders, of customers who are fitted
    ("", "2024-02-01", "3"),
    ("00001", "01.02.2024", "3"),
    ("00002", "2024-02-20", "12,50"),
]


@pytest.fixture(scope="module")
def messy(simulated: pd.DataFrame) -> pd.DataFrame:
    extra = pd.DataFrame(EXTRA, columns=["who", "day", "total"])
    frame = pd.concat([simulated.astype({"total": str}), extra], ignore_index=True)
    return frame.astype(str).replace({"who": {"": None}})


def _common(path: Path, *more: str) -> list[str]:
    return [
        str(path),
        "--customer-col",
        "who",
        "--date-col",
        "day",
        "--amount-col",
        "total",
        "--calibration-end",
        CAL,
        "--time-unit",
        "week",
        *more,
    ]


def test_the_three_formats_fit_and_score_the_same(tmp_path: Path, simulated: pd.DataFrame) -> None:
    typed = simulated.assign(day=pd.to_datetime(simulated.day))  # Parquet with real types
    files = {
        "csv": _write(simulated, tmp_path / "orders.csv"),
        "jsonl": _write(simulated, tmp_path / "orders.ndjson"),
        "parquet": _write(typed, tmp_path / "orders.pq"),
    }
    fits = {fmt: _json(["fit", *_common(f)]) for fmt, f in files.items()}
    for fmt, fitted in fits.items():
        assert fitted["format"] == fmt
        assert fitted["converged"] is True
        assert fitted["customers_in_file"] == 800 and fitted["n_customers"] == 800
        assert set(fitted["left_out"].values()) == {0}
        assert set(fitted["rows_left_out"].values()) == {0}
    base = fits["csv"]
    assert 0.05 < base["params"]["r"] < 5  # a real fit, not a degenerate one
    for fitted in fits.values():
        assert fitted["params"] == pytest.approx(base["params"], rel=1e-9)
        assert fitted["log_likelihood"] == pytest.approx(base["log_likelihood"], rel=1e-12)
    scores = {}
    for fmt, f in files.items():
        dest = tmp_path / f"scores_{fmt}.csv"
        out = _json(["predict", *_common(f), "--horizon-end", HORIZON, "--out", str(dest)])
        assert out["n_customers"] == 800
        scores[fmt] = pd.read_csv(dest, dtype={"who": str}).set_index("who").sort_index()
    assert scores["csv"].index[0] == "00000"  # leading zeros survive every format
    for frame in scores.values():
        pd.testing.assert_frame_equal(frame, scores["csv"], rtol=1e-9)


def test_format_option_overrides_the_extension(tmp_path: Path, simulated: pd.DataFrame) -> None:
    odd = _write(simulated, tmp_path / "orders.parquet")
    odd = odd.rename(tmp_path / "orders.data")
    assert _json(["fit", *_common(odd, "--format", "parquet")])["n_customers"] == 800
    wrong = _run(["fit", *_common(odd, "-f", "csv")], 2)
    assert "cannot read" in wrong.stderr and "as CSV" in wrong.stderr
    bogus = _run(["fit", *_common(odd, "--format", "xlsx")], 2)
    assert "unknown format 'xlsx'" in bogus.stderr


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_left_out_customers_and_rows_are_counted_by_reason(
    tmp_path: Path, messy: pd.DataFrame, fmt: str
) -> None:
    path = _write(messy, tmp_path / FORMATS[fmt])
    fitted = _json(["fit", *_common(path)])
    assert fitted["format"] == fmt
    assert fitted["customers_in_file"] == 800 + 8
    assert fitted["n_customers"] == 800
    assert fitted["left_out"] == {
        "only_zero_amount": 4,  # z1, z2, z3 and n2 (a sale and its return)
        "first_purchase_after_calibration_end": 2,
        "no_positive_amount": 1,
        "only_unreadable_rows": 1,
    }
    assert fitted["rows_left_out"] == {"no_customer_id": 1, "bad_date": 2, "bad_amount": 2}
    assert fitted["rows_left_out_examples"] == {"bad_date": "01.02.2024", "bad_amount": "12,50"}

    counted = _json(["fit", *_common(path, "--count-zero-amount")])
    assert counted["n_customers"] == 804
    assert counted["left_out"] == {
        "only_zero_amount": 0,
        "first_purchase_after_calibration_end": 2,
        "no_positive_amount": 1,
        "only_unreadable_rows": 1,
    }
    for out in (fitted, counted):
        assert out["customers_in_file"] == out["n_customers"] + sum(out["left_out"].values())


def test_left_out_is_printed_with_the_flag_that_counts_them(
    tmp_path: Path, messy: pd.DataFrame
) -> None:
    path = _write(messy, tmp_path / "orders.csv")
    text = _run(["fit", *_common(path)]).stdout
    assert "800 customers fitted" in text
    assert (
        "left out of the file's 808 customers: 4 whose only orders by the calibration end "
        "have a zero amount (count them with --count-zero-amount); 2 whose first order is "
        f"after the calibration end ({CAL}); 1 whose orders by the calibration end have no "
        "positive net amount (only returns or negative amounts); 1 with no readable row"
    ) in text
    assert (
        "rows left out: 1 without a customer id; 2 with a missing or unreadable date "
        "(ISO 8601: YYYY-MM-DD), e.g. '01.02.2024'; 2 with a missing or unreadable amount, "
        "e.g. '12,50'"
    ) in text

    dest = tmp_path / "scores.csv"
    scored = _run(["predict", *_common(path), "--horizon-end", HORIZON, "--out", str(dest)])
    assert "wrote 800 customers" in scored.stdout
    assert "4 whose only orders by the calibration end have a zero amount" in scored.stdout
    assert len(pd.read_csv(dest)) == 800
    predicted = _json(["predict", *_common(path), "--horizon-end", HORIZON, "--out", str(dest)])
    assert predicted["left_out"]["only_zero_amount"] == 4
    assert predicted["rows_left_out"]["bad_date"] == 2

    checked = _json(["check", *_common(path), "--holdout-end", HORIZON])
    assert checked["n_customers"] == 800 and checked["customers_in_file"] == 808
    assert checked["left_out"]["first_purchase_after_calibration_end"] == 2


def test_nothing_left_out_prints_no_left_out_line(tmp_path: Path, simulated: pd.DataFrame) -> None:
    path = _write(simulated, tmp_path / "orders.csv")
    text = _run(["fit", *_common(path)]).stdout
    assert "800 customers fitted" in text and "left out" not in text


def test_gammagamma_says_who_is_not_in_the_spend_model(
    tmp_path: Path, simulated: pd.DataFrame
) -> None:
    path = _write(simulated, tmp_path / "orders.jsonl")
    fitted = _json(["fit", *_common(path, "--model", "gammagamma")])
    spend = fitted["not_in_spend_model"]
    assert spend["no_positive_mean_spend"] == 0
    assert spend["one_time_buyers"] > 0
    assert fitted["n_customers"] + spend["one_time_buyers"] == 800


def test_no_purchase_by_the_calibration_end_says_why(tmp_path: Path) -> None:
    f = tmp_path / "late.jsonl"
    f.write_text(
        '{"customer_id": "a", "date": "2024-08-01", "amount": 3}\n'
        '{"customer_id": "b", "date": "2024-01-05", "amount": 0}\n'
    )
    result = _run(["fit", str(f), "--amount-col", "amount", "--calibration-end", CAL, "--json"], 2)
    assert f"no purchases on or before {CAL}" in result.stderr
    assert "1 whose only orders by the calibration end have a zero amount" in result.stderr
    assert "1 whose first order is after the calibration end" in result.stderr


def test_a_missing_column_names_the_columns_in_every_format(
    tmp_path: Path, simulated: pd.DataFrame
) -> None:
    for name in FORMATS.values():
        path = _write(simulated.head(50), tmp_path / name)
        result = _run(["fit", str(path), "--calibration-end", CAL, "--customer-col", "x"], 2)
        assert "no column 'x'" in result.stderr, name
        assert "day" in result.stderr and "total" in result.stderr


def test_help_names_the_formats() -> None:
    for cmd in ("fit", "predict", "check"):
        result = _run([cmd, "--help"])
        assert "--format" in result.stdout and "Example" in result.stdout
        assert "parquet" in result.stdout


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_a_time_with_an_offset_falls_on_its_utc_day(
    tmp_path: Path, simulated: pd.DataFrame, fmt: str
) -> None:
    late = pd.DataFrame(
        [
            ("p", "2024-07-01T01:00:00+02:00", "9"),  # 2024-06-30 23:00 UTC: in calibration
            ("q", "2024-06-30T23:00:00-02:00", "9"),  # 2024-07-01 01:00 UTC: after it
            ("r", "2024-07-01 00:30:00+01", "9"),  # 2024-06-30 23:30 UTC: in calibration
        ],
        columns=["who", "day", "total"],
    )
    frame = pd.concat([simulated.astype({"total": str}), late], ignore_index=True)
    path = _write(frame.astype(str), tmp_path / FORMATS[fmt])
    out = _json(["fit", *_common(path)])
    assert out["customers_in_file"] == 803 and out["n_customers"] == 802
    assert out["left_out"]["first_purchase_after_calibration_end"] == 1
    assert out["rows_left_out"]["bad_date"] == 0
