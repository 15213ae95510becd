"""Measured uplifts (``measured_uplifts``, written by programs' learning) in the ranking.

The rules below give loyal and high-value buyers two valued actions: a product
recommendation assumed to lift by 3 points and the loyalty thanks assumed at 2, so the
recommendation ranks first. A strong measurement of the thanks (posterior 5.9 points)
must put it first; a weak one (posterior 2.4 points, a 40-person campaign) must not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.pipeline import run_context
from socialcrm.programs.learning import MEASURED_UPLIFTS
from socialcrm.targeting.actions import step_actions
from tests.targeting.brand import ScoredBrand

EXTRA = """
[[action]]
name = "product_recommendation"
segments = ["high_value_buyer", "loyal_quiet_buyer"]
marketing = true
uplift = 0.03
uplift_sd = 0.05
value = "clv"
cost = 1.0
reason = "recommend a product they have not bought yet"
"""
SCHEMA = MEASURED_UPLIFTS  # the table programs writes and targeting reads by name
TAU = 0.05


def _row(segment: str | None, treated: int, control: int, measured: float, se: float) -> dict:
    """A measured_uplifts row for loyalty_thanks (prior 0.02), posterior by the
    normal–normal formula worked out here, not by the code under test."""
    prior = 0.02
    post = (prior / TAU**2 + measured / se**2) / (1 / TAU**2 + 1 / se**2)
    return {
        "action": "loyalty_thanks",
        "segment": segment,
        "campaigns": 2,
        "treated": treated,
        "control": control,
        "measured": measured,
        "se": se,
        "prior": prior,
        "posterior": post,
        "weight_of_evidence": (1 / se**2) / (1 / TAU**2 + 1 / se**2),
        "updated_at": datetime(2026, 5, 1, tzinfo=UTC),
    }


@pytest.fixture(scope="module")
def shop(brand: ScoredBrand, tmp_path_factory: pytest.TempPathFactory) -> tuple[ScoredBrand, Path]:
    rules = tmp_path_factory.mktemp("rules") / "rules.toml"
    shipped = resources.files("socialcrm.targeting").joinpath("rules.toml").read_text()
    rules.write_text(shipped + EXTRA)
    return brand.copy(tmp_path_factory.mktemp("learned") / "ws"), rules


def _rank(shop: tuple[ScoredBrand, Path], measured: list[dict] | None) -> pd.DataFrame:
    """customer_actions after the actions step, with ``measured`` as the learned uplifts."""
    copy, rules = shop
    with copy.open(targeting_rules=rules) as ws:
        if measured is None:
            if ws.warehouse.exists("measured_uplifts"):
                ws.warehouse.drop("measured_uplifts")
        else:
            ws.warehouse.write("measured_uplifts", pa.Table.from_pylist(measured, schema=SCHEMA))
        step_actions(ws, run_context(ws))
        return ws.warehouse.read_arrow("customer_actions").to_pandas()


def _first(actions: pd.DataFrame, segments: tuple[str, ...]) -> pd.Series:
    """Rank-1 action of the customers in ``segments`` who were offered both actions."""
    both = actions.groupby("customer_id").action.agg(
        lambda a: {"product_recommendation", "loyalty_thanks"} <= set(a)
    )
    mine = actions[
        actions.customer_id.isin(both[both].index)
        & actions.segment.isin(segments)
        & (actions["rank"] == 1)
    ]
    return mine.set_index("customer_id").action


def test_assumed_uplifts_say_so(shop) -> None:
    actions = _rank(shop, None)
    first = _first(actions, ("loyal_quiet_buyer", "high_value_buyer"))
    assert len(first) >= 20
    assert (first == "product_recommendation").all()
    valued = actions[actions.action != "none"]
    assert (valued.uplift_source == "assumed").all()
    assert (valued.uplift_campaigns == 0).all() and (valued.uplift_people == 0).all()
    assert actions[actions.action == "none"].uplift_source.isna().all()


def test_strong_evidence_changes_the_ranking(shop) -> None:
    strong = _row(None, 9_000, 1_000, measured=0.06, se=0.004)
    actions = _rank(shop, [strong])
    first = _first(actions, ("loyal_quiet_buyer", "high_value_buyer"))
    assert len(first) >= 20 and (first == "loyalty_thanks").all()
    thanks = actions[actions.action == "loyalty_thanks"]
    assert thanks.uplift.to_numpy() == pytest.approx(strong["posterior"])
    assert (thanks.uplift_source == "measured").all()
    assert (thanks.uplift_people == 10_000).all() and (thanks.uplift_campaigns == 2).all()
    # the expected value follows: uplift × CLV − cost
    other = actions[actions.action == "product_recommendation"]
    assert (other.uplift_source == "assumed").all()
    ev = thanks.value_at_stake * strong["posterior"] - 1.0
    assert thanks.expected_value.to_numpy() == pytest.approx(ev.to_numpy(), abs=0.006)


def test_weak_evidence_does_not(shop) -> None:
    weak = _row(None, 36, 4, measured=0.06, se=0.15)
    assert weak["weight_of_evidence"] < 0.15
    actions = _rank(shop, [weak])
    first = _first(actions, ("loyal_quiet_buyer", "high_value_buyer"))
    assert len(first) >= 20 and (first == "product_recommendation").all()
    thanks = actions[actions.action == "loyalty_thanks"]
    assert (thanks.uplift_source == "measured").all()  # measured, but barely moved
    assert thanks.uplift.iloc[0] == pytest.approx(weak["posterior"])
    assert 0.02 < weak["posterior"] < 0.03


def test_a_segment_measurement_wins_over_the_action_wide_one(shop) -> None:
    rows = [
        _row(None, 36, 4, measured=0.06, se=0.15),
        _row("loyal_quiet_buyer", 9_000, 1_000, measured=0.06, se=0.004),
    ]
    actions = _rank(shop, rows)
    loyal = _first(actions, ("loyal_quiet_buyer",))
    high = _first(actions, ("high_value_buyer",))
    assert len(loyal) >= 10 and (loyal == "loyalty_thanks").all()
    assert len(high) >= 1 and (high == "product_recommendation").all()


def test_a_table_without_posteriors_is_ignored(shop) -> None:
    rows = [_row(None, 9_000, 1_000, measured=0.06, se=0.004) | {"posterior": None}]
    actions = _rank(shop, rows)
    assert (actions[actions.action != "none"].uplift_source == "assumed").all()
