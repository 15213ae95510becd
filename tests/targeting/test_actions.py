"""Next-best-actions: reasons, ranks, consent per channel, contact wishes, expected value."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pytest

from socialcrm.pipeline import run_context
from socialcrm.store.schemas import CONSENTS, CUSTOMERS
from socialcrm.targeting.actions import CHANNEL_PURPOSE, step_actions
from tests.targeting.brand import ScoredBrand


def _in_force(consents: pd.DataFrame, clusters: pd.DataFrame) -> set[tuple[str, str]]:
    """(person, purpose) whose latest decision, over all the person's records, is a grant."""
    c = consents.merge(clusters, left_on="customer_id", right_on="record_id", suffixes=("_r", ""))
    last = c.groupby(["customer_id", "purpose"]).recorded_at.transform("max")
    c = c[c.recorded_at == last]
    ok = c.groupby(["customer_id", "purpose"]).status.agg(lambda s: (s == "granted").all())
    return set(ok[ok].index)


def _load(brand: ScoredBrand) -> tuple[pd.DataFrame, set[tuple[str, str]], pd.DataFrame]:
    with brand.open() as ws:
        actions = ws.warehouse.read_arrow("customer_actions").to_pandas()
        consents = ws.warehouse.read_arrow("consents").to_pandas()
        clusters = ws.warehouse.read_arrow("identity_clusters").to_pandas()
    return actions, _in_force(consents, clusters[["record_id", "customer_id"]]), clusters


def test_ranked_with_reasons(brand: ScoredBrand) -> None:
    actions, _, _ = _load(brand)
    assert len(actions) > 50
    assert actions.reason.str.len().gt(10).all()
    for _, g in actions.groupby("customer_id"):
        assert sorted(g["rank"]) == list(range(1, len(g) + 1))
        ev = g.sort_values("rank").expected_value
        known = ev.dropna().to_numpy()
        assert (known[:-1] >= known[1:]).all()  # by expected value, unknown last
        assert ev.notna().sum() == 0 or ev.iloc[: ev.notna().sum()].notna().all()
    retain = actions[actions.action == "retention_gesture"]
    assert len(retain) and (retain.expected_value.notna()).all()
    assert set(actions.action) >= {"retention_gesture", "loyalty_thanks", "none"}


def test_marketing_only_through_consented_channels(brand: ScoredBrand) -> None:
    actions, in_force, _ = _load(brand)
    marketing = actions[actions.marketing]
    assert len(marketing) > 20
    for r in marketing.itertuples():
        assert (r.customer_id, CHANNEL_PURPOSE[r.channel]) in in_force, r


def test_no_marketing_without_marketing_consent(brand: ScoredBrand, tmp_path) -> None:
    actions, _, clusters = _load(brand)
    target = actions[actions.marketing & (actions["rank"] == 1)].customer_id.iloc[0]
    records = clusters[clusters.customer_id == target].record_id.tolist()
    copy = brand.copy(tmp_path / "ws")
    later = datetime(2100, 1, 1, tzinfo=UTC)
    with copy.open() as ws:
        old = ws.warehouse.read_arrow("consents").cast(CONSENTS.arrow_schema)
        rows = [
            {"customer_id": r, "purpose": p, "status": "withdrawn", "recorded_at": later}
            for r in records
            for p in CHANNEL_PURPOSE.values()
        ]
        new = pa.Table.from_pylist(rows, schema=CONSENTS.arrow_schema)
        ws.warehouse.write("consents", pa.concat_tables([old, new]))
        step_actions(ws, run_context(ws))
        after = ws.warehouse.read_arrow("customer_actions").to_pandas()
    mine = after[after.customer_id == target]
    assert not mine.marketing.any()
    assert (mine.action == "none").all()
    assert mine.reason.iloc[0] == "no action: no marketing consent on any channel"


def test_nothing_for_those_who_asked_for_nothing(brand: ScoredBrand, tmp_path) -> None:
    actions, _, clusters = _load(brand)
    target = actions[actions.marketing].customer_id.iloc[-1]
    records = set(clusters[clusters.customer_id == target].record_id)
    copy = brand.copy(tmp_path / "ws")
    with copy.open() as ws:
        cust = ws.warehouse.read_arrow("customers").cast(CUSTOMERS.arrow_schema).to_pandas()
        cust.loc[cust.customer_id.isin(records), "contact_frequency"] = "never"
        ws.warehouse.write("customers", pa.Table.from_pandas(cust, schema=CUSTOMERS.arrow_schema))
        step_actions(ws, run_context(ws))
        after = ws.warehouse.read_arrow("customer_actions").to_pandas()
    mine = after[after.customer_id == target]
    assert not mine.marketing.any()
    assert "asked not to be contacted" in " ".join(mine.reason)


def test_retention_value_is_uplift_times_clv_if_retained(brand: ScoredBrand) -> None:
    with brand.open() as ws:
        seg = ws.warehouse.read_arrow("customer_segments").to_pandas().set_index("customer_id")
        actions = ws.warehouse.read_arrow("customer_actions").to_pandas()
    r = actions[actions.action == "retention_gesture"]
    for row in r.itertuples():
        s = seg.loc[row.customer_id]
        assert s.segment == "at_risk_high_value"
        stake = s.clv / max(s.p_alive, 0.05)
        assert row.value_at_stake == pytest.approx(stake, abs=0.01)
        assert row.expected_value == pytest.approx(0.10 * stake - 5.0, abs=0.02)
