"""``socialcrm listen query``: saved listening queries -- add, list, edit, remove.

Thin: it parses, calls :mod:`socialcrm.listening.saved_queries`, and prints.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli.common import JsonOpt, command_group, opened, out, print_json

query_app = command_group(
    "query",
    (
        "Saved listening queries: what to listen for (Boolean terms) and where (sources).\n\n"
        "Example: socialcrm listen query add coffee --terms 'coffee -decaf' "
        "--source mastodon:https://mastodon.social"
    ),
)
ACTOR = "cli"

TermsOpt = Annotated[
    str,
    typer.Option(
        "--terms",
        help='Boolean terms: words, "phrases", #hashtags, @handles, AND OR NOT ( ), -exclude.',
    ),
]
SourcesOpt = Annotated[
    list[str],
    typer.Option(
        "--source",
        help="kind:base_url, repeatable; kinds: mastodon, bluesky, rss, reddit, hackernews, file.",
    ),
]
LangOpt = Annotated[
    str | None, typer.Option("--lang", help="Keep posts in this language, e.g. en.")
]


def _errors() -> tuple[type[Exception], ...]:
    from socialcrm.listening.query_language import QueryError
    from socialcrm.listening.saved_queries import SavedQueryError

    return (SavedQueryError, QueryError, KeyError)


def _say(doc: dict[str, object], verb: str) -> None:
    out.print(
        f"query {escape(str(doc['name']))} {verb}: {escape(str(doc['terms']))} "
        f"from {escape(', '.join(map(str, doc['sources'])))}",  # type: ignore[call-overload]
        highlight=False,
        soft_wrap=True,
    )


@query_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A name for the query, e.g. coffee.")],
    terms: TermsOpt,
    sources: SourcesOpt,
    lang: LangOpt = None,
    needs_response: Annotated[
        bool,
        typer.Option("--needs-response", help="Its posts need a response: the inbox takes them."),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Save a listening query.

    Example: socialcrm listen query add coffee --terms '(coffee OR espresso) -decaf #latte'
    --source mastodon:https://mastodon.social --source bluesky:https://public.api.bsky.app
    --lang en --needs-response
    """
    from socialcrm.listening.saved_queries import add_query

    with opened(*_errors(), workspace=False, session=True) as o:
        q = add_query(o.s, name, terms, sources, lang=lang, needs_response=needs_response,
                      actor=ACTOR)  # fmt: skip
    if as_json:
        print_json(q.as_dict())
    else:
        _say(q.as_dict(), "saved")


@query_app.command("list")
def list_(as_json: JsonOpt = False) -> None:
    """Every saved query: its terms, sources, language and whether it needs a response.

    Example: socialcrm listen query list --json
    """
    from socialcrm.listening.saved_queries import list_queries

    with opened(workspace=False, session=True) as o:
        rows = [q.as_dict() for q in list_queries(o.s)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print("No saved queries yet. Add one with `socialcrm listen query add`.")
        return
    table = Table("name", "terms", "sources", "language", "needs a response")
    for r in rows:
        table.add_row(
            escape(str(r["name"])),
            escape(str(r["terms"])),
            escape("\n".join(r["sources"])),  # type: ignore[arg-type]
            escape(str(r["lang"] or "any")),
            "yes" if r["needs_response"] else "no",
        )
    out.print(table)


@query_app.command("edit")
def edit(
    name: Annotated[str, typer.Argument(help="The query to change.")],
    terms: Annotated[str | None, typer.Option("--terms", help="New Boolean terms.")] = None,
    sources: Annotated[
        list[str] | None,
        typer.Option("--source", help="New sources (replace all), kind:base_url, repeatable."),
    ] = None,
    lang: Annotated[
        str | None, typer.Option("--lang", help="Keep posts in this language; 'any' for all.")
    ] = None,
    needs_response: Annotated[
        bool | None,
        typer.Option(
            "--needs-response/--no-needs-response", help="Whether the inbox takes its posts."
        ),
    ] = None,
    rename: Annotated[str | None, typer.Option("--rename", help="A new name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a saved query; what you do not name stays as it is.

    Example: socialcrm listen query edit coffee --terms 'coffee OR espresso' --lang any
    """
    from socialcrm.listening.saved_queries import UNSET, edit_query

    with opened(*_errors(), workspace=False, session=True) as o:
        q = edit_query(
            o.s,
            name,
            new_name=UNSET if rename is None else rename,
            terms=UNSET if terms is None else terms,
            sources=sources or UNSET,
            lang=UNSET if lang is None else (None if lang.lower() in ("any", "") else lang),
            needs_response=UNSET if needs_response is None else needs_response,
            actor=ACTOR,
        )
    if as_json:
        print_json(q.as_dict())
    else:
        _say(q.as_dict(), "changed")


@query_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The query to remove.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a saved query (posts it matched stay).

    Example: socialcrm listen query remove coffee
    """
    from socialcrm.listening.saved_queries import remove_query

    with opened(*_errors(), workspace=False, session=True) as o:
        remove_query(o.s, name, actor=ACTOR)
    if as_json:
        print_json({"removed": name})
    else:
        out.print(f"query {escape(name)} removed", highlight=False)
