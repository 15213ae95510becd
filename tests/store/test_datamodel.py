from pathlib import Path

from socialcrm.store.datamodel import data_model_markdown
from socialcrm.store.schemas import INPUT_TABLES

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def test_docs_match_the_declared_schemas() -> None:
    assert DOC.read_text() == data_model_markdown(), (
        "docs/data-model.md is stale: run `socialcrm schema --markdown > docs/data-model.md`"
    )


def test_every_column_is_documented_with_a_meaning() -> None:
    for schema in INPUT_TABLES.values():
        assert set(schema.key) <= set(schema.column_names)
        for col in schema.columns:
            assert col.meaning.strip(), f"{schema.name}.{col.name} has no meaning"


def test_customers_carry_all_four_ps() -> None:
    parts = {c.four_p for c in INPUT_TABLES["customers"].columns if c.four_p}
    assert parts == {"personal", "profile", "preferential", "performance"}
