"""Referral program on a real warehouse and app database: codes, attribution, fraud guards."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from socialcrm.appdb.db import AppDB
from socialcrm.appdb.models import AuditEntry, ReferralEntry
from socialcrm.cli import app
from socialcrm.config import Settings, get_settings
from socialcrm.programs.events import EventFileError
from socialcrm.programs.referrals import (
    ALPHABET,
    attribute,
    claims_from_touches,
    issue_codes,
    leaderboard,
    read_referrals,
    referrer_persons,
)
from socialcrm.store.workspace import Workspace
from tests.programs.rewards_data import build, day


@pytest.fixture
def db(settings: Settings):  # type: ignore[no-untyped-def]
    d = AppDB(settings.resolved_database_url)
    yield d
    d.close()


def referral_file(path: Path, codes: dict[str, str]) -> Path:
    a, d = codes["c1"], codes["c5"]
    path.write_text(
        "order_id,code,customer_id,email,at\n"
        f"o1,{a},,,\n"  # ben buys with ana's code
        f"o2,{a.lower()},,,\n"  # ana's second record uses ana's code (lower case still reads)
        f"o3,{a},,,\n"  # ana uses her own code
        f"o4,{d},,,\n"  # cancelled
        "o7,ZZZZ2222,,,\n"  # nobody's code
        f"o8,{a},,,\n"  # no such order
        f"o1,{d},,,\n"  # o1 claimed again: the first claim wins
        f",{d},,CY@x.com,{day(10).isoformat()}\n"  # cy clicks dee's link...
        f",{a},,cy@x.com,{day(11).isoformat()}\n"  # ...then ana's: first touch wins
    )
    return path


def run_file(ws: Workspace, db: AppDB, path: Path):  # type: ignore[no-untyped-def]
    claims, touches = read_referrals(path)
    claims += claims_from_touches(ws, touches, ws.settings.referral_window_days)
    with db.session() as s:
        return attribute(ws, s, claims)


def test_codes_are_stable_unique_and_from_the_safe_alphabet(db: AppDB) -> None:
    ids = [f"shop:{i}" for i in range(2000)]
    with db.session() as s:
        first = issue_codes(s, ids)
    with db.session() as s:
        again = issue_codes(s, [*ids[:10], "shop:new"])
    assert len(set(first.values())) == 2000
    assert all(len(c) == 8 and set(c) <= set(ALPHABET) for c in first.values())
    assert {k: again[k] for k in ids[:10]} == {k: first[k] for k in ids[:10]}
    assert again["shop:new"] not in first.values()


def test_attribution_rewards_once_and_refuses_with_reasons(
    ws: Workspace, db: AppDB, tmp_path: Path
) -> None:
    build(ws)
    with db.session() as s:
        codes = issue_codes(s, ["c1", "c5"])
    f = referral_file(tmp_path / "referrals.csv", codes)
    report = run_file(ws, db, f)
    assert report.rewarded == 2 and report.reward_total == pytest.approx(10.0)
    assert dict(report.refused) == {
        "same_person": 1,
        "self_referral": 1,
        "not_completed": 1,
        "unknown_code": 1,
    }
    assert report.duplicates == 1 and report.pending == 1  # o8 is not in the orders yet
    with db.session() as s:
        rows = {e.order_id: e for e in s.scalars(select(ReferralEntry))}
        assert rows["o1"].status == "rewarded" and rows["o1"].referrer_id == "c1"
        assert rows["o1"].reward == 5.0 and rows["o1"].buyer_id == "c3"
        assert rows["o5"].status == "rewarded" and rows["o5"].referrer_id == "c5"
        assert rows["o5"].via == "link" and rows["o5"].buyer_id == "c4"
        assert rows["o2"].reason == "same_person" and "c2" in rows["o2"].detail
        assert rows["o3"].reason == "self_referral" and rows["o3"].reward == 0
        assert "o6" not in rows  # cy's later order is not the referred one
        board = leaderboard(s)
    assert board == [
        {"rank": 1, "referrer_id": "c1", "person_id": "c1", "records": ["c1"],
         "referred_sales": 1, "referred_revenue": 100.0, "rewards": 5.0, "refused": 2},
        {"rank": 2, "referrer_id": "c5", "person_id": "c5", "records": ["c5"],
         "referred_sales": 1, "referred_revenue": 60.0, "rewards": 5.0, "refused": 1},
    ]  # fmt: skip

    replay = run_file(ws, db, f)  # the same file again: nothing new
    assert replay.rewarded == 0 and not replay.refused and replay.already_decided == 6
    assert replay.pending == 1
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(ReferralEntry)) == 6
        assert s.scalar(select(func.sum(ReferralEntry.reward))) == pytest.approx(10.0)

    # o8 arrives with the next orders file: the pending claim is decided now, once
    orders = ws.warehouse.read_arrow("orders")
    late = orders.slice(0, 1).to_pylist()[0] | {"order_id": "o8", "customer_id": "c4"}
    ws.warehouse.write(
        "orders", pa.concat_tables([orders, pa.Table.from_pylist([late], orders.schema)])
    )
    later = run_file(ws, db, f)
    assert later.rewarded == 1 and later.pending == 0 and later.already_decided == 6
    assert run_file(ws, db, f).rewarded == 0
    with db.session() as s:
        assert s.scalar(select(func.sum(ReferralEntry.reward))) == pytest.approx(15.0)
        audits = s.scalars(
            select(AuditEntry.detail).where(AuditEntry.action == "referrals.attribute")
        ).all()
    assert [a["rewarded"] for a in audits] == [2, 1]  # replays changed nothing to audit


@pytest.mark.parametrize("with_clusters", [True, False])
def test_second_identity_of_the_referrer_is_refused_only_when_resolved(
    settings: Settings, tmp_path: Path, with_clusters: bool
) -> None:
    """Ana (c1) buys with the code of her other record (c2): identity resolution is what
    tells the two records apart from two friends."""
    with Workspace.open(settings) as ws:
        build(ws, with_clusters=with_clusters)
        db = AppDB(settings.resolved_database_url)
        try:
            with db.session() as s:
                code = issue_codes(s, ["c2"])["c2"]
            f = tmp_path / "r.jsonl"
            f.write_text(json.dumps({"order_id": "o3", "code": code}) + "\n")
            report = run_file(ws, db, f)
            with db.session() as s:
                entry = s.scalar(select(ReferralEntry).where(ReferralEntry.order_id == "o3"))
        finally:
            db.close()
    if with_clusters:
        assert report.rewarded == 0 and entry.reason == "same_person"
        assert entry.detail.endswith("are one person (c1) by identity resolution")
    else:
        assert report.rewarded == 1 and entry.status == "rewarded"


def test_bad_rows_name_file_line_and_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("order_id,code,email,at\no1,ABC,,\n,ABC,cy@x.com,yesterday\n")
    with pytest.raises(EventFileError, match=r"bad.csv: line 3: field 'at': not an ISO 8601"):
        read_referrals(f)
    f.write_text("order_id,code\no1,\n")
    with pytest.raises(EventFileError, match=r"bad.csv: line 2: field 'code' is required"):
        read_referrals(f)


def cli(home: Path, *args: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(
            app, list(args), env={"SOCIALCRM_HOME": str(home), "COLUMNS": "200"}
        )
    finally:
        get_settings.cache_clear()


def test_leaderboard_ranks_people_not_records(ws: Workspace, db: AppDB, tmp_path: Path) -> None:
    """Ana holds codes on both her records (c1, c2): the board ranks her once."""
    build(ws)
    with db.session() as s:
        codes = issue_codes(s, ["c1", "c2", "c5"])
    f = tmp_path / "ref.csv"
    f.write_text(
        "order_id,code,customer_id,email,at\n"
        f"o1,{codes['c1']},,,\n"  # ben buys with ana's first code
        f"o6,{codes['c2']},,,\n"  # cy buys with ana's second code
        f"o7,{codes['c5']},,,\n"  # ben buys with dee's code
    )
    assert run_file(ws, db, f).rewarded == 3
    with db.session() as s:
        by_record = leaderboard(s)
        by_person = leaderboard(s, persons=referrer_persons(ws, s))
    assert sorted(b["referrer_id"] for b in by_record) == ["c1", "c2", "c5"]
    assert [(b["person_id"], b["records"], b["referred_sales"]) for b in by_person] == [
        ("c1", ["c1", "c2"], 2),
        ("c5", ["c5"], 1),
    ]
    assert by_person[0]["rewards"] == pytest.approx(10.0)
    assert by_person[0]["referred_revenue"] == pytest.approx(100.0 + 1200.5)


def test_cli_codes_attribute_leaderboard(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    with Workspace.open(Settings(home=home)) as ws:
        build(ws)
    r = cli(home, "referrals", "codes", "c1", "c5", "--json")
    assert r.exit_code == 0, r.output
    codes = {d["customer_id"]: d["code"] for d in json.loads(r.stdout)}
    f = referral_file(tmp_path / "ref.csv", codes)
    first = cli(home, "referrals", "attribute", str(f), "--json")
    second = cli(home, "referrals", "attribute", str(f), "--json")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert json.loads(first.stdout)["rewarded"] == 2
    assert json.loads(second.stdout) == {
        "rewarded": 0, "refused": {}, "already_decided": 6, "pending": 1,
        "duplicates_in_input": 1,
        "reward_total": 0.0, "currency": "USD",
    }  # fmt: skip
    board = json.loads(cli(home, "referrals", "leaderboard", "--json").stdout)
    assert [b["referrer_id"] for b in board] == ["c1", "c5"]
    refused = json.loads(cli(home, "referrals", "ledger", "--status", "refused", "--json").stdout)
    assert sorted(r["reason"] for r in refused) == sorted(
        ["same_person", "self_referral", "not_completed", "unknown_code"]
    )
    again = cli(home, "referrals", "codes", "c1", "--json")
    assert json.loads(again.stdout) == [{"customer_id": "c1", "code": codes["c1"]}]


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    f = tmp_path / "ref.csv"
    f.write_text("order_id,code\no1,\n")
    r = cli(home, "referrals", "attribute", str(f))
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "Traceback" not in r.output
    assert "ref.csv: line 2: field 'code' is required" in r.stderr
    missing = cli(home, "referrals", "attribute", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "no such file" in missing.stderr


@pytest.mark.parametrize("cmd", ["codes", "attribute", "ledger", "leaderboard"])
def test_help_has_an_example(tmp_path: Path, cmd: str) -> None:
    r = cli(tmp_path, "referrals", cmd, "--help")
    assert r.exit_code == 0 and "Example:" in r.stdout
