"""``socialcrm ideas``: the ideas board from the shell.

Thin: it parses, calls :mod:`socialcrm.collaborating`, and prints. State lives in the app
database; people's value and consents are read from the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from socialcrm.cli.common import JsonOpt, command_group, opened, out
from socialcrm.config import get_settings

ideas_app = command_group(
    "ideas",
    "Ideas board: sync suggestions from posts, confirm, vote, merge, statuses, feedback.\n\n"
    "Example: socialcrm ideas status 12 shipped --reason 'In version 2.1'",
)
ACTOR = "cli"


@contextmanager
def _session() -> Iterator[Session]:
    """One app-database transaction; idea and webhook errors become one line."""
    from socialcrm.collaborating.ideas import IdeaError
    from socialcrm.outbound.webhooks import WebhookError

    with opened(IdeaError, WebhookError, workspace=False, session=True) as o:
        yield o.s


def _rm() -> Any:
    from socialcrm.store.reads import ReadModel

    settings = get_settings()
    return ReadModel(settings.warehouse_dir, settings.duckdb_threads)


def _print(doc: Any, as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(doc, default=str))
    else:
        out.print(escape(human), highlight=False)


@ideas_app.command("list")
def list_ideas(
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    sort: Annotated[str, typer.Option(help="votes, clv, influence or newest.")] = "votes",
    proposed: Annotated[
        bool, typer.Option("--proposed", help="Only ideas proposed from posts, to confirm.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Unmerged ideas with votes raw and weighted by voters' CLV and influence.

    Example: socialcrm ideas list --sort clv --json
    """
    from socialcrm.collaborating import ideas, people

    rm = _rm()
    with _session() as s:
        rows = ideas.board(
            s,
            lambda ids: people.values(rm, ids),
            status=status,
            proposed=proposed or None,
            sort=sort,
        )
    if as_json:
        print(json.dumps(rows, default=str))
        return
    t = Table("id", "title", "status", "votes", "CLV", "influence", "★")
    for r in rows:
        t.add_row(
            str(r["id"]),
            escape(r["title"][:60]),
            r["status_label"] + (" (proposed)" if r["proposed"] else ""),
            str(r["votes"]),
            f"{r['clv']:,.0f}",
            f"{r['influence']:,.1f}",
            "★" if r["highlighted"] else "",
        )
    out.print(t)


@ideas_app.command("show")
def show(idea_id: int, as_json: JsonOpt = False) -> None:
    """One idea: tallies, contributors, history, notifications.

    Example: socialcrm ideas show 12 --json
    """
    from socialcrm.collaborating import ideas, people

    rm = _rm()
    with _session() as s:
        d = ideas.detail(s, idea_id, lambda ids: people.values(rm, ids))
    if as_json:
        print(json.dumps(d, default=str))
        return
    out.print(f"#{d['id']} {escape(d['title'])} — {d['status_label']}", highlight=False)
    if d["public_reason"]:
        out.print(f"reason: {escape(d['public_reason'])}", highlight=False)
    out.print(f"{d['votes']} votes · CLV {d['clv']:,.0f} · influence {d['influence']:,.1f}")
    if d.get("conversations"):
        convs = ", ".join(f"#{c}" for c in d["conversations"])
        out.print(f"from inbox conversation {convs}", highlight=False)
    for h in d["history"]:
        out.print(f"  {h['at'][:19]} {escape(h['actor'])} {h['action']}", highlight=False)


