"""The listening pipeline step on the demo brand (Spark parity: tests/parity/)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.csv as pcsv
import pytest

from socialcrm.config import Settings
from socialcrm.listening.step import step_listening
from socialcrm.pipeline import run_context
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace

TABLES = ("posts_enriched", "post_mentions", "post_queries", "listening_daily", "topics", "alerts")


def load_demo(home: Path, demo_brand: Path) -> Workspace:
    ws = Workspace.open(Settings(home=home))
    load_into(ws, demo_brand)
    return ws


def load_into(ws: Workspace, demo_brand: Path) -> None:
    home = ws.settings.home
    for table, name in (("posts", "posts.jsonl"), ("identities", "identities.csv"),
                        ("consents", "consents.csv")):  # fmt: skip
        ingest_file(ws, table, demo_brand / "inputs" / name)
    shutil.copy(Path(__file__).parents[2] / "src/socialcrm/synth/catalogue.json",
                home / "catalogue.json")  # fmt: skip


@pytest.fixture(scope="module")
def listened(demo_brand, tmp_path_factory):
    ws = load_demo(tmp_path_factory.mktemp("ws"), demo_brand)
    written = step_listening(ws, run_context(ws))
    yield ws, written
    ws.close()


def sql(ws: Workspace, query: str) -> list[tuple]:
    con = ws.engine.con
    for name in TABLES:
        con.create_view(name, ws.warehouse.table(name), overwrite=True)
    return con.raw_sql(query).fetchall()


def test_writes_every_table(listened):
    ws, written = listened
    assert set(written) == {*TABLES, "post_enrichment_cache"}
    assert written["posts_enriched"] == ws.warehouse.rows("posts")
    # 20 topics (the default), and "other" for posts close to none (never "topic -1")
    topics = ws.warehouse.read_arrow("topics").to_pylist()
    assert written["topics"] in (20, 21) and sum(t["topic_id"] >= 0 for t in topics) == 20
    labels = [t["label"] for t in topics]
    assert len(set(labels)) == len(labels) and not any("topic" in x for x in labels)
    assert all(t["label"] == "other" for t in topics if t["topic_id"] < 0)
    assert written["listening_daily"] > 0


def test_reshares_and_copies_are_counted_once_with_their_reach(listened):
    ws, _ = listened
    # every reshare sits in a group whose representative is an original post
    [(bad,)] = sql(
        ws,
        """select count(*) from posts_enriched e join posts_enriched r
                          on e.dup_group = r.post_id
                          where e.reshare_of_post_id is not null
                            and r.reshare_of_post_id is not null""",
    )
    assert bad == 0
    [(groups, reach_ok)] = sql(
        ws,
        """select count(*), bool_and(reach >= author_followers)
                                      from posts_enriched where not is_duplicate
                                      and dup_count > 1""",
    )
    assert groups > 0 and reach_ok
    # daily volume counts each group once, without spam
    [(daily,)] = sql(ws, "select sum(posts) from listening_daily where dimension = 'all'")
    [(counted,)] = sql(ws, "select count(*) from posts_enriched "
                           "where not is_duplicate and not is_spam")  # fmt: skip
    assert daily == counted


def test_spam_against_demo_truth(listened, demo_brand):
    ws, _ = listened
    truth = pcsv.read_csv(demo_brand / "truth" / "posts.csv").to_pandas()
    ours = ws.warehouse.read_arrow("posts_enriched").select(["post_id", "is_spam"]).to_pandas()
    df = ours.merge(truth[["post_id", "is_spam"]], on="post_id", suffixes=("", "_true"))
    tp = int((df.is_spam & df.is_spam_true).sum())
    fp = int((df.is_spam & ~df.is_spam_true).sum())
    fn = int((~df.is_spam & df.is_spam_true).sum())
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    print(f"spam precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.9
    assert recall >= 0.7
    [(no_reason,)] = sql(
        ws, "select count(*) from posts_enriched where is_spam and spam_reason = ''"
    )
    assert no_reason == 0


def test_customers_linked_only_with_social_linking_consent(listened):
    ws, _ = listened
    [(linked,)] = sql(ws, "select count(*) from posts_enriched where customer_id is not null")
    assert linked > 0
    ws.engine.con.create_view("consents_v", ws.warehouse.table("consents"), overwrite=True)
    [(unconsented,)] = sql(
        ws,
        """
        with latest as (
          select customer_id, status, row_number() over (partition by customer_id
                 order by recorded_at desc) as r
          from consents_v where purpose = 'social_linking')
        select count(*) from posts_enriched e
        where e.customer_id is not null and not exists (
          select 1 from latest l where l.customer_id = e.customer_id and l.r = 1
          and l.status = 'granted')""",
    )
    assert unconsented == 0


def test_share_of_voice_and_alerts(listened):
    ws, _ = listened
    rows = sql(
        ws,
        """select day, sum(share_of_voice) from listening_daily
                      where share_of_voice is not null group by day""",
    )
    assert rows and all(abs(s - 1.0) < 1e-9 for _, s in rows)
    alerts = ws.warehouse.read_arrow("alerts").to_pylist()
    for a in alerts:
        assert a["metric"] in ("volume", "negative_share")
        assert a["message"] and a["z"] >= 4.0
        assert 0 < len(a["post_ids"]) <= 5


def test_topics_stay_fixed_between_runs(listened):
    ws, _ = listened
    before = ws.warehouse.read_arrow("topics").column("label").to_pylist()
    step_listening(ws, run_context(ws))
    assert ws.warehouse.read_arrow("topics").column("label").to_pylist() == before


def test_report_has_charts_and_alerts(listened, tmp_path):
    from datetime import date

    from socialcrm.listening.report import write_report

    ws, _ = listened
    summary = write_report(ws, tmp_path, since=date(2024, 6, 1))
    page = (tmp_path / "report.html").read_text("utf-8")
    assert summary.posts > 0 and summary.counted <= summary.posts
    assert summary.since is not None and summary.since >= "2024-06-01"
    for chart in ("volume.png", "share_of_voice.png", "topics.png", "products.png"):
        assert (tmp_path / chart).stat().st_size > 5_000
        assert chart in page
    assert f"Alerts ({summary.alerts})" in page


def test_the_brands_own_posts_count_in_volume_not_in_sentiment(listened):
    """The brand's replies are its voice, not a customer's mood: labelled "brand" with no
    score, counted in ``posts`` but in no sentiment count, mean or negative share."""
    ws, _ = listened
    from socialcrm.listening.step import catalogue_for

    catalogue = catalogue_for(ws)
    assert catalogue is not None
    brand = catalogue.brand_handles()  # nordlicht, nordlicht.outdoor, nordlicht.bsky.social, …
    rows = sql(ws, "select split_part(ltrim(lower(author_handle), '@'), '@', 1), "
                   "sentiment_label, sentiment_score from posts_enriched")  # fmt: skip
    own = [r for r in rows if r[0] in brand]
    assert len(own) >= 10  # the demo brand answers its customers
    assert {r[1] for r in own} == {"brand"} and all(r[2] is None for r in own)
    assert "brand" not in {r[1] for r in rows if r[0] not in brand}
    counted_brand = sql(ws, "select count(*) from posts_enriched where sentiment_label = 'brand' "
                            "and not is_duplicate and not is_spam")[0][0]  # fmt: skip
    (posts, rated, share), = sql(
        ws, "select sum(posts), sum(negative + neutral + positive), "
            "sum(negative) / sum(negative + neutral + positive) from listening_daily "
            "where dimension = 'all'")  # fmt: skip
    assert counted_brand > 0 and posts - rated == counted_brand
    worst = sql(
        ws,
        "select max(abs(negative_share - negative / (negative + neutral + positive))) "
        "from listening_daily where negative + neutral + positive > 0",
    )[0][0]
    assert worst < 1e-12 and 0 < share < 1
    mentions = sql(
        ws,
        "select m.sentiment_label, m.sentiment_score from post_mentions m "
        "join posts_enriched p using (post_id) where p.sentiment_label = 'brand'",
    )
    assert all(label == "brand" and score is None for label, score in mentions)
