"""Loyalty points on a real warehouse and app database: rules, caps, tiers, idempotency."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import AuditEntry, LoyaltyEntry
from socialcrm.config import Settings
from socialcrm.pipeline import run_context
from socialcrm.programs import loyalty as L
from socialcrm.programs.events import EventFileError
from socialcrm.programs.referrals import (
    attribute,
    claims_from_touches,
    issue_codes,
    read_referrals,
)
from socialcrm.store.workspace import Workspace
from tests.appdb.test_accounts import _head_revision
from tests.programs.rewards_data import build, day, rules_file
from tests.programs.test_referrals import cli, referral_file
from tests.web.conftest import postgres_url

__all__ = ["postgres_url"]  # the throwaway PostgreSQL fixture of the web tests


def events_file(path: Path) -> Path:
    d = day(3).isoformat()
    rows = [
        {"event_id": f"R{i}", "kind": "review", "customer_id": "c3", "at": d} for i in range(4)
    ]  # four reviews on one day: the daily cap of 3 holds the fourth
    rows += [
        {"event_id": "R9", "kind": "review", "customer_id": "c2", "at": d},  # ana's 2nd record
        {"event_id": "I1", "kind": "idea_shipped", "platform": "twitter", "handle": "@Dee_TW",
         "at": day(7).isoformat()},  # dee consented to social linking
        {"event_id": "I2", "kind": "idea_shipped", "platform": "twitter", "handle": "ben_tw",
         "at": day(7).isoformat()},  # ben did not: nothing ties the handle to him
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def award_all(ws: Workspace, db: AppDB, rules: L.Rules, events: Path) -> L.AwardReport:
    """One run of everything the CLI's `loyalty award` does."""
    with db.session() as s:
        awards, unlinked = L.file_awards(ws, events, rules)
        awards += L.purchase_awards(ws, rules)
        reshares, n = L.reshare_awards(ws, rules)
        awards += reshares
        awards += L.referral_awards(ws, s, rules)
        report = L.award(s, awards, rules)
        report.unlinked = unlinked + n
        return report


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, settings: Settings) -> Iterator[AppDB]:
    url = settings.resolved_database_url
    if request.param == "postgresql":
        base = request.getfixturevalue("postgres_url")
        # a database per test: the cluster is shared by the session
        name = "loy_" + request.node.name.split("[")[0][-40:].lower().replace("-", "_")
        admin = AppDB(base, run_migrations=False)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.close()
        url = base.rsplit("/", 1)[0] + "/" + name
    d = AppDB(url)
    yield d
    d.close()


def test_points_are_awarded_once_and_traceable(ws: Workspace, db: AppDB, tmp_path: Path) -> None:
    build(ws)
    rules = L.load_rules(rules_file(tmp_path))
    with db.session() as s:
        codes = issue_codes(s, ["c1", "c5"])
    refs = referral_file(tmp_path / "ref.csv", codes)
    claims, touches = read_referrals(refs)
    claims += claims_from_touches(ws, touches, 30)
    with db.session() as s:
        attribute(ws, s, claims)
    events = events_file(tmp_path / "actions.jsonl")

    first = award_all(ws, db, rules, events)
    # reviews 3 (+1 capped) + 1, idea 1, orders 6 (o1 o2 o3 o5 o6 o7) + refund o9,
    # reshare by dee 1, referrals 2
    assert first.awarded == 3 + 1 + 1 + 7 + 1 + 2
    assert first.capped == 1 and first.unlinked == 2  # ben's idea and ben's reshare
    assert dict(first.by_kind) == {
        "review": 4, "idea_shipped": 1, "purchase": 6, "refund": 1, "reshare": 1, "referral": 2,
    }  # fmt: skip

    second = award_all(ws, db, rules, events)  # replay the same orders and files
    assert second.awarded == 0 and second.points == 0 and second.capped == 0
    assert second.already_awarded == first.awarded + first.capped

    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(LoyaltyEntry)) == 16
        got = {c: L.balance(s, c, rules) for c in ("c1", "c3", "c4", "c5")}
        capped = s.scalar(select(LoyaltyEntry).where(LoyaltyEntry.event_key == "review:R3"))
        refund = s.scalar(select(LoyaltyEntry).where(LoyaltyEntry.event_key == "order:o9"))
        hist = L.history(s, "c5")
        n_audit = s.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "loyalty.award")
        )
    # ben: 100 + 10 (orders) - 40 (refund) + 3 x 50 (reviews; the 4th capped)
    assert got["c3"].balance == 220 and got["c3"].tier == "bronze"
    assert got["c3"].next_tier == "silver" and got["c3"].points_to_next == 780
    # ana's two records are one person: orders 80 + 50, review 50, referral 100
    assert got["c1"].balance == 280
    # cy: guest order by email 60 + 1200.5 rounded down
    assert got["c4"].balance == 1260 and got["c4"].tier == "silver"
    # dee: shipped idea 500, reshare 10, referral 100
    assert got["c5"].balance == 610
    assert capped.points == 0 and "daily cap of 3" in capped.note
    assert refund.kind == "refund" and refund.points == -40 and refund.source == "orders:o9"
    assert {h.event_key: h.source for h in hist} == {
        "idea_shipped:I1": "actions.jsonl:6",
        "reshare:p2": "posts:p2",
        "referral:o5": "referral_ledger:o5",
    }
    assert n_audit == 1

    # the pipeline step copies balances, tiers and referrals into the warehouse, per person
    here = Workspace(ws.settings.model_copy(update={"database_url": db.url}), ws.engine,
                     ws.warehouse)  # fmt: skip
    assert L.step_customer_rewards(here, run_context(here)) == {"customer_rewards": 4}
    rows = {r["customer_id"]: r for r in ws.warehouse.read_arrow("customer_rewards").to_pylist()}
    c1 = {k: v for k, v in rows["c1"].items() if k != "customer_id"}
    assert c1 == {
        "points_balance": 280,
        "points_earned": 280,
        "tier": "bronze",
        "referred_sales": 1,
        "referral_rewards": 5.0,
    }
    assert (rows["c4"]["tier"], rows["c5"]["referred_sales"], rows["c3"]["referred_sales"]) == (
        "silver",
        1,
        0,
    )


