"""The root of the ``socialcrm`` command line: the app, its top-level commands (ingest,
rejects, score, tables, schema, serve, demo), and the mounting of every command group.

Thin: it parses, calls the library, and prints. Groups live in sibling modules named after
them (``socialcrm.cli.clv`` for ``socialcrm clv``) and never import this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from socialcrm.cli.common import command_group, err, opened, out
from socialcrm.cli.common import fail as _fail
from socialcrm.config import get_settings
from socialcrm.store.schemas import INPUT_TABLES

app = command_group(
    "socialcrm", "socialcrm: a Social CRM on DuckDB or Spark.\n\nExample: socialcrm demo --no-serve"
)


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help=f"Input table: {', '.join(INPUT_TABLES)}.")],
    file: Annotated[Path, typer.Argument(help="CSV, JSON lines or Parquet file.")],
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="csv | jsonl | parquet (default: by extension)."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Load nothing if any row is rejected.")] = False,
    encoding: Annotated[
        str,
        typer.Option(help="Text encoding: utf-8, latin-1, cp1252 or utf-16 (with a BOM)."),
    ] = "utf-8",
    delimiter: Annotated[
        str | None,
        typer.Option(help="CSV field delimiter, e.g. ';' or 'tab' (default: guessed)."),
    ] = None,
    decimal: Annotated[
        str, typer.Option(help="Decimal mark of numbers: '.' or ',' (as in 1.234,50).")
    ] = ".",
    replace: Annotated[
        bool,
        typer.Option(
            help="Replace whole rows; without it a file with some columns updates only those."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Load a file into an input table, validating every row.

    Good rows are committed atomically; bad rows are kept in the `rejects` table with
    their line, field and reason. Loading the same file again changes nothing. A file
    with only some columns updates those columns of existing rows (an empty cell sets
    the value to empty); --replace replaces whole rows.

    Example: socialcrm ingest orders exports/orders.csv --json

    Example: socialcrm ingest orders export-de.csv --encoding cp1252 --delimiter ';' --decimal ,
    """
    from socialcrm.store.ingest import IngestError, ingest_file
    from socialcrm.store.readers import Format, ReadOptions, parse_options, shorten

    try:
        options: ReadOptions = parse_options(encoding, delimiter, decimal)
    except ValueError as e:
        raise _fail(str(e)) from None

    if format not in (None, "csv", "jsonl", "parquet"):
        raise _fail(f"unknown format {format!r}; use csv, jsonl or parquet")
    if table not in INPUT_TABLES:
        raise _fail(f"unknown table {table!r}; known tables: {', '.join(INPUT_TABLES)}")
    size = file.stat().st_size if file.is_file() else 0
    with (
        opened(IngestError) as o,
        Progress(
            TextColumn(f"loading {file.name}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=size < 5_000_000,
        ) as progress,
    ):
        task = progress.add_task("ingest", total=size)
        report = ingest_file(
            o.ws,
            table,
            file,
            cast(Format | None, format),  # one of them: checked above
            strict=strict,
            on_bytes=lambda n: progress.advance(task, n),
            options=options,
            replace=replace,
        )
    if as_json:
        out.print_json(json.dumps(report.to_json()))
    else:
        verdict = "loaded" if report.committed else "[red]not loaded[/] (--strict)"
        out.print(
            f"{table}: {verdict} — accepted {report.accepted:,}, updated {report.updated:,}, "
            f"unchanged {report.unchanged:,}, rejected {report.rejected:,}"
        )
        if report.ignored_columns:
            out.print(f"ignored columns: {shorten(', '.join(report.ignored_columns))}")
        if report.rejects:
            t = Table("line", "field", "reason", title="first rejects", title_justify="left")
            for r in report.rejects[:10]:
                t.add_row(str(r.line), r.field or "", r.reason)
            out.print(t)
            out.print("all rejects: socialcrm rejects --table " + table)
    if strict and not report.committed:
        raise typer.Exit(1)


@app.command()
def rejects(
    table: Annotated[str | None, typer.Option(help="Only this input table.")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show rejected input rows with their file, line, field and reason.

    Example: socialcrm rejects --table orders --limit 20
    """
    with opened() as o:
        if not o.ws.warehouse.exists("rejects"):
            rows = []
        else:
            t = o.ws.warehouse.read_arrow("rejects").to_pandas()
            if table:
                t = t[t.table_name == table]
            rows = t.sort_values(["table_name", "file", "line"]).head(limit)
            rows = rows.drop(columns=["rejected_at"]).to_dict("records")
    if as_json:
        out.print_json(json.dumps(rows, default=str))
        return
    if not rows:
        out.print("no rejected rows")
        return
    t = Table("table", "file", "line", "field", "reason", "raw")
    for r in rows:
        t.add_row(
            r["table_name"],
            Path(r["file"]).name,
            str(r["line"]),
            r["field"] or "",
            r["reason"],
            (r["raw"] or "")[:60],
        )
    out.print(t)


@app.command()
def score(
    step: Annotated[list[str] | None, typer.Option(help="Run only this step (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the pipeline: derived tables from the input tables.

    Example: socialcrm score --step rfm
    """
    from socialcrm.pipeline import run_pipeline

    with opened(ValueError) as o, err.status("scoring…") as status:
        results = run_pipeline(
            o.ws, step, on_step=lambda s: status.update(f"{s.name}: {s.description}")
        )
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in results]))
        return
    for r in results:
        if r.skipped:
            out.print(f"[yellow]{r.name}[/]: skipped ({r.skipped})")
        else:
            written = ", ".join(f"{k} {v:,} rows" for k, v in r.written.items())
            out.print(f"[green]{r.name}[/]: {written} in {r.seconds:.1f}s")


