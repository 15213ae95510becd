"""Identity resolution: which records belong to one person.

Two passes, as careful linkage does it. Deterministic rules first: records that share a
normalised email, phone or (verified) social handle are the same person, whatever else
differs. Then a probabilistic Fellegi–Sunter model (Splink, EM-trained, several blocking
rules) scores the remaining candidate pairs on names, birth date, address, email local
part and phone, so that typos and missing fields are weighed instead of rejected.

Every link keeps its evidence: the rule that fired, or each field's agreement level with
its match weight (log2 Bayes factor), so a person can see *why* two records were joined.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.connecting.records import NAME_COLUMNS, is_handle_column, matching_sql
from socialcrm.store.engine import SplinkBackend, local_splink, local_sql

if TYPE_CHECKING:
    import pandas as pd
    from splink import Linker, SettingsCreator
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.comparison_creator import ComparisonCreator
    from splink.internals.comparison_level_creator import ComparisonLevelCreator
    from splink.internals.splink_dataframe import SplinkDataFrame

    from socialcrm.store.engine import Engine, LocalSQL

LINKS_SCHEMA = pa.schema(
    [
        pa.field("record_id_l", pa.string(), nullable=False),
        pa.field("record_id_r", pa.string(), nullable=False),
        pa.field("match_probability", pa.float64(), nullable=False),
        pa.field("match_weight", pa.float64()),
        pa.field("method", pa.string(), nullable=False),
        pa.field("explanation", pa.string(), nullable=False),
        pa.field("evidence", pa.string()),
    ]
)
"""Scored pairs (``record_id_l < record_id_r``): ``method`` is ``rule:<field>``, ``model``
or ``review``; ``explanation`` lists the fields' agreement levels and match weights;
``evidence`` names what distinguishes the pair from two namesakes in one town (a shared
identifier, birth date, phone or street address), null when there is none: such a pair is
never linked by itself, whatever its score (see :func:`distinguishing_sql`)."""

Progress = Callable[[str], None]


# The few Splink methods used here that Splink leaves unannotated, as typed views of
# its own objects (``linker.table_management``, ``linker.training``, a prediction).
class _LabelTables(Protocol):
    def register_labels_table(self, input_data: Any, overwrite: bool = ...) -> SplinkDataFrame: ...


class _LabelTraining(Protocol):
    def estimate_m_from_pairwise_labels(
        self, labels_splinkdataframe_or_table_name: SplinkDataFrame | str
    ) -> None: ...


class _PandasFrame(Protocol):
    def as_pandas_dataframe(self, limit: int | None = ...) -> pd.DataFrame: ...


@dataclass(frozen=True)
class ResolveOptions:
    """Knobs of the model; the defaults are the ones measured in ``docs/connecting.md``."""

    threshold: float = 0.9
    """Pairs at or above this match probability are linked."""
    review_floor: float = 0.5
    """Pairs between this and ``threshold`` go to the review queue instead."""
    max_pairs_for_u: float = 3e5
    """Pairs (all pairs of a random sample of records) that estimate the u (chance
    agreement) probabilities."""
    seed: int = 0
    """Seed of the random records whose pairs train u (the same sample on every backend)."""
    prior_recall: float = 0.6
    """Share of true matches the prior's rules are assumed to find."""
    min_labels: int = 50
    """Rule-linked pairs needed to learn m from them instead of by EM."""


RELIABLE = 0.035
"""A column whose values one person's records contradict (beyond a typing slip) at most
this often, as the model learned it, is trusted to tell people apart: clusters may not
hold two different values of it. A customer base's birth dates are (the demo brand's
model learns 1-2%, noisy labels included); FEBRL's deliberately corrupted ones are not
(6%), and there the model weighs a differing birth date instead of forbidding it. The
bound sits between the two, on the geometric middle."""


def trusted_columns(disagreement: dict[str, float]) -> frozenset[str]:
    """The columns one person's records contradict at most :data:`RELIABLE` of the time."""
    return frozenset(c for c, m in disagreement.items() if m <= RELIABLE)


