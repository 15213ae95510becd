"""Incremental runs on a demo brand: after a day of new orders and posts, a run redoes
only the steps that read what changed, and its tables equal a full run's on the same
inputs at the same as-of (issue 21, item 4)."""

from __future__ import annotations

import csv
import json
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.config import Settings
from socialcrm.demo import LOAD_ORDER
from socialcrm.pipeline import APP_DATABASE, STEPS, StepResult, run_pipeline
from socialcrm.store.ingest import ingest_file
from socialcrm.store.schemas import INPUT_TABLES
from socialcrm.store.workspace import Workspace
from tests.digests import TOLERANCE, VOLATILE

CUSTOMERS = 300
SEED = 0
SHARE = 0.01
"""About a day of new data: 1% more orders and posts (at least a few of each)."""
AS_OF = datetime(2026, 7, 3, 9, 0, tzinfo=UTC)
"""The as-of of every run here, after the brand's last day and the appended one."""
NOT_DERIVED = {*INPUT_TABLES, "ingest_log", "rejects"}


@dataclass
class Runs:
    incremental: Workspace
    full: Workspace
    first: list[StepResult]
    second: list[StepResult]
    third: list[StepResult]
    from_scratch: list[StepResult]


def _one_more_day(inputs: dict[str, Path], out: Path) -> dict[str, Path]:
    """About 1% new orders and posts, copies of the latest ones a day later, new ids."""
    out.mkdir(parents=True)
    with inputs["orders"].open(newline="") as f:
        orders = list(csv.DictReader(f))
    n = max(3, math.ceil(len(orders) * SHARE))
    new_orders = []
    for i, row in enumerate(orders[-n:]):
        at = datetime.fromisoformat(row["ordered_at"].replace("Z", "+00:00"))
        new_orders.append(
            {**row, "order_id": f"NEW-{i}", "ordered_at": (at + timedelta(days=1)).isoformat()}
        )
    with (out / "orders.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(orders[0]))
        w.writeheader()
        w.writerows(new_orders)
    posts = [json.loads(line) for line in inputs["posts"].read_text().splitlines() if line]
    top = [p for p in posts if not p.get("reply_to_post_id") and not p.get("reshare_of_post_id")]
    k = max(5, math.ceil(len(posts) * SHARE))
    lines = []
    for i, post in enumerate(top[-k:]):
        at = datetime.fromisoformat(post["created_at"].replace("Z", "+00:00"))
        new = {**post, "post_id": f"new-{i}", "created_at": (at + timedelta(days=1)).isoformat()}
        new["url"] = None
        lines.append(json.dumps(new))
    (out / "posts.jsonl").write_text("\n".join(lines) + "\n")
    return {"orders": out / "orders.csv", "posts": out / "posts.jsonl"}


def _workspace(home: Path, catalogue: Path) -> Workspace:
    home.mkdir(parents=True)
    shutil.copy(catalogue, home / "catalogue.json")
    return Workspace.open(Settings(home=home, engine="duckdb"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    from socialcrm.synth.brand import generate_brand

    root = tmp_path_factory.mktemp("incremental")
    files = generate_brand(root / "brand", customers=CUSTOMERS, seed=SEED)
    day = _one_more_day(files.inputs, root / "day")
    catalogue = root / "catalogue.json"
    catalogue.write_text(resources.files("socialcrm.synth").joinpath("catalogue.json").read_text())
    inc = _workspace(root / "incremental", catalogue)
    full = _workspace(root / "full", catalogue)
    try:
        for table in LOAD_ORDER:
            ingest_file(inc, table, files.inputs[table])
            ingest_file(full, table, files.inputs[table])
        first = run_pipeline(inc, started_at=AS_OF)
        # the topic model listening saved and reuses (so topics stay comparable): the full
        # run gets the same one, as it would keep it across runs; caches are not copied
        shutil.copytree(inc.settings.home / "models", full.settings.home / "models")
        for table, path in day.items():
            ingest_file(inc, table, path)
            ingest_file(full, table, path)
        second = run_pipeline(inc, started_at=AS_OF)
        third = run_pipeline(inc, started_at=AS_OF)
        from_scratch = run_pipeline(full, started_at=AS_OF, full=True)
        yield Runs(inc, full, first, second, third, from_scratch)
    finally:
        inc.close()
        full.close()
        shutil.rmtree(root, ignore_errors=True)


def _skipped(results: list[StepResult]) -> dict[str, str]:
    return {r.name: r.skipped for r in results if r.skipped}


def test_the_day_after_only_steps_reading_new_rows_rerun(runs: Runs) -> None:
    missing = {"learning": "missing campaigns"}  # the demo brand has no campaigns
    assert _skipped(runs.first) == missing  # nothing recorded yet: everything else ran
    skipped = _skipped(runs.second)
    # customers, identities, consents, follows and touches are as they were
    assert skipped == {
        "identities": "unchanged since run 1",
        "households": "unchanged since run 1",
        "relationship": "unchanged since run 1",
        **missing,
    }
    why = {r.name: r.why for r in runs.second if not r.skipped}
    assert why["rfm"].startswith("calibration_end changed")  # the new orders' day
    assert why["listening"] == why["amplifiers"] == "posts changed"
    assert why["transaction_scores"] == "customer_rfm changed"
    assert why["inbox"] == why["rewards"] == APP_DATABASE


def test_the_incremental_tables_equal_a_full_runs(runs: Runs) -> None:
    inc = {t.name: t.version for t in runs.incremental.warehouse.tables()}
    full = {t.name: t.version for t in runs.full.warehouse.tables()}
    assert inc.keys() == full.keys()
    derived = sorted(set(inc) - NOT_DERIVED)
    assert len(derived) > 20
    for table in [*sorted(INPUT_TABLES & inc.keys()), *derived]:
        got, want = _rows(runs.incremental, table), _rows(runs.full, table)
        assert len(got) == len(want), f"{table}: {len(got)} rows, a full run {len(want)}"
        for a, b in zip(got, want, strict=True):
            assert a[0] == b[0], f"{table} differs from a full run's: {a[0]} != {b[0]}"
            close = all(_close(x, y) for x, y in zip(a[1], b[1], strict=True))
            assert close, f"{table} differs from a full run's: {a} != {b}"


def test_a_run_without_new_data_skips_all_but_the_app_database_steps(runs: Runs) -> None:
    skipped = _skipped(runs.third)
    ran = {r.name for r in runs.third if not r.skipped}
    missing = {name for name, why in skipped.items() if why.startswith("missing")}
    assert ran == {s.name for s in STEPS if s.always} - missing
    assert {skipped[name] for name in set(skipped) - missing} == {
        "unchanged since run 1",
        "unchanged since run 2",
    }


def test_a_changed_rules_file_reruns_and_full_reruns_all(runs: Runs, tmp_path: Path) -> None:
    ws = runs.incremental
    assert _skipped(run_pipeline(ws, ["segments", "rfm"], started_at=AS_OF)).keys() == {
        "segments",
        "rfm",
    }
    rules = tmp_path / "rules.toml"
    shipped = resources.files("socialcrm.targeting").joinpath("rules.toml").read_text()
    rules.write_text(shipped + "\n# a brand's own copy\n")
    ws.settings = ws.settings.model_copy(update={"targeting_rules": rules})
    [segments] = run_pipeline(ws, ["segments"], started_at=AS_OF)
    assert (segments.skipped, segments.why) == (None, "the settings changed")
    rules.write_text(rules.read_text() + "# edited\n")
    [segments] = run_pipeline(ws, ["segments"], started_at=AS_OF)
    assert (segments.skipped, segments.why) == (None, "rules.toml changed")
    forced = run_pipeline(ws, ["segments", "rfm"], started_at=AS_OF, full=True)
    assert [(r.skipped, r.why) for r in forced] == [(None, "--full")] * 2


def test_under_the_graph_threshold_the_graph_is_kept_and_communities_catch_up(
    runs: Runs, tmp_path: Path
) -> None:
    """A few posts more, under a lenient threshold: connecting and amplifiers keep their
    graph; the community summaries are brought up to date on the kept communities."""
    home = tmp_path / "copy"
    shutil.copytree(runs.incremental.settings.home, home)
    lenient = Settings(home=home, engine="duckdb", incremental_graph_threshold=0.05)
    with Workspace.open(lenient) as ws:
        run_pipeline(ws, started_at=AS_OF)  # records this home and settings (a new place)
        posts = ws.warehouse.read_arrow("posts")
        extra = posts.slice(0, 3).to_pylist()
        lines = []
        for i, post in enumerate(extra):
            at = post["created_at"] + timedelta(hours=1)
            lines.append(json.dumps({**post, "post_id": f"extra-{i}", "created_at": at.isoformat(),
                                     "url": None}, default=str))  # fmt: skip
        (tmp_path / "extra.jsonl").write_text("\n".join(lines) + "\n")
        ingest_file(ws, "posts", tmp_path / "extra.jsonl")
        assert ws.warehouse.rows("posts") == posts.num_rows + 3
        results = {r.name: r for r in run_pipeline(ws, started_at=AS_OF)}
        for graph_step in ("connecting", "amplifiers"):
            assert "under the threshold" in (results[graph_step].skipped or "")
        assert results["listening"].why == "posts changed"
        assert results["communities"].why == "posts_enriched changed"
        structure = ws.warehouse.read_arrow("community_structure").to_pandas()
        communities = ws.warehouse.read_arrow("communities").to_pandas()
        assert len(communities) == len(structure) > 0
        kept = structure.set_index("community_id")
        assert communities.set_index("community_id")["size"].equals(kept["size"])


def _rows(ws: Workspace, table: str) -> list[tuple[str, list[float]]]:
    """A table's rows in a canonical order: the exact columns as text and the floats apart
    (compared within the digests' tolerance: embeddings of posts read from the cache and
    ones computed afresh differ in the last bits of float32). Columns the demo digests
    call volatile are left out: when an id was first given (a fresh workspace's are its
    own run's) and the amplifier seeds' order (sampled on several threads)."""
    data = ws.warehouse.read_arrow(table)
    data = data.drop_columns([c for c in VOLATILE.get(table, ()) if c in data.column_names])
    floats = [c for c in data.column_names if pa.types.is_floating(data.schema.field(c).type)]
    exact = data.drop_columns(floats).to_pylist()
    numbers = data.select(floats).to_pylist()
    rows = [
        (json.dumps(e, sort_keys=True, default=str), [_number(n[c]) for c in floats])
        for e, n in zip(exact, numbers, strict=True)
    ]
    return sorted(rows, key=lambda r: (r[0], [float(f"{x:.4g}") for x in r[1]]))


def _close(x: float, y: float) -> bool:
    both_nan = math.isnan(x) and math.isnan(y)
    return both_nan or math.isclose(x, y, rel_tol=TOLERANCE, abs_tol=1e-9)


def _number(value: float | None) -> float:
    return math.nan if value is None else value