@app.command()
def tables(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the workspace's tables with their row counts.

    Example: socialcrm tables --json
    """
    with opened() as o:
        infos = o.ws.warehouse.tables()
        home = o.ws.settings.home
    if as_json:
        out.print_json(json.dumps([{"name": i.name, "rows": i.rows} for i in infos]))
        return
    t = Table("table", "rows", "updated", title=f"workspace {home}", title_justify="left")
    for i in infos:
        t.add_row(i.name, f"{i.rows:,}", i.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC"))
    out.print(t)


@app.command()
def schema(
    table: Annotated[str | None, typer.Argument(help="One input table (default: all).")] = None,
    markdown: Annotated[bool, typer.Option(help="Print the data model as Markdown.")] = False,
) -> None:
    """Describe the input tables: columns, types, keys and meanings.

    Example: socialcrm schema orders
    """
    from socialcrm.store.datamodel import data_model_markdown

    if table and table not in INPUT_TABLES:
        raise _fail(f"unknown table {table!r}; known tables: {', '.join(INPUT_TABLES)}")
    if markdown:
        sys.stdout.write(data_model_markdown())
        return
    for s in [INPUT_TABLES[table]] if table else INPUT_TABLES.values():
        t = Table(
            "column",
            "type",
            "required",
            "meaning",
            title=f"{s.name} (key: {', '.join(s.key)})",
            title_justify="left",
        )
        for c in s.columns:
            t.add_row(c.name, c.type, "yes" if c.required else "", c.meaning)
        out.print(t)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    delivery_interval: Annotated[
        float | None,
        typer.Option(
            help="Deliver due outbox replies and webhooks every this many seconds while "
            "serving (0: off, run `socialcrm inbox deliver --watch` instead). Default: "
            "SOCIALCRM_DELIVERY_INTERVAL_SECONDS when set, else 30.",
            min=0,
        ),
    ] = None,
) -> None:
    """Serve the web app and REST API.

    Behind a reverse proxy, set SOCIALCRM_TRUSTED_PROXIES to its address so that its
    X-Forwarded-For header is believed (from anyone else it is ignored).

    Example: socialcrm serve --port 8000 --delivery-interval 15
    """
    import errno
    import socket

    import uvicorn

    from socialcrm.web.app import create_app

    settings = get_settings()
    if delivery_interval is None and "delivery_interval_seconds" not in settings.model_fields_set:
        delivery_interval = 30.0  # a served app delivers replies unless told otherwise
    if delivery_interval is not None:
        settings = settings.model_copy(update={"delivery_interval_seconds": delivery_interval})
    # Bind before saying where we listen: a busy port is one line and exit 2, no URL first.
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise _fail(
                f"port {port} on {host} is already in use; choose another with --port"
            ) from None
        raise _fail(f"cannot listen on {host} port {port}: {e.strerror or e}") from None
    port = sock.getsockname()[1]  # the one chosen, for --port 0
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from any local
    # client; the app reads it itself, from SOCIALCRM_TRUSTED_PROXIES only.
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, log_level="warning", proxy_headers=False
    )
    sock.listen(config.backlog)  # from here on a client waits rather than being refused
    shown = f"[{host}]" if ":" in host else host
    out.print(f"socialcrm on http://{shown}:{port} (Ctrl+C to stop)")
    uvicorn.Server(config).run(sockets=[sock])


@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="People in the demo brand.", min=50)] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same brand).")] = 0,
    hard_names: Annotated[
        bool,
        typer.Option(
            "--hard-names",
            help="Name people from small hand-written lists (119 Thomas Martins among "
            "27,000 French people, where real life has about one) instead of real name "
            "frequencies: a stress test for identity resolution.",
        ),
    ] = False,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop after scoring.")] = False,
    host: Annotated[str, typer.Option(help="Interface to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
) -> None:
    """Build a realistic demo brand, load it like a user's files, score it, serve it.

    Names follow each country's real frequencies; --hard-names swaps in far more
    namesakes. The hidden truth (who is who, what each post means, who dropped out)
    is written apart, under the workspace's demo/truth folder.

    Example: socialcrm demo --customers 2000 --no-serve

    Example: socialcrm demo --customers 2000 --hard-names --no-serve
    """
    from socialcrm.demo import run_demo

    settings = get_settings()
    summary = run_demo(settings, customers=customers, seed=seed, console=err, hard_names=hard_names)
    out.print(summary)
    if not no_serve:
        serve(host=host, port=port, delivery_interval=None)


def _mount_domains() -> None:
    """Mount every command group under the root, in help panels by domain.

    The groups live in their own modules and never import this one: the root mounts them.
    Order of registration is the order of ``socialcrm --help`` (commands before groups).
    """
    from socialcrm.cli.audience import audience_app
    from socialcrm.cli.campaign import campaign_app
    from socialcrm.cli.clv import clv_app
    from socialcrm.cli.email import email_app
    from socialcrm.cli.ideas import ideas_app
    from socialcrm.cli.identities import identities_app
    from socialcrm.cli.inbox import inbox_app
    from socialcrm.cli.influence import influence_app
    from socialcrm.cli.journey import journey_app
    from socialcrm.cli.listen import listen_app, sentiment_app
    from socialcrm.cli.loyalty import loyalty_app
    from socialcrm.cli.plan import plan
    from socialcrm.cli.referrals import referrals_app
    from socialcrm.cli.segments import actions, communities, segments
    from socialcrm.cli.users import users_app
    from socialcrm.cli.webhooks import webhooks_app

    targeting, programs = "Targeting", "Programs"
    app.command("segments", rich_help_panel=targeting)(segments)
    app.command("actions", rich_help_panel=targeting)(actions)
    app.command("communities", rich_help_panel=targeting)(communities)
    app.command("plan", rich_help_panel=programs)(plan)

    app.add_typer(clv_app, name="clv", rich_help_panel="Value")
    app.add_typer(identities_app, name="identities", rich_help_panel="Connecting")
    app.add_typer(sentiment_app, name="sentiment", rich_help_panel="Listening")
    app.add_typer(listen_app, name="listen", rich_help_panel="Listening")
    app.add_typer(audience_app, name="audience", rich_help_panel=targeting)
    app.add_typer(influence_app, name="influence", rich_help_panel=programs)
    app.add_typer(campaign_app, name="campaign", rich_help_panel=programs)
    app.add_typer(journey_app, name="journey", rich_help_panel=programs)
    app.add_typer(email_app, name="email", rich_help_panel=programs)
    app.add_typer(referrals_app, name="referrals", rich_help_panel=programs)
    app.add_typer(loyalty_app, name="loyalty", rich_help_panel=programs)
    app.add_typer(ideas_app, name="ideas", rich_help_panel="Collaborating")
    app.add_typer(webhooks_app, name="webhooks", rich_help_panel="Collaborating")
    app.add_typer(inbox_app, name="inbox", rich_help_panel="Responding")
    app.add_typer(users_app, name="users", rich_help_panel="Administration")


_mount_domains()


def main() -> None:  # pragma: no cover - console entry point
    """Run the root app (``python -m socialcrm.cli``)."""
    app()
