"""``socialcrm identities``: resolve person records into clusters, review uncertain pairs.

Thin: it parses, calls :mod:`socialcrm.connecting`, and prints. ``resolve`` needs no
workspace: the file is matched by an in-process DuckDB.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import typer

from socialcrm.cli.common import command_group, err, opened, out
from socialcrm.cli.common import fail as _fail

identities_app = command_group(
    "identities",
    (
        "Identity resolution: which records are one person (rules, then a Splink model).\n\n"
        "Example: socialcrm identities resolve records.csv --out clusters.csv --json"
    ),
)


@identities_app.command()
def resolve(
    records: Annotated[
        Path,
        typer.Argument(
            help="CSV with record_id and any of first_name, last_name, birth_date, email, "
            "phone, address_line1, address_line2, city, postal_code, region, country, and "
            "handle columns (handle, <platform>, <anything>_handle)."
        ),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="Where to write record_id, cluster_id, probability.")
    ],
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Match probability needed to link a pair.")
    ] = 0.9,
    links: Annotated[
        Path | None,
        typer.Option(help="Also write the scored pairs with their explanation to this CSV."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random pairs that train u.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Resolve RECORDS into clusters of one person each.

    Deterministic rules first (the same normalised email, phone or handle), then a
    Fellegi–Sunter model trained by EM scores pairs on names, birth date, address, email
    and phone. Messy values are compared as well as they can be, never rejected. Works
    offline. The output has record_id, cluster_id (the smallest record id of the
    cluster), match_probability (the best link that joined the record; empty when it
    stands alone) and cluster_size.

    Example: socialcrm identities resolve records.csv --out clusters.csv --links links.csv
    """
    from socialcrm.connecting import RecordsError, ResolveOptions, cluster_links, read_records
    from socialcrm.connecting.resolve import resolve_records

    try:
        table = read_records(records)
    except RecordsError as e:
        raise _fail(str(e)) from None
    options = ResolveOptions(threshold=threshold, review_floor=min(0.5, threshold), seed=seed)
    with err.status("resolving…") as status:
        result = resolve_records(table, options, progress=lambda m: status.update(m))
        traits = [c for c in ("record_id", "gender") if c in table.column_names]
        if "birth_date" in table.column_names and result.reliable("birth_date"):
            traits.append("birth_date")
        clustering = cluster_links(
            table.column("record_id"), result.links, threshold, attributes=table.select(traits)
        )
    c = clustering.clusters
    cluster = pa.table(
        {
            "record_id": c["record_id"],
            "cluster_id": c["customer_id"],
            "match_probability": c["match_probability"],
            "cluster_size": c["cluster_size"],
        }
    )
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        pacsv.write_csv(cluster, out_path)
        if links is not None:
            pacsv.write_csv(result.links, links)
    except OSError as e:
        raise _fail(f"cannot write {e.filename}: {e.strerror}") from None
    n_clusters = len(pc.unique(c["customer_id"]))
    linked = result.links.filter(pc.greater_equal(result.links["match_probability"], threshold))
    summary = {
        "records": table.num_rows,
        "clusters": n_clusters,
        "records_in_multi_record_clusters": pc.sum(pc.greater(c["cluster_size"], 1)).as_py() or 0,
        "links": linked.num_rows,
        "review_pairs": result.links.num_rows - linked.num_rows,
        "threshold": threshold,
        "out": str(out_path),
        "notes": result.notes,
    }
    if as_json:
        out.print_json(json.dumps(summary))
        return
    out.print(
        f"{summary['records']:,} records -> {n_clusters:,} people "
        f"({summary['links']:,} links at p >= {threshold}, "
        f"{summary['review_pairs']:,} uncertain pairs); clusters in {out_path}"
    )
    for note in result.notes:
        err.print(f"[yellow]note:[/] {note}")


@identities_app.command()
def review(
    limit: Annotated[int, typer.Option(help="Pairs to show.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the review queue: uncertain pairs, most likely matches first.

    Decide one with `socialcrm identities decide A B match|no-match`; the next run of
    the identities step obeys the decision over the model.

    Example: socialcrm identities review --limit 10
    """
    from socialcrm.connecting.identity import LINKS

    with opened() as o:
        if not o.ws.warehouse.exists(LINKS):
            raise _fail("no identity links yet: run `socialcrm score --step identities`")
        links = o.ws.warehouse.read_arrow(LINKS)
    queue = links.filter(pc.equal(links["status"], "review"))
    queue = queue.sort_by([("match_probability", "descending")]).slice(0, limit)
    rows = queue.select(
        ["record_id_l", "record_id_r", "match_probability", "explanation"]
    ).to_pylist()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print("the review queue is empty")
        return
    from rich.table import Table

    t = Table("record", "record", "p", "why", title=f"{len(rows)} uncertain pairs")
    for r in rows:
        t.add_row(
            r["record_id_l"], r["record_id_r"], f"{r['match_probability']:.2f}", r["explanation"]
        )
    out.print(t)


@identities_app.command()
def decide(
    record_a: Annotated[str, typer.Argument(help="A record id.")],
    record_b: Annotated[str, typer.Argument(help="Another record id.")],
    decision: Annotated[str, typer.Argument(help="match | no-match")],
    by: Annotated[str | None, typer.Option(help="Who decided (kept with the decision).")] = None,
    note: Annotated[str | None, typer.Option(help="Why.")] = None,
) -> None:
    """Record a person's verdict on a pair; it overrides the model and the rules.

    Example: socialcrm identities decide shop:000012 newsletter:000981 no-match --by anna
    """
    from socialcrm.connecting.identity import decide as record

    verdict = decision.replace("-", "_")
    if verdict not in ("match", "no_match"):
        raise _fail(f"decision must be match or no-match, not {decision!r}")
    with opened(ValueError) as o:
        record(o.ws, record_a, record_b, verdict, by=by, note=note)
    out.print(f"{record_a} / {record_b}: {decision} (applies on the next identities run)")


@identities_app.command()
def unmerge(
    record: Annotated[str, typer.Argument(help="The record to split off its person.")],
    by: Annotated[str | None, typer.Option(help="Who decided.")] = None,
) -> None:
    """Split a record off the person it was merged into; nothing is deleted.

    Records `no-match` decisions between the record and the rest of its cluster, so the
    next run gives it its own id (the lineage notes the split); `decide … match` undoes it.

    Example: socialcrm identities unmerge support:000077 --by anna
    """
    from socialcrm.connecting.identity import unmerge as split

    with opened(ValueError) as o:
        mates = split(o.ws, record, by=by)
    out.print(f"{record}: split from {len(mates)} records (applies on the next identities run)")