@ideas_app.command("submit")
def submit(
    title: str,
    body: Annotated[str, typer.Option(help="Longer description.")] = "",
    customer: Annotated[str | None, typer.Option(help="Contributing customer id.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an idea on behalf of a customer (or of the team).

    Example: socialcrm ideas submit "Dark mode" --customer shop:1042
    """
    from socialcrm.collaborating import ideas

    with _session() as s:
        i = ideas.submit(
            s, title, body, actor=ACTOR, source="api", contributor=ideas.Contributor(customer)
        )
        doc = ideas.summary(i)
    _print(doc, as_json, f"idea {doc['id']} added")


@ideas_app.command("sync")
def sync(as_json: JsonOpt = False) -> None:
    """Propose ideas from posts classified as suggestions (idempotent; agents confirm them).

    Example: socialcrm ideas sync --json
    """
    from socialcrm.collaborating import ideas
    from socialcrm.listening.addressed import brand_accounts

    rm = _rm()
    settings = get_settings()
    with _session() as s:
        doc = ideas.sync(s, rm, settings.idea_influencer_followers, brand_accounts(settings))
    _print(
        doc,
        as_json,
        f"{doc['proposed']} ideas proposed, {doc['skipped']} posts skipped, "
        f"{doc['not_ideas']} not ideas (agreement, praise or thanks), "
        f"{doc['not_addressed']} not addressed to the brand",
    )


@ideas_app.command("confirm")
def confirm(idea_id: int, as_json: JsonOpt = False) -> None:
    """Confirm an idea proposed from a post.

    Example: socialcrm ideas confirm 12
    """
    from socialcrm.collaborating import ideas

    with _session() as s:
        doc = ideas.summary(ideas.confirm(s, idea_id, ACTOR))
    _print(doc, as_json, f"idea {idea_id} confirmed")


@ideas_app.command("status")
def status(
    idea_id: int,
    new_status: Annotated[str, typer.Argument(metavar="STATUS")],
    reason: Annotated[str, typer.Option(help="Public reason shown to contributors.")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Give an idea a status (new, under_review, planned, in_progress, shipped, declined).

    Example: socialcrm ideas status 12 declined --reason "Out of scope: we make lamps"
    """
    from socialcrm.collaborating import ideas, people

    rm = _rm()
    with _session() as s:
        notes = ideas.set_status(
            s, idea_id, new_status, reason, ACTOR, lambda ids: people.routes(rm, ids)
        )
        doc = [{"recipient": n.recipient, "channel": n.channel, "status": n.status} for n in notes]
    _print(doc, as_json, f"idea {idea_id} is {new_status}; {len(doc)} contributors notified")


@ideas_app.command("vote")
def vote(idea_id: int, voter: str, as_json: JsonOpt = False) -> None:
    """Record a customer's vote (once per customer).

    Example: socialcrm ideas vote 12 shop:1042
    """
    from socialcrm.collaborating import ideas

    with _session() as s:
        new = ideas.vote(s, idea_id, voter, ACTOR)
    _print({"new": new}, as_json, "vote recorded" if new else "already voted")


@ideas_app.command("duplicates")
def duplicates(
    threshold: Annotated[float | None, typer.Option(help="TF-IDF cosine, 0–1.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Pairs of ideas that look like duplicates, most similar first.

    Example: socialcrm ideas duplicates --threshold 0.4
    """
    from socialcrm.collaborating import ideas

    with _session() as s:
        pairs = ideas.similar(s, threshold or get_settings().idea_duplicate_threshold)
    if as_json:
        print(json.dumps(pairs))
        return
    for p in pairs:
        out.print(f"{p['a']} ~ {p['b']}  {p['similarity']:.2f}")


@ideas_app.command("merge")
def merge(source: int, target: int, as_json: JsonOpt = False) -> None:
    """Merge SOURCE into TARGET (votes, contributors, history move; undo with unmerge).

    Example: socialcrm ideas merge 14 12
    """
    from socialcrm.collaborating import ideas

    with _session() as s:
        m = ideas.merge(s, source, target, ACTOR)
        doc = {"merge": m.id, "moved": m.moved}
    _print(doc, as_json, f"idea {source} merged into {target}")


@ideas_app.command("unmerge")
def unmerge(source: int, as_json: JsonOpt = False) -> None:
    """Undo the merge of SOURCE: every row it moved goes back.

    Example: socialcrm ideas unmerge 14
    """
    from socialcrm.collaborating import ideas

    with _session() as s:
        ideas.unmerge(s, source, ACTOR)
    _print({"unmerged": source}, as_json, f"idea {source} unmerged")


@ideas_app.command("feedback-request")
def feedback_request(customer: str, product: str, as_json: JsonOpt = False) -> None:
    """Record a trial product sent to an amplifier for their feedback.

    Example: socialcrm ideas feedback-request shop:1042 "Aurora lamp v2"
    """
    from socialcrm.collaborating import feedback

    with _session() as s:
        r = feedback.request(s, customer, product, ACTOR)
        doc = {"id": r.id, "customer_id": r.customer_id, "product": r.product}
    _print(doc, as_json, f"feedback request {doc['id']} recorded")


@ideas_app.command("feedback-answer")
def feedback_answer(
    request_id: int,
    liked: Annotated[str, typer.Option(help="What they liked.")] = "",
    improve: Annotated[str, typer.Option(help="What they would improve (becomes an idea).")] = "",
    as_json: JsonOpt = False,
) -> None:
    """Record what an amplifier liked and would improve about a trial product.

    Example: socialcrm ideas feedback-answer 3 --liked "warm light" --improve "longer cable"
    """
    from socialcrm.collaborating import feedback

    with _session() as s:
        r = feedback.answer(s, request_id, liked, improve, ACTOR)
        doc = {"id": r.id, "idea_id": r.idea_id}
    _print(doc, as_json, f"answer recorded; idea {doc['idea_id'] or '—'}")


__all__ = ["ideas_app"]