@dataclass
class Resolution:
    links: pa.Table
    """Every scored pair at or above ``review_floor`` (see :data:`LINKS_SCHEMA`)."""
    notes: list[str] = field(default_factory=list)
    """What the model could not do (e.g. a column too sparse to train) — for the log."""
    disagreement: dict[str, float] = field(default_factory=dict)
    """Per compared column, the trained chance that two records of one person disagree
    on it (the m probability of its "different" level): how far a difference in it may
    be trusted to mean two people (see :data:`RELIABLE`)."""

    model: dict[str, Any] | None = None
    """The trained Splink model (its settings with every m and u), as
    ``linker.misc.save_model_to_json`` gives it: an incremental run scores new records
    with it instead of training again (see :func:`resolve_records`)."""
    trained: bool = True
    """Whether ``model`` was trained by this run (else it was given, and it fitted)."""

    def reliable(self, column: str) -> bool:
        """Whether records that differ in ``column`` are two people (see :data:`RELIABLE`)."""
        return column in trusted_columns(self.disagreement)


FRESH = "fresh_record"
"""The column that marks, in an incremental run, the records whose pairs are scored."""


def fresh_rules(
    rules: list[BlockingRuleCreator | dict[str, Any]], dialect: str
) -> list[dict[str, Any]]:
    """The prediction's blocking rules restricted to pairs with a fresh record on either
    side: the pairs of the others were scored by an earlier run with the same model."""
    from splink.internals.blocking_rule_creator_utils import to_blocking_rule_creator

    out = []
    for rule in rules:
        sql = to_blocking_rule_creator(rule).get_blocking_rule(dialect).blocking_rule_sql
        out.append(
            {"blocking_rule": f"({sql}) AND (l.{FRESH} OR r.{FRESH})", "sql_dialect": dialect}
        )
    return out


def model_fits(model: dict[str, Any], cols: set[str], dialect: str) -> bool:
    """Whether a stored model compares exactly the columns (``cols``, the prepared records'
    non-empty ones) a model trained today would, in the backend's SQL dialect."""
    wanted = [c.output_column_name for c in _settings(cols).get_settings(dialect).comparisons]
    stored = [c.get("output_column_name") for c in model.get("comparisons", [])]
    return model.get("sql_dialect") == dialect and stored == wanted


@contextlib.contextmanager
def _quiet_splink() -> Iterator[None]:
    """Splink logs training chatter at INFO/WARNING; a CLI must not print it."""
    logger = logging.getLogger("splink")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def _comparisons(cols: set[str]) -> list[ComparisonCreator | dict[str, Any]]:
    """As ``SettingsCreator(comparisons=...)`` takes them."""
    import splink.comparison_library as cl

    comps: list[ComparisonCreator | dict[str, Any]] = []
    for c in NAME_COLUMNS:
        if c in cols:
            comps.append(_name(c, cols))
    if "birth_date" in cols:
        # digits only, compared as text: an impossible date still agrees but for a digit
        comps.append(cl.DamerauLevenshteinAtThresholds("birth_date", [1, 2]))
    if "email" in cols:
        comps.append(_email())
    if "phone" in cols:
        comps.append(cl.DamerauLevenshteinAtThresholds("phone", [1, 2]))
    if cols & {"address_line1", "city", "postal_code"}:
        comps.append(_address(cols))
    if "address_line2" in cols:
        comps.append(cl.LevenshteinAtThresholds("address_line2", [1, 3]))
    for c in ("region", "country"):
        if c in cols:
            comps.append(cl.ExactMatch(c))
    if "handle" in cols:
        comps.append(cl.ExactMatch("handle"))
    return comps


