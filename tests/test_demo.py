"""The demo end to end, through the CLI a newcomer runs."""

from __future__ import annotations

import json
from pathlib import Path

from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace
from tests.conftest import Demo
from tests.digests import differences, table_digests

DIGESTS = Path(__file__).parent / "data" / "demo_300_digests.json"


def test_demo_builds_loads_and_scores_a_brand(demo_300: Demo) -> None:
    """``socialcrm demo --customers 300 --no-serve`` (run once per session, shared)."""
    run, home = demo_300.run, demo_300.home
    assert run.returncode == 0, run.stderr
    assert "demo brand ready" in run.stdout
    with Workspace.open(Settings(home=home)) as ws:
        rows = {t.name: t.rows for t in ws.warehouse.tables()}
        assert {"customers", "orders", "posts", "customer_rfm"} <= rows.keys()
        assert {"customer_transaction_scores", "posts_enriched"} <= rows.keys()
        # every input row was accepted: the demo's files are clean by construction
        assert rows.get("rejects", 0) == 0
        assert rows["posts_enriched"] == rows["posts"]
        scores = ws.warehouse.read_arrow("customer_transaction_scores")
        assert scores.num_rows > 100
        p_alive = scores.column("p_alive").to_pylist()
        assert all(p is None or 0.0 <= p <= 1.0 for p in p_alive)
        # the loyalty program ran over the history: every completed order earned once
        from sqlalchemy import func, select

        from socialcrm.appdb.db import AppDB
        from socialcrm.appdb.models import LoyaltyEntry

        db = AppDB(ws.settings.resolved_database_url)
        try:
            with db.session() as s:
                kinds = dict(
                    s.execute(
                        select(LoyaltyEntry.kind, func.count()).group_by(LoyaltyEntry.kind)
                    ).all()
                )
                events = s.scalar(select(func.count(func.distinct(LoyaltyEntry.event_key))))
                lines = s.scalar(select(func.count()).select_from(LoyaltyEntry))
        finally:
            db.close()
        assert kinds.get("purchase", 0) > 100 and events == lines  # nothing awarded twice
        assert ws.warehouse.exists("customer_rewards")
    truth = home / "demo" / "truth"
    assert any(truth.iterdir())
    # Refactorings change no row: every table equals the digests stored before them
    # (regenerate with `python -m tests.digests WORKSPACE` only for an intended change).
    expected = json.loads(DIGESTS.read_text())
    changed = differences(expected, table_digests(home))
    assert not changed, f"tables differ from {DIGESTS.name}: {changed}"
