"""Person records as identity resolution sees them: one flat row per record.

Resolution compares a fixed vocabulary of columns (names, birth date, address, email,
phone, handles). Any subset may be present; messy values (impossible dates, odd emails,
empty fields) are cleaned for comparison but never rejected, because a typo is exactly
what matching must see through.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from socialcrm.store.schemas import PLATFORMS

NAME_COLUMNS = ("first_name", "last_name")
ADDRESS_COLUMNS = ("address_line1", "address_line2", "city", "postal_code", "region", "country")
RECORD_COLUMNS = ("record_id", *NAME_COLUMNS, "birth_date", "email", "phone", *ADDRESS_COLUMNS)
"""The columns resolution knows; handle columns (see :func:`is_handle_column`) come on top."""


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


class RecordsError(ValueError):
    """A records file that cannot be read: names the file, row and field."""


def is_handle_column(name: str) -> bool:
    """``handle``, ``<word>_handle`` or a platform name (``twitter``, ``mastodon``…).

    Only plain identifiers qualify: header names end up in SQL, and a file's header is
    untrusted input.
    """
    plain = _IDENTIFIER.fullmatch(name) is not None
    return plain and (name == "handle" or name.endswith("_handle") or name in PLATFORMS)


def read_records(path: Path) -> pa.Table:
    """Read a records CSV into strings, checking the header and the ``record_id`` column.

    Unknown columns are ignored; every value stays a string so that nothing is lost.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordsError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        header = next(csv.reader(fh, skipinitialspace=True), None)
    if not header:
        raise RecordsError(f"{path}: the file is empty (expected a header with record_id)")
    names = [h.strip() for h in header]
    if "record_id" not in names:
        raise RecordsError(f"{path}, line 1: no record_id column (found {', '.join(names)})")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True
            ),
        )
    except pa.ArrowInvalid as e:
        raise RecordsError(f"{path}: {e}") from None
    keep = [n for n in names if n in RECORD_COLUMNS or is_handle_column(n)]
    table = table.select(keep)
    return check_records(table, str(path))


def check_records(table: pa.Table, where: str = "records") -> pa.Table:
    """Trim values and require a unique, non-empty ``record_id`` (row numbers 1-based
    after the header, so ``line`` is the file's line)."""
    cols = {n: pc.utf8_trim_whitespace(table[n]) for n in table.column_names}
    ids = cols["record_id"]
    missing = pc.fill_null(pc.equal(ids, ""), True)
    if pc.any(missing).as_py():
        row = pc.index(missing, True).as_py()
        raise RecordsError(f"{where}, line {row + 2}, field record_id: empty record id")
    uniq = pc.value_counts(ids)
    dup = pc.filter(uniq.field("values"), pc.greater(uniq.field("counts"), 1))
    if len(dup):
        first = dup[0].as_py()
        once = pc.index(ids, first).as_py()
        row = once + 1 + pc.index(ids.slice(once + 1), first).as_py()  # the repeat's row
        raise RecordsError(
            f"{where}, line {row + 2}, field record_id: duplicate record id {first!r} "
            f"({len(dup)} ids repeat)"
        )
    return pa.table(cols)


_NOT_WORD = r"'[^\p{L}\p{N} ]'"
"""Anything but letters (any script), digits and spaces."""


def matching_sql(columns: list[str], source: str) -> str:
    """DuckDB SQL (run next to Splink) that turns raw records into the columns compared.

    Names and places are lower-cased, accents folded, punctuation dropped; birth dates
    and phones keep their digits only (so ``1980-01-20`` and ``19800120`` agree and an
    impossible date still differs by one digit); emails split into the whole address and its local
    part; handle columns become one ``handle`` value per record.
    """
    present = set(columns)
    out = ["record_id"]
    for c in (*NAME_COLUMNS, "address_line1", "address_line2", "city", "region", "country"):
        if c in present:
            # accents folded: "Hélène" is "Helene" typed on another keyboard, and plain
            # ASCII makes string distances count the same on every engine (DuckDB counts
            # UTF-8 bytes, Spark characters)
            folded = (
                f"replace(replace(replace(translate(strip_accents(lower({c})), 'łøđı', 'lodi'),"
                " 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe')"
            )
            out.append(f"nullif(trim(regexp_replace({folded}, {_NOT_WORD}, ' ', 'g')), '') AS {c}")
    if "postal_code" in present:
        out.append(
            "nullif(regexp_replace(lower(postal_code), '[^a-z0-9]', '', 'g'), '') AS postal_code"
        )
    if "birth_date" in present:
        out.append("nullif(regexp_replace(birth_date, '[^0-9]', '', 'g'), '') AS birth_date")
    if "phone" in present:
        # the last 9 digits: the same number with or without a country or trunk prefix
        out.append("nullif(right(regexp_replace(phone, '[^0-9]', '', 'g'), 9), '') AS phone")
    if "email" in present:
        out.append(f"{canonical_email_sql('lower(trim(email))')} AS email")
        out.append("nullif(split_part(lower(trim(email)), '@', 1), '') AS email_user")
    handles = sorted(c for c in columns if is_handle_column(c))
    if handles:
        # one comparable value per record: the first handle given, tagged by its column
        parts = ", ".join(
            f"CASE WHEN nullif(trim({h}), '') IS NOT NULL "
            f"THEN '{h}:' || lower(ltrim(trim({h}), '@')) END"
            for h in handles
        )
        out.append(f"coalesce({parts}) AS handle" if len(handles) > 1 else f"{parts} AS handle")
    return f"SELECT {', '.join(out)} FROM {source}"


def canonical_email_sql(expr: str) -> str:
    """The mailbox an address delivers to: no ``+tag``, and no dots for Gmail."""
    local = f"regexp_replace(split_part({expr}, '@', 1), '\\+.*$', '')"
    domain = f"split_part({expr}, '@', 2)"
    return (
        f"CASE WHEN {expr} LIKE '%@%' THEN "
        f"CASE WHEN {domain} IN ('gmail.com', 'googlemail.com') "
        f"THEN replace({local}, '.', '') || '@gmail.com' "
        f"ELSE {local} || '@' || {domain} END "
        f"ELSE nullif({expr}, '') END"
    )