def test_redeem_spends_once_and_keeps_the_tier(ws: Workspace, db: AppDB, tmp_path: Path) -> None:
    build(ws)
    rules = L.load_rules()
    with db.session() as s:
        L.award(s, L.purchase_awards(ws, rules), rules)
    now = datetime(2026, 4, 1, tzinfo=UTC).replace(tzinfo=None)
    with db.session() as s:
        _, created = L.redeem(s, "c4", 1000, "V1", "voucher", rules, now)
        assert created
    with db.session() as s:
        _, created = L.redeem(s, "c4", 1000, "V1", "voucher", rules, now)  # a retry
        assert not created
        b = L.balance(s, "c4", rules)
        assert (b.balance, b.earned, b.tier) == (260, 1260, "silver")
        with pytest.raises(L.LoyaltyError, match="has 260 points, not 300"):
            L.redeem(s, "c4", 300, "V2", "", rules, now)
        with pytest.raises(L.LoyaltyError, match="already used"):
            L.redeem(s, "c3", 5, "V1", "", rules, now)
        tiers = {t["tier"]: t["members"] for t in L.tier_counts(s, rules)}
    # members: c1 (130), c3 (70), c4 (1260 earned)
    assert tiers == {"bronze": 2, "silver": 1, "gold": 0, "platinum": 0}


def test_migration_creates_the_program_tables(db: AppDB) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"referral_codes", "referral_ledger", "loyalty_ledger"} <= tables
    with db.engine.connect() as c:
        assert c.execute(text("select version_num from alembic_version")).scalar() == (
            _head_revision()  # later migrations move the head past 0002_programs
        )


def test_rules_and_events_are_checked(tmp_path: Path, ws: Workspace) -> None:
    bad = tmp_path / "rules.toml"
    bad.write_text("[actions.review]\npoints = -5\n[[tiers]]\nname='a'\nmin_points=0\n")
    with pytest.raises(L.LoyaltyError, match=r"rules.toml: actions.review.points: must be"):
        L.load_rules(bad)
    bad.write_text("[[tiers]]\nname='a'\nmin_points=10\n")
    with pytest.raises(L.LoyaltyError, match="lowest tier must start at min_points = 0"):
        L.load_rules(bad)
    ev = tmp_path / "ev.csv"
    ev.write_text("event_id,kind,customer_id,at\nE1,like,c1,2026-03-01\n")
    with pytest.raises(EventFileError, match=r"ev.csv: line 2: field 'kind': unknown action"):
        L.file_awards(ws, ev, L.load_rules())


def test_cli_award_twice_balance_history(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Workspace.open(Settings(home=home)) as ws:
        build(ws)
    ev = events_file(tmp_path / "actions.jsonl")
    first = cli(home, "loyalty", "award", "--events", str(ev), "--json")
    again = cli(home, "loyalty", "award", "--events", str(ev), "--json")
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a["awarded"] > 0 and b["awarded"] == 0 and b["points"] == 0
    assert b["already_awarded"] == a["awarded"] + a["capped"]
    bal = json.loads(cli(home, "loyalty", "balance", "c3", "--json").stdout)
    assert bal["balance"] == 220 and bal["tier"] == "bronze"
    hist = json.loads(cli(home, "loyalty", "history", "c3", "--json").stdout)
    assert len(hist) == 7 and {h["kind"] for h in hist} == {"purchase", "refund", "review"}
    r = cli(home, "loyalty", "redeem", "c3", "500", "--key", "V1")
    assert r.exit_code == 2 and "has 220 points, not 500" in r.stderr
    assert "Traceback" not in r.output
    tiers = json.loads(cli(home, "loyalty", "tiers", "--json").stdout)
    assert tiers["rules"]["actions"]["review"] == {"points": 50, "daily_cap": 3}


@pytest.mark.parametrize("cmd", ["award", "balance", "history", "redeem", "tiers"])
def test_help_has_an_example(tmp_path: Path, cmd: str) -> None:
    r = cli(tmp_path, "loyalty", cmd, "--help")
    assert r.exit_code == 0 and "Example:" in r.stdout
