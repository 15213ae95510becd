"""The inbox step (sync + SLA check), set-based against the per-post code it replaced.

One process, one generated brand, two fresh SQLite app databases: the per-post sync and
SLA check (tests/responding/per_post.py, the code before: a post, then a conversation,
at a time through the ORM) fill one, the pipeline's ``sync_warehouse`` and
``check_slas_in_batches`` the other, at the same ``now``. Then each runs again (the
idempotent second run of every ``socialcrm score``).

Checks (exit status 1 when one fails): both databases hold the same rows (every column
but ids and insert times, by natural key: tests/responding/test_step_batches.snapshot),
the second runs add nothing, and the set-based first run takes at most a tenth of the
per-post one's CPU time (issue 21: "≥ 10× faster"). CPU time, not wall time, as other
work shares the machine; both are printed, with the load average.

    python benchmarks/inbox_sync.py            # 40,000 posts
    python benchmarks/inbox_sync.py 10000      # quicker
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TARGET_RATIO = 10.0
NOW = datetime(2026, 11, 20, 12, 0)
INTENTS = ["complaint", "question", "suggestion", "praise", "other", "other", None]


def posts(n: int, seed: int = 21) -> pa.Table:
    """``n`` rows of ``posts_enriched`` over 60 days: mostly duplicates, spam, reshares
    and posts not addressed to the brand (as a real brand's listening is), the rest
    mentions of ``@acme`` by ``n / 8`` authors who write again, reply in threads and
    get the brand's answers."""
    rng = random.Random(seed)
    at = NOW.replace(tzinfo=UTC) - timedelta(days=60)
    step = timedelta(days=59) / n
    authors = [f"user{i}@mstdn.io" for i in range(max(n // 8, 4))]
    ids: list[str] = []
    rows: list[dict[str, Any]] = []
    for i in range(n):
        at += step * rng.uniform(0.2, 1.8)
        brand = bool(ids) and rng.random() < 0.08
        reply = ids[-rng.randrange(1, min(len(ids), 400) + 1)] if ids and (
            brand or rng.random() < 0.2) else None  # fmt: skip
        addressed = brand or rng.random() < 0.35
        reshare = ids[rng.randrange(len(ids))] if ids and rng.random() < 0.08 else None
        rows.append(
            {
                "post_id": f"p{i:07d}",
                "platform": "bluesky" if rng.random() < 0.2 else "mastodon",
                "author_handle": "acme" if brand else rng.choice(authors),
                "text": f"{'@acme ' if addressed and not brand else ''}post {i}",
                "created_at": at,
                "reply_to_post_id": reply,
                "reshare_of_post_id": reshare,
                "topic_id": rng.choice([1, 2, 3, 4, None]),
                "sentiment_score": round(rng.uniform(-1, 0.7), 3),
                "intent": "other" if brand else rng.choice(INTENTS),
                "customer_id": None,
                "is_spam": rng.random() < 0.03,
                "is_duplicate": rng.random() < 0.5,
            }
        )
        ids.append(f"p{i:07d}")
    return pa.Table.from_pylist(rows)


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main(n: int) -> int:
    from _check import Run
    from tests.responding import per_post
    from tests.responding.test_step_batches import snapshot

    from socialcrm.appdb.db import AppDB
    from socialcrm.config import Settings
    from socialcrm.responding import step, sync
    from socialcrm.store.workspace import Workspace

    run = Run("inbox_sync")
    home = Path(tempfile.mkdtemp(prefix="inbox-sync-"))
    settings = Settings(home=home / "ws", inbox_brand_handle="acme")
    ws = Workspace.open(settings)
    ws.warehouse.write("posts_enriched", posts(n))
    old, new = (AppDB(f"sqlite:///{home / name}.db") for name in ("old", "new"))

    def per_post_run() -> tuple[dict[str, int], dict[str, int]]:
        counts = per_post.sync_warehouse(ws, old, settings, now=NOW)
        return counts, per_post.check_slas_in_batches(old, settings, now=NOW)

    def set_based_run() -> tuple[dict[str, int], dict[str, int]]:
        counts = sync.sync_warehouse(ws, new, settings, now=NOW)
        return counts, step.check_slas_in_batches(new, settings, now=NOW)

    print(f"{n:,} posts; load average {os.getloadavg()}", flush=True)
    (want, w_wall, w_cpu) = timed(per_post_run)
    (got, g_wall, g_cpu) = timed(set_based_run)
    (_, w2_wall, w2_cpu) = timed(per_post_run)
    (again, g2_wall, g2_cpu) = timed(set_based_run)
    ratio = w_cpu / g_cpu
    run.figure("posts", n)
    run.figure("per_post", {"wall_s": w_wall, "cpu_s": w_cpu, "again_wall_s": w2_wall,
                            "again_cpu_s": w2_cpu})  # fmt: skip
    run.figure("set_based", {"wall_s": g_wall, "cpu_s": g_cpu, "again_wall_s": g2_wall,
                             "again_cpu_s": g2_cpu})  # fmt: skip
    run.figure("cpu_ratio", ratio)
    run.figure("load_average_end", list(os.getloadavg()))
    print(f"per-post:  first {w_wall:.1f} s wall, {w_cpu:.1f} s CPU; again {w2_wall:.1f} s "
          f"wall, {w2_cpu:.1f} s CPU")  # fmt: skip
    print(f"set-based: first {g_wall:.1f} s wall, {g_cpu:.1f} s CPU; again {g2_wall:.1f} s "
          f"wall, {g2_cpu:.1f} s CPU")  # fmt: skip
    print(f"ratio (CPU, first run): {ratio:.1f}x; wall {w_wall / g_wall:.1f}x", flush=True)
    counts, breaches = got
    run.check("the same counts", got == want, f"{counts}, {breaches}")
    run.check("a brand with work in it", counts["conversations"] > n // 50
              and counts["replies"] > 0 and breaches["first_response"] > 0,
              f"{counts['conversations']} conversations")  # fmt: skip
    run.check("the same rows (conversations, messages, events, cursor)",
              snapshot(new) == snapshot(old))  # fmt: skip
    run.check("a second run adds nothing",
              again[0]["messages"] == again[0]["conversations"] == again[0]["replies"] == 0
              and snapshot(new) == snapshot(old))  # fmt: skip
    run.check(f"set-based first run ≥ {TARGET_RATIO:.0f}x less CPU than per-post",
              ratio >= TARGET_RATIO, f"{ratio:.1f}x")  # fmt: skip
    ws.close()
    return run.finish()


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 40_000))
