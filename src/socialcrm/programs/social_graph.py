"""The workspace's influence graph: who can influence whom, and who may be a seed.

Edges come from two input tables, joined and numbered in the engine so only integer
edge ends reach Python:

* ``follows`` — a follower sees what the followed account posts, so the followed account
  can influence the follower (source = followed, target = follower);
* ``posts`` reshares — a reshare of a post is observed influence of its author on the
  resharer (source = original author, target = resharer).

Nodes are ``platform:handle``. Influence probabilities learned from reshares follow the
Bernoulli estimate of Goyal, Bonchi & Lakshmanan (WSDM 2010): p(u→v) = A(u→v) / A(u),
the share of u's posts that v reshared, shrunk towards the weighted-cascade prior
1/in-degree(v) with ``prior_strength`` pseudo-posts, so an author with two posts does not
get p = 1 from one reshare.

Only customers whose latest ``social_linking`` consent is ``granted`` may be seeds:
a handle is eligible when a customer record holds it as an identity with that consent in
force, and no record holding it has refused or withdrawn it.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from socialcrm.programs import kernels
from socialcrm.programs.diffusion import DiffusionGraph, Model, graph_from_codes
from socialcrm.store.schemas import CONSENTS, FOLLOWS, IDENTITIES, PLATFORMS, POSTS
from socialcrm.store.workspace import Workspace


@dataclass(frozen=True)
class WorkspaceGraph:
    graph: DiffusionGraph
    eligible: np.ndarray
    """Per node: may be a seed (a customer with social-linking consent in force)."""
    customer_of: dict[str, str]
    """Eligible node → customer id."""
    numbered_edges: pa.Table
    """(src, dst, follows, reshares) with node numbers of ``graph``."""

    @property
    def edges(self) -> pd.DataFrame:
        """(source, target, follows, reshares) by node name (for inspection: names of
        millions of edges cost seconds)."""
        e = self.numbered_edges
        labels = self.graph.labels
        return pd.DataFrame(
            {
                "source": labels[e.column("src").to_numpy()],
                "target": labels[e.column("dst").to_numpy()],
                "follows": e.column("follows").to_numpy(),
                "reshares": e.column("reshares").to_numpy(),
            }
        )


def _latest_consent(ws: Workspace, purpose: str) -> ir.Table:
    c = ws.warehouse.table_or_empty("consents", CONSENTS.arrow_schema)
    c = c.filter(c.purpose == purpose)
    w = ibis.window(group_by=c.customer_id, order_by=ibis.desc(c.recorded_at))
    latest = c.mutate(rank=ibis.row_number().over(w)).filter(lambda t: t["rank"] == 0)
    return latest.select("customer_id", "status")


def _influences(ws: Workspace) -> ir.Table:
    """One row per follow and per reshare: (source, target, follows, reshares)."""
    f = ws.warehouse.table_or_empty("follows", FOLLOWS.arrow_schema)
    p = ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)
    follows = f.select(
        source=f.platform + ":" + f.followed_handle,
        target=f.platform + ":" + f.follower_handle,
        follows=ibis.literal(1),
        reshares=ibis.literal(0),
    )
    orig = p.select(o_id=p.post_id, o_author=p.platform + ":" + p.author_handle)
    rs = p.filter(p.reshare_of_post_id.notnull())
    j = rs.join(orig, rs.reshare_of_post_id == orig.o_id)
    reshares = j.select(
        source=j.o_author,
        target=j.platform + ":" + j.author_handle,
        follows=ibis.literal(0),
        reshares=ibis.literal(1),
    )
    both = follows.union(reshares, distinct=False)
    return both.filter(both.source != both.target)


def _numbered_edges(ws: Workspace) -> tuple[pa.Array, pa.Table, np.ndarray]:
    """Node names in name order; per edge ``src`` and ``dst`` (node numbers),
    ``follows`` and ``reshares``; per node its original posts, A(u).

    The engine numbers the nodes, so only integers cross into Python: 20M names as
    Python strings (and hashing them again to number them) grew 20× for 10× the
    edges. Numbering by name, not by the engine's row order, makes the graph, and the
    seeds drawn on it, the same on every run.
    """
    both = _influences(ws)
    both = both.filter(both.source.notnull() & both.target.notnull())
    ends = both.select(node=both.source).union(both.select(node=both.target), distinct=True)
    labels = ws.engine.to_arrow(ends.order_by("node")).column("node").combine_chunks()
    ids = ws.engine.memtable(
        pa.table({"node": labels, "id": pa.array(np.arange(len(labels), dtype=np.int64))})
    )
    src = ids.select(s_node=ids.node, src=ids.id)
    dst = ids.select(d_node=ids.node, dst=ids.id)
    j = both.join(src, both.source == src.s_node).join(dst, both.target == dst.d_node)
    edges = ws.engine.to_arrow(
        j.group_by("src", "dst").aggregate(
            follows=j.follows.max().cast("int64"), reshares=j.reshares.sum().cast("int64")
        )
    )
    p = _author_posts(ws)
    pj = p.join(ids, p.node == ids.node)
    counts = ws.engine.to_arrow(pj.select(id=pj.id, posts=pj.posts.cast("int64")))
    posts = np.zeros(len(labels), dtype=np.float64)
    posts[counts.column("id").to_numpy()] = counts.column("posts").to_numpy()
    return labels, edges, posts


def _author_posts(ws: Workspace) -> ir.Table:
    p = ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)
    p = p.filter(p.reshare_of_post_id.isnull())
    return p.group_by(node=p.platform + ":" + p.author_handle).aggregate(posts=p.count())


def reshare_probabilities(
    edges: pd.DataFrame, posts: pd.DataFrame, prior_strength: float = 1.0
) -> np.ndarray:
    """Goyal et al.'s Bernoulli p(u→v) = (A(u→v) + s·p0) / (A(u) + s), p0 = 1/in-degree(v).

    >>> e = pd.DataFrame({"source": ["a", "a"], "target": ["b", "c"], "reshares": [3, 0]})
    >>> [round(float(x), 3) for x in reshare_probabilities(e, pd.DataFrame({"node": ["a"],
    ...     "posts": [9]}))]
    [0.4, 0.1]
    """
    if prior_strength < 0:
        raise ValueError("prior_strength must be non-negative")
    target = edges["target"]
    if target.isna().any():  # groups leave a missing target out: keep that behaviour
        indeg: np.ndarray = (
            edges.groupby("target")["source"].transform("size").to_numpy(dtype=float)
        )
    else:  # rows per target by integer codes: a string group-by cost twice as much
        codes = pd.factorize(target.to_numpy())[0]
        indeg = np.bincount(codes)[codes].astype(float)
    prior = 1.0 / indeg
    a_u: np.ndarray = (
        edges["source"].map(posts.set_index("node")["posts"]).fillna(0).to_numpy(float)
    )
    # a reshare is one of u's posts propagated; never more than u's posts
    a_uv = np.minimum(edges["reshares"].to_numpy(float), np.maximum(a_u, 0))
    a_u = np.maximum(a_u, a_uv)
    denom = a_u + prior_strength
    return np.where(denom > 0, (a_uv + prior_strength * prior) / np.maximum(denom, 1e-12), prior)


def seed_eligibility(ws: Workspace) -> dict[str, str]:
    """Handle node → customer id for handles whose owner allows social linking (the
    first such customer id by name when several records hold the handle)."""
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    ids = ids.filter(ids.kind.isin(list(PLATFORMS)))
    h = ids.select(node=ids.kind + ":" + ids.value, customer_id=ids.customer_id)
    latest = _latest_consent(ws, "social_linking")
    latest = latest.select(c_id=latest.customer_id, status=latest.status)
    j = h.left_join(latest, h.customer_id == latest.c_id)
    status = j.status.fill_null("none")
    g = j.group_by("node").aggregate(
        refused=status.isin(["refused", "withdrawn"]).any(),
        customer_id=j.customer_id.min(where=status == "granted"),
    )
    ok = ws.engine.to_arrow(
        g.filter(~g.refused & g.customer_id.notnull()).select("node", "customer_id")
    )
    nodes, customers = ok.column("node").to_pylist(), ok.column("customer_id").to_pylist()
    return dict(zip(nodes, customers, strict=True))


def workspace_graph(
    ws: Workspace,
    model: Model | str = "learned",
    *,
    p: float | None = None,
    prior_strength: float = 1.0,
) -> WorkspaceGraph:
    """The influence graph of the workspace with seed eligibility from consent.

    ``model`` is ``learned`` (probabilities from reshares), ``wc``, ``ic`` (needs ``p``)
    or ``lt``.
    """
    labels, e, posts = _numbered_edges(ws)
    if not e.num_rows:
        raise ValueError("no follows or reshares in the workspace: no influence graph")
    u = e.column("src").to_numpy()
    v = e.column("dst").to_numpy()
    names = np.asarray(labels.to_numpy(zero_copy_only=False), dtype=object)
    if model == "learned":
        if prior_strength < 0:
            raise ValueError("prior_strength must be non-negative")
        reshares = e.column("reshares").to_numpy()
        probs = kernels.reshare_probabilities(u, v, reshares, posts, float(prior_strength))
        graph = graph_from_codes(names, u, v, "weighted", weights=probs)
    else:
        graph = graph_from_codes(names, u, v, model, p=p)  # type: ignore[arg-type]
    customer_of = seed_eligibility(ws)
    handles = pa.array(list(customer_of), pa.string())
    eligible = pc.is_in(labels, value_set=handles).to_numpy(zero_copy_only=False)
    kept = pc.is_in(handles, value_set=labels).to_numpy(zero_copy_only=False)
    return WorkspaceGraph(
        graph,
        np.asarray(eligible, dtype=bool),
        {k: v for k, v, ok in zip(customer_of, customer_of.values(), kept, strict=True) if ok},
        e,
    )
