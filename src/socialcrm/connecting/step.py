"""The connecting pipeline step: graph, influence per handle and customer, communities.

Relational work (edges, per-handle counts, per-topic counts) runs on the engine; only
compact summaries come back: the weighted edge list between nodes per platform, one row
per handle, the reshare edges of cascades, and per-(handle, topic) counts.

**The attention graph** (PageRank, participation, hubs): every follow (weight 1), reply (1),
reshare (2) and first mention (0.5) between nodes, interactions fading with a half-life,
summed over platforms. A node is a handle, or a consenting person (all her handles).

**The community graph** is the same edges kept apart per platform, without some nodes:

- *which edges*: follows, replies, reshares and mentions with the attention graph's
  weights. Follows carry most of the signal (three in four join two members of the same
  interest on the demo brands), interactions add the conversations; both are attention.
- *per platform*: nobody follows across networks, so Leiden's modularity is maximised on
  each platform's edges alone, at the resolution that makes it the likelihood of a
  degree-corrected planted partition (Newman 2016; estimated from the platform's own
  partition at resolution 1). Maximised on the union of all platforms, modularity expects
  edges between platforms that cannot exist, and each platform came out as one community
  (NMI 0.05 against the demo's truth at 100,000 people).
- *across platforms*: a consenting person is one node with edges on several platforms;
  the platforms' communities that share such people are joined (Leiden on the graph of
  communities, an edge per shared person). Without consenting people on several
  networks, every platform's communities stay its own.
- *left out* (community_id -1): the brand's and its competitors' own accounts (the
  catalogue's handles: followed by customers of every interest, they would glue all
  communities of their platform together), spammers (most posts marked spam by
  listening) and accounts that follow at random (``network.random_followers``: bots that
  listening does not catch), whose ties say nothing about an interest; handles with no
  edge, and groups under :data:`MIN_COMMUNITY` nodes.

See ``network.layered_communities`` and ``docs/connecting.md``.
"""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.expr import types as ir

from socialcrm.connecting.graph import handle_nodes, node_edges, reference_time
from socialcrm.connecting.influence import (
    MAX_SPAM_SHARE,
    WEIGHTS,
    cascade_reach,
    score_nodes,
    within_module_z,
)
from socialcrm.connecting.network import (
    Network,
    Ties,
    build,
    external_share,
    layered_communities,
    pagerank,
    participation,
    random_followers,
)
from socialcrm.store.run import RunContext
from socialcrm.store.schemas import FOLLOWS, POSTS
from socialcrm.store.workspace import Workspace

MIN_COMMUNITY = 3
"""Smaller groups (pairs, isolated handles) get community_id -1 instead of a row each."""
TOP = 3

