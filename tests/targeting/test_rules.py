"""The rules file: validation, first-match semantics, reasons that quote the values."""

from __future__ import annotations

import ibis
import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.targeting.rules import RulesError, first_match, load_rules, parse_rules

GOOD = """
[[tier]]
name = "all"
when = []

[[segment]]
name = "big"
reason = "spends a lot"
when = [["clv", ">=", 100], ["risk_band", "in", ["low"]]]

[[segment]]
name = "more_praise"
reason = "praises more"
when = [["praise", ">", { column = "complaints" }]]

[[segment]]
name = "rest"
when = []

[[action]]
name = "thanks"
segments = ["big"]
value = "clv"
uplift = 0.1
"""


def test_shipped_rules_load_and_end_with_catch_alls() -> None:
    r = load_rules()
    assert r.tiers[-1].when == () and r.segments[-1].when == ()
    names = {s.name for s in r.segments}
    assert {"at_risk_high_value", "social_connector", "detractor", "dormant", "new"} <= names
    assert all(set(a.segments) <= names for a in r.actions)


def test_first_match_and_reason() -> None:
    rules = parse_rules(GOOD)
    t = ibis.memtable(
        pa.table(
            {
                "clv": pa.array([150.0, 150.0, 5.0, None]),
                "risk_band": pa.array(["low", "high", "low", None]),
                "praise": pa.array([9, 3, 1, None], pa.int64()),
                "complaints": pa.array([0, 1, 2, None], pa.int64()),
            }
        )
    )
    name, why = first_match(t, rules.segments)
    df = t.mutate(segment=name, reason=why).execute()
    assert df.segment.tolist() == ["big", "more_praise", "rest", "rest"]
    assert df.reason[0] == "spends a lot (clv=150.0 >= 100, risk_band=low in ['low'])"
    assert df.reason[1] == "praises more (praise=3 > complaints=1)"
    assert df.reason[3] == "rest"  # nulls never match a condition


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('">="', '"=>"'), "unknown op '=>'"),
        (GOOD.replace('"in", ["low"]', '"in", "low"'), "needs a list"),
        (GOOD.replace('segments = ["big"]', 'segments = ["huge"]'), "unknown or no segments"),
        (GOOD.replace('value = "clv"', 'value = "sales"'), "value must be one of"),
        ("[[tier]\nname=", "not valid TOML"),
        (GOOD.replace('[[tier]]\nname = "all"\nwhen = []', ""), "no [[tier]] rules"),
    ],
)
def test_bad_rules_are_named(text: str, message: str) -> None:
    with pytest.raises(RulesError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_rules(text, "mine.toml")


def test_unknown_column_names_the_rule() -> None:
    rules = parse_rules(GOOD.replace('"clv", ">="', '"cvl", ">="'))
    t = ibis.memtable(pd.DataFrame({"clv": [1.0], "risk_band": ["low"]}))
    with pytest.raises(RulesError, match="rule 'big': unknown column 'cvl'"):
        first_match(t, rules.segments)


def test_user_rules_file_from_settings(tmp_path) -> None:
    f = tmp_path / "mine.toml"
    f.write_text(GOOD)
    assert [s.name for s in load_rules(f).segments] == ["big", "more_praise", "rest"]
    with pytest.raises(RulesError, match="cannot read rules"):
        load_rules(tmp_path / "missing.toml")
