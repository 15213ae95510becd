"""Social activity joins a customer only while social linking is consented."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.config import Settings
from socialcrm.connecting.communities import step_communities
from socialcrm.connecting.consent import granted, in_force
from socialcrm.connecting.step import step_connecting
from socialcrm.pipeline import run_context, run_pipeline
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace


def _consents(rows: list[tuple[str, str, str, int]]) -> pa.Table:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "customer_id": [r[0] for r in rows],
            "purpose": [r[1] for r in rows],
            "status": [r[2] for r in rows],
            "recorded_at": pa.array(
                [t0 + timedelta(days=r[3]) for r in rows], pa.timestamp("us", tz="UTC")
            ),
        }
    )


def test_latest_decision_per_customer_and_purpose_wins(ws: Workspace) -> None:
    c = _consents(
        [
            ("a", "social_linking", "granted", 0),
            ("a", "social_linking", "withdrawn", 5),  # revoked later
            ("b", "social_linking", "refused", 0),
            ("b", "social_linking", "granted", 3),  # changed their mind
            ("c", "email_marketing", "granted", 0),  # another purpose
            ("d", "social_linking", "granted", 2),
            ("d", "social_linking", "withdrawn", 2),  # same instant: the stricter one
        ]
    )
    got = ws.engine.to_arrow(in_force(ws.engine.memtable(c), "social_linking"))
    assert got["customer_id"].to_pylist() == ["b"]
    with pytest.raises(ValueError, match="unknown consent purpose"):
        in_force(ws.engine.memtable(c), "mind_reading")


def test_revoking_social_linking_removes_the_join_everywhere(
    scored: Workspace, tmp_path: Path
) -> None:
    home = tmp_path / "ws"
    shutil.copytree(scored.settings.home, home)
    with Workspace.open(Settings(home=home)) as ws:
        before = ws.warehouse.read_arrow("customer_influence")
        person = before.sort_by([("influence_score", "descending")])["customer_id"][0].as_py()
        records = [
            r["record_id"]
            for r in ws.warehouse.read_arrow("identity_clusters").to_pylist()
            if r["customer_id"] == person
        ]
        handles_before = {
            (r["platform"], r["handle"])
            for r in ws.warehouse.read_arrow("handle_influence").to_pylist()
            if r["customer_id"] == person
        }
        assert handles_before
        run_pipeline(ws, ["listening"])
        linked = ws.warehouse.read_arrow("posts_enriched")["customer_id"].to_pylist()
        assert person in linked  # listening ties posts to the resolved person
        revoke = tmp_path / "revoke.csv"
        revoke.write_text(
            "customer_id,purpose,status,recorded_at,source\n"
            f"{records[0]},social_linking,withdrawn,2030-01-01T00:00:00Z,web\n"
        )
        ingest_file(ws, "consents", revoke)
        allowed = ws.engine.to_arrow(granted(ws, "social_linking", resolved=True))
        assert person not in allowed["customer_id"].to_pylist()

        step_connecting(ws, run_context(ws))
        step_communities(ws, run_context(ws))
        run_pipeline(ws, ["listening"])

        after = ws.warehouse.read_arrow("customer_influence")["customer_id"].to_pylist()
        assert person not in after
        assert len(after) == before.num_rows - 1
        handles = {
            (r["platform"], r["handle"]): r["customer_id"]
            for r in ws.warehouse.read_arrow("handle_influence").to_pylist()
        }
        # the handles are still scored, as anonymous handles, tied to no one
        assert all(handles[h] is None for h in handles_before)
        assert person not in set(handles.values())
        amplifiers = ws.warehouse.read_arrow("communities")["top_amplifiers"].to_pylist()
        assert not any(a and f"customer {person}" in a for a in amplifiers)
        assert person not in ws.warehouse.read_arrow("posts_enriched")["customer_id"].to_pylist()
