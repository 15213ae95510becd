"""What the web shows from the read model: the customer 360 and its score explanations,
charts, and the login limiter and token cache."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.store.reads import ReadModel
from socialcrm.store.warehouse import Warehouse
from socialcrm.web import views
from socialcrm.web.charts import bar_list, trend
from socialcrm.web.security import LoginLimiter, TokenCache
from tests.web.conftest import (
    SEGMENT_ACTION,
    XSS,
    N,
    build_targeting,
    build_warehouse,
    relationship_value,
    segment_of,
    trinity_of,
)


@pytest.fixture(scope="module")
def full_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    r = tmp_path_factory.mktemp("rm-full") / "warehouse"
    build_warehouse(r)
    build_targeting(r)
    return r


def test_chart_labels_are_escaped() -> None:
    svg = str(bar_list("topics", [(XSS, 3.0)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_token_cache_remembers_for_its_ttl() -> None:
    calls = []
    cache = TokenCache(ttl=60)
    for _ in range(3):
        cache.get("secret", lambda: calls.append(1))
    assert len(calls) == 1
    TokenCache(ttl=0).get("secret", lambda: calls.append(1))
    assert len(calls) == 2


def test_login_limiter_window() -> None:
    now = [0.0]
    lim = LoginLimiter(attempts=2, window=10, clock=lambda: now[0])
    lim.failed("ip:1")
    lim.failed("ip:1")
    assert lim.retry_after("ip:1") == 10 and lim.retry_after("ip:2") == 0
    now[0] = 10.5
    assert lim.retry_after("ip:1") == 0


def test_score_explanation_states_unknown_axes_and_four_ps(full_root: Path) -> None:
    rm = ReadModel(full_root)
    c = views.customer_360(rm, "c001")
    s = c["scores"]
    assert s["composite"] == trinity_of(1) and s["axes"] == "TRI"
    rel = s["relationship"]
    assert rel["value"] == relationship_value(1)
    # points per P add up to the relationship value: 100 · weight · depth · recency
    assert [p["points"] for p in rel["parts"]] == [
        16.0,
        10.0,
        5.0,
        round(100 * 0.3 * 0.25 * 0.8, 2),
    ]
    assert sum(p["points"] for p in rel["parts"]) == pytest.approx(relationship_value(1))
    assert s["influence"]["known"] and s["influence"]["percentile"] == 90.0
    unknown = views.customer_360(rm, "c004")["scores"]
    assert unknown["influence"] == {
        "known": False,
        "reason": "no social_linking consent",
        "percentile": None,
        "value": None,
        "drivers": ["unknown: no social_linking consent"],
    }
    assert unknown["axes"] == "TR" and unknown["unknown"] == {
        "influence": "no social_linking consent"
    }
    assert [a["rank"] for a in views.customer_360(rm, "c004")["actions"]] == [1, 2]
    # a customer never scored by the TRInity step says so, and relationship is not made up
    plain = views.score_explanation(rm.customer("c003"))
    assert plain["relationship"] is None and "customer_scores" in plain["note"]


def test_a_record_shows_its_resolved_persons_scores(tmp_path: Path) -> None:
    root = tmp_path / "warehouse"
    build_warehouse(root)
    build_targeting(root)
    ids = [f"c{i:03d}" for i in range(N)]
    person = {r: r for r in ids} | {"c059": "c000"}  # c059 is another record of c000
    Warehouse(root).write(
        "identity_clusters",
        pa.table({"record_id": list(person), "customer_id": list(person.values())}),
    )
    rm = ReadModel(root, recheck_seconds=0)
    c = views.customer_360(rm, "c059")
    assert c["person_id"] == "c000"
    assert c["scores"]["composite"] == trinity_of(0)
    assert c["segment"]["segment"] == segment_of(0)
    assert c["next_best_action"]["action"] == SEGMENT_ACTION[segment_of(0)][0]
    own = views.customer_360(rm, "c000")
    assert own["person_id"] is None
    # one history for the person: both records' orders and identities, each row naming
    # its record, orders newest first; consents stay the viewed record's
    assert c["records"] == own["records"] == ["c000", "c059"]
    for table, key in (("orders", "order_id"), ("identities", "value")):
        per_record = {r: {x[key] for x in rm.detail(table, r)} for r in ("c000", "c059")}
        assert per_record["c000"]  # c059 alone would show none of these
        got = {(x["record_id"], x[key]) for x in c[table]}
        assert got == {(r, v) for r, vs in per_record.items() for v in vs}
        assert {(x["record_id"], x[key]) for x in own[table]} == got
    dates = [o["ordered_at"] for o in c["orders"]]
    assert dates == sorted(dates, reverse=True)
    assert {k["customer_id"] for k in c["consent_history"]} <= {"c059"}


def test_trend_chart_draws_a_dot_per_run_and_escapes_labels() -> None:
    svg = str(trend(XSS, ["01 Jun", "01 Jul", "01 Aug"], [3, None, 5]))
    assert svg.count("<circle") == 2 and "<script>" not in svg
    assert str(trend("t", ["x"], [None])) == ""


def test_the_page_filter_ignores_blank_and_malformed_fields() -> None:
    """The page reads the API's CustomerFilter leniently: a blank box or a hand-edited bad
    value means no filter (the API answers 422 to the same)."""
    import asyncio

    from starlette.requests import Request

    from socialcrm.store.reads import CustomerFilter
    from socialcrm.web.deps import page_customer_filter

    query = b"q=&min_clv=abc&risk_band=high&community_id=3&sort=nope&order=asc&min_trinity=101"
    f = asyncio.run(page_customer_filter(Request({"type": "http", "query_string": query})))
    assert f == CustomerFilter(risk_band="high", community_id=3, order="asc")
    assert asyncio.run(page_customer_filter(Request({"type": "http", "query_string": b""}))) == (
        CustomerFilter()
    )


def test_rules_files_are_read_again_once_edited(tmp_path: Path) -> None:
    """Pages keep the segment and loyalty rules per state of their file: an edit shows on
    the next request, a broken or missing file says why, and a caller's changes to what
    it was given stay its own."""
    from importlib import resources

    from socialcrm.config import Settings

    shipped = resources.files("socialcrm.targeting").joinpath("rules.toml").read_text()
    path = tmp_path / "rules.toml"
    path.write_text(shipped)
    rules, error = views.segment_rules(path)
    assert error is None
    assert rules["dormant"]["reason"] == "bought before; very high risk of having left"
    rules["dormant"]["actions"].append("mine")
    assert "mine" not in views.segment_rules(path)[0]["dormant"]["actions"]
    path.write_text(shipped.replace("very high risk of having left", "VERY HIGH RISK OF LEAVING!!"))
    assert views.segment_rules(path)[0]["dormant"]["reason"].endswith("LEAVING!!")
    path.write_text("not = [toml")
    assert views.segment_rules(path)[0] == {} and views.segment_rules(path)[1]

    shipped = resources.files("socialcrm.programs").joinpath("loyalty_rules.toml").read_text()
    settings = Settings(home=tmp_path / "ws", loyalty_rules=tmp_path / "loyalty.toml")
    settings.loyalty_rules.write_text(shipped)
    assert views.loyalty_rules(settings).points_per_unit == 1.0
    settings.loyalty_rules.write_text(
        shipped.replace("points_per_unit = 1.0", "points_per_unit = 2.0")
    )
    assert views.loyalty_rules(settings).points_per_unit == 2.0
    settings.loyalty_rules.unlink()
    with pytest.raises(views.Unavailable):
        views.loyalty_rules(settings)


def test_page_templates_read_dict_keys_as_jinja_does() -> None:
    """The pages' quicker ``row.name`` on dicts answers as Jinja's own lookup: keys, the
    dict's methods (also where a key has a method's name), missing keys, other objects."""
    from jinja2 import Environment, StrictUndefined, UndefinedError

    from socialcrm.web.pages import TEMPLATES

    source = (
        "{{ r.name }}|{{ r.missing }}|{{ r.missing | default('none') }}|{{ r.missing is defined }}"
        "|{{ r.get('name') }}|{{ r.items is callable }}"
        "|{% for k, v in r.items() %}{{ k }}{% endfor %}"
        "|{{ o.real }}|{{ o.nothing is defined }}|{{ s.upper() }}|{{ n.name }}"
    )
    ctx = {"r": {"name": "Ada", "items": 3}, "o": 5, "s": "x", "n": None}
    plain = Environment(autoescape=True)
    assert TEMPLATES.env.from_string(source).render(ctx) == plain.from_string(source).render(ctx)
    strict = type(TEMPLATES.env)(undefined=StrictUndefined)
    with pytest.raises(UndefinedError, match="'dict object' has no attribute 'missing'"):
        strict.from_string("{{ r.missing }}").render(ctx)
