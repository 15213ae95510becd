"""Identity resolution on FEBRL, through the CLI, scored against the ids' hidden truth."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from socialcrm.cli import app
from socialcrm.connecting import pairwise_scores
from tests.shared_data import shared_file

runner = CliRunner()
COLUMNS = [
    "record_id", "first_name", "last_name", "address_line1", "address_line2", "city",
    "postal_code", "region", "birth_date",
]  # fmt: skip


def _febrl_as_records(files: list[tuple[str, str]], out: Path) -> list[str]:
    """FEBRL's columns mapped to ours (soc_sec_id not used); returns the truth per row."""
    truth = []
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        for name, prefix in files:
            with shared_file("febrl", name).open(newline="") as src:
                for r in csv.DictReader(src, skipinitialspace=True):
                    w.writerow(
                        [
                            prefix + r["rec_id"],
                            r["given_name"],
                            r["surname"],
                            f"{r['street_number']} {r['address_1']}".strip(),
                            r["address_2"],
                            r["suburb"],
                            r["postcode"],
                            r["state"],
                            r["date_of_birth"],
                        ]
                    )
                    truth.append(re.match(r"rec-(\d+)-", r["rec_id"]).group(1))  # type: ignore[union-attr]
    return truth


def _resolve(tmp_path: Path, files: list[tuple[str, str]]) -> tuple[dict, dict[str, float]]:
    records = tmp_path / "records.csv"
    truth = _febrl_as_records(files, records)
    out = tmp_path / "clusters.csv"
    result = runner.invoke(
        app, ["identities", "resolve", str(records), "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    clusters = pacsv.read_csv(out)
    assert clusters.column_names == ["record_id", "cluster_id", "match_probability", "cluster_size"]
    assert clusters.num_rows == len(truth)
    by_id = dict(
        zip(clusters["record_id"].to_pylist(), clusters["cluster_id"].to_pylist(), strict=True)
    )
    with records.open() as fh:
        ids = [r["record_id"] for r in csv.DictReader(fh)]
    return summary, pairwise_scores([by_id[i] for i in ids], truth)


def test_febrl3_dedupe_f1(tmp_path: Path) -> None:
    summary, scores = _resolve(tmp_path, [("dataset3.csv", "")])
    assert scores["true_pairs"] == 6538
    assert scores["f1"] >= 0.99, scores
    assert summary["records"] == 5000


def test_febrl4_both_files_as_one_input_f1(tmp_path: Path) -> None:
    _, scores = _resolve(tmp_path, [("dataset4a.csv", "a:"), ("dataset4b.csv", "b:")])
    assert scores["true_pairs"] == 5000
    assert scores["f1"] >= 0.99, scores


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("first_name,last_name\nanna,berg\n", "line 1: no record_id column"),
        ("record_id,first_name\nr1,anna\nr1,anne\n", "line 3, field record_id: duplicate"),
        ("record_id,first_name\nr1,anna\n,anne\n", "line 3, field record_id: empty"),
    ],
)
def test_bad_records_fail_in_one_line(tmp_path: Path, content: str, fragment: str) -> None:
    f = tmp_path / "bad.csv"
    f.write_text(content)
    result = runner.invoke(app, ["identities", "resolve", str(f), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr
    assert str(f) in result.stderr


def test_help_has_example() -> None:
    result = runner.invoke(app, ["identities", "resolve", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.stdout
