"""The listening CLI sub-apps, mounted as the main CLI mounts them."""

import csv
import json

import typer
from typer.testing import CliRunner

from socialcrm.cli.listen import listen_app, sentiment_app

app = typer.Typer()
app.add_typer(sentiment_app, name="sentiment")
app.add_typer(listen_app, name="listen")
runner = CliRunner()


def test_sentiment_adds_label_and_score_to_every_row_in_order(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,body,extra\n1,I love it 😍,a\n2,"worst, service ever",b\n3,,c\n'
                   "4,the box is blue,d\n", "utf-8")  # fmt: skip
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["sentiment", str(src), "--text-col", "body", "--model",
                                 "lexicon", "--out", str(out), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"rows": 4, "model": "lexicon", "out": str(out),
                                         "negative": 1, "neutral": 2, "positive": 1}  # fmt: skip
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [r["id"] for r in rows] == ["1", "2", "3", "4"]
    assert [r["extra"] for r in rows] == ["a", "b", "c", "d"]
    assert [r["label"] for r in rows] == ["positive", "negative", "neutral", "neutral"]
    assert float(rows[0]["score"]) > 0 > float(rows[1]["score"])


def test_sentiment_rejects_unknown_column_and_model(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,text\n1,hi\n", "utf-8")
    result = runner.invoke(app, ["sentiment", str(src), "--text-col", "body", "--out",
                                 str(tmp_path / "o.csv")])  # fmt: skip
    assert result.exit_code != 0
    assert "no column 'body'" in result.output
    result = runner.invoke(app, ["sentiment", str(src), "--text-col", "text", "--model", "bert",
                                 "--out", str(tmp_path / "o.csv")])  # fmt: skip
    assert result.exit_code != 0


def test_help_shows_an_example():
    for args in (["sentiment", "--help"], ["listen", "report", "--help"],
                 ["listen", "run", "--help"]):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "Example" in result.output
        assert "socialcrm " in result.output


def test_report_needs_the_listening_tables(tmp_path, monkeypatch):
    monkeypatch.setenv("SOCIALCRM_HOME", str(tmp_path))
    from socialcrm.config import get_settings

    get_settings.cache_clear()
    result = runner.invoke(app, ["listen", "report", "--out", str(tmp_path / "r")])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert "listen run" in result.output
