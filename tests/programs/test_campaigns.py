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


def _segments(ws, tiers: dict[str, str]) -> None:
    """A customer_segments table with the value tier (band) of each person."""
    ws.warehouse.write(
        "customer_segments",
        pa.table(
            {
                "customer_id": list(tiers),
                "tier": list(tiers.values()),
                "segment": ["regular" if i % 3 else "new" for i in range(len(tiers))],
            }
        ),
    )


def test_holdout_is_stratified_by_value_band_deterministic_and_stable():
    rng = np.random.default_rng(11)
    ids = [f"c{i}" for i in range(1_000)]
    bands = {c: str(rng.choice(["top", "middle", "low", "prospect"], p=[0.07, 0.3, 0.3, 0.33]))
             for c in ids}  # fmt: skip
    g = stratified_groups(ids, bands, "spring", 0.1, seed=2)
    for band in set(bands.values()):
        mine = [x for c, x in zip(ids, g, strict=True) if bands[c] == band]
        # as close to the target as whole people allow: round(share × band size)
        assert mine.count("control") == int(0.1 * len(mine) + 0.5)
    assert stratified_groups(list(reversed(ids)), bands, "spring", 0.1, seed=2) == g[::-1]
    assert stratified_groups(ids, bands, "spring", 0.1, seed=3) != g
    # the audience grows: nobody assigned moves, and each band is topped up to its target
    existing = {c: (x, bands[c]) for c, x in zip(ids, g, strict=True)}
    more = [f"n{i}" for i in range(300)]
    bands.update({c: "top" for c in more})
    g2 = stratified_groups([*ids, *more], bands, "spring", 0.1, seed=2, existing=existing)
    assert g2[: len(ids)] == g
    top = [x for c, x in zip([*ids, *more], g2, strict=True) if bands[c] == "top"]
    assert top.count("control") == int(0.1 * len(top) + 0.5)


