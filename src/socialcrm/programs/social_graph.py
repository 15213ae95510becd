"""The workspace's influence graph: who can influence whom, and who may be a seed.

Edges come from two input tables, joined in the engine so only the compact edge list
reaches Python:

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
import numpy as np
import pandas as pd

from socialcrm.programs.diffusion import DiffusionGraph, Model, build_graph
from socialcrm.store.schemas import CONSENTS, FOLLOWS, IDENTITIES, PLATFORMS, POSTS
from socialcrm.store.workspace import Workspace


@dataclass(frozen=True)
class WorkspaceGraph:
    graph: DiffusionGraph
    eligible: np.ndarray
    """Per node: may be a seed (a customer with social-linking consent in force)."""
    customer_of: dict[str, str]
    """Eligible node → customer id."""
    edges: pd.DataFrame


def consent_in_force(ws: Workspace, purpose: str) -> pd.DataFrame:
    """Latest consent row per customer for ``purpose``: (customer_id, status)."""
    c = ws.warehouse.table_or_empty("consents", CONSENTS.arrow_schema)
    c = c.filter(c.purpose == purpose)
    w = ibis.window(group_by=c.customer_id, order_by=ibis.desc(c.recorded_at))
    latest = c.mutate(rank=ibis.row_number().over(w)).filter(lambda t: t["rank"] == 0)
    return ws.engine.to_arrow(latest.select("customer_id", "status")).to_pandas()


def influence_edges(ws: Workspace) -> pd.DataFrame:
    """(source, target, follows, reshares): follow edges and observed reshares."""
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
    both = both.filter(both.source != both.target)
    agg = both.group_by("source", "target").aggregate(
        follows=both.follows.max(), reshares=both.reshares.sum()
    )
    return ws.engine.to_arrow(agg).to_pandas()


def author_post_counts(ws: Workspace) -> pd.DataFrame:
    """Original (not reshared) posts per author node: A(u) of Goyal et al."""
    p = ws.warehouse.table_or_empty("posts", POSTS.arrow_schema)
    p = p.filter(p.reshare_of_post_id.isnull())
    agg = p.group_by(node=p.platform + ":" + p.author_handle).aggregate(posts=p.count())
    return ws.engine.to_arrow(agg).to_pandas()


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
    """Handle node → customer id for handles whose owner allows social linking."""
    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    ids = ids.filter(ids.kind.isin(list(PLATFORMS)))
    handles = ws.engine.to_arrow(
        ids.select(node=ids.kind + ":" + ids.value, customer_id=ids.customer_id)
    ).to_pandas()
    status = consent_in_force(ws, "social_linking").set_index("customer_id")["status"]
    handles["status"] = handles["customer_id"].map(status).fillna("none")
    refused = set(handles.loc[handles["status"].isin(["refused", "withdrawn"]), "node"])
    ok = handles[(handles["status"] == "granted") & ~handles["node"].isin(refused)]
    ok = ok.sort_values(["node", "customer_id"]).drop_duplicates("node")
    return dict(zip(ok["node"], ok["customer_id"], strict=True))


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
    edges = influence_edges(ws)
    if edges.empty:
        raise ValueError("no follows or reshares in the workspace: no influence graph")
    if model == "learned":
        probs = reshare_probabilities(edges, author_post_counts(ws), prior_strength)
        graph = build_graph(edges["source"], edges["target"], "weighted", weights=probs)
    else:
        graph = build_graph(edges["source"], edges["target"], model, p=p)  # type: ignore[arg-type]
    customer_of = seed_eligibility(ws)
    eligible = np.asarray(pd.Index(graph.labels).isin(list(customer_of)), bool)
    kept = pd.Index(list(customer_of)).isin(graph.labels)
    return WorkspaceGraph(
        graph,
        eligible,
        {k: v for k, v, ok in zip(customer_of, customer_of.values(), kept, strict=True) if ok},
        edges,
    )
