"""Collection throughput (posts/s): ``socialcrm listen collect`` vs a bare loop, both
reading the same Mastodon-shaped pages from a local HTTP server.

The server (its own process) serves N statuses of ``#coffee`` as Mastodon's tag timeline does
(``/api/v1/timelines/tag/coffee``, 40 a page, newest first, ``Link`` header with
``max_id``). Ours is the whole run: the saved query, the guarded client (address checks,
rate-limit and retry handling), the mapping to ``posts`` rows, the query's Boolean match,
the validated ingestion and the cursor and health in the app database. The peer is the
plainest loop that does the same job at its best: one ``httpx.Client`` (no guard) walking
the ``Link`` pages, the same rows written to a JSON-lines file, and the same
``ingest_file`` — so the stored posts can be compared, and the ratio is what our
collector's extra care costs. Each side runs ``--repeats`` times into a fresh workspace;
the best time of each is reported.

Checks: both store exactly N posts with the same ids, and a second run of ours adds
nothing (its cursor is used).

    python benchmarks/listening_collect.py               # 10,000 posts, best of 3
    python benchmarks/listening_collect.py --posts 40000 --repeats 5
"""

from __future__ import annotations

import argparse
import bisect
import json
import multiprocessing
import os
import re
import sys
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from time import perf_counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from _check import Run, load_average

T0 = datetime(2026, 11, 2, tzinfo=UTC)
BASE_ID = 109_000_000_000_000_000
TAGS = re.compile(r"<[^>]+>")
INGEST: dict[str, list[float]] = {"ours": [], "peer": []}
"""Seconds spent in ``ingest_file`` by each side, per run (the rest: fetch, map, match)."""


def status(n: int) -> dict[str, Any]:
    acct = f"user{n % 97}@social.example"
    return {
        "id": str(BASE_ID + n), "created_at": (T0 + timedelta(seconds=n)).isoformat(),
        "in_reply_to_id": str(BASE_ID + n - 1) if n % 10 == 0 else None,
        "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
        "visibility": "public", "language": "en",
        "uri": f"https://social.example/users/u/statuses/{n}",
        "url": f"https://social.example/@u/{n}", "replies_count": n % 3,
        "reblogs_count": n % 5, "favourites_count": n % 11, "edited_at": None,
        "content": f'<p>Post {n}: a flat white at shop {n % 40} <a href="https://social.'
                   f'example/tags/coffee" class="mention hashtag">#<span>coffee</span></a></p>',
        "reblog": None, "application": None,
        "account": {"id": str(n % 97), "username": f"user{n % 97}", "acct": acct,
                    "display_name": f"User {n % 97}", "locked": False, "bot": False,
                    "created_at": "2022-11-01T00:00:00.000Z", "note": "",
                    "url": "https://social.example/@u", "followers_count": n % 997,
                    "following_count": 3, "statuses_count": 40},
        "media_attachments": [], "mentions": [], "emojis": [], "card": None, "poll": None,
        "tags": [{"name": "coffee", "url": "https://social.example/tags/coffee"}],
    }  # fmt: skip


class Timeline:
    """A tag timeline over N statuses (ids ascending in ``ids``; pages newest first)."""

    def __init__(self, n: int) -> None:
        self.statuses = [status(i) for i in range(1, n + 1)]
        self.ids = [int(s["id"]) for s in self.statuses]
        self.requests = 0

    def page(self, query: dict[str, list[str]], url: str) -> tuple[bytes, str]:
        self.requests += 1
        limit = min(int(query.get("limit", ["20"])[0]), 40)
        end = len(self.ids)
        if "max_id" in query:
            end = bisect.bisect_left(self.ids, int(query["max_id"][0]))
        start = max(0, end - limit)
        if "min_id" in query:
            start = bisect.bisect_right(self.ids, int(query["min_id"][0]))
            end = min(len(self.ids), start + limit)
        page = self.statuses[start:end][::-1]
        link = ""
        if page:
            link = (f'<{url}?limit={limit}&max_id={page[-1]["id"]}>; rel="next", '
                    f'<{url}?limit={limit}&min_id={page[0]["id"]}>; rel="prev"')  # fmt: skip
        return json.dumps(page).encode(), link


def _serve_forever(n: int, ports: Any) -> None:
    """The server process: its own interpreter, so it does not share a GIL with the
    clients measured."""
    httpd = serve(Timeline(n))
    ports.put(httpd.server_address[1])
    threading.Event().wait()


