"""The per-post enrichment cache: a run enriches only posts it has not seen under the
current enrichment version, and its tables equal a from-scratch run's."""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from socialcrm.config import Settings
from socialcrm.listening.enrich import Enricher
from socialcrm.listening.step import CACHE_TABLE, step_listening
from socialcrm.listening.topic_step import topic_model_path
from socialcrm.pipeline import run_context
from socialcrm.store.schemas import POSTS
from socialcrm.store.workspace import Workspace

CATALOGUE = Path(__file__).parents[2] / "src/socialcrm/synth/catalogue.json"
COMPARED = ("posts_enriched", "post_mentions", "post_queries")

TEXTS = [
    "Love my Nordlicht jacket, best purchase this year!",
    "My Aurora headlamp battery died after two days. Really disappointed.",
    "Where is my order?? Still hasn't arrived after three weeks",
    "Nordlicht please add a spare battery option for the Aurora",
    "Great hike today, the weather was perfect and the views amazing",
    "Win a free watch now!!! click http://spam.example #giveaway",
    "Customer service at Nordlicht solved my problem in minutes, thanks",
    "The new pack is too heavy for long trips, not worth the price",
]


def posts(start: int, n: int) -> list[dict[str, object]]:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    rows: list[dict[str, object]] = []
    for i in range(start, start + n):
        rows.append(
            {
                "post_id": f"p{i:04d}",
                "platform": "twitter" if i % 3 else "mastodon",
                "author_handle": f"user{i % 37}",
                "created_at": t0 + timedelta(hours=7 * i),
                # repeated texts make duplicate groups; the number keeps most posts apart
                "text": TEXTS[i % len(TEXTS)] + ("" if i % 5 == 0 else f" day {i // 9}"),
                "lang": "en" if i % 4 else None,
                "reply_to_post_id": f"p{i - 1:04d}" if i % 11 == 0 and i > start else None,
                "reshare_of_post_id": f"p{i - 2:04d}" if i % 13 == 0 and i > start else None,
                "likes": i % 7,
                "reshares": i % 3,
                "replies": i % 2,
                "author_followers": 10 * (i % 50),
            }
        )
    return rows


def workspace(home: Path, rows: list[dict[str, object]]) -> Workspace:
    ws = Workspace.open(Settings(home=home))
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(CATALOGUE, home / "catalogue.json")
    ws.warehouse.write("posts", pa.Table.from_pylist(rows, schema=POSTS.arrow_schema))
    return ws


