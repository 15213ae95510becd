"""The REST API over HTTP, with the app database on SQLite and on PostgreSQL."""

from __future__ import annotations

import httpx

from socialcrm.appdb.accounts import revoke_token
from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import ApiToken
from tests.web.conftest import BANDS, N, Site, band_of, clv_of


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
    assert values["instagram"] == "ada_insta" and "example.com" not in values["email"]
    assert "0151" not in str(masked)
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
