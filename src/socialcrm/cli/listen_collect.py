"""``socialcrm listen collect``: run the saved queries over their sources, once or
watching.

Thin: it parses, calls :mod:`socialcrm.listening.collect`, and prints. The JSON it
prints is a contract (a test harness drives it)::

    {"queries": [{"name": ..., "sources": [{"source": ..., "fetched": n, "new": n,
                                             "duplicates": n, "errors": [...]}]}]}

(each source also says ``matched``, ``rejected`` and the first ``rejects``' reasons).
Progress goes to stderr, one line per source as it ends.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from socialcrm.cli.common import JsonOpt, err, fail, opened, out, stop_on_sigterm

if TYPE_CHECKING:
    from socialcrm.listening.collect import QueryRun, SourceRun


def _say(name: str, r: SourceRun) -> None:
    line = (f"{escape(name)} · {escape(r.source)}: {r.fetched:,} fetched, {r.matched:,} "
            f"matched, {r.new:,} new, {r.duplicates:,} already stored")  # fmt: skip
    if r.rejected:
        line += f", {r.rejected:,} rejected"
    if r.errors:
        line += f" — [red]failed:[/] {escape('; '.join(r.errors))}"
    err.print(line, highlight=False, soft_wrap=True)


def _intervals(every: list[str]) -> dict[str, float]:
    from socialcrm.listening.collect import INTERVALS
    from socialcrm.listening.sources import KINDS

    found = dict(INTERVALS)
    for item in every:
        kind, sep, secs = item.partition("=")
        try:
            value = float(secs)
        except ValueError:
            value = -1.0
        if not sep or kind not in KINDS or value < 0:
            raise typer.BadParameter(f"{item!r}: write kind=seconds, e.g. rss=600",
                                     param_hint="--every")  # fmt: skip
        found[kind] = value
    return found


def collect(
    query: Annotated[
        str | None, typer.Option("--query", help="Only this saved query (default: all).")
    ] = None,
    watch: Annotated[
        bool,
        typer.Option("--watch", help="Keep going: each source again after its interval."),
    ] = False,
    every: Annotated[
        list[str] | None,
        typer.Option(
            "--every",
            help="With --watch: seconds between runs of a kind of source, e.g. rss=600 "
            "(defaults: mastodon 60, bluesky 60, jetstream 0, rss 900, reddit 120, "
            "hackernews 300, file 30).",
        ),
    ] = None,
    tick: Annotated[
        float, typer.Option(min=0.1, help="With --watch: seconds between looks for due sources.")
    ] = 5.0,
    passes: Annotated[int | None, typer.Option(min=1, hidden=True)] = None,
    as_json: JsonOpt = False,
) -> None:
    """Run every saved query once over its sources: new posts go through the same checks
    as `socialcrm ingest posts` (a post seen twice is stored once; rejects kept with
    reasons); each source's cursor moves only once its posts are stored. A failing source
    is reported and the others go on.

    With --watch it keeps going until stopped (Ctrl+C or SIGTERM), each kind of source at
    its own interval; with --json, one JSON document per pass, one line each.

    Example: socialcrm listen collect --json

    Example: socialcrm listen collect --query coffee --watch --every rss=600
    """
    from socialcrm.listening import collect as collecting
    from socialcrm.listening.saved_queries import UnknownQuery

    progress = (lambda n, r: _say(n, r)) if (not as_json or sys.stderr.isatty()) else None

    def show(runs: list[QueryRun]) -> None:
        doc = collecting.as_json(runs)
        if as_json:
            typer.echo(json.dumps(doc, default=str))
        elif not watch:
            done = [s for q in doc["queries"] for s in q["sources"]]
            failed = sum(bool(s["errors"]) for s in done)
            n = len(doc["queries"])
            line = (f"{sum(s['new'] for s in done):,} new posts from {len(done)} source(s) of "
                    f"{n} saved quer{'y' if n == 1 else 'ies'}")  # fmt: skip
            if failed:
                line += f"; {failed} failed (see above)"
            out.print(line, highlight=False)

    if not watch:
        with opened(UnknownQuery, app_db=True) as o:
            runs = collecting.collect(o.db, o.ws, query=query, on_source=progress)
        if query is None and not runs and not as_json:
            out.print("no saved queries yet: add one with `socialcrm listen query add`")
            return
        show(runs)
        return
    intervals = _intervals(every or [])
    stop = stop_on_sigterm()
    if not as_json:
        out.print(f"collecting (every {tick:g}s, the sources that are due; Ctrl+C to stop)",
                  highlight=False)  # fmt: skip
    with opened(UnknownQuery, app_db=True, workspace=False) as o:
        from socialcrm.config import get_settings

        try:
            collecting.watch(o.db, get_settings(), query=query, tick=tick, intervals=intervals,
                             stop=stop, passes=passes, on_pass=show if as_json else None,
                             on_source=progress)  # fmt: skip
        except KeyboardInterrupt:
            stop.set()
        except UnknownQuery as e:
            raise fail(str(e)) from None
