"""A small, fully known warehouse and a real server (uvicorn on loopback) for the web tests.

The warehouse is written table by table with the columns the pipeline steps write, so
every count and order a test asserts can be worked out from this file. The app
database runs on SQLite and, for the API tests, on a throwaway PostgreSQL cluster.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import uvicorn
from fastapi import FastAPI

from socialcrm.appdb.accounts import create_token, create_user
from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.store.warehouse import Warehouse
from socialcrm.web.app import create_app
from tests.ports import free_port
from tests.waiting import wait_until

PASSWORD = "a long test password"
XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
N = 60
BANDS = ("low", "medium", "high", "very_high")
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def clv_of(i: int) -> float:
    return round(1000 - 13.7 * i + (i % 7) * 3.1, 2)


def band_of(i: int) -> str:
    return BANDS[i % 4]


def build_warehouse(root: Path) -> None:
    """N customers c000…; c000 has every kind of record; posts include an XSS payload."""
    w = Warehouse(root)
    ids = [f"c{i:03d}" for i in range(N)]
    w.write(
        "customers",
        pa.table(
            {
                "customer_id": ids,
                "source": ["shop"] * N,
                "created_at": [T0 + timedelta(days=i) for i in range(N)],
                "first_name": [f"Ada{i}" if i % 2 else f"Bob{i}" for i in range(N)],
                "last_name": ["Lovelace" if i % 3 == 0 else "Smith" for i in range(N)],
                "city": ["Berlin"] * N,
                "country": ["DE"] * N,
                "preferred_channel": ["email"] * N,
            }
        ),
    )
    scored = ids[:50]  # c050…c059 never bought: no scores
    w.write(
        "customer_transaction_scores",
        pa.table(
            {
                "customer_id": scored,
                "frequency": [i % 5 for i in range(50)],
                "recency": [float(10 * (i % 5)) for i in range(50)],
                "T": [300.0] * 50,
                "monetary": [50.0 + i for i in range(50)],
                "spend": [100.0 + 2 * i for i in range(50)],
                "last_purchase": [date(2025, 6, 1) - timedelta(days=i) for i in range(50)],
                "rfm_code": ["345"] * 50,
                "p_alive": [round(1 - i / 50, 3) for i in range(50)],
                "expected_purchases": [round(2 - i / 30, 3) for i in range(50)],
                "expected_spend": [100.0] * 50,
                "clv": [clv_of(i) for i in range(50)],
                "risk_band": [band_of(i) for i in range(50)],
                "overdue": [i % 4 == 3 for i in range(50)],
            }
        ),
    )
    w.write(
        "identities",
        pa.table(
            {
                "customer_id": [*ids, "c000", "c000"],
                "kind": ["email"] * N + ["phone", "instagram"],
                "value": [f"user{i}@example.com" for i in range(N)]
                + ["+4915112345678", "ada_insta"],
                "raw_value": [f"User{i}@Example.com" for i in range(N)]
                + ["0151 12345678", "@ada_insta"],
                "source": ["checkout"] * N + ["loyalty_form", "social_login"],
                "verified": [True] * (N + 2),
            }
        ),
    )
    w.write(
        "consents",
        pa.table(
            {
                "customer_id": ["c000", "c000", "c000", "c001"],
                "purpose": ["email_marketing", "email_marketing", "social_linking", "profiling"],
                "status": ["granted", "withdrawn", "granted", "refused"],
                "recorded_at": [T0, T0 + timedelta(days=30), T0, T0],
                "source": ["web", "app", "app", "store"],
            }
        ),
    )
    w.write(
        "orders",
        pa.table(
            {
                "order_id": ["o1", "o2", "o3"],
                "customer_id": ["c000", "c000", "c001"],
                "email": [None, None, None],
                "ordered_at": [T0, T0 + timedelta(days=40), T0],
                "amount": [120.0, 80.5, 10.0],
                "currency": ["EUR"] * 3,
                "status": ["completed"] * 3,
                "quantity": [1, 2, 1],
                "product_id": ["P-1", "P-2", "P-1"],
                "channel": ["online"] * 3,
            },
            schema=pa.schema(
                [
                    ("order_id", pa.string()),
                    ("customer_id", pa.string()),
                    ("email", pa.string()),
                    ("ordered_at", pa.timestamp("us", tz="UTC")),
                    ("amount", pa.float64()),
                    ("currency", pa.string()),
                    ("status", pa.string()),
                    ("quantity", pa.int64()),
                    ("product_id", pa.string()),
                    ("channel", pa.string()),
                ]
            ),
        ),
    )
    labels = ["negative", "neutral", "positive"]
    n_posts = 30
    texts = [f"post number {i} about the Aurora lamp" for i in range(n_posts)]
    texts[0] = XSS
    w.write(
        "posts_enriched",
        pa.table(
            {
                "post_id": [f"p{i:02d}" for i in range(n_posts)],
                "platform": ["instagram" if i % 2 else "bluesky" for i in range(n_posts)],
                "author_handle": [f"author{i}" for i in range(n_posts)],
                "customer_id": ["c000" if i < 3 else None for i in range(n_posts)],
                "created_at": [T0 + timedelta(days=i) for i in range(n_posts)],
                "day": [(T0 + timedelta(days=i)).date() for i in range(n_posts)],
                "text": texts,
                "sentiment_label": [labels[i % 3] for i in range(n_posts)],
                "sentiment_score": [(i % 3 - 1) * 0.5 for i in range(n_posts)],
                "intent": ["complaint"] * n_posts,
                "topic_id": [i % 2 for i in range(n_posts)],
                "mentions": [["product:P-1"] if i % 5 == 0 else [] for i in range(n_posts)],
                "reach": [10.0] * n_posts,
                "engagement": [1.0] * n_posts,
                "is_spam": [i == 29 for i in range(n_posts)],
            },
            schema=pa.schema(
                [
                    ("post_id", pa.string()),
                    ("platform", pa.string()),
                    ("author_handle", pa.string()),
                    ("customer_id", pa.string()),
                    ("created_at", pa.timestamp("us", tz="UTC")),
                    ("day", pa.date32()),
                    ("text", pa.string()),
                    ("sentiment_label", pa.string()),
                    ("sentiment_score", pa.float64()),
                    ("intent", pa.string()),
                    ("topic_id", pa.int64()),
                    ("mentions", pa.list_(pa.string())),
                    ("reach", pa.float64()),
                    ("engagement", pa.float64()),
                    ("is_spam", pa.bool_()),
                ]
            ),
        ),
    )
    days = [(T0 + timedelta(days=i)).date() for i in range(n_posts)]
    w.write(
        "listening_daily",
        pa.table(
            {
                "day": days,
                "dimension": ["all"] * n_posts,
                "key": ["all"] * n_posts,
                "label": ["all posts"] * n_posts,
                "posts": [1 + i % 4 for i in range(n_posts)],
                "reach": [10] * n_posts,
                "negative": [float(i % 2) for i in range(n_posts)],
                "neutral": [0.0] * n_posts,
                "positive": [1.0] * n_posts,
                "mean_score": [0.1] * n_posts,
                "negative_share": [0.25] * n_posts,
                "share_of_voice": [None] * n_posts,
            },
            schema=pa.schema(
                [
                    ("day", pa.date32()),
                    ("dimension", pa.string()),
                    ("key", pa.string()),
                    ("label", pa.string()),
                    ("posts", pa.int64()),
                    ("reach", pa.int64()),
                    ("negative", pa.float64()),
                    ("neutral", pa.float64()),
                    ("positive", pa.float64()),
                    ("mean_score", pa.float64()),
                    ("negative_share", pa.float64()),
                    ("share_of_voice", pa.float64()),
                ]
            ),
        ),
    )
    w.write(
        "topics",
        pa.table(
            {
                "topic_id": [0, 1],
                "label": [f"battery · {XSS}", "hiking · trails"],
                "keywords": [["battery"], ["hiking"]],
                "posts": [15, 15],
                "negative_share": [0.3, 0.2],
            }
        ),
    )
    w.write(
        "post_mentions",
        pa.table(
            {
                "post_id": ["p00", "p05", "p10"],
                "entity_id": ["product:P-1"] * 3,
                "entity_kind": ["product"] * 3,
                "entity_name": ["Aurora Lamp"] * 3,
                "sentiment_label": ["negative", "positive", "negative"],
                "sentiment_score": [-0.5, 0.5, -0.4],
            }
        ),
    )
    w.write(
        "alerts",
        pa.table(
            {
                "alert_id": ["a1"],
                "day": [date(2025, 1, 20)],
                "dimension": ["all"],
                "key": ["all"],
                "label": ["all posts"],
                "metric": ["volume"],
                "observed": [12.0],
                "expected": [1.0],
                "z": [9.9],
                "message": ["all posts: 12 posts on Mon 20 Jan 2025, 1 expected"],
            }
        ),
    )
    w.write(
        "customer_influence",
        pa.table(
            {
                "customer_id": ids[:10],
                "influence_score": [float(90 - 5 * i) for i in range(10)],
                "amplifier": [i < 3 for i in range(10)],
                "community_id": [i % 2 for i in range(10)],
                "pagerank": [0.01] * 10,
                "followers": [1000 - 50 * i for i in range(10)],
                "posts": [5] * 10,
            }
        ),
    )
    w.write(
        "communities",
        pa.table(
            {
                "community_id": [0, 1],
                "size": [6, 4],
                "label": ["trail runners", "night hikers"],
                "mean_clv": [900.0, 850.0],
                "mean_p_alive": [0.9, 0.8],
                "share_at_risk": [0.1, 0.5],
                "top_topics": ["battery", "hiking"],
                "top_amplifiers": ["Bob0 Lovelace", None],
                "mean_sentiment": [0.2, -0.1],
            }
        ),
    )


@dataclass
class Site:
    """A running app: its URL, settings, and the API tokens of each role."""

    url: str
    settings: Settings
    tokens: dict[str, str]
    db_url: str

    def api(self, role: str = "admin") -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[role]}"}, timeout=30
        )


def seed_users(db_url: str) -> dict[str, str]:
    """One user per role (email ROLE@test.io) and a token each; returns role → secret."""
    db = AppDB(db_url)
    tokens = {}
    with db.session() as s:
        for role in ("viewer", "agent", "analyst", "admin"):
            create_user(s, f"{role}@test.io", PASSWORD, role, actor="test")
            tokens[role] = create_token(s, f"{role}@test.io", "tests")[1]
    db.close()
    return tokens


def serve(settings: Settings, app: FastAPI | None = None) -> Iterator[str]:
    port = free_port()
    app = create_app(settings) if app is None else app
    # As `socialcrm serve` runs it: uvicorn's own X-Forwarded-For handling off (the app
    # believes the header from SOCIALCRM_TRUSTED_PROXIES only).
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", proxy_headers=False
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started or not thread.is_alive(), "the test server started", poll=0.02)
    if not srv.started:
        raise RuntimeError("the test server did not start")
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback (``make system-deps`` installs it)."""
    # On PATH, where a source build puts it, or where Debian's postgresql package does.
    candidates = [
        shutil.which("pg_ctl"),
        "/usr/local/bin/pg_ctl",
        *sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True),
    ]
    pg_ctl = next((c for c in candidates if c and Path(c).exists()), "pg_ctl")
    initdb = str(Path(pg_ctl).with_name("initdb"))
    if not Path(pg_ctl).exists():
        pytest.fail("PostgreSQL is needed for these tests: run `make system-deps`")
    # initdb refuses to run as root: run the cluster as the postgres user then, in a
    # folder of its own (pytest's tmp folders are private to root).
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="socialcrm-pg-"))
    if as_user:
        shutil.chown(base, "postgres")
    data = base / "data"
    port = free_port()
    run = {"check": True, "capture_output": True, "timeout": 120}
    subprocess.run(
        [*as_user, initdb, "-D", str(data), "-U", "crm", "--auth=trust", "-E", "UTF8"], **run
    )
    subprocess.run(
        [
            *as_user,
            pg_ctl,
            "-D",
            str(data),
            "-w",
            "-l",
            str(data.parent / "log"),
            "-o",
            f"-h 127.0.0.1 -p {port} -k {data.parent} -F",
            "start",
        ],
        **run,
    )
    try:
        yield f"postgresql+psycopg://crm@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app on SQLite over the known warehouse (shared: tests only read)."""
    home = tmp_path_factory.mktemp("web") / "ws"
    build_warehouse(home / "warehouse")
    # Tokens checked on every call, so revoking one shows at once in the tests.
    settings = Settings(home=home, web_token_cache_seconds=0)
    tokens = seed_users(settings.resolved_database_url)
    for url in serve(settings):
        yield Site(url, settings, tokens, settings.resolved_database_url)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def api_site(request: pytest.FixtureRequest, site: Site) -> Iterator[Site]:
    """The same app with its app database on SQLite, then on PostgreSQL."""
    if request.param == "sqlite":
        yield site
        return
    url = request.getfixturevalue("postgres_url")
    settings = site.settings.model_copy(update={"database_url": url})
    tokens = seed_users(url)
    for base in serve(settings):
        yield Site(base, settings, tokens, url)


