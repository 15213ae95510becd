"""The Queries page and ``/api/v1/listening/queries`` on a real server over the web tests'
known warehouse: 30 posts ``post number i about the Aurora lamp`` (post 0 is an XSS
string, post 29 spam), bluesky when i is even, instagram when odd, topic i % 2."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from socialcrm.config import Settings
from tests.web.conftest import PASSWORD, XSS, Site, build_warehouse, seed_users, serve, sign_in

SOURCES = ["mastodon:https://mastodon.social", "bluesky:https://public.api.bsky.app"]


@pytest.fixture(scope="module")
def qsite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    home = tmp_path_factory.mktemp("queries") / "ws"
    build_warehouse(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0)
    tokens = seed_users(settings.resolved_database_url)
    for url in serve(settings):
        yield Site(url, settings, tokens, settings.resolved_database_url)


def _csrf(c: httpx.Client, path: str = "/queries") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', c.get(path).text)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_api_roles_crud_and_preview(qsite: Site) -> None:
    body = {"name": "lamp", "terms": "aurora -alert", "sources": SOURCES, "lang": None}
    with qsite.api("viewer") as v, qsite.api("agent") as ag, qsite.api("analyst") as an:
        assert v.post("/api/v1/listening/queries", json=body).status_code == 403
        assert ag.post("/api/v1/listening/queries", json=body).status_code == 403
        made = an.post("/api/v1/listening/queries", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["sources"] == SOURCES
        assert an.post("/api/v1/listening/queries", json=body).status_code == 400  # same name
        listed = v.get("/api/v1/listening/queries").json()["items"]
        assert [q["name"] for q in listed] == ["lamp"]
        assert v.get("/api/v1/listening/queries/nope").status_code == 404
        bad = an.post("/api/v1/listening/queries", json=body | {"name": "b", "terms": "a AND ("})
        assert bad.status_code == 400 and "position" in bad.text
        bad = an.post("/api/v1/listening/queries", json=body | {"name": "b", "sources": ["ftp:x"]})
        assert bad.status_code == 400
        bad = an.post(
            "/api/v1/listening/queries", json=body | {"name": "b", "sources": ["rss:file:///etc"]}
        )
        assert bad.status_code == 400
        assert v.patch("/api/v1/listening/queries/lamp", json={"lang": "en"}).status_code == 403
        changed = an.patch(
            "/api/v1/listening/queries/lamp", json={"lang": "en", "needs_response": True}
        )
        assert changed.json()["lang"] == "en" and changed.json()["needs_response"] is True
        pv = v.post("/api/v1/listening/queries/preview", json={"terms": "aurora"}).json()
        # posts 1..28 (0 is the XSS string, 29 is spam): half on each platform
        assert pv["total"] == 28
        assert {d["source"]: d["posts"] for d in pv["by_source"]} == {
            "bluesky": 14,
            "instagram": 14,
        }
        assert len(pv["by_day"]) == 28 and pv["search_terms"] == ["aurora"]
        pv = v.post(
            "/api/v1/listening/queries/preview",
            json={"terms": "aurora", "sentiment": "negative", "topic_id": 1},
        ).json()
        assert pv["total"] == len([i for i in range(1, 29) if i % 2 == 1 and i % 3 == 0])
        pv = v.post(
            "/api/v1/listening/queries/preview", json={"terms": '"number 7" OR "number 12"'}
        )
        assert sorted(x["post_id"] for x in pv.json()["items"]) == ["p07", "p12"]
        assert v.post("/api/v1/listening/queries/preview", json={"terms": "(("}).status_code == 400
        assert v.delete("/api/v1/listening/queries/lamp").status_code == 403
        assert an.delete("/api/v1/listening/queries/lamp").status_code == 200
        assert v.get("/api/v1/listening/queries").json()["items"] == []


def test_session_writes_need_the_csrf_token(qsite: Site) -> None:
    c = sign_in(qsite.url, "analyst@test.io", PASSWORD)
    try:
        body = {"name": "nocsrf", "terms": "aurora", "sources": SOURCES}
        assert c.post("/api/v1/listening/queries", json=body).status_code == 403
        form = {"name": "nocsrf", "terms": "aurora", "sources": SOURCES[0]}
        assert c.post("/queries", data=form).status_code == 403
        token = _csrf(c)
        ok = c.post("/api/v1/listening/queries", json=body, headers={"X-CSRF-Token": token})
        assert ok.status_code == 201
        assert c.post("/queries/nocsrf/remove", data={}).status_code == 403
        assert c.post("/queries/nocsrf/remove", data={"csrf_token": token}).status_code == 303
    finally:
        c.close()


def test_page_builds_previews_saves_edits_and_removes(qsite: Site) -> None:
    c = sign_in(qsite.url, "analyst@test.io", PASSWORD)
    v = sign_in(qsite.url, "viewer@test.io", PASSWORD)
    try:
        page = c.get("/queries")
        assert page.status_code == 200 and "No saved queries yet" in page.text
        assert 'href="/queries"' in page.text  # in the nav
        # the preview: counts, escaped text, paging, the save form
        pv = c.get("/queries", params={"name": "lamp", "terms": "aurora OR alert",
                                       "sources": SOURCES[0]})  # fmt: skip
        assert "29 of 29 stored posts match" in pv.text
        assert XSS not in pv.text and "&lt;script&gt;" in pv.text
        assert "page 1 of 2" in pv.text and "Save this query" in pv.text
        assert len(re.findall(r'<li class="match">', pv.text)) == 20
        p2 = c.get("/queries", params={"terms": "aurora OR alert", "ppage": 2})
        assert len(re.findall(r'<li class="match">', p2.text)) == 9
        filtered = c.get("/queries", params={"terms": "aurora", "sentiment": "negative"})
        n_negative = len([i for i in range(1, 29) if i % 3 == 0])
        assert f"{n_negative} of " in filtered.text
        bad = c.get("/queries", params={"terms": "aurora AND (lamp"})
        assert "this parenthesis is never closed at position 12" in bad.text
        nothing = c.get("/queries", params={"terms": "zebra"})
        assert "No stored post matches" in nothing.text
        # save it (as the preview's form posts it), then it is listed
        token = _csrf(c)
        saved = c.post("/queries", data={"csrf_token": token, "name": "lamp", "terms": "aurora",
                                         "sources": ",".join(SOURCES), "lang": "",
                                         "needs_response": "on"})  # fmt: skip
        assert saved.status_code == 303, saved.text
        listed = c.get("/queries").text
        assert "lamp" in listed and "bluesky:https://public.api.bsky.app" in listed
        opened = c.get("/queries", params={"edit": "lamp"}).text
        assert "Change “lamp”" in opened and "Save changes" in opened
        form = {"csrf_token": token, "name": "lamp", "terms": "aurora -alert",
                "sources": SOURCES[0], "lang": "en"}  # fmt: skip
        edited = c.post("/queries/lamp/edit", data=form)
        assert edited.status_code == 303
        with qsite.api("viewer") as api:
            q = api.get("/api/v1/listening/queries/lamp").json()
        assert q == {"name": "lamp", "terms": "aurora -alert", "sources": SOURCES[:1],
                     "lang": "en", "needs_response": False, "posts": 0}  # fmt: skip
        # a viewer reads and previews, without the forms that write
        seen = v.get("/queries", params={"edit": "lamp"}).text
        assert "lamp" in seen and "Remove</button>" not in seen and "Save this" not in seen
        assert v.post("/queries/lamp/remove", data={"csrf_token": _csrf(v)}).status_code == 403
        assert c.post("/queries/lamp/remove", data={"csrf_token": token}).status_code == 303
        assert "No saved queries yet" in c.get("/queries").text
    finally:
        c.close()
        v.close()