def serve(timeline: Timeline) -> ThreadingHTTPServer:
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real instance
        disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms ACK wait

        def do_GET(self) -> None:
            u = urlsplit(self.path)
            if not u.path.endswith("/api/v1/timelines/tag/coffee"):
                self.send_error(404)
                return
            here = f"http://{self.headers['host']}{u.path}"
            body, link = timeline.page(parse_qs(u.query), here)
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-RateLimit-Limit", "300")
            self.send_header("X-RateLimit-Remaining", "299")
            if link:
                self.send_header("Link", link)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def ours(base: str, home: Path, pages: int) -> tuple[float, float, int, list[str], int]:
    """The whole collector; returns (seconds, rerun seconds, stored, ids, new on rerun)."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.config import Settings
    from socialcrm.listening import collect as collecting
    from socialcrm.listening.saved_queries import add_query
    from socialcrm.store.workspace import Workspace

    spent = [0.0]
    real_ingest = collecting._ingest

    def timed_ingest(*a: Any) -> Any:  # how much of the run is the shared ingestion
        t = perf_counter()
        try:
            return real_ingest(*a)
        finally:
            spent[0] += perf_counter() - t

    collecting._ingest = timed_ingest  # type: ignore[assignment]
    settings = Settings(home=home, listen_max_pages=pages)
    db = AppDB(settings.resolved_database_url)
    with db.session() as s:
        add_query(s, "coffee", "#coffee OR espresso", [f"mastodon:{base}"], actor="bench")
    with Workspace.open(settings) as ws:
        t0 = perf_counter()
        collecting.collect(db, ws)
        took = perf_counter() - t0
        INGEST["ours"].append(spent[0])
        t0 = perf_counter()
        again = collecting.collect(db, ws)
        rerun = perf_counter() - t0
        posts = ws.warehouse.read_arrow("posts").column("post_id").to_pylist()
    db.close()
    return took, rerun, len(posts), sorted(posts), again[0].sources[0].new


def peer(base: str, home: Path) -> tuple[float, int, list[str]]:
    """A bare httpx loop over the Link pages, the same rows, the same ingestion."""
    from socialcrm.config import Settings
    from socialcrm.store.ingest import ingest_file
    from socialcrm.store.workspace import Workspace

    host = httpx.URL(base).host
    with Workspace.open(Settings(home=home)) as ws:
        t0 = perf_counter()
        staged = home.with_suffix(".jsonl")
        with httpx.Client(timeout=20) as client, staged.open("w", encoding="utf-8") as f:
            url: str | None = f"{base}/api/v1/timelines/tag/coffee?limit=40"
            while url:
                r = client.get(url)
                r.raise_for_status()
                for st in r.json():
                    acc = st["account"]
                    row = {
                        "post_id": f"mastodon:{host}/{st['id']}", "platform": "mastodon",
                        "author_handle": acc["acct"], "created_at": st["created_at"],
                        "text": TAGS.sub("", st["content"]), "lang": st["language"],
                        "reply_to_post_id": f"mastodon:{host}/{st['in_reply_to_id']}"
                        if st["in_reply_to_id"] else None,
                        "likes": st["favourites_count"], "reshares": st["reblogs_count"],
                        "replies": st["replies_count"], "author_followers": acc["followers_count"],
                        "author_name": acc["display_name"], "url": st["url"],
                        "source": f"mastodon:{base}", "raw_payload": json.dumps(st),
                    }  # fmt: skip
                    f.write(json.dumps(row) + "\n")
                nxt = r.links.get("next", {}).get("url")
                url = nxt if r.json() else None
        t1 = perf_counter()
        ingest_file(ws, "posts", staged, fmt="jsonl")
        took = perf_counter() - t0
        INGEST["peer"].append(perf_counter() - t1)
        posts = ws.warehouse.read_arrow("posts").column("post_id").to_pylist()
    return took, len(posts), sorted(posts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    n = args.posts
    os.environ["SOCIALCRM_OUTBOUND_ALLOW_HOSTS"] = "127.0.0.1"  # the local server only
    run = Run("listening_collect")
    run.figure("posts", n)
    run.figure("repeats", args.repeats)
    ports: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve_forever, args=(n, ports), daemon=True)
    server.start()
    base = f"http://127.0.0.1:{ports.get(timeout=120)}"
    pages = n // 40 + 2
    times: dict[str, list[float]] = {"ours": [], "peer": []}
    reruns, ours_ids, peer_ids, stored_ours, stored_peer, again_new = [], [], [], 0, 0, -1
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):  # alternate, so load drifts hit both alike
            took_p, stored_peer, peer_ids = peer(base, Path(tmp) / f"peer{i}")
            took_o, rerun, stored_ours, ours_ids, again_new = ours(
                base, Path(tmp) / f"ours{i}", pages
            )
            times["ours"].append(took_o)
            times["peer"].append(took_p)
            reruns.append(rerun)
            print(
                f"run {i + 1}: ours {took_o:,.2f}s ({n / took_o:,.0f} posts/s), peer "
                f"{took_p:,.2f}s ({n / took_p:,.0f} posts/s), rerun of ours {rerun:,.2f}s"
            )
    server.terminate()
    best = {k: min(range(len(v)), key=v.__getitem__) for k, v in times.items()}
    best_ours, best_peer = times["ours"][best["ours"]], times["peer"][best["peer"]]
    ingest_ours, ingest_peer = INGEST["ours"][best["ours"]], INGEST["peer"][best["peer"]]
    ratio = best_ours / best_peer
    print(
        f"best of {args.repeats}: ours {n / best_ours:,.0f} posts/s, bare httpx loop + "
        f"ingest_file {n / best_peer:,.0f} posts/s; ours takes {ratio:,.2f}x the peer's time"
    )
    run.figure("posts_per_second", {"ours": round(n / best_ours), "peer": round(n / best_peer)})
    run.figure("seconds", {"ours": round(best_ours, 3), "peer": round(best_peer, 3),
                           "ours_rerun_best": round(min(reruns), 3)})  # fmt: skip
    run.figure("ratio_ours_over_peer", round(ratio, 2))
    fetch_ours, fetch_peer = best_ours - ingest_ours, best_peer - ingest_peer
    print(f"of which ingest_file: ours {ingest_ours:,.2f}s, peer {ingest_peer:,.2f}s; "
          f"fetch, map and match: ours {fetch_ours:,.2f}s, peer {fetch_peer:,.2f}s")  # fmt: skip
    run.figure("ingest_seconds", {"ours": round(ingest_ours, 3), "peer": round(ingest_peer, 3)})
    run.figure("load_average_end", load_average())
    run.check("both store every post", stored_ours == stored_peer == n,
              f"ours {stored_ours:,}, peer {stored_peer:,}, served {n:,}")  # fmt: skip
    run.check(
        "the same post ids", ours_ids == peer_ids, f"{len(set(ours_ids) ^ set(peer_ids))} differ"
    )
    run.check("a second run of ours adds nothing", again_new == 0, f"{again_new} new")
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
