"""CLI for listening: ``socialcrm sentiment FILE …`` and ``socialcrm listen …``.

Two Typer apps that ``socialcrm.cli.main`` mounts::

    app.add_typer(sentiment_app, name="sentiment")
    app.add_typer(listen_app, name="listen")

Thin on purpose: they parse, call ``socialcrm.listening``, and print.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, cast

import typer

from socialcrm.cli.common import opened
from socialcrm.cli.listen_collect import collect
from socialcrm.cli.listen_query import query_app

# One command mounted as a group: options may follow FILE, and there is no subcommand.
sentiment_app = typer.Typer(
    no_args_is_help=True,
    subcommand_metavar="",
    context_settings={"allow_interspersed_args": True},
)
listen_app = typer.Typer(
    help="Social listening: run the step, write the report.\n\n"
    "Example: socialcrm listen report --since 2025-11-01 --out report/",
    no_args_is_help=True,
)
listen_app.add_typer(query_app)  # socialcrm listen query …
listen_app.command("collect")(collect)  # socialcrm listen collect …

BATCH = 20_000


@sentiment_app.callback(invoke_without_command=True)
def sentiment(
    file: Annotated[
        Path, typer.Argument(help="CSV file with a header row.", exists=True, dir_okay=False)
    ],
    text_col: Annotated[str, typer.Option("--text-col", help="Column holding the text.")],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    model: Annotated[str, typer.Option("--model", help="lexicon (fast) or embedding.")] = "lexicon",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Add a label (negative, neutral, positive) and a score (-1..1) to every row, in order.

    Example:

        socialcrm sentiment tweets.csv --text-col text --model lexicon --out labelled.csv
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from socialcrm.listening.sentiment import AnalyzerName, get_analyzer

    if model not in ("lexicon", "embedding"):
        raise typer.BadParameter("use 'lexicon' or 'embedding'", param_hint="--model")
    analyzer = get_analyzer(cast(AnalyzerName, model))  # one of them: checked above
    reader = pcsv.open_csv(
        file,
        read_options=pcsv.ReadOptions(block_size=1 << 22),
        convert_options=pcsv.ConvertOptions(column_types={text_col: pa.string()}),
    )
    if text_col not in reader.schema.names:
        raise typer.BadParameter(
            f"no column {text_col!r}; columns: {', '.join(reader.schema.names)}",
            param_hint="--text-col",
        )
    counts = {"negative": 0, "neutral": 0, "positive": 0}
    rows = 0
    writer = None
    try:
        for batch in reader:
            labels, scores = analyzer.analyze(batch.column(text_col))
            table = (
                pa.Table.from_batches([batch])
                .append_column("label", pa.array(labels.tolist(), pa.string()))
                .append_column("score", pa.array(scores.round(4), pa.float64()))
            )
            if writer is None:
                out.parent.mkdir(parents=True, exist_ok=True)
                writer = pcsv.CSVWriter(out, table.schema)
            writer.write_table(table)
            rows += table.num_rows
            for label in counts:
                counts[label] += int((labels == label).sum())
    finally:
        if writer is not None:
            writer.close()
    if writer is None:  # no rows: still write the header
        schema = reader.schema.append(pa.field("label", pa.string())).append(
            pa.field("score", pa.float64())
        )
        pcsv.write_csv(schema.empty_table(), out)
    summary = {"rows": rows, "model": model, "out": str(out), **counts}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        typer.echo(f"{rows:,} rows labelled with the {model} analyzer → {out}  "
                   f"(negative {counts['negative']:,}, neutral {counts['neutral']:,}, "
                   f"positive {counts['positive']:,})")  # fmt: skip


@listen_app.command("run")
def run(
    as_json: Annotated[bool, typer.Option("--json", help="Print rows written as JSON.")] = False,
) -> None:
    """Run the listening step on the workspace's posts.

    Example:

        SOCIALCRM_HOME=./demo socialcrm listen run
    """
    from socialcrm.listening.step import step_listening
    from socialcrm.pipeline import run_context

    with opened() as o:
        written = step_listening(o.ws, run_context(o.ws))
    if as_json:
        typer.echo(json.dumps(written))
    else:
        for table, n in written.items():
            typer.echo(f"{table:<18}{n:>10,} rows")


@listen_app.command("report")
def report(
    since: Annotated[str | None, typer.Option("--since", help="First day (YYYY-MM-DD).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for report.html and charts.")] = Path(
        "listening-report"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Write a readable listening report (HTML with PNG charts) from the warehouse.

    Example:

        socialcrm listen report --since 2025-11-01 --out report/
    """
    from socialcrm.listening.report import write_report

    first: date | None = None
    if since:
        try:
            first = datetime.strptime(since, "%Y-%m-%d").date()
        except ValueError:
            raise typer.BadParameter("use YYYY-MM-DD", param_hint="--since") from None
    with opened() as o:
        if not o.ws.warehouse.exists("posts_enriched"):
            typer.echo(
                "No listening tables yet: run `socialcrm listen run` (or `socialcrm score`).",
                err=True,
            )
            raise typer.Exit(1)
        summary = write_report(o.ws, out, first)
    if as_json:
        typer.echo(json.dumps(summary.as_dict()))
        return
    s = summary
    typer.echo(f"{s.posts:,} posts ({s.since} to {s.until}), {s.counted:,} counted, "
               f"{s.duplicates:,} duplicates, {s.spam:,} spam; {s.alerts} alerts")  # fmt: skip
    typer.echo(f"report: {out / 'report.html'}")
