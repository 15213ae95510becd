"""The root of the ``socialcrm`` command line: the app, its top-level commands (ingest,
rejects, score, tables, schema, serve, demo), and the mounting of every command group.

Thin: it parses, calls the library, and prints. Groups live in sibling modules named after
them (``socialcrm.cli.clv`` for ``socialcrm clv``) and never import this module.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.table import Table
from typer.core import TyperGroup

from socialcrm.cli.common import err, opened, out
from socialcrm.cli.common import fail as _fail

INPUT_TABLE_NAMES = ("customers", "identities", "orders", "posts", "follows", "touches", "consents")
"""The names of :data:`socialcrm.store.schemas.INPUT_TABLES` (a test keeps them equal): the
help of ``ingest`` names them without importing the schemas (and pyarrow) at start."""

_LAZY: dict[str, tuple[str, str, str]] = {}
"""Command name -> (module, attribute, help panel), imported when the command is used."""


class _LazyGroup(TyperGroup):
    """The root group: a command group's module is imported only when that command runs
    (or when ``--help`` lists them all), so ``socialcrm clv fit`` loads the CLV code and
    not the web app, the app database or the pipeline."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*self.commands, *(n for n in _LAZY if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in _LAZY:
            self.commands[cmd_name] = _load(cmd_name)
        return self.commands.get(cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and args[0] not in _LAZY:
            for name in _LAZY:  # an unknown name: load all, so "did you mean" knows them
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


def _load(name: str) -> Any:
    """The click command of a lazily registered group or command."""
    module, attr, panel = _LAZY[name]
    target = getattr(importlib.import_module(module), attr)
    if isinstance(target, typer.Typer):
        group = typer.main.get_group(target)
        group.name, group.rich_help_panel = name, panel
        return group
    single = typer.Typer(add_completion=False, rich_markup_mode="rich")
    single.command(name, rich_help_panel=panel)(target)
    return typer.main.get_command(single)


def lazy_command(name: str, target: str, panel: str) -> None:
    """Register ``socialcrm NAME``: ``target`` is ``module:attribute``, a Typer group or a
    command function, imported on first use."""
    module, attr = target.split(":")
    _LAZY[name] = (module, attr, panel)


app = typer.Typer(
    name="socialcrm",
    help="socialcrm: a Social CRM on DuckDB or Spark.\n\nExample: socialcrm demo --no-serve",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    cls=_LazyGroup,
)


@app.command()
def ingest(
    table: Annotated[str, typer.Argument(help=f"Input table: {', '.join(INPUT_TABLE_NAMES)}.")],
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
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from socialcrm.store.ingest import IngestError, ingest_file
    from socialcrm.store.readers import Format, ReadOptions, parse_options, shorten
    from socialcrm.store.schemas import INPUT_TABLES

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
    full: Annotated[
        bool, typer.Option("--full", help="Run every step, even those whose inputs are unchanged.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Run the pipeline: derived tables from the input tables.

    Incremental: a step whose inputs (tables, settings, rule files, the date where it
    reads it) are unchanged since it last ran is skipped; --full runs every step.

    Example: socialcrm score

    Example: socialcrm score --full --step rfm
    """
    from socialcrm.pipeline import run_with_progress

    with opened(ValueError) as o:
        results = run_with_progress(o.ws, err, step, full=full)
    if as_json:
        out.print_json(json.dumps([r.__dict__ for r in results]))
        return
    for r in results:
        if r.skipped:
            out.print(f"[yellow]{r.name}[/]: skipped ({r.skipped})")
        else:
            written = ", ".join(f"{k} {v:,} rows" for k, v in r.written.items())
            why = f" [dim]({r.why})[/]" if r.why else ""
            written = written or "nothing written"
            out.print(f"[green]{r.name}[/]: {written} in {r.seconds:.1f}s{why}")


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
    from socialcrm.store.schemas import INPUT_TABLES

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

    from socialcrm.config import get_settings
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
    from socialcrm.config import get_settings
    from socialcrm.demo import run_demo

    settings = get_settings()
    summary = run_demo(settings, customers=customers, seed=seed, console=err, hard_names=hard_names)
    out.print(summary)
    if not no_serve:
        serve(host=host, port=port, delivery_interval=None)


def _mount_domains() -> None:
    """Register every command group under the root, in help panels by domain.

    The groups live in their own modules and never import this one: the root names them,
    and :class:`_LazyGroup` imports one when it is used. Order of registration is the
    order of ``socialcrm --help`` (commands before groups).
    """
    targeting, programs = "Targeting", "Programs"
    lazy_command("segments", "socialcrm.cli.segments:segments", targeting)
    lazy_command("actions", "socialcrm.cli.segments:actions", targeting)
    lazy_command("communities", "socialcrm.cli.segments:communities", targeting)
    lazy_command("plan", "socialcrm.cli.plan:plan", programs)

    lazy_command("clv", "socialcrm.cli.clv:clv_app", "Value")
    lazy_command("identities", "socialcrm.cli.identities:identities_app", "Connecting")
    lazy_command("sentiment", "socialcrm.cli.listen:sentiment_app", "Listening")
    lazy_command("listen", "socialcrm.cli.listen:listen_app", "Listening")
    lazy_command("audience", "socialcrm.cli.audience:audience_app", targeting)
    lazy_command("influence", "socialcrm.cli.influence:influence_app", programs)
    lazy_command("campaign", "socialcrm.cli.campaign:campaign_app", programs)
    lazy_command("journey", "socialcrm.cli.journey:journey_app", programs)
    lazy_command("email", "socialcrm.cli.email:email_app", programs)
    lazy_command("referrals", "socialcrm.cli.referrals:referrals_app", programs)
    lazy_command("loyalty", "socialcrm.cli.loyalty:loyalty_app", programs)
    lazy_command("ideas", "socialcrm.cli.ideas:ideas_app", "Collaborating")
    lazy_command("webhooks", "socialcrm.cli.webhooks:webhooks_app", "Collaborating")
    lazy_command("inbox", "socialcrm.cli.inbox:inbox_app", "Responding")
    lazy_command("users", "socialcrm.cli.users:users_app", "Administration")
    lazy_command("privacy", "socialcrm.cli.privacy:privacy_app", "Administration")


_mount_domains()


def main() -> None:  # pragma: no cover - console entry point
    """Run the root app (``python -m socialcrm.cli``)."""
    app()