@pytest.fixture(scope="session")
def empty_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    settings = Settings(home=tmp_path_factory.mktemp("empty") / "ws")
    tokens = seed_users(settings.resolved_database_url)
    for url in serve(settings):
        yield Site(url, settings, tokens, settings.resolved_database_url)


def sign_in(url: str, email: str, password: str = PASSWORD) -> httpx.Client:
    """A browser-like client signed in through the form (CSRF token included)."""
    import re

    c = httpx.Client(base_url=url, timeout=30)
    form = c.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = c.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert r.status_code == 303, r.text
    return c


# -- targeting, programs and app-database activity: the "full" site ----------------------
# Segments of c000…c059 and what follows from them; tests work their expectations out
# from these functions, never from the app's own answers.
RUN_DATES = (date(2025, 6, 1), date(2025, 7, 1))
SEGMENT_ACTION = {
    "social_connector": ("advocacy_invitation", "social"),
    "at_risk_high_value": ("retention_gesture", "email"),
    "dormant": ("win_back", "email"),
    "high_value_buyer": ("loyalty_thanks", "email"),
}
EMAIL_GRANTED = ("c004", "c006", "c010")
EMAIL_WITHDRAWN = ("c014",)  # granted, then withdrawn: must not be exported


def segment_of(i: int) -> str:
    if i >= 50:
        return "regular"
    if i < 3:
        return "social_connector"
    return {0: "high_value_buyer", 1: "high_value_buyer", 2: "at_risk_high_value"}.get(
        i % 4, "dormant"
    )


