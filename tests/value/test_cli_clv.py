"""`socialcrm clv` on the CDNOW file, with no workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from socialcrm.cli.clv import clv_app
from tests.value.conftest import CDNOW

runner = CliRunner()
COMMON = [
    str(CDNOW),
    "--customer-col",
    "customer_id",
    "--date-col",
    "date",
    "--amount-col",
    "amount",
    "--calibration-end",
    "1997-09-30",
    "--time-unit",
    "week",
    "--count-zero-amount",
]


def _json(args: list[str]) -> dict:
    result = runner.invoke(clv_app, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.usefixtures("cdnow_path")  # a clear failure when the data is missing
@pytest.mark.parametrize(
    ("model", "params", "ll"),
    [
        ("bgnbd", {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}, -9582.43),
        ("paretonbd", {"r": 0.5533, "alpha": 10.578, "s": 0.6063, "beta": 11.670}, -9594.98),
        ("gammagamma", {"p": 6.25, "q": 3.74, "gamma": 15.44}, None),
    ],
)
def test_fit_prints_the_published_parameters(model: str, params: dict, ll: float | None) -> None:
    out = _json(["fit", *COMMON, "--model", model, "--json"])
    assert out["model"] == model
    assert set(out["params"]) == set(params)
    for name, value in params.items():
        assert out["params"][name] == pytest.approx(value, abs=0.01)
    if ll is not None:
        assert out["log_likelihood"] == pytest.approx(ll, abs=0.01)
        assert out["n_customers"] == 2357
    else:
        assert out["n_customers"] == 946
    assert out["converged"] is True


@pytest.mark.usefixtures("cdnow_path")  # a clear failure when the data is missing
def test_predict_writes_one_row_per_customer(tmp_path: Path) -> None:
    dest = tmp_path / "scores.csv"
    out = _json(["predict", *COMMON, "--horizon-end", "1998-06-30", "--out", str(dest), "--json"])
    assert out["n_customers"] == 2357 and out["horizon_days"] == 273
    scores = pd.read_csv(dest, dtype={"customer_id": str}).set_index("customer_id")
    assert list(scores.columns[:8]) == [
        "frequency",
        "recency",
        "T",
        "monetary",
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
    ]
    assert scores.loc["0001", "p_alive"] == pytest.approx(0.7266, abs=1e-4)
    assert scores.loc["0001", "expected_purchases"] == pytest.approx(1.2260, abs=1e-4)
    assert scores.expected_purchases.sum() == pytest.approx(1653.4, abs=0.1)


@pytest.mark.usefixtures("cdnow_path")  # a clear failure when the data is missing
def test_check_reports_chi_square_and_holdout(tmp_path: Path) -> None:
    out = _json(
        ["check", *COMMON, "--holdout-end", "1998-06-30", "--charts", str(tmp_path), "--json"]
    )
    assert out["chi2"] == pytest.approx(4.82, abs=0.01)
    assert [row["actual"] for row in out["histogram"]] == [1411, 439, 214, 100, 62, 38, 29, 64]
    hold = out["holdout"]
    assert hold["actual"] == 1882 and hold["tracking_actual"] == 1882
    assert hold["conditional_expectations"] == pytest.approx(1653.4, abs=0.1)
    assert 1500 < hold["tracking_forecast"] < 1900
    assert len(out["tracking"]) == 78
    assert sorted(Path(f).name for f in out["charts"]) == [
        "calibration_histogram.png",
        "conditional_expectations.png",
        "tracking.png",
    ]


@pytest.mark.usefixtures("cdnow_path")  # a clear failure when the data is missing
def test_help_has_an_example_and_errors_are_clear() -> None:
    for cmd in (["--help"], ["fit", "--help"], ["predict", "--help"], ["check", "--help"]):
        result = runner.invoke(clv_app, cmd)
        assert result.exit_code == 0 and "Example" in result.stdout
    bad = runner.invoke(clv_app, ["fit", *COMMON[:-1], "--model", "nope"])
    assert bad.exit_code == 2 and "unknown model" in bad.stderr
    missing = runner.invoke(
        clv_app, ["fit", str(CDNOW), "--calibration-end", "1997-09-30", "--customer-col", "who"]
    )
    assert missing.exit_code == 2 and "no column 'who'" in missing.stderr


def test_no_repeat_buyers_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "once.csv"
    f.write_text("customer_id,date\na,2024-01-01\nb,2024-01-02\n")
    result = runner.invoke(clv_app, ["fit", str(f), "--calibration-end", "2024-02-01"])
    assert result.exit_code == 1 and "no repeat buyers" in result.stderr


def test_cdnow_says_which_customers_it_left_out(cdnow_path: Path, tmp_path: Path) -> None:
    args = [str(cdnow_path), *COMMON[1:-1]]  # without --count-zero-amount
    out = _json(["fit", *args, "--json"])
    assert out["n_customers"] == 2349 and out["customers_in_file"] == 2357
    assert out["left_out"] == {
        "only_zero_amount": 8,
        "first_purchase_after_calibration_end": 0,
        "no_positive_amount": 0,
        "only_unreadable_rows": 0,
    }
    assert out["rows_left_out"] == {"no_customer_id": 0, "bad_date": 0, "bad_amount": 0}
    text = runner.invoke(clv_app, ["fit", *args])
    assert text.exit_code == 0, text.output
    assert "2,349 customers fitted" in text.stdout
    assert (
        "left out of the file's 2,357 customers: 8 whose only orders by the calibration end "
        "have a zero amount (count them with --count-zero-amount)"
    ) in text.stdout

    counted = _json(["fit", *args, "--count-zero-amount", "--json"])
    assert counted["n_customers"] == counted["customers_in_file"] == 2357
    assert set(counted["left_out"].values()) == {0}

    dest = tmp_path / "scores.csv"
    scored = _json(["predict", *args, "--horizon-end", "1998-06-30", "--out", str(dest), "--json"])
    assert scored["n_customers"] == 2349 and scored["left_out"]["only_zero_amount"] == 8
    assert len(pd.read_csv(dest)) == 2349


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_cdnow_as_json_lines_or_parquet_gives_the_published_fit(
    cdnow_path: Path, tmp_path: Path, suffix: str
) -> None:
    raw = pd.read_csv(cdnow_path, dtype={"customer_id": str})
    path = tmp_path / f"cdnow{suffix}"
    if suffix == ".jsonl":
        raw.to_json(path, orient="records", lines=True)
    else:
        raw.assign(date=pd.to_datetime(raw.date)).to_parquet(path, index=False)
    out = _json(["fit", str(path), *COMMON[1:], "--json"])
    assert out["format"] == suffix[1:]
    assert out["n_customers"] == out["customers_in_file"] == 2357
    assert out["log_likelihood"] == pytest.approx(-9582.43, abs=0.01)
    published = {"r": 0.2426, "alpha": 4.4136, "a": 0.7929, "b": 2.4259}
    for name, value in published.items():
        assert out["params"][name] == pytest.approx(value, abs=0.001)