def test_a_segment_campaign_stratifies_checks_its_template_and_grows(ws, shop):
    tiers = {f"c{i}": ("top" if i < 40 else "low") for i in range(400)}
    _segments(ws, tiers)
    from socialcrm.programs.campaigns import (
        add_to_campaign,
        assignments,
        audience_for,
        get_campaign,
        list_campaigns,
    )

    people = audience_for(ws, segment="regular")
    assert people == sorted(c for i, c in enumerate(tiers) if i % 3)
    with pytest.raises(CampaignError, match="unknown segment 'vip'"):
        audience_for(ws, segment="vip")
    with pytest.raises(CampaignError, match="template"):
        create_campaign(ws, "bad", people, starts_at=datetime(2026, 3, 1),
                        ends_at=datetime(2026, 4, 1), template="{{ nmae }}",
                        subject="s")  # fmt: skip
    half = people[: len(people) // 2]
    counts = create_campaign(
        ws, "spring", half, starts_at=datetime(2026, 3, 1), ends_at=datetime(2026, 4, 1),
        holdout_share=0.25, template="<p>Hi {{ first_name }}</p>", subject="Hi",
        segment="regular", cost_per_message=0.5, fixed_cost=10.0, currency="eur",
        send_at=datetime(2026, 3, 2, 9), quiet_hours="21-8",
    )  # fmt: skip
    assert counts["left_out_without_consent"] == ("c0" in half)
    camp = get_campaign(ws, "spring")
    assert (camp["segment"], camp["currency"], camp["quiet_hours"]) == ("regular", "EUR", "21-8")
    assert camp["template"] == "<p>Hi {{ first_name }}</p>" and camp["fixed_cost"] == 10.0
    first = assignments(ws, "spring")
    t = ws.warehouse.read_arrow("campaign_assignments").to_pylist()
    for band in ("top", "low"):
        mine = [r for r in t if r["band"] == band]
        held = sum(r["grp"] == "control" for r in mine)
        assert held == int(0.25 * len(mine) + 0.5)
    grown = add_to_campaign(ws, "spring", people)
    after = assignments(ws, "spring")
    assert all(after[c] == g for c, g in first.items())  # nobody moved
    assert grown["already_assigned"] == len(half)
    assert len(after) == len(first) + grown["treatment"] + grown["control"]
    [row] = list_campaigns(ws)
    assert (row["treatment"], row["control"]) == (
        sum(g == "treatment" for g in after.values()),
        sum(g == "control" for g in after.values()),
    )


def test_report_adds_cost_return_and_engagement(ws, shop):
    from socialcrm.programs.campaigns import with_cost
    from socialcrm.store.schemas import TOUCHES

    create_campaign(ws, "spring", [f"c{i}" for i in range(400)], starts_at=datetime(2026, 2, 15),
                    ends_at=datetime(2026, 4, 1), holdout_share=0.5, seed=1,
                    cost_per_message=0.25, fixed_cost=20.0)  # fmt: skip
    treated = [c for c, g in shop.items() if g == "treatment" and c != "c0"]
    touches = [
        {"touch_id": f"email:{i}", "customer_id": c, "channel": "email", "campaign_id": "spring",
         "event": "sent", "at": datetime(2026, 2, 16)}
        for i, c in enumerate(treated)
    ] + [{"touch_id": "email:x", "customer_id": treated[0], "channel": "email",
          "campaign_id": "spring", "event": "click", "at": datetime(2026, 2, 17)}]  # fmt: skip
    ws.warehouse.write("touches", _table(TOUCHES.arrow_schema, touches))
    r = campaign_report(ws, "spring", seeding=False)
    cost = 20.0 + 0.25 * len(treated)
    assert r.messages_sent == len(treated) and r.cost == pytest.approx(cost)
    assert r.net_incremental_revenue == pytest.approx(r.incremental_revenue - cost)
    lo, hi = r.incremental_revenue_ci
    assert r.return_on_cost == pytest.approx((r.incremental_revenue - cost) / cost)
    assert r.return_on_cost_ci == pytest.approx(((lo - cost) / cost, (hi - cost) / cost))
    assert r.engagement["sent"] == len(treated) and r.engagement["click"] == 1
    assert r.currency == "EUR"
    assert with_cost(r, 0.0).return_on_cost is None


def test_tables_written_before_the_new_columns_still_read(ws, shop):
    old_campaigns = pa.table(
        {
            "campaign_id": ["old"], "name": ["old"], "kind": ["direct"], "channel": ["email"],
            "starts_at": pa.array([datetime(2026, 2, 15)], pa.timestamp("us", tz="UTC")),
            "ends_at": pa.array([datetime(2026, 4, 1)], pa.timestamp("us", tz="UTC")),
            "holdout_share": [0.5], "seed": [1], "post_ids": [""],
            "created_at": pa.array([datetime(2026, 2, 1)], pa.timestamp("us", tz="UTC")),
        }
    )  # fmt: skip
    ws.warehouse.write("campaigns", old_campaigns)
    kept = [c for c in shop if c != "c0"]
    ws.warehouse.write(
        "campaign_assignments",
        pa.table({"campaign_id": ["old"] * len(kept), "customer_id": kept,
                  "grp": [shop[c] for c in kept]}),
    )  # fmt: skip
    r = campaign_report(ws, "old")
    assert r.cost == 0.0 and r.messages_sent == 0 and r.treatment.customers > 0
    from socialcrm.programs.campaigns import list_campaigns

    [row] = list_campaigns(ws)
    assert row["template"] is None and row["treatment"] == r.treatment.customers
    # a new campaign beside the old one writes both tables in the new shape
    create_campaign(ws, "new", kept[:50], starts_at=datetime(2026, 3, 1),
                    ends_at=datetime(2026, 4, 1))  # fmt: skip
    assert {c["campaign_id"] for c in list_campaigns(ws)} == {"old", "new"}
    assert "band" in ws.warehouse.read_arrow("campaign_assignments").column_names


def test_planned_seeding_reads_the_plan_and_caps_k_at_it(ws):
    from socialcrm.programs.campaigns import planned_seeding
    from socialcrm.programs.step import AMPLIFIER_SEEDS

    none = planned_seeding(ws, 10, 9)
    assert none["amplifier_expected_reach"] is None and "no amplifier plan" in none["note"]
    rows = [
        {"rank": r, "node": f"n{r}", "customer_id": f"c{r}", "marginal_gain": g,
         "cumulative_spread": c}
        for r, g, c in ((2, 3.0, 8.0), (1, 5.0, 5.0), (3, 1.5, 9.5))
    ]  # fmt: skip
    ws.warehouse.write("amplifier_seeds", _table(AMPLIFIER_SEEDS, rows))
    two = planned_seeding(ws, 2, 2)  # fewer messages than seeds: the best two
    assert (two["amplifier_seeds"], two["amplifier_expected_reach"]) == (2, 8.0)
    many = planned_seeding(ws, 1_000, 990)  # more messages than the plan holds: all three
    assert (many["amplifier_seeds"], many["amplifier_expected_reach"]) == (3, 9.5)
    assert many["blast_reach"] == 990 and many["planned_only"] is True