def tier_of(i: int) -> str:
    return "top" if i < 10 else "middle" if i < 30 else "low" if i < 50 else "prospect"


def trinity_of(i: int) -> float:
    return round(95 - 1.5 * i, 2)


def influence_known(i: int) -> bool:
    return i < 10 and i % 5 != 4


def performance_depth(i: int) -> float:
    return (i % 4) / 4


def relationship_value(i: int) -> float:
    depth = 0.2 * 1.0 + 0.25 * 0.5 + 0.25 * 0.25 + 0.3 * performance_depth(i)
    return round(100 * depth * 0.8, 2)


def segment_sizes(run: int) -> dict[str, int]:
    """Customers per segment on RUN_DATES[run]: the first run had 2 more dormant, 1 fewer
    at risk; the second is what customer_segments holds now."""
    now: dict[str, int] = {}
    for i in range(N):
        now[segment_of(i)] = now.get(segment_of(i), 0) + 1
    if run == 0:
        now["dormant"] += 2
        now["at_risk_high_value"] -= 1
    return now


def action_rows(i: int) -> list[dict]:
    seg = segment_of(i)
    if seg not in SEGMENT_ACTION:
        return []
    action, channel = SEGMENT_ACTION[seg]
    ev = None if seg == "social_connector" else round(0.05 * clv_of(i) - 1.0, 2)
    rows = [
        {
            "customer_id": f"c{i:03d}",
            "segment": seg,
            "action": action,
            "channel": channel,
            "reason": f"{action} for {seg} — because c{i:03d} <b>matched</b>",
            "expected_value": ev,
            "value_at_stake": None if ev is None else clv_of(i),
            "uplift": 0.05,
            "marketing": True,
            "not_before": None,
            "rank": 1,
        }
    ]
    if seg == "high_value_buyer":
        rows.append(
            rows[0]
            | {
                "action": "referral_invitation",
                "expected_value": None,
                "reason": "invite a satisfied buyer",
                "rank": 2,
            }
        )
    return rows