def _email() -> ComparisonCreator:
    """The same mailbox or not. No level for the same local part at another provider,
    nor fuzzy levels: local parts are mostly made of the person's name
    (``jennifer.smith@…``), so agreeing on one repeats the name evidence and counted twice
    it merged namesakes: at 100,000 customers 97% of the pairs linked on "same local part"
    were two different people."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    return cl.CustomComparison(
        output_column_name="email",
        comparison_levels=[
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email").configure(label_for_charts="same address"),
            cll.ElseLevel(),
        ],
    )


def _address(cols: set[str]) -> ComparisonCreator:
    """Street, city and postcode as *one* piece of evidence, from most to least precise.

    They are not independent — the same street line nearly implies the same city and
    postcode — and scoring them apart would count one shared address three times, which
    is how households (same surname, same address) get merged into one person.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def has(*c: str) -> bool:
        return all(x in cols for x in c)

    place = [cll.ExactMatchLevel(c) for c in ("postal_code", "city") if has(c)]
    fuzzy_place: list[ComparisonLevelCreator] = []
    if has("postal_code"):
        fuzzy_place.append(cll.LevenshteinLevel("postal_code", 1))
    if has("city"):
        fuzzy_place.append(cll.LevenshteinLevel("city", 2))
    levels: list[ComparisonLevelCreator | dict[str, Any]] = [
        cll.And(*[cll.NullLevel(c) for c in ("address_line1", "city", "postal_code") if has(c)])
    ]
    if has("address_line1"):
        street = cll.ExactMatchLevel("address_line1")
        near = cll.LevenshteinLevel("address_line1", 3)
        if fuzzy_place:
            levels.append(
                cll.And(street, cll.Or(*place)).configure(
                    label_for_charts="same street line and place"
                )
            )
            levels.append(
                cll.And(near, cll.Or(*fuzzy_place)).configure(
                    label_for_charts="similar street line and place"
                )
            )
        levels.append(street.configure(label_for_charts="same street line"))
        levels.append(near.configure(label_for_charts="similar street line"))
    if has("postal_code", "city"):
        levels.append(cll.And(*place).configure(label_for_charts="same postcode and city"))
    if place:
        levels.append(cll.Or(*place).configure(label_for_charts="same postcode or city"))
    if fuzzy_place:
        levels.append(cll.Or(*fuzzy_place).configure(label_for_charts="similar postcode or city"))
    levels.append(cll.ElseLevel())
    return cl.CustomComparison(output_column_name="address", comparison_levels=levels)