PARTS = list(WEIGHTS)
HANDLE_COLUMNS = [
    "platform", "handle", "customer_id", "influence_score", "amplifier", "community_id",
    "community_role", "pagerank", "followers", "posts", "responses", "cascade_reach",
    "posts_per_month", "responses_per_post", "participation",
    *[f"part_{p}" for p in PARTS], *[f"contrib_{p}" for p in PARTS],
]  # fmt: skip
CUSTOMER_COLUMNS = [
    "customer_id", "influence_score", "amplifier", "community_id", "community_role",
    "pagerank", "followers", "posts", "responses", "cascade_reach", "posts_per_month",
    "responses_per_post", "participation", "handles", "platforms",
    *[f"part_{p}" for p in PARTS], *[f"contrib_{p}" for p in PARTS],
]  # fmt: skip
STRUCTURE_SCHEMA = pa.schema(
    [
        pa.field("community_id", pa.int64(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("customers", pa.int64(), nullable=False),
        pa.field("top_amplifiers", pa.string()),
        pa.field("amplifiers", pa.int64(), nullable=False),
        pa.field("external_edge_share", pa.float64(), nullable=False),
        pa.field("modularity", pa.float64(), nullable=False),
    ]
)
"""``community_structure``: what the graph alone says of each community; the
``communities`` step adds what its members buy and talk about."""


def _posts(ws: Workspace) -> ir.Table:
    return ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)


def handle_activity(ws: Workspace) -> tuple[ir.Table, float]:
    """Every handle seen (:func:`handle_nodes`: platform, handle, customer_id, node) with
    its own posts, responses received, followers, accounts reached through reshares and,
    when listening ran, posts marked spam; and the observed window in months.

    Joined on the engine: a million handles joined in pandas on their two text keys took
    a fifth of the step at a million customers.
    """
    posts = _posts(ws)
    follows = ws.warehouse.table_or_empty("follows", FOLLOWS.arrow_schema)
    own = posts.filter(posts.reshare_of_post_id.isnull())
    authored = own.group_by(a_platform=own.platform, a_handle=own.author_handle).aggregate(
        a_posts=own.count(), a_followers=own.author_followers.max()
    )
    parent = posts.select(pid=posts.post_id, p_author=posts.author_handle)
    responses = []
    for col in ("reply_to_post_id", "reshare_of_post_id"):
        j = posts.inner_join(parent, posts[col] == parent.pid)
        j = j.filter(j.author_handle != j.p_author)
        responses.append(j.select(r_platform=j.platform, r_handle=j.p_author))
    resp = responses[0].union(responses[1], distinct=False)
    received = resp.group_by("r_platform", "r_handle").aggregate(r_responses=resp.count())
    fol = follows.group_by(f_platform=follows.platform, f_handle=follows.followed_handle).aggregate(
        f_rows=follows.follower_handle.nunique()
    )
    reach = ws.engine.memtable(handle_reach(ws))
    parts = [
        (authored, "a_platform", "a_handle"),
        (received, "r_platform", "r_handle"),
        (fol, "f_platform", "f_handle"),
        (reach, "c_platform", "c_handle"),
    ]
    spam = _spam(ws)
    if spam is not None:
        parts.append((spam, "s_platform", "s_handle"))
    h = handle_nodes(ws)
    for part, platform, handle in parts:
        h = h.left_join(part, [h.platform == part[platform], h.handle == part[handle]])

    def count(column: str) -> ir.IntegerValue:
        return h[column].cast("int64").fill_null(0)

    columns = {
        "posts": count("a_posts"),
        "responses": count("r_responses"),
        "followers": ibis.greatest(count("a_followers"), count("f_rows")),
        "cascade_reach": count("c_reach"),
    }
    if spam is not None:
        columns["spam_posts"] = count("s_spam_posts")
    activity = h.select("platform", "handle", "customer_id", "node", **columns)
    span = ws.engine.execute(posts.aggregate(lo=posts.created_at.min(), hi=posts.created_at.max()))
    lo, hi = span.lo.iloc[0], span.hi.iloc[0]
    days = 30.0 if pd.isna(lo) else max((hi - lo).total_seconds() / 86400.0, 30.0)
    return activity, days / 30.0


REACH_SCHEMA = pa.schema(
    [("c_platform", pa.string()), ("c_handle", pa.string()), ("c_reach", pa.int64())]
)


def handle_reach(ws: Workspace) -> pa.Table:
    """Per (platform, handle): distinct accounts reached through reshares of their posts
    (``c_platform``, ``c_handle``, ``c_reach``; only handles whose posts were reshared)."""
    posts = _posts(ws)
    rs = posts.filter(posts.reshare_of_post_id.notnull())
    reshares = ws.engine.to_arrow(
        rs.select("post_id", author=rs.author_handle, parent_id=rs.reshare_of_post_id)
    ).to_pandas()
    cascades = cascade_reach(reshares)
    if cascades.empty:
        return REACH_SCHEMA.empty_table()
    roots = pa.table({"root_id": cascades.index.to_numpy().astype(str)})
    owners = ws.engine.to_arrow(
        posts.filter(posts.post_id.isin(ws.engine.memtable(roots).root_id)).select(
            "platform", handle=posts.author_handle, root_id=posts.post_id
        )
    ).to_pandas()
    merged = owners.merge(cascades, left_on="root_id", right_index=True)
    reach = merged.groupby(["platform", "handle"], as_index=False).agg(c_reach=("reached", "sum"))
    reach = reach.rename(columns={"platform": "c_platform", "handle": "c_handle"})
    return pa.Table.from_pandas(reach, preserve_index=False).cast(REACH_SCHEMA)


def _spam(ws: Workspace) -> ir.Table | None:
    """Per (platform, handle): own posts listening marked as spam."""
    if not ws.warehouse.exists("posts_enriched"):
        return None
    pe = ws.warehouse.table("posts_enriched")
    if "is_spam" not in pe.columns:
        return None
    return pe.group_by(s_platform=pe.platform, s_handle=pe.author_handle).aggregate(
        s_spam_posts=pe.is_spam.fill_null(False).cast("int64").sum()
    )


def step_connecting(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Write handle_influence, customer_influence and community_structure."""
    wh = ws.warehouse
    if not (wh.exists("posts") or wh.exists("follows")):
        return {}
    eng = ws.engine
    ref = reference_time(ws)
    edges = eng.to_arrow(node_edges(ws, ws.settings.graph_half_life_days, ref))
    activity, months = handle_activity(ws)
    handle_rows = eng.to_arrow(activity)

    # the attention graph: a pair of nodes tied on several platforms has an edge per
    # platform, which PageRank and the undirected graph add up
    net = build(edges, pc.unique(handle_rows["node"]))
    pr = pagerank(net)
    ties = Ties.of_network(net)
    # every handle's vertex: what its node's figures add up over, and where they come from
    vertex = net.index(handle_rows["node"])
    handles = handle_rows.to_pandas()
    nodes = pd.DataFrame({"node": net.names})
    for c in ("posts", "responses", "followers", "cascade_reach"):
        nodes[c] = _per_vertex(vertex, handles[c], net.n)
    nodes["handles"] = np.bincount(vertex, minlength=net.n)
    customer = np.full(net.n, None, dtype=object)
    customer[vertex] = handles.customer_id.to_numpy()  # one person's handles: her id each
    nodes["customer_id"] = customer
    nodes["platforms"] = platforms_of(handles, vertex, net.n)
    nodes["audience_cutoff"] = structural_cutoff(handles, vertex, net.n)
    nodes["posts_per_month"] = nodes.posts / months
    nodes["responses_per_post"] = np.where(
        nodes.posts > 0, nodes.responses / nodes.posts.clip(lower=1), 0.0
    )
    if "spam_posts" in handles:
        spam_posts = _per_vertex(vertex, handles.spam_posts, net.n)
        nodes["spam_share"] = np.where(nodes.posts > 0, spam_posts / nodes.posts.clip(lower=1), 0.0)

    outside = _outside_communities(ws, handles, vertex, nodes)
    membership = _communities_of(net, outside)
    modularity = ties.modularity(membership)
    sizes = np.bincount(membership) if len(membership) else np.zeros(0, np.int64)
    community = (
        np.where(sizes[membership] >= MIN_COMMUNITY, membership, -1) if net.n else membership
    )
    strength = ties.strength()
    nodes["pagerank"] = pr
    nodes["community_id"] = community
    nodes["participation"] = participation(ties, membership)
    nodes["degree"] = ties.degree()
    nodes["within_z"] = within_module_z(strength, membership) if net.n else np.zeros(0)
    scored = score_nodes(nodes)

    node_cols = ["node", "influence_score", "amplifier", "community_id", "community_role",
                 "pagerank", "participation", "posts_per_month", "responses_per_post",
                 *[f"part_{p}" for p in PARTS], *[f"contrib_{p}" for p in PARTS]]  # fmt: skip
    h = handles.assign(**{c: scored[c].to_numpy()[vertex] for c in node_cols[1:]})
    h["posts_per_month"] = h.posts / months
    h["responses_per_post"] = np.where(h.posts > 0, h.responses / h.posts.clip(lower=1), 0.0)
    handle_table = h[HANDLE_COLUMNS].sort_values(["platform", "handle"]).reset_index(drop=True)
    cust = scored[scored.node.str.startswith("c:")].copy()
    customer_table = cust[CUSTOMER_COLUMNS].sort_values("customer_id").reset_index(drop=True)
    structure = _structure(scored, ties, membership, community, modularity)
    return {
        "handle_influence": wh.write("handle_influence", _arrow(handle_table)),
        "customer_influence": wh.write("customer_influence", _arrow(customer_table)),
        "community_structure": wh.write("community_structure", structure),
    }


def _per_vertex(vertex: np.ndarray, values: pd.Series, n: int) -> np.ndarray:
    """Whole-number ``values`` of handles summed per vertex (exact below 2**53)."""
    return np.bincount(vertex, values.to_numpy(np.float64), n).astype(np.int64)


def platforms_of(handles: pd.DataFrame, vertex: np.ndarray, n: int) -> np.ndarray:
    """Per vertex: the platforms of its handles, sorted and joined by ``;`` (None without
    any). One bit per platform, summed per vertex: no Python call per node, which took
    half a minute at a million."""
    names = sorted(handles.platform.dropna().unique())
    on = pd.DataFrame({"v": vertex, "platform": handles.platform.to_numpy()})
    on = on.dropna().drop_duplicates()
    bit = np.left_shift(1, on.platform.map({p: i for i, p in enumerate(names)}).to_numpy())
    mask = np.bincount(on.v.to_numpy(), bit.astype(np.float64), n).astype(np.int64)
    spelled: dict[int, str | None] = {
        m: ";".join(p for i, p in enumerate(names) if m >> i & 1) for m in np.unique(mask).tolist()
    }
    spelled[0] = None
    return np.array([spelled[m] for m in mask.tolist()], dtype=object)


def structural_cutoff(handles: pd.DataFrame, vertex: np.ndarray, n: int) -> np.ndarray:
    """Per vertex: the structural cutoff ``sqrt(<k> N)`` of the networks it is on (NaN for
    a vertex without a handle).

    For a platform with N accounts and a mean follower count <k>, ``sqrt(<k> N)`` (the
    square root of all its follows) is the largest audience a random network of that size
    and density gives any account without correlations between degrees (Boguñá,
    Pastor-Satorras & Vespignani 2004): above it an account is a hub of the network, not
    just a well-followed member. A person linked on several networks is measured against
    the follows of all of them.
    """
    follows = handles.groupby("platform").followers.sum().astype(float)
    on = pd.DataFrame({"v": vertex, "platform": handles.platform.to_numpy()}).drop_duplicates()
    weight = on.platform.map(follows).fillna(0.0).to_numpy()
    v = on.v.to_numpy()
    cutoff = np.sqrt(np.bincount(v, weight, n))
    cutoff[np.bincount(v, minlength=n) == 0] = np.nan
    return cutoff


def _outside_communities(
    ws: Workspace, handles: pd.DataFrame, vertex: np.ndarray, nodes: pd.DataFrame
) -> np.ndarray:
    """Per node of ``nodes``: left out of community detection? The brand's and its
    competitors' own accounts (the catalogue's handles) and spammers (most of their posts
    marked spam by listening); :func:`_communities_of` adds those that follow at random.

    Their ties say nothing about an interest: a company account is followed by its
    customers from every community of its platform, and a spam bot follows at random.
    """
    out = np.zeros(len(nodes), bool)
    own = _company_handles(ws)
    if own:
        out[vertex[handles.handle.str.lower().isin(own).to_numpy()]] = True
    if "spam_share" in nodes:
        out |= nodes.spam_share.fillna(0.0).to_numpy() >= MAX_SPAM_SHARE
    return out


def _company_handles(ws: Workspace) -> set[str]:
    """The brand's and competitors' handles in the workspace's catalogue (lower case).

    Read from the catalogue file itself (``brand`` and ``competitors``, each with
    ``handles`` per platform), as listening reads it: connecting sits below listening.
    """
    path = ws.settings.catalogue_path
    if not path.is_file():
        return set()
    data = json.loads(path.read_text(encoding="utf-8"))
    companies = ([data["brand"]] if data.get("brand") else []) + list(data.get("competitors") or ())
    return {str(h).lower() for c in companies for h in (c.get("handles") or {}).values() if h}


def _communities_of(net: Network, outside: np.ndarray) -> np.ndarray:
    """A community per node (:func:`layered_communities` on the per-platform edges, without
    the ``outside`` nodes nor those that follow at random); every node without one becomes
    a community of its own. The edges are the graph's own (``build``: vertex indices, in one
    order whatever order the engine returned them in, so that Leiden's seeded runs find
    the same communities on every engine; looking ten million names up again took seconds
    at a million people)."""
    names = net.names
    assert net.src is not None and net.dst is not None
    assert net.weight is not None and net.layer is not None
    src, dst, weight, layer = net.src, net.dst, net.weight, net.layer
    outside = outside | random_followers(src, dst, layer, len(names))
    keep = ~outside[src] & ~outside[dst]
    membership = layered_communities(src[keep], dst[keep], weight[keep], layer[keep], len(names))
    alone = membership < 0
    membership[alone] = membership.max(initial=-1) + 1 + np.arange(int(alone.sum()))
    return membership


def _arrow(frame: pd.DataFrame) -> pa.Table:
    t = pa.Table.from_pandas(frame, preserve_index=False)
    return t.cast(
        pa.schema(
            [
                pa.field(f.name, pa.string())
                if pa.types.is_null(f.type) or f.name in ("customer_id", "platforms")
                else f
                for f in t.schema
            ]
        )
    )


def _structure(
    scored: pd.DataFrame,
    ties: Ties,
    membership: np.ndarray,
    community: np.ndarray,
    modularity: float,
) -> pa.Table:
    """One row per community kept (``MIN_COMMUNITY`` nodes or more): its size, linked
    people, amplifiers, the share of its members' ties that leave it, and the modularity."""
    kept = sorted(set(community.tolist()) - {-1})
    if not kept:
        return STRUCTURE_SCHEMA.empty_table()
    ext = external_share(ties, membership)
    members = scored[scored.community_id >= 0]
    by_members = dict(iter(members.groupby("community_id", sort=False)))
    rows = []
    for cid in kept:
        m = by_members[cid]
        amps = m[m.amplifier].sort_values("influence_score", ascending=False).head(TOP)
        rows.append(
            {
                "community_id": int(cid),
                "size": len(m),
                "customers": int(m.node.str.startswith("c:").sum()),
                "top_amplifiers": ", ".join(_display(n) for n in amps.node) or None,
                "amplifiers": int(m.amplifier.sum()),
                "external_edge_share": float(ext[cid]),
                "modularity": modularity,
            }
        )
    return pa.Table.from_pylist(rows, schema=STRUCTURE_SCHEMA)


def _display(node: str) -> str:
    if node.startswith("c:"):
        return "customer " + node[2:]
    _, platform, handle = node.split(":", 2)
    return f"@{handle} ({platform})"