def build_targeting(root: Path) -> None:
    """customer_scores, customer_segments, segment_summary, customer_actions, campaigns,
    and consents that an audience export re-checks (on top of :func:`build_warehouse`)."""
    w = Warehouse(root)
    ids = [f"c{i:03d}" for i in range(N)]
    rows = []
    for i in range(N):
        known_i = influence_known(i)
        rows.append(
            {
                "customer_id": ids[i],
                "trinity_score": trinity_of(i),
                "trinity_axes": "TRI" if known_i else "TR",
                "unknown": None if known_i else "influence: no social_linking consent",
                "transaction_score": round(100 - 2 * i, 2) if i < 50 else 0.0,
                "transaction_value": clv_of(i) if i < 50 else 0.0,
                "transaction_known": True,
                "relationship_score": float((i * 37) % 100),
                "relationship_value": relationship_value(i),
                "relationship_known": True,
                "influence_score": round(100 - 10 * i, 2) if known_i else None,
                "influence_value": float(90 - 5 * i) if known_i else None,
                "influence_known": known_i,
                "transaction_basis": "clv",
                "personal_depth": 1.0,
                "profile_depth": 0.5,
                "preferential_depth": 0.25,
                "performance_depth": performance_depth(i),
                "recency_factor": 0.8,
                "days_since_shared": 100.0,
                "social_linking": known_i,
                "amplifier": (i < 3) if known_i else None,
                "community_id": (i % 2) if known_i else None,
                "community_role": ("bridge" if i == 0 else "member") if known_i else None,
                "followers": (1000 - 50 * i) if known_i else None,
                "posts": 5 if known_i else None,
                "responses_per_post": 1.5 if known_i else None,
                "cascade_reach": 12 if known_i else None,
                "pagerank": 0.01 if known_i else None,
            }
        )
    w.write("customer_scores", pa.Table.from_pylist(rows))
    w.write(
        "customer_segments",
        pa.table(
            {
                "customer_id": ids,
                "trinity_score": [trinity_of(i) for i in range(N)],
                "clv": [clv_of(i) if i < 50 else None for i in range(N)],
                "p_alive": [round(1 - i / 50, 3) if i < 50 else None for i in range(N)],
                "risk_band": [band_of(i) if i < 50 else None for i in range(N)],
                "tier": [tier_of(i) for i in range(N)],
                "segment": [segment_of(i) for i in range(N)],
                "reason": [f"rule of {segment_of(i)} matched c{i:03d}" for i in range(N)],
                "tier_reason": [f"tier {tier_of(i)}" for i in range(N)],
            }
        ),
    )
    summary = []
    for run, day in enumerate(RUN_DATES):
        for seg, n in sorted(segment_sizes(run).items()):
            # split each segment over two tiers, so the page must sum them
            for tier, part in (("a", n // 2), ("b", n - n // 2)):
                summary.append(
                    {
                        "run_date": day,
                        "tier": tier,
                        "segment": seg,
                        "customers": part,
                        "total_clv": 10.0 * part,
                        "mean_clv": 10.0,
                        "mean_trinity": 50.0,
                        "share_at_risk": 0.5,
                    }
                )
    w.write("segment_summary", pa.Table.from_pylist(summary))
    actions = [r for i in range(N) for r in action_rows(i)]
    w.write(
        "customer_actions",
        pa.Table.from_pylist(
            actions,
            schema=pa.schema(
                [
                    ("customer_id", pa.string()),
                    ("segment", pa.string()),
                    ("action", pa.string()),
                    ("channel", pa.string()),
                    ("reason", pa.string()),
                    ("expected_value", pa.float64()),
                    ("value_at_stake", pa.float64()),
                    ("uplift", pa.float64()),
                    ("marketing", pa.bool_()),
                    ("not_before", pa.timestamp("us", tz="UTC")),
                    ("rank", pa.int64()),
                ]
            ),
        ),
    )
    consents = w.read_arrow("consents").to_pylist()
    for c in EMAIL_GRANTED + EMAIL_WITHDRAWN:
        consents.append(
            {
                "customer_id": c,
                "purpose": "email_marketing",
                "status": "granted",
                "recorded_at": T0,
                "source": "web",
            }
        )
    for c in EMAIL_WITHDRAWN:
        consents.append(
            {
                "customer_id": c,
                "purpose": "email_marketing",
                "status": "withdrawn",
                "recorded_at": T0 + timedelta(days=10),
                "source": "web",
            }
        )
    w.write("consents", pa.Table.from_pylist(consents, schema=w.read_arrow("consents").schema))
    from socialcrm.programs.campaigns import ASSIGNMENTS, CAMPAIGNS

    w.write(
        "campaigns",
        pa.Table.from_pylist(
            [
                {
                    "campaign_id": "spring",
                    "name": "Spring lamps",
                    "kind": "direct",
                    "channel": "email",
                    "starts_at": T0,
                    "ends_at": T0 + timedelta(days=60),
                    "holdout_share": 0.3,
                    "seed": 0,
                    "post_ids": "",
                    "created_at": T0,
                },
            ],
            schema=CAMPAIGNS,
        ),
    )
    w.write(
        "campaign_assignments",
        pa.Table.from_pylist(
            [
                {"campaign_id": "spring", "customer_id": c, "grp": g}
                for c, g in (("c000", "treatment"), ("c002", "treatment"), ("c001", "control"))
            ],
            schema=ASSIGNMENTS,
        ),
    )


LOYALTY = {"c000": 1200, "c004": 300}  # points earned by purchases
REFERRALS = [
    ("r1", "c000", "rewarded", 5.0),
    ("r2", "c000", "rewarded", 5.0),
    ("r3", "c004", "rewarded", 5.0),
    ("r4", "c004", "refused", 0.0),
]


def seed_activity(db_url: str) -> dict[str, int]:
    """Conversations, ideas, loyalty and referral lines in the app database; ids by name.

    c000: two conversations (an open one whose last message is the XSS payload, and a
    closed one), proposes idea "battery" (3 votes) and votes for idea "strap".
    """
    from socialcrm.appdb.models import (
        Conversation,
        ConversationMessage,
        Idea,
        IdeaContributor,
        IdeaVote,
        LoyaltyEntry,
        ReferralEntry,
    )

    db = AppDB(db_url)
    t = datetime(2025, 3, 1)
    out = {}
    with db.session() as s:
        for name, customer, state, priority, texts in (
            ("open", "c000", "open", 81.5, ["my Aurora lamp broke", XSS]),
            ("closed", "c000", "closed", 12.0, ["thanks for the help"]),
            ("other", "c001", "new", 50.0, ["hello from c001"]),
        ):
            conv = Conversation(
                key=f"thread:bluesky:{name}",
                platform="bluesky",
                author_handle=f"{name}_author",
                customer_id=customer,
                queue="general",
                subject=texts[0],
                state=state,
                priority=priority,
                messages=len(texts),
                first_message_at=t,
                last_message_at=t + timedelta(hours=len(texts)),
                first_response_due=t,
                resolution_due=t,
            )
            s.add(conv)
            s.flush()
            for k, text in enumerate(texts):
                s.add(
                    ConversationMessage(
                        conversation_id=conv.id,
                        platform="bluesky",
                        post_id=f"{name}-{k}",
                        direction="in",
                        author_handle=f"{name}_author",
                        text=text,
                        created_at=t + timedelta(hours=k + 1),
                    )
                )
            out[name] = conv.id
        for name, contributor, voters in (
            ("battery", "c000", ["c001", "c002", "c003"]),
            ("strap", "c005", ["c000", "c007"]),
            ("unrelated", "c009", ["c001"]),
        ):
            idea = Idea(
                title=f"Idea {name}",
                status="planned" if name == "battery" else "new",
                source="api",
                created_by="test",
            )
            s.add(idea)
            s.flush()
            s.add(IdeaContributor(idea_id=idea.id, origin_idea_id=idea.id, customer_id=contributor))
            for v in voters:
                s.add(IdeaVote(idea_id=idea.id, origin_idea_id=idea.id, voter=v))
            out[name] = idea.id
        for customer, points in LOYALTY.items():
            s.add(
                LoyaltyEntry(
                    customer_id=customer,
                    event_key=f"order:{customer}",
                    kind="purchase",
                    points=points,
                    occurred_at=t,
                    source="orders",
                )
            )
        for order, referrer, status, reward in REFERRALS:
            s.add(
                ReferralEntry(
                    order_id=order,
                    code="ABCDEFGH",
                    referrer_id=referrer,
                    buyer_id="c050",
                    order_amount=100.0,
                    order_currency="EUR",
                    ordered_at=t,
                    status=status,
                    reason=None if status == "rewarded" else "self_referral",
                    reward=reward,
                    reward_currency="EUR",
                    via="claim",
                )
            )
    db.close()
    return out


@dataclass
class FullSite(Site):
    """A site whose workspace also holds targeting tables and app-database activity."""

    ids: dict[str, int] | None = None


def _full_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("full") / "ws"
    build_warehouse(home / "warehouse")
    build_targeting(home / "warehouse")
    return home


@pytest.fixture(scope="session")
def full_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullSite]:
    """The app on SQLite over the known warehouse plus targeting, programs and activity."""
    settings = Settings(home=_full_home(tmp_path_factory), web_token_cache_seconds=0)
    tokens = seed_users(settings.resolved_database_url)
    ids = seed_activity(settings.resolved_database_url)
    for url in serve(settings):
        yield FullSite(url, settings, tokens, settings.resolved_database_url, ids)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def full_api_site(request: pytest.FixtureRequest, full_site: FullSite) -> Iterator[FullSite]:
    """The full site with its app database on SQLite, then on PostgreSQL (its own database)."""
    if request.param == "sqlite":
        yield full_site
        return
    import sqlalchemy

    base = request.getfixturevalue("postgres_url")
    engine = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.execute(sqlalchemy.text("CREATE DATABASE crm_full"))
    engine.dispose()
    url = base.rsplit("/", 1)[0] + "/crm_full"
    settings = full_site.settings.model_copy(update={"database_url": url})
    tokens = seed_users(url)
    ids = seed_activity(url)
    for served in serve(settings):
        yield FullSite(served, settings, tokens, url, ids)


# -- identity history and households: the "family" site ------------------------------------
# c020 was merged into c000 on day 2; a reviewer said c021 is someone else on day 5, and
# the run of day 6 split it off; c000, c003 and c006 live at one address.
MERGED_AT = T0 + timedelta(days=2)
DECIDED_AT = T0 + timedelta(days=5)
SPLIT_AT = T0 + timedelta(days=6)
HOUSEHOLD = ("c000", "c003", "c006")
HOUSEHOLD_ADDRESS = "12 Lovelace Lane, 10115 Berlin, DE"


def build_family(root: Path) -> None:
    """identity_clusters, identity_lineage, identity_decisions and households on top of
    :func:`build_warehouse`."""
    from socialcrm.connecting.clusters import CLUSTERS_SCHEMA, DECISIONS_SCHEMA, LINEAGE_SCHEMA
    from socialcrm.connecting.households import HOUSEHOLDS_SCHEMA

    w = Warehouse(root)
    ids = [f"c{i:03d}" for i in range(N)]
    person = {i: ("c000" if i == "c020" else i) for i in ids}
    w.write(
        "identity_clusters",
        pa.Table.from_pylist(
            [
                {
                    "record_id": i,
                    "customer_id": person[i],
                    "match_probability": 1.0 if person[i] == "c000" else None,
                    "cluster_size": 2 if person[i] == "c000" else 1,
                    "id_since": T0,
                }
                for i in ids
            ],
            schema=CLUSTERS_SCHEMA,
        ),
    )
    w.write(
        "identity_lineage",
        pa.Table.from_pylist(
            [
                {
                    "event": "merge",
                    "customer_id": "c000",
                    "other_id": "c020",
                    "records": 1,
                    "at": MERGED_AT,
                },
                {
                    "event": "split",
                    "customer_id": "c000",
                    "other_id": "c021",
                    "records": 1,
                    "at": SPLIT_AT,
                },
            ],
            schema=LINEAGE_SCHEMA,
        ),
    )
    w.write(
        "identity_decisions",
        pa.Table.from_pylist(
            [
                {
                    "record_id_l": "c000",
                    "record_id_r": "c021",
                    "decision": "no_match",
                    "decided_by": "agent@test.io",
                    "decided_at": DECIDED_AT,
                    "note": "unmerge",
                },
            ],
            schema=DECISIONS_SCHEMA,
        ),
    )
    w.write(
        "households",
        pa.Table.from_pylist(
            [
                {
                    "household_id": "hh:c000",
                    "customer_id": c,
                    "household_size": len(HOUSEHOLD),
                    "evidence": "same address",
                    "address": HOUSEHOLD_ADDRESS,
                    "first_seen": T0,
                }
                for c in HOUSEHOLD
            ],
            schema=HOUSEHOLDS_SCHEMA,
        ),
    )


@pytest.fixture(scope="session")
def family_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app over the known warehouse plus identity history and one household."""
    home = tmp_path_factory.mktemp("family") / "ws"
    build_warehouse(home / "warehouse")
    build_family(home / "warehouse")
    settings = Settings(home=home, web_token_cache_seconds=0)
    tokens = seed_users(settings.resolved_database_url)
    for url in serve(settings):
        yield Site(url, settings, tokens, settings.resolved_database_url)
