"""``socialcrm privacy``: what the brand holds about a person (export) and erasure.

Thin: it parses, calls :mod:`socialcrm.privacy`, and prints. Nothing personal is printed
by ``erase``: the person's id, the number of records and the rows by table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from socialcrm.cli.common import JsonOpt, command_group, opened, out, print_json
from socialcrm.cli.common import fail as _fail

privacy_app = command_group(
    "privacy",
    (
        "Privacy rights: everything held about a person (export) and erasure.\n\n"
        "Example: socialcrm privacy export anna@example.com --out anna.json"
    ),
)

ACTOR = "cli"


@privacy_app.command()
def export(
    who: Annotated[str, typer.Argument(help="An email, phone, handle or record id.")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the JSON.")],
) -> None:
    """Write everything held about WHO (every record of the person) as JSON.

    Example: socialcrm privacy export anna@example.com --out anna.json
    """
    from socialcrm.privacy.access import access
    from socialcrm.privacy.person import PersonNotFound, find_person

    with opened(PersonNotFound, session=True) as o:
        person = find_person(o.ws.warehouse, who)
        doc = access(o.ws.settings, o.ws.warehouse, o.s, person, ACTOR)
    out_path.write_text(json.dumps(doc, default=str, ensure_ascii=False, indent=1))
    rows = sum(
        len(t["rows"]) + len(t["mentions"])
        for part in ("warehouse", "app")
        for t in doc[part].values()
    )
    out.print(f"{rows:,} rows from {len(doc['warehouse']) + len(doc['app'])} tables → {out_path}")


@privacy_app.command()
def erase(
    who: Annotated[str, typer.Argument(help="An email, phone, handle or record id.")],
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Erase WHO everywhere: input, derived and log tables, app records; keep a receipt.

    Their identifiers go on the erasure list (keyed one-way hashes), so importing the same
    files again does not bring them back. Run ``socialcrm score`` afterwards to rebuild
    the derived tables without them.

    Example: socialcrm privacy erase anna@example.com --yes --json
    """
    from socialcrm.privacy.erasure import erase as erase_person
    from socialcrm.privacy.person import PersonNotFound, find_person

    if not yes and not typer.confirm(f"Erase everything held about {who}? This cannot be undone"):
        raise _fail("nothing erased")
    with opened(PersonNotFound, session=True) as o:
        person = find_person(o.ws.warehouse, who)
        result = erase_person(o.ws.settings, o.ws.warehouse, o.s, person, ACTOR)
    if as_json:
        print_json(result.to_json())
        return
    out.print(
        f"erased: {sum(result.tables.values()):,} rows in {len(result.tables)} tables "
        f"(receipt {result.receipt_id}); run `socialcrm score` to rebuild the derived tables"
    )