@pytest.fixture
def enriched_ids(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every post id that goes through the enricher, in this process."""
    seen: list[str] = []
    original = Enricher.enrich_batch

    def counting(self: Enricher, batch: pa.RecordBatch | pa.Table) -> tuple[pa.Table, pa.Table]:
        seen.extend(batch.column("post_id").to_pylist())
        return original(self, batch)

    monkeypatch.setattr(Enricher, "enrich_batch", counting)
    return seen


def sorted_rows(ws: Workspace, name: str) -> list[dict[str, object]]:
    rows = ws.warehouse.read_arrow(name).to_pylist()
    return sorted(rows, key=lambda r: (str(r.get("post_id")), str(r)))


def test_a_second_run_enriches_only_new_and_changed_posts(
    tmp_path: Path, enriched_ids: list[str]
) -> None:
    first = posts(0, 240)
    ws = workspace(tmp_path / "inc", first)
    step_listening(ws, run_context(ws))
    assert len(enriched_ids) == 240 and ws.warehouse.rows(CACHE_TABLE) == 240

    # 60 new posts, one edited (its text) and one whose author's follower count changed
    later = [dict(r) for r in first] + posts(240, 60)
    later[5]["text"] = "Edited: the Aurora is fine after the update"
    later[7]["author_followers"] = 99_999
    ws.warehouse.write("posts", pa.Table.from_pylist(later, schema=POSTS.arrow_schema))
    enriched_ids.clear()
    written = step_listening(ws, run_context(ws))
    assert sorted(enriched_ids) == sorted(
        [f"p{i:04d}" for i in range(240, 300)] + ["p0005", "p0007"]
    )
    assert written[CACHE_TABLE] == 300 and written["posts_enriched"] == 300

    # the same inputs from scratch, with the same topic model, give the same tables
    fresh = workspace(tmp_path / "fresh", later)
    topic_model_path(fresh).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(topic_model_path(ws), topic_model_path(fresh))
    # and the same sentence vectors: MiniLM's floats depend on the batch a text is in
    shutil.copytree(ws.settings.home / "cache", fresh.settings.home / "cache")
    enriched_ids.clear()
    step_listening(fresh, run_context(fresh))
    assert len(enriched_ids) == 300
    for name in COMPARED:
        a, b = sorted_rows(ws, name), sorted_rows(fresh, name)
        assert len(a) == len(b)
        differ = {k for x, y in zip(a, b, strict=True) for k in x if x[k] != y[k]}
        assert not differ, (name, differ)
    assert sorted_rows(ws, CACHE_TABLE) == sorted_rows(fresh, CACHE_TABLE)

    # nothing new: nothing enriched, the same tables again
    before = {name: sorted_rows(ws, name) for name in COMPARED}
    enriched_ids.clear()
    step_listening(ws, run_context(ws))
    assert enriched_ids == []
    assert {name: sorted_rows(ws, name) for name in COMPARED} == before

    # a changed catalogue changes the enrichment version: every post again
    catalogue = (tmp_path / "inc" / "catalogue.json").read_text()
    (tmp_path / "inc" / "catalogue.json").write_text(catalogue + "\n")
    enriched_ids.clear()
    step_listening(ws, run_context(ws))
    assert len(enriched_ids) == 300
    ws.close()
    fresh.close()


def test_a_failed_run_leaves_cache_and_tables_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(tmp_path / "ws", posts(0, 120))
    step_listening(ws, run_context(ws))
    before = {name: sorted_rows(ws, name) for name in (*COMPARED, CACHE_TABLE)}
    ws.warehouse.write("posts", pa.Table.from_pylist(posts(0, 150), schema=POSTS.arrow_schema))

    from socialcrm.store.warehouse import Transaction

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("crash between the tables")

    # the cache is staged last, after the enriched posts: a crash there publishes neither
    monkeypatch.setattr(Transaction, "write_files", broken)
    with pytest.raises(RuntimeError, match="crash between"):
        step_listening(ws, run_context(ws))
    assert {name: sorted_rows(ws, name) for name in before} == before
    ws.close()


@pytest.mark.spark
def test_on_spark_posts_are_enriched_on_the_executors_as_on_duckdb(
    tmp_path: Path, spark_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = posts(0, 150)
    ws = workspace(tmp_path / "duck", rows)
    step_listening(ws, run_context(ws))
    home = spark_ws.settings.home
    shutil.copy(CATALOGUE, home / "catalogue.json")
    topic_model_path(spark_ws).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(topic_model_path(ws), topic_model_path(spark_ws))
    shutil.rmtree(home / "cache", ignore_errors=True)
    shutil.copytree(ws.settings.home / "cache", home / "cache")
    spark_ws.warehouse.write("posts", pa.Table.from_pylist(rows, schema=POSTS.arrow_schema))

    from socialcrm.store.engine import Engine

    def not_here(*args: object, **kwargs: object) -> int:
        raise AssertionError("per-post work ran in the driver on Spark")

    # the enrichment goes through mapInArrow (tests/store/test_map_batches.py shows it
    # runs in Spark's tasks), never the in-process loop
    monkeypatch.setattr(Engine, "_local_map_batches", not_here)
    written = step_listening(spark_ws, run_context(spark_ws))
    assert written[CACHE_TABLE] == 150
    for name in COMPARED:
        a, b = sorted_rows(spark_ws, name), sorted_rows(ws, name)
        assert len(a) == len(b)
        pairs = list(zip(a, b, strict=True))
        differ = {k for x, y in pairs for k in x if not _same(x[k], y[k])}
        worst = [(x["post_id"], k, x[k], y[k]) for x, y in pairs for k in differ if x[k] != y[k]]
        assert not differ, (name, differ, worst[:5])
    ws.close()


def _same(x: object, y: object) -> bool:
    """Equal, floats to 1e-6: thread topics' similarities (on the driver, as before) are
    float32 products over the posts in the order the engine gives them, which moves the
    last float32 bits (1e-8 seen)."""
    if isinstance(x, float) and isinstance(y, float):
        return math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-6)
    return x == y