def _name(column: str, cols: set[str]) -> ComparisonCreator:
    """Jaro-Winkler levels as in Splink's NameComparison, plus a level for a name found
    in the *other* name field: given and family name written the wrong way round are
    common on forms, and per-field levels alone would score them as two disagreements."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    other = "last_name" if column == "first_name" else "first_name"
    levels: list[ComparisonLevelCreator | dict[str, Any]] = [
        cll.NullLevel(column),
        cll.ExactMatchLevel(column, term_frequency_adjustments=True),
        cll.JaroWinklerLevel(column, 0.92),
        cll.JaroWinklerLevel(column, 0.88),
    ]
    if other in cols:
        levels.append(
            cll.CustomLevel(
                f"{column}_l = {other}_r OR {column}_r = {other}_l",
                label_for_charts="swapped with the other name",
            )
        )
    levels += [cll.JaroWinklerLevel(column, 0.7), cll.ElseLevel()]
    return cl.CustomComparison(output_column_name=column, comparison_levels=levels)


def _blocking_rules(cols: set[str]) -> list[BlockingRuleCreator | dict[str, Any]]:
    """Candidate pairs: several cheap rules, so that a typo in one field cannot hide a
    match (each true pair needs to agree exactly on one rule's fields only). As
    ``SettingsCreator(blocking_rules_to_generate_predictions=...)`` takes them.

    No rule on a place alone (a postcode and city, a street line in any town): their
    pairs grow with the square of the customers in a town (151,612 pairs at 20,000
    people, some 380 million at a million, which ran out of 24 GB), and a place alone
    never links anyway; a street line counts within its town or postcode."""
    from splink import block_on
    from splink.blocking_rule_library import CustomRule

    wanted = [
        ("first_name", "last_name"),
        ("birth_date",),
        ("postal_code", "first_name"),
        ("postal_code", "last_name"),
        ("city", "address_line1"),
        ("substr(first_name, 1, 2)", "substr(last_name, 1, 2)", "substr(birth_date, 1, 3)"),
        ("first_name", "birth_date"),
        ("last_name", "birth_date"),
        ("postal_code", "address_line1"),
        ("email_user",),
        ("phone",),
    ]

    def base(col: str) -> str:
        return col.split("(", 1)[1].split(",", 1)[0] if "(" in col else col

    rules: list[BlockingRuleCreator | dict[str, Any]] = [
        block_on(*r) for r in wanted if all(base(c) in cols for c in r)
    ]
    if all(c in cols for c in NAME_COLUMNS):
        # what Splink makes of a plain SQL string rule
        rules.append(CustomRule("l.first_name = r.last_name AND l.last_name = r.first_name"))
    return rules


def _prior_rules(cols: set[str]) -> list[str | BlockingRuleCreator]:
    """Pairs almost surely one person, to estimate how rare matches are (the prior):
    a shared email, or the same full name *and* birth date (a name alone is shared by
    namesakes, and would overstate the prior)."""
    from splink import block_on

    rules: list[str | BlockingRuleCreator] = []
    if "email" in cols:
        rules.append(block_on("email"))
    if {"first_name", "last_name", "birth_date"} <= cols:
        rules.append(block_on("first_name", "last_name", "birth_date"))
    elif {"first_name", "last_name"} <= cols:
        rules.append(block_on("first_name", "last_name"))
    return rules or [block_on(sorted(cols)[0])]


def _training_blocks(cols: set[str]) -> list[BlockingRuleCreator]:
    from splink import block_on

    sets = [("first_name", "last_name"), ("birth_date",), ("email_user",)]
    return [block_on(*s) for s in sets if all(c in cols for c in s)]


def _explanations(pairs: pd.DataFrame, levels: dict[str, dict[int, str]]) -> list[str]:
    """Per pair: each compared field's agreement level and match weight (log2 of its Bayes
    factor, term-frequency adjusted), ``"; "``-joined; a field null on either side (gamma
    -1) gives no evidence and is left out. Column by column: a dict per pair cost seconds
    per hundred thousand pairs."""
    n = len(pairs)
    columns: list[list[str | None]] = []
    for col, labels in levels.items():
        if f"gamma_{col}" not in pairs:
            continue
        gamma = pairs[f"gamma_{col}"].to_list()
        bf = pairs[f"bf_{col}"].to_list() if f"bf_{col}" in pairs else [None] * n
        tf = pairs[f"bf_tf_adj_{col}"].to_list() if f"bf_tf_adj_{col}" in pairs else [None] * n
        texts: list[str | None] = []
        for g, b, t in zip(gamma, bf, tf, strict=True):
            if g is None or g == -1 or g != g:
                texts.append(None)
                continue
            w = math.log2(max((b or 1.0) * (t or 1.0), 1e-300))
            texts.append(f"{col}: {labels.get(int(g), str(g))} ({w:+.1f})")
        columns.append(texts)
    if not columns:
        return [""] * n
    joined = pc.binary_join_element_wise(
        *[pa.array(c, pa.string()) for c in columns], "; ", null_handling="skip"
    )
    return [x or "" for x in joined.to_pylist()]


def _deterministic(con: LocalSQL, cols: set[str]) -> pa.Table:
    """Records sharing an exact key, each tied to the smallest id holding that key.

    A star per key (not all pairs) gives the same clusters in linear size, so one
    shared address on a thousand records costs a thousand links, not half a million.
    """
    keys = [k for k in ("email", "phone", "handle") if k in cols]
    if not keys:
        return LINKS_SCHEMA.empty_table()
    selects = [
        f"""SELECT least(record_id, hub) AS record_id_l, greatest(record_id, hub) AS record_id_r,
               '{k}' AS k FROM (SELECT record_id, min(record_id) OVER (PARTITION BY {k}) AS hub
               FROM prepared WHERE {k} IS NOT NULL) WHERE record_id <> hub"""
        for k in keys
    ]
    sql = f"""SELECT record_id_l, record_id_r, 1.0::DOUBLE AS match_probability,
                 NULL::DOUBLE AS match_weight, 'rule:' || min(k) AS method,
                 'same ' || string_agg(DISTINCT k, ', ' ORDER BY k) AS explanation,
                 string_agg(DISTINCT k, ', ' ORDER BY k) AS evidence
              FROM ({" UNION ALL ".join(selects)}) GROUP BY record_id_l, record_id_r"""
    return con.arrow(sql).cast(LINKS_SCHEMA)


FEMININE_ENDINGS = ("a", "e", "ne", "le", "ette", "ina", "ine")
"""What turns a given name into its feminine form (Louis/Louise, Jean/Jeanne,
Daniel/Daniela): two names one such ending apart are two people, a couple or siblings,
however alike they look to Jaro-Winkler."""


def _agree(column: str, other: str) -> str:
    """SQL: ``l`` and ``r`` give the same name in ``column``: equal, a typo apart
    (Jaro-Winkler at least 0.92), a short form of it (``alex``/``alexander``: a prefix
    three or more letters shorter), or both names swapped between the fields; never a
    feminine form of it (:data:`FEMININE_ENDINGS`)."""
    a, b = f"l.{column}", f"r.{column}"
    endings = ", ".join(f"'{e}'" for e in FEMININE_ENDINGS)

    def rest(long: str, short: str) -> str:
        return f"(starts_with({long}, {short}) AND substr({long}, length({short}) + 1)"

    return (
        f"({a} IS NOT NULL AND {b} IS NOT NULL AND ({a} = {b} "
        f"OR (jaro_winkler_similarity({a}, {b}) >= 0.92 "
        f"AND NOT {rest(a, b)} IN ({endings})) AND NOT {rest(b, a)} IN ({endings}))) "
        f"OR (length({b}) >= 3 AND {rest(a, b)} ~ '^.{{3,}}$')) "
        f"OR (length({a}) >= 3 AND {rest(b, a)} ~ '^.{{3,}}$')) "
        f"OR ({a} = r.{other} AND {b} = l.{other})))"
    )


def distinguishing_sql(cols: set[str], trusted: frozenset[str] = frozenset()) -> str:
    """SQL (over prepared records ``l`` and ``r``) naming what tells a pair apart from
    two namesakes in one town, or null.

    Distinguishing: the same mailbox, handle or phone (at most one digit off); and, only
    for records that agree on the names in ``trusted``, birth dates one digit apart (an
    edit or a transposition) or with day and month swapped, the same street line (up to
    three edits, the same house number) in the same postcode or city, or the same second
    address line (a building, a flat) (the columns one person's records
    rarely contradict: :attr:`Resolution.reliable`). Not distinguishing: names, a city, a
    postcode, a region, a country, an email's local part — namesakes and households share
    them. The model still weighs every field; this only decides whether a high score may
    link by itself.
    """

    def both(c: str) -> str:
        return f"l.{c} IS NOT NULL AND r.{c} IS NOT NULL"

    parts = []
    if "email" in cols:
        parts.append(f"CASE WHEN {both('email')} AND l.email = r.email THEN 'email' END")
    if "handle" in cols:
        parts.append(f"CASE WHEN {both('handle')} AND l.handle = r.handle THEN 'handle' END")
    if "phone" in cols:
        parts.append(
            f"CASE WHEN {both('phone')} AND damerau_levenshtein(l.phone, r.phone) <= 1 "
            "THEN 'phone' END"
        )
    # a birth date or an address is evidence for the same person only where the names
    # agree too: thousands share a birthday with some Alfred among a million customers,
    # and a household shares its address. Only names the data trust, though: where one
    # person's records often give another name (FEBRL's), a differing one proves nothing.
    names = [
        _agree(c, other)
        for c, other in (("first_name", "last_name"), ("last_name", "first_name"))
        if c in trusted
    ]
    person = " AND ".join(names) or "TRUE"
    if "birth_date" in cols:
        b = "l.birth_date", "r.birth_date"
        swapped = (
            f"length({b[0]}) = 8 AND length({b[1]}) = 8 AND left({b[0]}, 4) = left({b[1]}, 4) "
            f"AND substr({b[0]}, 5, 2) = substr({b[1]}, 7, 2) "
            f"AND substr({b[0]}, 7, 2) = substr({b[1]}, 5, 2)"
        )
        parts.append(
            f"CASE WHEN {both('birth_date')} AND (damerau_levenshtein({b[0]}, {b[1]}) <= 1 "
            f"OR ({swapped})) AND {person} THEN 'birth date' END"
        )
    if "address_line1" in cols and cols & {"postal_code", "city"}:
        place = " OR ".join(
            f"({both(c)} AND l.{c} = r.{c})" for c in ("postal_code", "city") if c in cols
        )
        # the same house number: a similar line with another number is a neighbour
        parts.append(
            f"CASE WHEN {both('address_line1')} "
            "AND levenshtein(l.address_line1, r.address_line1) <= 3 "
            "AND regexp_replace(l.address_line1, '[^0-9]', '', 'g') "
            "= regexp_replace(r.address_line1, '[^0-9]', '', 'g') "
            f"AND ({place}) AND {person} THEN 'street address' END"
        )
    if "address_line2" in cols:
        parts.append(
            f"CASE WHEN {both('address_line2')} "
            f"AND levenshtein(l.address_line2, r.address_line2) <= 1 AND {person} "
            "THEN 'address line 2' END"
        )
    if not parts:
        return "NULL::VARCHAR"
    return f"nullif(concat_ws(', ', {', '.join(parts)}), '')"


def resolve_records(
    records: pa.Table,
    options: ResolveOptions | None = None,
    progress: Progress | None = None,
    known_matches: pa.Table | None = None,
    *,
    engine: Engine | None = None,
    workdir: Path | None = None,
    model: dict[str, Any] | None = None,
    fresh: pa.Array | None = None,
) -> Resolution:
    """Score candidate pairs of ``records`` (string columns, see ``records.py``).

    Returns deterministic links plus every model pair at or above ``review_floor``;
    :func:`socialcrm.connecting.clusters.cluster_links` turns them into clusters.

    The rules' pairs (and ``known_matches``: ``record_id_l``, ``record_id_r`` found by
    other rules or people) are near-certain matches, so when there are enough of them
    they teach the model what a match looks like (its m probabilities) directly. EM
    alone would otherwise learn whatever structure dominates the candidate pairs — in
    a customer base that is often the household (same surname and address), not the
    person.

    Splink runs where ``engine`` runs it (:meth:`Engine.splink`: an in-process DuckDB,
    or Splink's Spark backend on the Spark engine's session, with the same model; its
    intermediate tables then go to a temporary folder inside ``workdir``, default the
    system's, removed afterwards), or without an engine on an in-process DuckDB.

    With ``model`` (a :attr:`Resolution.model` of an earlier run) nothing is trained: the
    pairs are scored with it, if it compares the columns a model trained today would
    (else it is trained again, and ``fresh`` ignored: see :attr:`Resolution.trained`).
    With ``fresh`` too (record ids), only the pairs with a fresh
    record on either side are scored (Splink's incremental matching, here over all
    records at once so that term frequencies are today's): an earlier run with the same
    model scored the others.
    """
    from splink import Linker

    opts = options or ResolveOptions()
    say = progress or (lambda _msg: None)
    with local_sql() as con:
        con.register("raw_records", records)
        con.run(f"CREATE TABLE prepared AS {matching_sql(records.column_names, 'raw_records')}")
        cols = _non_empty(con)
        say("deterministic rules")
        det = _deterministic(con, cols)
        n = con.one("SELECT count(*) FROM prepared")[0]  # type: ignore[index]
        notes: list[str] = []
        compare = cols - {"email_user"}
        if n < 2 or not compare:
            return Resolution(det, ["fewer than two records or nothing to compare"])
        prepared = con.arrow(
            f"SELECT record_id, {', '.join(sorted(cols))} FROM prepared ORDER BY record_id"
        )
        dialect = engine.splink_dialect if engine is not None else "duckdb"
        if model is not None and not model_fits(model, cols, dialect):
            notes.append("the stored model compares other columns: trained again")
            model = fresh = None
        if fresh is not None:
            if model is None:
                raise ValueError("scoring only fresh records needs a trained model")
            # with no fresh record the prediction scores nothing, but Splink still reads the
            # model, so its disagreements are those a trained run has (untrained levels take
            # Splink's defaults, which the model's JSON leaves out)
            prepared = prepared.append_column(FRESH, pc.is_in(prepared["record_id"], fresh))
        settings = _settings(cols)
        splink = engine.splink(workdir) if engine is not None else local_splink()
        with _quiet_splink(), splink as backend:
            if model is not None:
                # the stored model, as trained; predictions only for pairs with a fresh record
                loaded = dict(model)
                if fresh is not None:
                    loaded["blocking_rules_to_generate_predictions"] = fresh_rules(
                        _blocking_rules(cols), dialect
                    )
                linker = Linker(
                    backend.table(prepared), loaded, backend.api(), set_up_basic_logging=False
                )
                return _predict(linker, con, cols, det, notes, opts, say, model, trained=False)
            linker = Linker(
                backend.table(prepared), settings, backend.api(), set_up_basic_logging=False
            )
            say("training: prior")
            _train(
                notes,
                "prior",
                lambda: linker.training.estimate_probability_two_random_records_match(
                    _prior_rules(cols), recall=opts.prior_recall
                ),
            )
            say("training: chance agreement (u)")
            _train(
                notes,
                "u",
                lambda: _estimate_u(linker, backend, settings, prepared, opts),
            )
            labels = _labels(det, known_matches, prepared)
            if labels.num_rows >= opts.min_labels:
                say("training: m from rule-linked pairs")
                tables: _LabelTables = linker.table_management
                table = tables.register_labels_table(backend.table(labels), overwrite=True)
                training: _LabelTraining = linker.training
                _train(
                    notes,
                    "m from labels",
                    lambda: training.estimate_m_from_pairwise_labels(table),
                )
            for block in [] if labels.num_rows >= opts.min_labels else _training_blocks(cols)[:3]:
                say("training: EM")
                _train(
                    notes,
                    "EM",
                    functools.partial(
                        linker.training.estimate_parameters_using_expectation_maximisation,
                        block,
                        fix_probability_two_random_records_match=True,
                    ),
                )
            trained = linker.misc.save_model_to_json()
            return _predict(linker, con, cols, det, notes, opts, say, trained, trained=True)


def _non_empty(con: LocalSQL) -> set[str]:
    """The prepared records' columns but the id, less those empty everywhere: they carry
    no evidence and break training."""
    cols = {c for c in con.columns("prepared") if c != "record_id"}
    non_empty = con.one(
        "SELECT " + ", ".join(f"count({c}) AS {c}" for c in sorted(cols)) + " FROM prepared"
    )
    return {c for c, n in zip(sorted(cols), non_empty or (), strict=True) if n}


def _settings(cols: set[str]) -> SettingsCreator:
    from splink import SettingsCreator

    return SettingsCreator(
        unique_id_column_name="record_id",
        link_type="dedupe_only",
        comparisons=_comparisons(cols - {"email_user"}),
        blocking_rules_to_generate_predictions=_blocking_rules(cols),
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
    )


def _predict(
    linker: Linker,
    con: LocalSQL,
    cols: set[str],
    det: pa.Table,
    notes: list[str],
    opts: ResolveOptions,
    say: Progress,
    model: dict[str, Any],
    *,
    trained: bool,
) -> Resolution:
    """Score the blocked pairs with ``linker``'s model and explain them."""
    say("scoring pairs")
    scored: _PandasFrame = linker.inference.predict(threshold_match_probability=opts.review_floor)
    pairs = scored.as_pandas_dataframe()
    disagreement = {
        c.output_column_name: lvl.m_probability
        for c in linker._settings_obj.comparisons
        for lvl in c.comparison_levels
        if lvl._is_else_level and lvl.m_probability is not None
    }
    trusted = trusted_columns(disagreement)
    pairs["evidence"] = _evidence(con, pairs, cols, trusted)
    levels = {
        c.output_column_name: {
            lvl.comparison_vector_value: _short_label(lvl.label_for_charts, c.output_column_name)
            for lvl in c.comparison_levels
        }
        for c in linker._settings_obj.comparisons
    }
    return Resolution(_model_links(pairs, levels, det), notes, disagreement, model, trained)


def _evidence(
    con: LocalSQL, pairs: pd.DataFrame, cols: set[str], trusted: frozenset[str]
) -> list[str | None]:
    """:func:`distinguishing_sql` per scored pair, on the prepared records."""
    if len(pairs) == 0:
        return []
    ids = pa.table(
        {
            "k": np.arange(len(pairs)),
            "a": pairs["record_id_l"].astype(str).to_numpy(),
            "b": pairs["record_id_r"].astype(str).to_numpy(),
        }
    )
    con.register("scored_pairs", ids)
    out = con.arrow(
        f"""SELECT p.k, {distinguishing_sql(cols, trusted)} AS evidence FROM scored_pairs p
            JOIN prepared l ON l.record_id = p.a JOIN prepared r ON r.record_id = p.b
            ORDER BY p.k"""
    )
    evidence: list[str | None] = out["evidence"].to_pylist()
    return evidence


def _estimate_u(
    linker: Linker,
    backend: SplinkBackend,
    settings: SettingsCreator,
    prepared: pa.Table,
    opts: ResolveOptions,
) -> None:
    """u (chance agreement) from every pair of a seeded random sample of records.

    Splink's own sampling differs by backend (DuckDB's ``USING SAMPLE … REPEATABLE``,
    Spark's ``ORDER BY rand(seed)``), so the same seed would train different u on DuckDB
    and on Spark. Here the sample is the records with the smallest MD5 of
    ``seed:record_id``, as many as ``max_pairs_for_u`` pairs need, the same on every
    backend; a second linker over it counts every pair's agreement levels (no sampling
    left to Splink), and its u are copied to ``linker``.
    """
    from splink import Linker

    ids = prepared["record_id"].to_pylist()
    # rows whose pairs number max_pairs: r (r - 1) / 2 = n
    k = math.ceil(0.5 * ((8 * opts.max_pairs_for_u + 1) ** 0.5 + 1))
    if k < len(ids):
        rank = sorted(
            range(len(ids)),
            key=lambda i: hashlib.md5(
                f"{opts.seed}:{ids[i]}".encode(), usedforsecurity=False
            ).digest(),
        )
        prepared = prepared.take(sorted(rank[:k]))
    k = prepared.num_rows
    sampler = Linker(
        backend.table(prepared),
        settings,
        backend.api(),
        set_up_basic_logging=False,
        input_table_aliases="__socialcrm_u_sample",
    )
    # max_pairs at least the sample's pairs: Splink takes them all, without sampling
    sampler.training.estimate_u_using_random_sampling(max_pairs=float(k * k))
    for target, source in zip(
        linker._settings_obj.comparisons, sampler._settings_obj.comparisons, strict=True
    ):
        for to, fro in zip(
            target._comparison_levels_excluding_null,
            source._comparison_levels_excluding_null,
            strict=True,
        ):
            to.u_probability = fro.u_probability


def _short_label(label: str, column: str) -> str:
    """``'Exact match on first_name'`` -> ``'exact match'`` (the column is said once)."""
    label = label.lower()
    for joiner in (" on ", " of ", " "):
        label = label.replace(f"{joiner}{column}", "")
    label = label.replace("  ", " ").strip()
    return "different" if label == "all other comparisons" else label


def _labels(det: pa.Table, known: pa.Table | None, prepared: pa.Table) -> pa.Table:
    pairs = det.select(["record_id_l", "record_id_r"])
    if known is not None and known.num_rows:
        pairs = pa.concat_tables(
            [pairs, known.select(["record_id_l", "record_id_r"]).cast(pairs.schema)]
        )
    ids = prepared["record_id"]
    keep = pc.and_(pc.is_in(pairs["record_id_l"], ids), pc.is_in(pairs["record_id_r"], ids))
    pairs = pairs.filter(keep)
    return pa.table(
        {
            "source_dataset_l": pa.array(["__splink__input_table_0"] * pairs.num_rows, pa.string()),
            "record_id_l": pairs["record_id_l"],
            "source_dataset_r": pa.array(["__splink__input_table_0"] * pairs.num_rows, pa.string()),
            "record_id_r": pairs["record_id_r"],
        }
    )


def _train(notes: list[str], what: str, fn: Callable[[], object]) -> None:
    """Run one training pass; a pass that sees too little data is noted, not fatal
    (the untrained parameters keep Splink's defaults)."""
    try:
        fn()
    except Exception as e:  # Splink raises plain exceptions for "no data in this block"
        notes.append(f"{what} training skipped: {str(e).splitlines()[0][:200]}")


def _model_links(pairs: pd.DataFrame, levels: dict[str, dict[int, str]], det: pa.Table) -> pa.Table:
    if len(pairs) == 0:
        return det
    left = pairs["record_id_l"].astype(str).to_numpy()
    right = pairs["record_id_r"].astype(str).to_numpy()
    swap = left > right
    lo = np.where(swap, right, left)
    hi = np.where(swap, left, right)
    explanations = _explanations(pairs, levels)
    model = pa.table(
        {
            "record_id_l": lo,
            "record_id_r": hi,
            "match_probability": pairs["match_probability"].astype(float).to_numpy(),
            "match_weight": pairs["match_weight"].astype(float).to_numpy(),
            "method": np.full(len(pairs), "model"),
            "explanation": explanations,
            "evidence": pairs["evidence"].to_list(),
        },
        schema=LINKS_SCHEMA,
    )
    # a pair both a rule and the model found keeps the rule (certain) and the model's words
    det_keys = {
        (a, b)
        for a, b in zip(det["record_id_l"].to_pylist(), det["record_id_r"].to_pylist(), strict=True)
    }
    keep = np.array([(a, b) not in det_keys for a, b in zip(lo, hi, strict=True)], bool)
    return pa.concat_tables([det, model.filter(pa.array(keep))])


__all__ = ["LINKS_SCHEMA", "Resolution", "ResolveOptions", "is_handle_column", "resolve_records"]
