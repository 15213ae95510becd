"""Holdout campaigns: assignment, interval coverage on simulated campaigns, the report."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pytest

from socialcrm.programs.campaigns import (
    CampaignError,
    campaign_report,
    create_campaign,
    estimate_uplift,
    holdout_groups,
    simulate_campaign,
    stratified_groups,
)
from socialcrm.store.schemas import CONSENTS, ORDERS, POSTS


def test_assignment_is_deterministic_stable_and_near_its_share():
    ids = [f"c{i}" for i in range(20_000)]
    a = holdout_groups(ids, "spring", 0.2, seed=3)
    assert a == holdout_groups(ids, "spring", 0.2, seed=3)
    # adding people moves no one already assigned
    assert holdout_groups([*ids, "new1", "new2"], "spring", 0.2, seed=3)[:-2] == a
    share = a.count("control") / len(ids)
    assert abs(share - 0.2) < 4 * (0.2 * 0.8 / len(ids)) ** 0.5
    assert holdout_groups(ids, "spring", 0.2, seed=4) != a


@pytest.mark.parametrize(("base", "uplift"), [(0.03, 0.01), (0.10, 0.0), (0.02, 0.005)])
def test_interval_covers_the_true_uplift_at_its_nominal_rate(base, uplift):
    rng = np.random.default_rng(2024)
    reps, hits_rate, hits_rev = 400, 0, 0
    for _ in range(reps):
        t, c = simulate_campaign(4000, base, uplift, 0.3, rng, mean_order=50.0)
        u = estimate_uplift(t, c, 0.95)
        lo, hi = u.rate_difference_ci
        hits_rate += lo <= uplift <= hi
        lo, hi = u.revenue_difference_ci
        hits_rev += lo <= uplift * 50.0 <= hi
    # binomial sd of 400 intervals at 95%: 1.1 points; allow 3 sd either side
    for hits in (hits_rate, hits_rev):
        assert 0.917 <= hits / reps <= 0.983


def _table(schema: pa.Schema, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=schema)


@pytest.fixture
def shop(ws):
    t = datetime(2026, 3, 1)
    ws.warehouse.write(
        "consents",
        _table(
            CONSENTS.arrow_schema,
            [
                {
                    "customer_id": f"c{i}",
                    "purpose": "email_marketing",
                    "status": "granted",
                    "recorded_at": datetime(2026, 1, 1),
                    "source": "web",
                }
                for i in range(400)
            ]
            + [
                {
                    "customer_id": "c0",
                    "purpose": "email_marketing",
                    "status": "withdrawn",
                    "recorded_at": datetime(2026, 2, 1),
                    "source": "web",
                }
            ],
        ),
    )
    # the groups create_campaign will draw: c0 withdrew, so it is left out; no value bands
    consenting = [f"c{i}" for i in range(1, 400)]
    groups = dict(
        zip(consenting, stratified_groups(consenting, {}, "spring", 0.5, seed=1), strict=True)
    )
    groups["c0"] = "treatment"
    orders = []
    for i in range(400):
        cid = f"c{i}"
        # treated buy more: every 2nd treated, every 4th control buys 40 in the window
        buys = (i % 2 == 0) if groups[cid] == "treatment" else (i % 4 == 0)
        if buys:
            orders.append(
                {
                    "order_id": f"o{i}",
                    "customer_id": cid,
                    "ordered_at": t,
                    "amount": 40.0,
                    "currency": "EUR",
                    "status": "completed",
                }
            )
        orders.append(
            {
                "order_id": f"late{i}",
                "customer_id": cid,
                "ordered_at": datetime(2026, 6, 1),
                "amount": 99.0,
                "currency": "EUR",
                "status": "completed",
            }
        )
    ws.warehouse.write("orders", _table(ORDERS.arrow_schema, orders))
    ws.warehouse.write(
        "posts",
        _table(
            POSTS.arrow_schema,
            [
                {
                    "post_id": "p1",
                    "platform": "twitter",
                    "author_handle": "brand",
                    "created_at": t,
                    "text": "launch",
                },
                {
                    "post_id": "p2",
                    "platform": "twitter",
                    "author_handle": "amy",
                    "created_at": t,
                    "text": "RT",
                    "reshare_of_post_id": "p1",
                },
                {
                    "post_id": "p3",
                    "platform": "twitter",
                    "author_handle": "bob",
                    "created_at": t,
                    "text": "RT",
                    "reshare_of_post_id": "p2",
                },
            ],
        ),
    )
    return groups


def test_report_measures_the_window_against_the_holdout(ws, shop):
    counts = create_campaign(
        ws,
        "spring",
        [f"c{i}" for i in range(400)],
        starts_at=datetime(2026, 2, 15),
        ends_at=datetime(2026, 4, 1),
        holdout_share=0.5,
        seed=1,
        kind="amplifier",
        post_ids=["p1"],
    )
    assert counts["left_out_without_consent"] == 1  # c0 withdrew
    assert counts["treatment"] + counts["control"] == 399
    r = campaign_report(ws, "spring")
    kept = {c: g for c, g in shop.items() if c != "c0"}
    treated = [int(c[1:]) for c, g in kept.items() if g == "treatment"]
    control = [int(c[1:]) for c, g in kept.items() if g == "control"]
    rate_t = sum(i % 2 == 0 for i in treated) / len(treated)
    rate_c = sum(i % 4 == 0 for i in control) / len(control)
    assert r.treatment.customers == len(treated)
    assert r.rate_difference == pytest.approx(rate_t - rate_c)
    assert r.incremental_revenue == pytest.approx((rate_t - rate_c) * 40.0 * len(treated))
    assert r.rate_difference_ci[0] < r.rate_difference < r.rate_difference_ci[1]
    assert r.reach["reshares_by_hop"] == [1, 1]
    assert r.reach["distinct_resharers"] == 2


def test_unknown_and_duplicate_campaigns_are_refused(ws, shop):
    with pytest.raises(CampaignError, match="no campaigns"):
        campaign_report(ws, "nope")
    create_campaign(
        ws, "a", ["c1", "c2"], starts_at=datetime(2026, 1, 1), ends_at=datetime(2026, 2, 1)
    )
    with pytest.raises(CampaignError, match="already exists"):
        create_campaign(
            ws, "a", ["c1"], starts_at=datetime(2026, 1, 1), ends_at=datetime(2026, 2, 1)
        )
    with pytest.raises(CampaignError, match="unknown campaign"):
        campaign_report(ws, "b")
