"""The admin page shows each scoring run: how it ended, how long, what each step did."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest

from socialcrm import pipeline
from socialcrm.config import Settings
from socialcrm.pipeline import Step, run_pipeline
from socialcrm.store.workspace import Workspace
from tests.web.conftest import seed_users, serve, sign_in


def test_admin_page_lists_runs_in_words(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(home=tmp_path / "ws")
    seed_users(settings.resolved_database_url)

    def writes(ws: object, ctx: object) -> dict[str, int]:
        return {"customer_rfm": 1234}

    def breaks(ws: object, ctx: object) -> dict[str, int]:
        raise ValueError("orders.amount has text where a number belongs")

    with Workspace.open(settings) as ws:
        monkeypatch.setattr(pipeline, "STEPS", [Step("rfm", "RFM", writes, needs=())])
        run_pipeline(ws)
        monkeypatch.setattr(
            pipeline,
            "STEPS",
            [Step("rfm", "RFM", writes, needs=()), Step("identities", "ids", breaks, needs=())],
        )
        with pytest.raises(ValueError):
            run_pipeline(ws)
    for url in serve(settings):
        with closing(sign_in(url, "admin@test.io")) as c:
            page = c.get("/admin").text
        with closing(sign_in(url, "analyst@test.io")) as c:
            assert c.get("/admin").status_code == 403
    assert page.count("<summary>") >= 2
    assert "failed at identities" in page and "finished" in page
    assert "ValueError: orders.amount has text where a number belongs" in page
    assert "customer_rfm (1,234)" in page
