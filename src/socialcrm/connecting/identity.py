"""The identity-resolution pipeline step over the warehouse's customers and identities.

Customer records (shop, newsletter, loyalty, support) and their many contact points are
resolved into people. Rules run on the engine over *all* contact points (a record may
hold several emails and phones); the Splink model compares one flattened row per record.
Clusters keep their ids across runs, and people's review decisions override both.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import ibis
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr import types as ir

from socialcrm.connecting.clusters import (
    CLUSTERS_SCHEMA,
    DECISIONS_SCHEMA,
    LINEAGE_SCHEMA,
    cluster_links,
    latest_decisions,
)
from socialcrm.connecting.households import is_landline
from socialcrm.connecting.resolve import (
    LINKS_SCHEMA,
    ResolveOptions,
    resolve_records,
)
from socialcrm.store.engine import local_sql
from socialcrm.store.run import RunContext
from socialcrm.store.schemas import IDENTITIES, PLATFORMS
from socialcrm.store.workspace import Workspace

CLUSTERS = "identity_clusters"
LINKS = "identity_links"
LINEAGE = "identity_lineage"
DECISIONS = "identity_decisions"
MODEL = "identity_model"
MODEL_RECORDS = "identity_model_records"

MODEL_SCHEMA = pa.schema(
    [
        pa.field("model", pa.string(), nullable=False),
        pa.field("engine", pa.string(), nullable=False),
        pa.field("records", pa.int64(), nullable=False),
    ]
)
"""``identity_model``: the Splink model last trained (its settings with every m and u, as
JSON), the engine it ran on and how many records it was trained on."""
MODEL_RECORDS_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("digest", pa.string(), nullable=False),
    ]
)
"""``identity_model_records``: the records the model was trained on, each with a digest of
its fields, so that a later run knows which records are new or changed since."""

IDENTITY_LINKS_SCHEMA = LINKS_SCHEMA.append(pa.field("status", pa.string(), nullable=False))
"""``status``: ``linked`` (rule or model above the threshold), ``review`` (in the uncertain
band, waiting for a person), ``match`` / ``no_match`` (a person decided)."""


def canonical_identity(kind: ir.StringValue, value: ir.StringValue) -> ir.StringValue:
    """What makes two contact points the same: one mailbox (no ``+tag``; no dots at
    Gmail), the same E.164 phone or loyalty number, the same handle on one platform."""
    local = value.re_extract(r"^([^@+]*)", 1)
    domain = value.re_extract(r"@(.*)$", 1)
    gmail = domain.isin(["gmail.com", "googlemail.com"])
    email = ibis.cases((gmail, local.replace(".", "") + "@gmail.com"), else_=local + "@" + domain)
    return ibis.cases((kind == "email", email), else_=value)


def rule_links(ws: Workspace, landlines: list[str] | None = None) -> ir.Table:
    """Records sharing a contact point, each tied to the smallest record id holding it.

    Emails, mobile phones and loyalty numbers count as they are; a landline shared by
    several records does not (a household's phone: ``landlines``, by default
    :func:`shared_landlines`); a social handle only when its ownership was verified
    (anyone can type someone else's handle into a form).
    """
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    usable = ids.filter(
        ids.kind.isin(["email", "phone", "loyalty_id"])
        | (ids.kind.isin(list(PLATFORMS)) & ids.verified)
    )
    keyed = usable.select(
        "customer_id", "kind", key=usable.kind + ":" + canonical_identity(usable.kind, usable.value)
    ).distinct()
    landlines = shared_landlines(ws) if landlines is None else landlines
    if landlines:
        keyed = keyed.filter(~keyed.key.isin([f"phone:{p}" for p in landlines]))
    w = ibis.window(group_by=keyed.key)
    hubbed = keyed.mutate(hub=keyed.customer_id.min().over(w))
    pairs = hubbed.filter(hubbed.customer_id != hubbed.hub)
    pairs = pairs.select(
        "kind",
        record_id_l=ibis.least(pairs.customer_id, pairs.hub),
        record_id_r=ibis.greatest(pairs.customer_id, pairs.hub),
    )
    g = pairs.group_by("record_id_l", "record_id_r").aggregate(
        first=pairs.kind.min(), last=pairs.kind.max()
    )
    return g.select(
        "record_id_l",
        "record_id_r",
        match_probability=ibis.literal(1.0),
        match_weight=ibis.null("float64"),
        method="rule:" + g.first,
        explanation=ibis.cases(
            (g.first == g.last, "same " + g.first), else_="same " + g.first + ", " + g.last
        ),
        evidence=ibis.cases((g.first == g.last, g.first), else_=g.first + ", " + g.last),
    )


def shared_landlines(ws: Workspace) -> list[str]:
    """Fixed lines (E.164) held by several records: a home's phone is shared by everyone
    living there, so it makes a household (``households.py``), not a person. Mobiles
    stay identifiers; so do numbers that cannot be told apart (North America's "fixed
    line or mobile")."""
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    phones = ids.filter(ids.kind == "phone")
    shared = phones.group_by("value").aggregate(n=phones.customer_id.nunique())
    numbers = ws.engine.to_arrow(shared.filter(shared.n > 1).select("value"))["value"]
    return sorted(p for p in numbers.to_pylist() if is_landline(p))


def _without_landlines(records: pa.Table, landlines: list[str]) -> pa.Table:
    """The model compares no shared landline either (see :func:`shared_landlines`)."""
    if not landlines:
        return records
    shared = pc.is_in(records["phone"], pa.array(landlines, pa.string()))
    masked = pc.if_else(pc.fill_null(shared, False), pa.scalar(None, pa.string()), records["phone"])
    return records.set_column(records.schema.get_field_index("phone"), "phone", masked)


def identity_records(ws: Workspace) -> ir.Table:
    """One row per customer record in the vocabulary of ``records.py`` (first email and
    phone by value; the rest are used by the rules)."""
    cust = ws.warehouse.table("customers")
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    firsts = ids.group_by("customer_id").aggregate(
        email=ids.value.min(where=ids.kind == "email"),
        phone=ids.value.min(where=ids.kind == "phone"),
    )
    j = cust.left_join(firsts, cust.customer_id == firsts.customer_id)
    return j.select(
        record_id=j.customer_id,
        created_at=j.created_at,
        first_name=j.first_name,
        last_name=j.last_name,
        birth_date=j.birth_date.cast("string"),
        gender=j.gender.cast("string"),
        email=j.email,
        phone=j.phone,
        address_line1=j.street,
        city=j.city,
        postal_code=j.postcode,
        country=j.country,
    )


def _merge_links(rules: pa.Table, model: pa.Table, kept: pa.Table | None = None) -> pa.Table:
    """One row per pair: a rule (certain) wins over a score; of two scores (this run's
    and a link accepted in an earlier run) the higher one stays.

    Keeping earlier links makes linking incremental and monotone: new records and a
    retrained model can add links, but cannot silently undo a person's merge — only a
    review decision (``no_match``) does that.
    """
    with local_sql() as con:
        con.register("r", rules.cast(LINKS_SCHEMA))
        con.register("m", model.cast(LINKS_SCHEMA))
        con.register(
            "k", (kept if kept is not None else LINKS_SCHEMA.empty_table()).cast(LINKS_SCHEMA)
        )
        return con.arrow(
            """SELECT * EXCLUDE (pref) FROM (
                 SELECT *, 0 AS pref FROM r UNION ALL SELECT *, 1 AS pref FROM m
                 UNION ALL SELECT *, 1 AS pref FROM k)
               QUALIFY row_number() OVER (
                 PARTITION BY record_id_l, record_id_r
                 ORDER BY pref, match_probability DESC, method, explanation) = 1
               ORDER BY record_id_l, record_id_r"""
        ).cast(LINKS_SCHEMA)


def _status(
    links: pa.Table,
    threshold: float,
    decisions: pa.Table | None,
    refused: list[tuple[str, str]] | None = None,
) -> pa.Table:
    """``linked`` only for a pair that joined two records: above the threshold, with
    distinguishing evidence, and not refused for conflicting with its clusters; every
    other pair waits for a person (``review``), with the reason added to its explanation."""
    decided = latest_decisions(decisions)
    refused_set = set(refused or [])
    status, words = [], []
    for a, b, p, ev, why in zip(
        links["record_id_l"].to_pylist(),
        links["record_id_r"].to_pylist(),
        links["match_probability"].to_pylist(),
        links["evidence"].to_pylist(),
        links["explanation"].to_pylist(),
        strict=True,
    ):
        verdict = decided.get((a, b))
        if verdict:
            status.append(verdict)
        elif p < threshold:
            status.append("review")
        elif ev is None:
            status.append("review")
            why += NOT_LINKED + "nothing but names and places in common"
        elif (a, b) in refused_set:
            status.append("review")
            why += NOT_LINKED + (
                "it would join records that differ in birth date or gender,"
                " a pair a reviewer kept apart, or two people known at one address"
            )
        else:
            status.append("linked")
        words.append(why)
    links = links.set_column(
        links.schema.get_field_index("explanation"), "explanation", pa.array(words, pa.string())
    )
    return links.append_column("status", pa.array(status, pa.string()))


def step_identities(
    ws: Workspace, ctx: RunContext, options: ResolveOptions | None = None
) -> dict[str, int]:
    """Resolve customer records into people; write clusters, links and lineage."""
    opts = options or ResolveOptions(
        threshold=ws.settings.identity_threshold, review_floor=ws.settings.identity_review_floor
    )
    engine = ws.engine
    records = engine.to_arrow(identity_records(ws).order_by(["created_at", "record_id"]))
    landlines = shared_landlines(ws)
    records = _without_landlines(records, landlines)
    rules = engine.to_arrow(rule_links(ws, landlines))
    wh = ws.warehouse
    compared = records.drop(["created_at", "gender"])
    digests = record_digests(compared)
    model, fresh = _incremental(ws, digests)
    resolution = resolve_records(
        compared,
        opts,
        known_matches=rules,
        engine=engine,
        workdir=ws.settings.home,
        model=model,
        fresh=fresh,
    )
    scored = resolution.links
    if not resolution.trained and fresh is not None and wh.exists(LINKS):
        scored = pa.concat_tables([scored, _carried(wh.read_arrow(LINKS), fresh, records)])
    kept = None
    if wh.exists(LINKS):
        prev = wh.read_arrow(LINKS)
        # links of a version before ``evidence`` existed are scored afresh, not kept
        if "evidence" in prev.column_names:
            prev = prev.filter(pc.is_in(prev["status"], pa.array(["linked", "match"])))
            kept = prev.select(LINKS_SCHEMA.names)
    links = _merge_links(rules, scored, kept)
    decisions = wh.read_arrow(DECISIONS) if wh.exists(DECISIONS) else None
    previous = wh.read_arrow(CLUSTERS) if wh.exists(CLUSTERS) else None
    order = records["record_id"].to_pylist()
    clustering = cluster_links(
        order,
        links,
        opts.threshold,
        created_rank=order,
        decisions=decisions,
        previous=previous,
        attributes=records.select(
            ["record_id", "gender", *(["birth_date"] if resolution.reliable("birth_date") else [])]
        ),
    )
    lineage = clustering.lineage
    if wh.exists(LINEAGE):
        lineage = pa.concat_tables([wh.read_arrow(LINEAGE).cast(LINEAGE_SCHEMA), lineage])
    written = {
        CLUSTERS: wh.write(CLUSTERS, clustering.clusters),
        LINKS: wh.write(LINKS, _status(links, opts.threshold, decisions, clustering.refused)),
        LINEAGE: wh.write(LINEAGE, lineage),
    }
    if resolution.trained and resolution.model is not None:
        # written last: a run that stops before keeps the older model, whose records a
        # next run then scores again (never too few)
        row = {"model": json.dumps(resolution.model, sort_keys=True), "engine": engine.name,
               "records": records.num_rows}  # fmt: skip
        written[MODEL_RECORDS] = wh.write(MODEL_RECORDS, digests)
        written[MODEL] = wh.write(MODEL, pa.Table.from_pylist([row], schema=MODEL_SCHEMA))
    return written


NOT_LINKED = "; not linked: "
"""What :func:`_status` adds to the explanation of a pair kept from linking."""


def record_digests(records: pa.Table) -> pa.Table:
    """Per record: an MD5 of the fields the model compares, as text (see
    :data:`MODEL_RECORDS_SCHEMA`), so that both engines give the same digests."""
    cols = sorted(c for c in records.column_names if c != "record_id")
    fields = ", ".join(f"'{c}': CAST({c} AS VARCHAR)" for c in cols)
    with local_sql() as con:
        con.register("records", records)
        return con.arrow(
            f"SELECT record_id, md5(to_json({{{fields}}})) AS digest FROM records"
            " ORDER BY record_id"
        ).cast(MODEL_RECORDS_SCHEMA)


def _incremental(
    ws: Workspace, digests: pa.Table
) -> tuple[dict[str, object] | None, pa.Array | None]:
    """The stored model and the records to score with it (new or changed since it was
    trained), when an incremental run may skip training (see the setting
    ``incremental_identity_threshold``); else ``(None, None)``: train on all records.
    (:func:`resolve_records` trains anyway if the model no longer fits the records.)"""
    threshold = ws.settings.incremental_identity_threshold
    wh = ws.warehouse
    if threshold <= 0 or not (wh.exists(MODEL) and wh.exists(MODEL_RECORDS) and wh.exists(LINKS)):
        return None, None
    rows = wh.read_arrow(MODEL).to_pylist()
    if len(rows) != 1 or rows[0]["engine"] != ws.engine.name:
        return None, None
    trained = wh.read_arrow(MODEL_RECORDS)
    with local_sql() as con:
        con.register("now", digests)
        con.register("trained", trained)
        fresh = con.arrow(
            "SELECT n.record_id FROM now n LEFT JOIN trained t USING (record_id)"
            " WHERE t.digest IS DISTINCT FROM n.digest ORDER BY n.record_id"
        )["record_id"]
        gone = con.one("SELECT count(*) FROM trained t ANTI JOIN now n USING (record_id)")[0]  # type: ignore[index]
    if (len(fresh) + gone) > threshold * max(int(rows[0]["records"]), 1):
        return None, None
    return json.loads(rows[0]["model"]), fresh.combine_chunks()


def _carried(previous: pa.Table, fresh: pa.Array, records: pa.Table) -> pa.Table:
    """The model's pairs of an earlier run between records neither fresh nor gone: scored
    with the same model, they stand (their explanations without :func:`_status`'s words)."""
    if "evidence" not in previous.column_names:
        return LINKS_SCHEMA.empty_table()
    ids = records["record_id"]
    keep = pc.and_(
        pc.equal(previous["method"], "model"),
        pc.and_(
            pc.and_(pc.is_in(previous["record_id_l"], ids), pc.is_in(previous["record_id_r"], ids)),
            pc.invert(
                pc.or_(
                    pc.is_in(previous["record_id_l"], fresh),
                    pc.is_in(previous["record_id_r"], fresh),
                )
            ),
        ),
    )
    old = previous.filter(keep).select(LINKS_SCHEMA.names)
    words = pc.replace_substring_regex(old["explanation"], f"{NOT_LINKED}.*$", "")
    return old.set_column(old.schema.get_field_index("explanation"), "explanation", words).cast(
        LINKS_SCHEMA
    )


def decide(
    ws: Workspace,
    record_a: str,
    record_b: str,
    decision: str,
    by: str | None = None,
    note: str | None = None,
) -> None:
    """Remember a person's verdict on a pair; the next run obeys it over the model."""
    _record_decisions(ws, [(record_a, record_b)], decision, by, note)


def _record_decisions(
    ws: Workspace, pairs: list[tuple[str, str]], decision: str, by: str | None, note: str | None
) -> None:
    if decision not in ("match", "no_match"):
        raise ValueError(f"decision must be 'match' or 'no_match', not {decision!r}")
    now = datetime.now(UTC)
    rows = []
    for x, y in pairs:
        if x == y:
            raise ValueError("a record cannot be decided against itself")
        a, b = sorted((x, y))
        rows.append(
            {
                "record_id_l": a,
                "record_id_r": b,
                "decision": decision,
                "decided_by": by,
                "decided_at": now,
                "note": note,
            }
        )
    table = pa.Table.from_pylist(rows, schema=DECISIONS_SCHEMA)
    wh = ws.warehouse
    if wh.exists(DECISIONS):
        table = pa.concat_tables([wh.read_arrow(DECISIONS).cast(DECISIONS_SCHEMA), table])
    wh.write(DECISIONS, table)


def unmerge(ws: Workspace, record_id: str, by: str | None = None) -> list[str]:
    """Split ``record_id`` off its person: a ``no_match`` with every record it is linked
    to in its cluster. Returns those records; nothing is deleted, and ``decide(...,
    "match")`` undoes it."""
    wh = ws.warehouse
    if not wh.exists(CLUSTERS):
        raise ValueError("no identity clusters yet: run `socialcrm score --step identities`")
    clusters = wh.read_arrow(CLUSTERS).to_pylist()
    person = {r["record_id"]: r["customer_id"] for r in clusters}
    if record_id not in person:
        raise ValueError(f"unknown record {record_id!r}")
    mates = [r for r, c in person.items() if c == person[record_id] and r != record_id]
    if mates:
        _record_decisions(ws, [(record_id, m) for m in mates], "no_match", by, "unmerge")
    return mates


__all__ = [
    "CLUSTERS",
    "CLUSTERS_SCHEMA",
    "DECISIONS",
    "IDENTITY_LINKS_SCHEMA",
    "LINEAGE",
    "LINKS",
    "canonical_identity",
    "decide",
    "identity_records",
    "rule_links",
    "step_identities",
    "unmerge",
]
