"""Relationship value: the Four-Ps formula on a hand-built workspace, and on the demo brand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from scipy.stats import spearmanr

from socialcrm.store.schemas import CONSENTS, CUSTOMERS, IDENTITIES, TOUCHES
from socialcrm.store.workspace import Workspace
from socialcrm.value.relationship import (
    HALF_LIFE_DAYS,
    ITEMS,
    RECENCY_FLOOR,
    WEIGHTS,
    relationship_scores,
)
from tests.targeting.brand import ScoredBrand, scored_brand

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _table(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(
        [{f.name: r.get(f.name) for f in schema} for r in rows], schema=schema
    )


def _write(ws: Workspace, old_days: int = 0) -> None:
    """'full' shared everything on one record, 'bare' only a name on another."""
    full = {
        "customer_id": "shop:1", "source": "shop", "created_at": T0,
        "first_name": "Ada", "last_name": "L", "birth_date": T0.date(), "gender": "female",
        "street": "s", "city": "c", "postcode": "1", "country": "DE",
        "interests": "a;b;c;d", "occupation": "x", "preferred_channel": "email",
        "preferred_social_sites": "twitter", "contact_frequency": "weekly",
        "reviews_written": 5, "surveys_answered": 3,
    }  # fmt: skip
    bare = {
        "customer_id": "shop:2", "source": "shop",
        "created_at": T0 - timedelta(days=old_days), "first_name": "B", "last_name": "C",
    }  # fmt: skip
    ws.warehouse.write("customers", _table(CUSTOMERS.arrow_schema, [full, bare]))
    ids = [
        {"customer_id": "shop:1", "kind": k, "value": v, "source": "shop", "verified": True,
         "last_seen": T0}
        for k, v in (("email", "a@x"), ("phone", "+49"), ("twitter", "ada"), ("bluesky", "ada"))
    ]  # fmt: skip
    ws.warehouse.write("identities", _table(IDENTITIES.arrow_schema, ids))
    cons = [
        {"customer_id": "shop:1", "purpose": p, "status": "granted", "recorded_at": T0}
        for p in ("email_marketing", "social_linking", "profiling")
    ]
    # a withdrawal after the grant: the grant is no longer in force
    cons.append(
        {"customer_id": "shop:1", "purpose": "profiling", "status": "withdrawn",
         "recorded_at": T0 + timedelta(seconds=1)}
    )  # fmt: skip
    ws.warehouse.write("consents", _table(CONSENTS.arrow_schema, cons))
    events = ["sent"] * 4 + ["open"] * 2 + ["click"]
    touches = [
        {"touch_id": f"t{i}", "customer_id": "shop:1", "channel": "email", "event": e, "at": T0}
        for i, e in enumerate(events)
    ]
    ws.warehouse.write("touches", _table(TOUCHES.arrow_schema, touches))


def test_four_ps_formula_by_hand(ws: Workspace) -> None:
    _write(ws, old_days=2 * int(HALF_LIFE_DAYS))
    df = relationship_scores(ws).execute().set_index("customer_id")
    full, bare = df.loc["shop:1"], df.loc["shop:2"]
    # full: every personal item; interests capped at 3, two handles; 2 of 6 purposes in
    # force (profiling was withdrawn); opens 2/4, clicks 1/2, no replies, reviews and
    # surveys capped at 3
    expected = {
        "personal": 1.0,
        "profile": 1.0,
        "preferential": (1 + 1 + 1 + 2 / 6) / 4,
        "performance": (0.5 + 0.5 + 0 + 1 + 1) / 5,
    }
    for p, v in expected.items():
        assert full[f"{p}_depth"] == pytest.approx(v)
    depth = sum(WEIGHTS[p] * v for p, v in expected.items())
    assert full.relationship_value == pytest.approx(100 * depth, abs=0.01)  # shared today
    # bare: a name only (1 of 7 personal items), shared two half-lives before the latest
    assert bare.personal_depth == pytest.approx(1 / len(ITEMS["personal"]))
    assert bare.profile_depth == bare.preferential_depth == bare.performance_depth == 0
    factor = RECENCY_FLOOR + (1 - RECENCY_FLOOR) * 0.25
    assert bare.recency_factor == pytest.approx(factor)
    assert bare.relationship_value == pytest.approx(
        100 * WEIGHTS["personal"] / len(ITEMS["personal"]) * factor, abs=0.01
    )


def test_latest_consent_per_purpose_wins_and_a_tie_needs_every_record_granted(
    ws: Workspace,
) -> None:
    """The status in force per person and purpose is the latest; when the person's records
    disagree at that same latest moment the purpose is not granted, and the moment it was
    last granted is the latest moment of a purpose in force."""
    _write(ws)
    cons = [
        # email_marketing: refused, then granted later: in force from T0 + 2 s
        {"customer_id": "shop:1", "purpose": "email_marketing", "status": "refused",
         "recorded_at": T0},
        {"customer_id": "shop:1", "purpose": "email_marketing", "status": "granted",
         "recorded_at": T0 + timedelta(seconds=2)},
        # social_linking: granted on one record, withdrawn on the other, same moment
        {"customer_id": "shop:1", "purpose": "social_linking", "status": "granted",
         "recorded_at": T0 + timedelta(seconds=5)},
        {"customer_id": "shop:2", "purpose": "social_linking", "status": "withdrawn",
         "recorded_at": T0 + timedelta(seconds=5)},
        # profiling: granted on both records at the same latest moment
        {"customer_id": "shop:1", "purpose": "profiling", "status": "withdrawn",
         "recorded_at": T0},
        {"customer_id": "shop:1", "purpose": "profiling", "status": "granted",
         "recorded_at": T0 + timedelta(seconds=1)},
        {"customer_id": "shop:2", "purpose": "profiling", "status": "granted",
         "recorded_at": T0 + timedelta(seconds=1)},
    ]  # fmt: skip
    ws.warehouse.write("consents", _table(CONSENTS.arrow_schema, cons))
    person = pa.table({"record_id": ["shop:1", "shop:2"], "customer_id": ["p:1", "p:1"]})
    ws.warehouse.write("identity_clusters", person)
    row = relationship_scores(ws).execute().set_index("customer_id").loc["p:1"]
    assert row.p_consents == pytest.approx(2 / 6)  # email_marketing and profiling
    assert row.last_shared_at.to_pydatetime() == T0 + timedelta(seconds=2)


def test_weights_must_sum_to_one(ws: Workspace) -> None:
    _write(ws)
    with pytest.raises(ValueError, match="sum to 1"):
        relationship_scores(ws, weights={**WEIGHTS, "personal": 0.5})


def test_demo_relationship_tracks_true_engagement(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    import pandas as pd

    brand: ScoredBrand = scored_brand(tmp_path_factory.mktemp("rel"))
    with brand.open() as ws:
        rel = ws.warehouse.read_arrow("customer_relationship").to_pandas()
        people = ws.warehouse.read_arrow("identity_clusters").column("customer_id")
    assert set(rel.customer_id) == set(people.to_pylist())  # one row per person
    assert rel.relationship_value.between(0, 100).all()
    for p in WEIGHTS:
        assert rel[f"{p}_depth"].between(0, 1).all()
    truth = pd.read_csv(brand.truth / "people.csv", dtype={"person_id": str})
    rel["person_id"] = rel.customer_id.map(brand.person_of())
    m = rel.merge(truth, on="person_id")
    # engaged people (the generator's latent trait) open, click, review and answer more
    assert spearmanr(m.performance_depth, m.engagement).statistic > 0.2
    assert spearmanr(m.relationship_value, m.engagement).statistic > 0
