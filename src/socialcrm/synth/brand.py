"""The demo brand "Nordlicht": generate its exports and the truth behind them.

``generate_brand`` builds N true persons and everything they leave behind - customer
records in four systems, contact points, orders, social accounts, follows, posts, email
campaigns and consents - and writes the inputs a brand would export (``inputs/``) apart
from the hidden truth that tests check analyses against (``truth/``). Same seed, same
bytes.

Truth files (CSV):

- ``persons.csv``: customer_id, person_id - the person behind each record.
- ``people.csv``: person_id, country, community, attitude, engagement, buyer.
- ``handles.csv``: platform, handle, person_id - every social account of a person,
  canonical form (also the ones no identity row reveals).
- ``accounts.csv``: every account with its kind (customer, bystander, amplifier, bot,
  brand, competitor) and community.
- ``communities.csv``: platform, handle, community (people's accounts and bystanders).
- ``dropout.csv``: person_id, lambda (purchases/year while alive), p_dropout (per
  purchase), dropped_at (empty if alive at the end), n_purchases (completed orders),
  first_order_at, mean_spend (EUR) - one row per buyer.
- ``posts.csv``: post_id, sentiment, intent, topic, entity, is_spam, is_bot, sarcastic,
  lang, idea (suggestion key), event (incident the post belongs to).
- ``events.csv``: incidents that cause spikes, with their dates.

Reshares point at the post they were reshared from (the original or an intermediate
reshare), so cascades can be rebuilt as trees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from socialcrm.store.schemas import CONSENT_PURPOSES, PLATFORMS
from socialcrm.synth import output as out
from socialcrm.synth.accounts import BRAND, COMPETITOR, KIND_NAMES, Accounts, make_accounts
from socialcrm.synth.authored import EVENTS
from socialcrm.synth.catalogue import load_catalogue
from socialcrm.synth.clock import END
from socialcrm.synth.consents import SOURCES as CONSENT_SOURCES
from socialcrm.synth.consents import STATUSES, Consents, make_consents
from socialcrm.synth.graph import Graph, make_graph
from socialcrm.synth.identities import Identities, make_identities
from socialcrm.synth.names import COUNTRIES
from socialcrm.synth.people import Persons, make_persons
from socialcrm.synth.posts import Posts, make_posts
from socialcrm.synth.purchases import Orders, make_orders
from socialcrm.synth.records import Records, make_records
from socialcrm.synth.strings import sarr
from socialcrm.synth.touches import CHANNELS as TOUCH_CHANNELS
from socialcrm.synth.touches import EVENTS as TOUCH_EVENTS
from socialcrm.synth.touches import Touches, make_touches

INPUT_FILES = {
    "customers": "customers.csv",
    "identities": "identities.csv",
    "orders": "orders.csv",
    "posts": "posts.jsonl",
    "follows": "follows.csv",
    "touches": "touches.csv",
    "consents": "consents.csv",
}
"""Input table -> file name under ``inputs/``."""
ATTITUDES = ("promoter", "neutral", "detractor")


@dataclass(frozen=True)
class DemoFiles:
    inputs: dict[str, Path]
    """Table name -> file, for customers, identities, orders, posts, follows, touches,
    consents."""
    truth_dir: Path


def generate_brand(
    out_dir: Path,
    customers: int = 10_000,
    seed: int = 0,
    progress: bool = False,
    hard_names: bool = False,
) -> DemoFiles:
    """Write the demo brand's inputs to ``out_dir/inputs`` and its truth to ``out_dir/truth``.

    ``customers`` is the number of true persons; they leave about 1.7 customer records
    each. Names follow each country's real frequencies; ``hard_names`` draws them from
    small hand-written lists instead, for far more namesakes than life has (a stress
    test for identity resolution; nothing else changes). Deterministic: the same
    ``seed``, ``customers`` and ``hard_names`` give byte-identical files.
    """
    if customers < 50:
        raise ValueError("customers must be at least 50")
    out_dir = Path(out_dir)
    inputs_dir, truth_dir = out_dir / "inputs", out_dir / "truth"
    with _steps(progress, 10) as step:
        step("people")
        persons = make_persons(customers, seed, hard_names=hard_names)
        accounts = make_accounts(persons, seed)
        step("customer records")
        records = make_records(persons, accounts, seed)
        step("contact points")
        identities = make_identities(persons, records, accounts, seed)
        step("orders")
        orders = make_orders(persons, records, identities, seed)
        step("follower graph")
        graph = make_graph(accounts, persons, seed)
        step("posts")
        posts = make_posts(persons, accounts, graph, orders, seed)
        step("consents and campaigns")
        consents = make_consents(persons, records, identities, accounts, seed)
        touches = make_touches(persons, records, identities, consents, orders, seed)
        consents = consents.with_unsubscribes(touches.unsubscribed_record, touches.unsubscribed_at)
        step("writing inputs")
        inputs = _write_inputs(
            inputs_dir, records, identities, orders, accounts, graph, posts, touches, consents
        )
        step("writing truth")
        _write_truth(truth_dir, persons, records, accounts, orders, posts)
        step("done")
    return DemoFiles(inputs=inputs, truth_dir=truth_dir)


@contextmanager
def _steps(show: bool, total: int) -> Iterator[Callable[[str], None]]:
    if not show:
        yield lambda _name: None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("demo brand: {task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task("starting", total=total)

        def step(name: str) -> None:
            bar.update(task, description=name, advance=1)

        yield step


# -- inputs ---------------------------------------------------------------------------------
def _write_inputs(
    d: Path,
    records: Records,
    identities: Identities,
    orders: Orders,
    accounts: Accounts,
    graph: Graph,
    posts: Posts,
    touches: Touches,
    consents: Consents,
) -> dict[str, Path]:
    paths = {t: d / f for t, f in INPUT_FILES.items()}
    cid = records.customer_id
    _write_customers(paths["customers"], records)

    # Identities, grouped by record as a CRM export would list them.
    i = identities
    order = np.argsort(records.id_rank[i.record], kind="stable")
    out.write_csv(
        paths["identities"],
        {
            "customer_id": out.take(cid, i.record[order]),
            "kind": out.string(i.kind[order]),
            "value": out.string(i.value[order]),
            "raw_value": out.take([""], np.zeros(len(order)), np.ones(len(order), bool)),
            "source": out.string(i.source[order]),
            "first_seen": out.timestamps(i.first_seen[order]),
            "last_seen": out.timestamps(i.last_seen[order], i.last_seen_missing[order]),
            "verified": out.booleans(i.verified[order]),
        },
        "identities",
    )

    o = orders
    guest = o.record < 0
    out.write_csv(
        paths["orders"],
        {
            "order_id": out.string(o.order_id),
            "customer_id": out.take(cid, o.record.clip(0), guest),
            "email": out.string(o.email),
            "ordered_at": out.timestamps(o.at, offset_hours=o.offset_hours),
            "amount": out.floats(o.amount),
            "currency": out.string(o.currency),
            "status": out.string(o.status),
            "quantity": out.integers(o.quantity),
            "product_id": out.take([p.id for p in load_catalogue().products], o.product),
            "channel": out.string(o.channel),
        },
        "orders",
    )

    b = posts.batch
    reply = b.reply_to >= 0
    reshare = b.reshare_of >= 0
    gives_lang = np.isin(
        posts.platform, [PLATFORMS.index(p) for p in ("twitter", "mastodon", "bluesky")]
    )
    out.write_jsonl(
        paths["posts"],
        {
            "post_id": out.string(posts.post_id),
            "platform": out.take(PLATFORMS, posts.platform),
            "author_handle": out.take(accounts.display, b.author),
            "created_at": out.timestamps(b.at),
            "text": out.string(b.text),
            "lang": out.string(b.lang, ~gives_lang),
            "reply_to_post_id": out.take(posts.post_id, b.reply_to.clip(0), ~reply),
            "reshare_of_post_id": out.take(posts.post_id, b.reshare_of.clip(0), ~reshare),
            "likes": out.integers(posts.likes),
            "reshares": out.integers(posts.reshares),
            "replies": out.integers(posts.replies),
            "author_followers": out.integers(posts.author_followers),
            "url": out.string(posts.url),
        },
        "posts",
    )

    g = graph
    out.write_csv(
        paths["follows"],
        {
            "platform": out.take(PLATFORMS, accounts.platform[g.follower]),
            "follower_handle": out.take(accounts.display, g.follower),
            "followed_handle": out.take(accounts.display, g.followed),
            "since": out.timestamps(g.since.clip(0), g.since < 0),
        },
        "follows",
    )

    t = touches
    out.write_csv(
        paths["touches"],
        {
            "touch_id": out.ids("T", np.arange(1, len(t.record) + 1), 9),
            "customer_id": out.take(cid, t.record),
            "channel": out.take(TOUCH_CHANNELS, t.channel),
            "campaign_id": out.take(t.campaign_ids, t.campaign),
            "event": out.take(TOUCH_EVENTS, t.event),
            "at": out.timestamps(t.at),
        },
        "touches",
    )

    c = consents
    key = np.lexsort((c.at, c.purpose, records.id_rank[c.record]))
    c_rec, c_pur, c_at = c.record[key], c.purpose[key], c.at[key]
    dup = np.zeros(len(key), bool)
    dup[1:] = (c_rec[1:] == c_rec[:-1]) & (c_pur[1:] == c_pur[:-1]) & (c_at[1:] == c_at[:-1])
    key, c_rec, c_pur, c_at = key[~dup], c_rec[~dup], c_pur[~dup], c_at[~dup]
    out.write_csv(
        paths["consents"],
        {
            "customer_id": out.take(cid, c_rec),
            "purpose": out.take(CONSENT_PURPOSES, c_pur),
            "status": out.take(STATUSES, c.status[key]),
            "recorded_at": out.timestamps(c_at),
            "source": out.take(CONSENT_SOURCES, c.source[key]),
        },
        "consents",
    )
    return paths


def _write_customers(path: Path, records: Records) -> None:
    """Customer records in id order; each source system writes times its own way."""
    order = np.argsort(records.id_rank, kind="stable")
    c, miss = records.columns, records.missing
    src = records.source[order]
    created = records.created_at[order]
    offset = np.select([src == 0, src == 1, src == 2], [99, 0, 1], 99)
    offset = np.where(
        offset == 1,
        np.where(
            np.isin(
                (
                    (created.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64) % 12)
                    + 1
                ),
                np.arange(4, 11),
            ),
            2,
            1,
        ),
        offset,
    )

    def s(name: str) -> object:
        return out.string(c[name][order], miss[name][order])

    out.write_csv(
        path,
        {
            "customer_id": out.string(records.customer_id[order]),
            "source": s("source"),
            "created_at": out.timestamps(created, offset_hours=offset),
            "first_name": s("first_name"),
            "last_name": s("last_name"),
            "birth_date": out.dates(c["birth_date"][order], miss["birth_date"][order]),
            "gender": s("gender"),
            "street": s("street"),
            "city": s("city"),
            "postcode": s("postcode"),
            "country": s("country"),
            "interests": s("interests"),
            "occupation": s("occupation"),
            "preferred_channel": s("preferred_channel"),
            "preferred_social_sites": s("preferred_social_sites"),
            "contact_frequency": s("contact_frequency"),
            "reviews_written": out.integers(
                c["reviews_written"][order], miss["reviews_written"][order]
            ),
            "surveys_answered": out.integers(
                c["surveys_answered"][order], miss["surveys_answered"][order]
            ),
        },
        "customers",
    )


# -- truth ----------------------------------------------------------------------------------
def _write_truth(
    d: Path, persons: Persons, records: Records, accounts: Accounts, orders: Orders, posts: Posts
) -> None:
    cat_ = load_catalogue()
    order = np.argsort(records.id_rank, kind="stable")
    out.write_csv(
        d / "persons.csv",
        {
            "customer_id": out.string(records.customer_id[order]),
            "person_id": out.string(persons.person_id[records.person[order]]),
        },
    )
    out.write_csv(
        d / "people.csv",
        {
            "person_id": out.string(persons.person_id),
            "country": out.string(sarr([c.code for c in COUNTRIES])[persons.country]),
            "community": out.string(sarr(cat_.communities)[persons.community]),
            "attitude": out.string(sarr(ATTITUDES)[persons.attitude]),
            "engagement": out.floats(persons.engagement, 4),
            "buyer": out.booleans(persons.buyer),
        },
    )
    own = accounts.person >= 0
    out.write_csv(
        d / "handles.csv",
        {
            "platform": out.string(sarr(PLATFORMS)[accounts.platform[own]]),
            "handle": out.string(accounts.handle[own]),
            "person_id": out.string(persons.person_id[accounts.person[own]]),
        },
    )
    member = accounts.community >= 0
    out.write_csv(
        d / "communities.csv",
        {
            "platform": out.string(sarr(PLATFORMS)[accounts.platform[member]]),
            "handle": out.string(accounts.handle[member]),
            "community": out.string(sarr(cat_.communities)[accounts.community[member]]),
        },
    )
    out.write_csv(
        d / "accounts.csv",
        {
            "platform": out.string(sarr(PLATFORMS)[accounts.platform]),
            "handle": out.string(accounts.handle),
            "person_id": out.string(
                np.where(own, persons.person_id[accounts.person.clip(0)], ""), ~own
            ),
            "kind": out.string(sarr(KIND_NAMES)[accounts.kind]),
            "community": out.string(
                np.where(member, sarr(cat_.communities)[accounts.community.clip(0)], ""), ~member
            ),
            "is_company": out.booleans(np.isin(accounts.kind, [BRAND, COMPETITOR])),
        },
    )
    t = orders.truth
    alive = t.dropped_at < 0
    out.write_csv(
        d / "dropout.csv",
        {
            "person_id": out.string(persons.person_id[t.person]),
            "lambda": out.floats(t.lam, 6),
            "p_dropout": out.floats(t.p_dropout, 6),
            "dropped_at": out.timestamps(np.where(alive, END, t.dropped_at), alive),
            "n_purchases": out.integers(t.n_purchases),
            "first_order_at": out.timestamps(t.first_order_at),
            "mean_spend": out.floats(t.mean_spend, 2),
        },
    )
    b = posts.batch
    out.write_csv(
        d / "posts.csv",
        {
            "post_id": out.string(posts.post_id),
            "sentiment": out.string(b.sentiment),
            "intent": out.string(b.intent),
            "topic": out.string(b.topic),
            "entity": out.string(b.entity),
            "is_spam": out.booleans(b.is_spam),
            "is_bot": out.booleans(posts.is_bot),
            "sarcastic": out.booleans(b.sarcastic),
            "lang": out.string(b.lang),
            "idea": out.string(b.idea),
            "event": out.string(b.event),
        },
    )
    out.write_csv(
        d / "events.csv",
        {
            "event": out.string(sarr([e[0] for e in EVENTS])),
            "start": out.string(sarr([e[1] for e in EVENTS])),
            "end": out.string(sarr([e[2] for e in EVENTS])),
        },
    )
