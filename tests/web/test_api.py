"""The REST API over HTTP, with the app database on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx
import pytest

from socialcrm.appdb.accounts import revoke_token
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import ApiToken
from tests.web.conftest import (
    BANDS,
    EMAIL_GRANTED,
    LOYALTY,
    REFERRALS,
    RUN_DATES,
    SEGMENT_ACTION,
    XSS,
    FullSite,
    N,
    Site,
    action_rows,
    band_of,
    clv_of,
    relationship_value,
    segment_of,
    segment_sizes,
    tier_of,
    trinity_of,
)


def test_no_credentials_is_401_with_an_error_body(api_site: Site) -> None:
    r = httpx.get(f"{api_site.url}/api/v1/customers")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    bad = httpx.get(f"{api_site.url}/api/v1/customers", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401


def test_customers_filter_sort_and_paginate(api_site: Site) -> None:
    with api_site.api("analyst") as c:
        body = c.get("/api/v1/customers", params={"risk_band": "high", "page_size": 5}).json()
        expected = sorted((i for i in range(50) if band_of(i) == "high"), key=clv_of, reverse=True)
        assert body["total"] == len(expected)
        assert [x["customer_id"] for x in body["items"]] == [f"c{i:03d}" for i in expected[:5]]
        page2 = c.get("/api/v1/customers", params={"risk_band": "high", "page_size": 5, "page": 2})
        assert [x["customer_id"] for x in page2.json()["items"]] == [
            f"c{i:03d}" for i in expected[5:10]
        ]
        asc = c.get("/api/v1/customers", params={"sort": "p_alive", "order": "asc"}).json()
        alive = [x["p_alive"] for x in asc["items"] if x["p_alive"] is not None]
        assert alive == sorted(alive) and asc["total"] == N
        rich = c.get("/api/v1/customers", params={"min_clv": 900}).json()
        assert rich["total"] == sum(clv_of(i) >= 900 for i in range(50))
        amps = c.get("/api/v1/customers", params={"amplifier": True}).json()
        assert {x["customer_id"] for x in amps["items"]} == {"c000", "c001", "c002"}


def test_search_by_name_and_by_email_for_agents_only(api_site: Site) -> None:
    with api_site.api("agent") as agent, api_site.api("viewer") as viewer:
        by_name = agent.get("/api/v1/customers", params={"q": "lovelace", "page_size": 200})
        assert by_name.json()["total"] == sum(i % 3 == 0 for i in range(N))
        by_email = agent.get("/api/v1/customers", params={"q": "user7@example.com"}).json()
        assert [x["customer_id"] for x in by_email["items"]] == ["c007"]
        # A viewer may not look people up by contact details.
        assert viewer.get("/api/v1/customers", params={"q": "user7@example.com"}).json() == {
            "items": [],
            "total": 0,
            "page": 1,
            "page_size": 50,
        }


def test_customer_360_and_masking_by_role(api_site: Site) -> None:
    with api_site.api("agent") as agent, api_site.api("viewer") as viewer:
        full = agent.get("/api/v1/customers/c000").json()
        masked = viewer.get("/api/v1/customers/c000").json()
    assert full["profile"]["email"] == "user0@example.com"
    assert full["profile"]["phone"] == "+4915112345678"
    assert masked["profile"]["email"] == "u•••@e•••.com"
    assert (
        masked["profile"]["phone"].endswith("78") and "151123456" not in masked["profile"]["phone"]
    )
    values = {i["kind"]: i["value"] for i in masked["identities"]}
    # social handles are masked like contacts: enough to tell them apart, not to find them
    assert values["instagram"] == "a•••" and "example.com" not in values["email"]
    assert {i["kind"]: i["value"] for i in full["identities"]}["instagram"] == "ada_insta"
    assert "0151" not in str(masked) and "ada_insta" not in str(masked)
    assert {p["author_handle"] for p in masked["posts"]} == {"a•••"}
    # Consent in force is the latest decision per purpose.
    assert {c["purpose"]: c["status"] for c in full["consents"]} == {
        "email_marketing": "withdrawn",
        "social_linking": "granted",
    }
    assert [o["order_id"] for o in full["orders"]] == ["o2", "o1"]
    assert [p["post_id"] for p in full["posts"]] == ["p02", "p01", "p00"]
    assert full["scores"]["transaction"]["clv"] == clv_of(0)
    assert full["influence"]["influence_score"] == 90.0


def test_scores_and_unknown_customer(api_site: Site) -> None:
    with api_site.api("viewer") as c:
        s = c.get("/api/v1/customers/c003/scores").json()
        assert s["transaction"]["risk_band"] == BANDS[3] and len(s["drivers"]) >= 5
        missing = c.get("/api/v1/customers/nobody")
        assert missing.status_code == 404
        assert missing.json()["error"] == {
            "status": 404,
            "code": "not_found",
            "message": "no customer 'nobody'",
        }


def test_posts_filters(api_site: Site) -> None:
    with api_site.api("viewer") as c:
        neg = c.get("/api/v1/posts", params={"sentiment": "negative", "page_size": 200}).json()
        # p00…p28 are not spam; negative ones are i % 3 == 0.
        assert neg["total"] == sum(i % 3 == 0 for i in range(29))
        entity = c.get("/api/v1/posts", params={"entity": "product:P-1"}).json()
        assert {p["post_id"] for p in entity["items"]} == {"p00", "p05", "p10", "p15", "p20", "p25"}
        window = c.get("/api/v1/posts", params={"since": "2025-01-05", "until": "2025-01-07"})
        assert [p["post_id"] for p in window.json()["items"]] == ["p06", "p05", "p04"]
        spam = c.get("/api/v1/posts", params={"include_spam": True}).json()
        assert spam["total"] == 30
        assert c.get("/api/v1/posts", params={"topic_id": 1}).json()["total"] == 15 - 1
        bad = c.get("/api/v1/posts", params={"sentiment": "angry"})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "sentiment"


def test_influence_communities_consents_segments(api_site: Site) -> None:
    with api_site.api("viewer") as c:
        infl = c.get("/api/v1/influencers", params={"amplifiers_only": True}).json()
        assert [x["customer_id"] for x in infl["items"]] == ["c000", "c001", "c002"]
        comms = c.get("/api/v1/communities").json()["items"]
        assert [x["label"] for x in comms] == ["trail runners", "night hikers"]
        cons = c.get("/api/v1/consents", params={"status": "withdrawn"}).json()
        assert [(x["customer_id"], x["purpose"]) for x in cons["items"]] == [
            ("c000", "email_marketing")
        ]
        seg = c.get("/api/v1/segments").json()
        assert seg["items"] == [] and "targeting" in seg["note"]


def test_admin_endpoints_need_admin(api_site: Site) -> None:
    with api_site.api("analyst") as analyst, api_site.api("admin") as admin:
        assert analyst.get("/api/v1/users").status_code == 403
        users = admin.get("/api/v1/users").json()["items"]
        assert {u["role"] for u in users} >= {"viewer", "agent", "analyst", "admin"}
        actions = {a["action"] for a in admin.get("/api/v1/audit").json()["items"]}
        assert {"user.create", "token.create"} <= actions


def test_revoked_token_stops_working(api_site: Site) -> None:
    db = AppDB(api_site.db_url)
    from socialcrm.appdb.accounts import create_token

    with db.session() as s:
        row, secret = create_token(s, "analyst@test.io", "short-lived")
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(f"{api_site.url}/api/v1/me", headers=headers).json()["role"] == "analyst"
    with db.session() as s:
        revoke_token(s, row.id, actor="test")
        assert s.get(ApiToken, row.id).revoked_at is not None
    db.close()
    assert httpx.get(f"{api_site.url}/api/v1/me", headers=headers).status_code == 401


# -- targeting, segments, audiences and programs (the full site) -------------------------
def test_360_has_trinity_actions_segment_community_and_activity(full_api_site: FullSite) -> None:
    ids = full_api_site.ids
    with full_api_site.api("agent") as agent, full_api_site.api("viewer") as viewer:
        full = agent.get("/api/v1/customers/c000", params={"include_activity": True}).json()
        masked = viewer.get("/api/v1/customers/c000/activity").json()
        c004 = agent.get("/api/v1/customers/c004").json()
        scores = viewer.get("/api/v1/customers/c004/scores").json()
        assert "ideas" not in c004  # the hot 360 stays in memory unless asked
        assert agent.get("/api/v1/customers/c000/activity").json() == {
            k: full[k] for k in ("ideas", "conversations")
        }
        assert viewer.get("/api/v1/customers/nobody/activity").status_code == 404
    s = full["scores"]
    assert s["composite"] == trinity_of(0) and s["axes"] == "TRI" and s["unknown"] == {}
    assert s["relationship"]["value"] == relationship_value(0)
    assert [p["points"] for p in s["relationship"]["parts"]] == [16.0, 10.0, 5.0, 0.0]
    assert s["influence"]["value"] == 90.0 and s["influence"]["community_role"] == "bridge"
    assert scores["influence"]["known"] is False
    assert scores["influence"]["reason"] == "no social_linking consent"
    assert scores["composite"] == trinity_of(4) and scores["transaction"]["percentile"] == 92.0
    assert full["segment"] == {
        "segment": segment_of(0),
        "reason": "rule of social_connector matched c000",
        "tier": tier_of(0),
        "tier_reason": "tier top",
    }
    assert full["next_best_action"]["action"] == SEGMENT_ACTION[segment_of(0)][0]
    assert [(a["rank"], a["action"]) for a in c004["actions"]] == [
        (1, "loyalty_thanks"),
        (2, "referral_invitation"),
    ]
    assert c004["next_best_action"]["expected_value"] == round(0.05 * clv_of(4) - 1.0, 2)
    assert full["community"] == {
        "community_id": 0,
        "role": "bridge",
        "label": "trail runners",
        "size": 6,
        "recommendation": None,
    }
    ideas = {i["id"]: i for i in full["ideas"]}
    assert set(ideas) == {ids["battery"], ids["strap"]}
    assert (ideas[ids["battery"]]["votes"], ideas[ids["battery"]]["status"]) == (3, "planned")
    assert (
        ideas[ids["battery"]]["proposed_by_customer"]
        and not ideas[ids["battery"]]["voted_by_customer"]
    )
    assert ideas[ids["strap"]]["voted_by_customer"] and ideas[ids["strap"]]["votes"] == 2
    convs = full["conversations"]
    assert [c["id"] for c in convs] == [ids["open"], ids["closed"]]  # open ones first
    assert convs[0]["last_message"] == XSS and convs[0]["state"] == "open"
    assert convs[0]["author_handle"] == "open_author" and convs[1]["messages"] == 1
    # viewers: the conversation is listed, its author and words are not
    assert [c["id"] for c in masked["conversations"]] == [ids["open"], ids["closed"]]
    assert {c["last_message"] for c in masked["conversations"]} == {"•••"}
    assert masked["conversations"][0]["author_handle"] == "o•••"


def test_customers_filter_by_segment_tier_and_trinity(full_api_site: FullSite) -> None:
    with full_api_site.api("viewer") as c:
        body = c.get(
            "/api/v1/customers",
            params={"segment": "at_risk_high_value", "sort": "trinity", "order": "asc"},
        ).json()
        expected = sorted(
            (i for i in range(N) if segment_of(i) == "at_risk_high_value"), key=trinity_of
        )
        assert body["total"] == len(expected)
        assert [x["customer_id"] for x in body["items"]] == [f"c{i:03d}" for i in expected]
        assert [x["segment"] for x in body["items"]] == ["at_risk_high_value"] * len(expected)
        rich = c.get("/api/v1/customers", params={"min_trinity": 50, "tier": "middle"}).json()
        assert rich["total"] == sum(
            trinity_of(i) >= 50 and tier_of(i) == "middle" for i in range(N)
        )
        assert c.get("/api/v1/customers", params={"min_trinity": 101}).status_code == 422


def test_segments_sizes_rules_and_trends(full_api_site: FullSite) -> None:
    with full_api_site.api("viewer") as c:
        body = c.get("/api/v1/segments").json()
    sizes = {s["segment"]: s["customers"] for s in body["items"]}
    assert sizes == segment_sizes(1) and body["note"] is None
    audience = {s["segment"]: s["audience"] for s in body["items"]}
    for seg, n in audience.items():
        assert n == sum(
            1 for i in range(N) for r in action_rows(i) if r["segment"] == seg and r["rank"] == 1
        )
    rules = {s["segment"]: s["rule"] for s in body["items"]}
    assert rules["dormant"]["reason"] == "bought before; very high risk of having left"
    assert rules["dormant"]["when"] == "risk_band == very_high"
    assert rules["dormant"]["actions"] == ["win_back"]
    for run, day in enumerate(RUN_DATES):
        on_day = {t["segment"]: t["customers"] for t in body["trends"] if t["run_date"] == str(day)}
        assert on_day == segment_sizes(run)  # the two tiers of each segment summed


def test_segment_audience_rechecks_consent_and_needs_an_analyst(full_api_site: FullSite) -> None:
    path = "/api/v1/segments/at_risk_high_value/audience"
    with full_api_site.api("analyst") as analyst, full_api_site.api("agent") as agent:
        body = analyst.get(path).json()
        # every at-risk customer has a rank-1 email action; only those whose email
        # marketing consent is in force now are exported (c014 withdrew it)
        at_risk = {f"c{i:03d}" for i in range(N) if segment_of(i) == "at_risk_high_value"}
        expected = sorted(at_risk & set(EMAIL_GRANTED))
        assert [r["customer_id"] for r in body["items"]] == expected and body["total"] == 2
        assert body["items"][0]["email"] == "user6@example.com"
        assert body["items"][0]["action"] == "retention_gesture"
        social = analyst.get("/api/v1/segments/social_connector/audience").json()
        assert [r["customer_id"] for r in social["items"]] == ["c000"]  # social_linking
        paged = analyst.get(path, params={"page": 2, "page_size": 1}).json()
        assert [r["customer_id"] for r in paged["items"]] == expected[1:]
        assert agent.get(path).status_code == 403
        missing = analyst.get("/api/v1/segments/nobody_here/audience")
        assert missing.status_code == 404 and "segments:" in missing.json()["error"]["message"]
    with full_api_site.api("admin") as admin:
        log = admin.get("/api/v1/audit").json()["items"]
    reads = [a for a in log if a["action"] == "audience.read"]
    assert reads and reads[0]["actor"] == "analyst@test.io"
    assert {a["target"] for a in reads} >= {"segment:at_risk_high_value"}


def test_programs_campaigns_referrals_and_loyalty(full_api_site: FullSite) -> None:
    with full_api_site.api("viewer") as c:
        camps = c.get("/api/v1/programs/campaigns").json()
        assert [(x["campaign_id"], x["treated"], x["held_out"]) for x in camps["items"]] == [
            ("spring", 2, 1)
        ]
        report = c.get("/api/v1/programs/campaigns/spring").json()["report"]
        # treated: c000 (o1 120.0 + o2 80.5 in the window) and c002 (nothing); held out: c001
        assert report["treatment"] == {
            "customers": 2,
            "converted": 1,
            "revenue": 200.5,
            "revenue_sq": 200.5**2,
        }
        assert (report["control"]["customers"], report["control"]["revenue"]) == (1, 10.0)
        assert report["incremental_revenue"] == pytest.approx((200.5 / 2 - 10.0) * 2)
        assert c.get("/api/v1/programs/campaigns/nope").status_code == 404
        board = c.get("/api/v1/programs/referrals/leaderboard").json()["items"]
        rewarded = {}
        for _, referrer, _status, reward in REFERRALS:
            rewarded[referrer] = rewarded.get(referrer, 0.0) + reward
        assert [(r["referrer_id"], r["rewards"]) for r in board] == sorted(
            rewarded.items(), key=lambda kv: -kv[1]
        )
        assert board[1]["refused"] == 1
        tiers = c.get("/api/v1/programs/loyalty/tiers").json()
        members = {t["tier"]: t["members"] for t in tiers["items"]}
        assert members == {"bronze": 1, "silver": 1, "gold": 0, "platinum": 0}
        account = c.get("/api/v1/programs/loyalty/c000").json()
        assert (account["balance"], account["tier"], account["next_tier"]) == (
            LOYALTY["c000"],
            "silver",
            "gold",
        )
        assert account["points_to_next"] == 5000 - LOYALTY["c000"]
        assert [h["event_key"] for h in account["history"]] == ["order:c000"]
