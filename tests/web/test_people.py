"""Names and places as people write them: all-caps and all-lower imports cased, names a
person wrote in mixed case left alone, and a record with no name read as a guest."""

from __future__ import annotations

import pytest

from socialcrm.web.people import display_name, proper_case, record_label, source_of


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("MÜLLER", "Müller"),
        ("anna schmidt", "Anna Schmidt"),
        ("JEAN-PIERRE O'NEILL", "Jean-Pierre O'Neill"),
        ("o'brien", "O'Brien"),
        ("MCDONALD", "McDonald"),
        ("ludwig van beethoven", "Ludwig van Beethoven"),
        ("FRANKFURT AM MAIN", "Frankfurt am Main"),
        ("SÃO PAULO", "São Paulo"),
        ("J. R. R. TOLKIEN", "J. R. R. Tolkien"),
        # first and last name typed apart: each word in one case is cased on its own
        ("John HARMSEN", "John Harmsen"),
        ("jean charles Frayspas", "Jean Charles Frayspas"),
        ("anna-lena DE LA CRUZ", "Anna-Lena de la Cruz"),
        # written in mixed case by their owner: kept
        ("McDonald", "McDonald"),
        ("van der Berg", "van der Berg"),
        ("Anna van der Berg", "Anna van der Berg"),
        ("DiCaprio", "DiCaprio"),
        ("d'Artagnan", "d'Artagnan"),
        ("  Ada   Lovelace ", "Ada Lovelace"),
        ("", ""),
        (None, ""),
    ],
)
def test_proper_case(raw: str | None, shown: str) -> None:
    assert proper_case(raw) == shown


def test_a_record_without_a_name_reads_as_a_guest_of_its_source() -> None:
    assert display_name(None, "newsletter:000406") == "Guest — newsletter"
    assert display_name("", "loyalty_app:12") == "Guest — loyalty app"
    assert display_name("  ", "c000") == "Guest"
    assert display_name(None, None, source="shop") == "Guest — shop"
    assert display_name("ADA LOVELACE", "shop:000001") == "Ada Lovelace"
    assert source_of("newsletter:000406") == "newsletter" and source_of("c000") == ""
    assert record_label("newsletter:000406") == "newsletter record"
    assert record_label(None) == "record"
