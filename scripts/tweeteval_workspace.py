"""Score real tweets as a brand would: TweetEval's 12,284 test tweets as ``posts`` in an
empty workspace (no catalogue, the default brand handle), the whole pipeline run
(``socialcrm ingest posts`` then ``socialcrm score``), then what reached people and what
the topics say.

Prints the inbox conversations and messages and the ideas proposed (none of these tweets
addresses the workspace's brand, so both should be 0), and each topic's label, size,
whether it is emerging, and its three most central tweets, to judge whether the labels
describe their examples. ``--json`` writes the same as JSON.

Usage::

    python scripts/tweeteval_workspace.py [--data DIR] [--home DIR] [--limit N] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tweeteval_sentiment"


def write_posts(data: Path, out: Path, limit: int | None) -> int:
    """TweetEval test tweets as a posts file: one anonymous author per tweet (TweetEval has
    no authors), spread over four weeks so topics have a previous period."""
    texts = (data / "test_text.txt").read_text("utf-8").split("\n")
    texts = [t for t in texts if t.strip()][:limit]
    start = datetime(2017, 1, 1, tzinfo=UTC)
    with out.open("w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            at = start + timedelta(minutes=i * 28 * 24 * 60 // max(len(texts), 1))
            row = {"post_id": f"te-{i}", "platform": "twitter", "author_handle": f"user{i}",
                   "created_at": at.isoformat().replace("+00:00", "Z"), "text": text,
                   "lang": "en"}  # fmt: skip
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(texts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--home", type=Path, default=Path("/tmp/tweeteval-ws"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    home: Path = args.home
    if home.exists() and any(home.iterdir()):
        sys.exit(f"{home} is not empty: name an empty or new folder with --home")
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SOCIALCRM_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    posts = home.parent / f"{home.name}-posts.jsonl"
    n = write_posts(args.data, posts, args.limit)
    cli = [sys.executable, "-m", "socialcrm.cli"]
    subprocess.run([*cli, "ingest", "posts", str(posts)], env=env, check=True)
    subprocess.run([*cli, "score"], env=env, check=True)

    from sqlalchemy import func, select

    from socialcrm.appdb.db import AppDB
    from socialcrm.appdb.models import Conversation, ConversationMessage, Idea
    from socialcrm.config import Settings
    from socialcrm.store.workspace import Workspace

    settings = Settings(home=home)
    db = AppDB(settings.resolved_database_url)
    try:
        with db.session() as s:
            counts = {
                "conversations": s.scalar(select(func.count()).select_from(Conversation)),
                "messages": s.scalar(select(func.count()).select_from(ConversationMessage)),
                "ideas": s.scalar(select(func.count()).select_from(Idea)),
            }
    finally:
        db.close()
    with Workspace.open(settings) as ws:
        topics = ws.warehouse.read_arrow("topics").to_pylist()
        enriched = ws.warehouse.read_arrow("posts_enriched").select(["intent"]).to_pylist()
    suggestions = sum(r["intent"] == "suggestion" for r in enriched)
    doc = {"tweets": n, **counts, "suggestion_intent": suggestions, "topics": topics}
    print(f"{n:,} tweets: {counts['conversations']} inbox conversations, "
          f"{counts['messages']} messages, {counts['ideas']} ideas "
          f"({suggestions} posts with the suggestion intent)")  # fmt: skip
    for t in topics:
        flag = " (emerging)" if t["emerging"] else ""
        print(f"\n[{t['topic_id']}] {t['label']} — {t['posts']} posts{flag}")
        for e in t["examples"]:
            print(f"    {e[:140]}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
