"""The communities pipeline step: what each community's members buy and talk about.

A separate step from the graph (``connecting``) because it reads what changes every day
(transaction scores, enriched posts, topic labels) while the communities themselves
change only with the graph: an incremental run that keeps the graph (see
``incremental_graph_threshold``) still brings these columns up to date in seconds.

``communities`` is ``community_structure`` (size, linked people, amplifiers, external
edge share, modularity) plus, per community:

- *value*: mean CLV and P(alive) of its linked, consenting people, and the share of them
  in the high or very high risk bands (``customer_transaction_scores``);
- *conversation*: its members' most frequent topics, their mean sentiment (spam left
  out), and a label after the topic it talks about more than others do (lift), not after
  what everyone talks about.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from socialcrm.store.run import RunContext
from socialcrm.store.workspace import Workspace

TOP = 3
COMMUNITY_SCHEMA = pa.schema(
    [
        pa.field("community_id", pa.int64(), nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("customers", pa.int64(), nullable=False),
        pa.field("label", pa.string(), nullable=False),
        pa.field("mean_clv", pa.float64()),
        pa.field("mean_p_alive", pa.float64()),
        pa.field("share_at_risk", pa.float64()),
        pa.field("top_topics", pa.string()),
        pa.field("mean_sentiment", pa.float64()),
        pa.field("top_amplifiers", pa.string()),
        pa.field("amplifiers", pa.int64(), nullable=False),
        pa.field("external_edge_share", pa.float64(), nullable=False),
        pa.field("modularity", pa.float64(), nullable=False),
    ]
)


def step_communities(ws: Workspace, ctx: RunContext) -> dict[str, int]:
    """Write ``communities`` from ``community_structure`` and the members' value and posts."""
    wh = ws.warehouse
    structure = wh.read_arrow("community_structure").to_pandas()
    if structure.empty:
        return {"communities": wh.write("communities", COMMUNITY_SCHEMA.empty_table())}
    people = _members(ws, "customer_influence", ["customer_id", "community_id"])
    handles = _members(ws, "handle_influence", ["platform", "handle", "community_id"])
    value = _values(ws, people)
    topics = _topics(ws)
    topic_labels = _topic_labels(ws)
    overall = (
        None if topics is None else topics.groupby("topic_id").n.sum() / max(topics.n.sum(), 1)
    )
    # each frame split by community once: filtering the whole frame per community cost
    # time in proportion to communities x members (x topics), which grows faster than
    # the graph (groups keep their rows in frame order, as the filters did)
    by_value = dict(iter(value.groupby("community_id", sort=False))) if value is not None else {}
    by_topics = _topics_by_community(topics, handles)
    rows = []
    for s in structure.itertuples(index=False):
        cid = int(s.community_id)
        v = by_value.get(cid, value.iloc[:0]) if value is not None else None
        row = {
            "community_id": cid,
            "size": int(s.size),
            "customers": int(s.customers),
            "mean_clv": _mean(v, "clv"),
            "mean_p_alive": _mean(v, "p_alive"),
            "share_at_risk": None
            if v is None or v.empty
            else float(v.risk_band.isin(["high", "very_high"]).mean()),
            "top_amplifiers": s.top_amplifiers if isinstance(s.top_amplifiers, str) else None,
            "amplifiers": int(s.amplifiers),
            "external_edge_share": float(s.external_edge_share),
            "modularity": float(s.modularity),
            "top_topics": None,
            "mean_sentiment": None,
        }
        if topics is not None:
            t = by_topics.get(cid)
            if t is not None and len(t):
                by = t.groupby("topic_id").n.sum().sort_values(ascending=False, kind="stable")
                names = [topic_labels.get(int(k), f"topic {int(k)}")
                         for k in by.index[by.index >= 0][:TOP]]  # fmt: skip
                row["top_topics"] = "; ".join(names)
                row["mean_sentiment"] = float(t.sentiment.sum() / max(t.n.sum(), 1))
                # named after what it talks about *more than others do* (lift), not after
                # what everyone talks about
                lift = (by / by.sum()) / overall.reindex(by.index)  # type: ignore[union-attr]
                # "other" (no topic, id -1) names no community
                themed = (by >= 3) & (by.index >= 0)
                distinctive = lift[themed].sort_values(ascending=False, kind="stable")
                if len(distinctive):
                    k = int(distinctive.index[0])
                    row["label"] = f"community {cid} · {topic_labels.get(k, f'topic {k}')}"
        row.setdefault("label", f"community {cid}")
        rows.append(row)
    return {
        "communities": wh.write("communities", pa.Table.from_pylist(rows, schema=COMMUNITY_SCHEMA))
    }


def _members(ws: Workspace, table: str, columns: list[str]) -> pd.DataFrame:
    """The rows of an influence table that belong to a community kept by ``connecting``."""
    t = ws.warehouse.table(table)
    return ws.engine.to_arrow(t.filter(t.community_id >= 0).select(*columns)).to_pandas()


def _values(ws: Workspace, people: pd.DataFrame) -> pd.DataFrame | None:
    """Members' transaction scores (consented, linked people only)."""
    if not ws.warehouse.exists("customer_transaction_scores"):
        return None
    if people.empty:
        return people.assign(clv=[], p_alive=[], risk_band=[])
    scores = ws.warehouse.table("customer_transaction_scores")
    ids = ws.engine.memtable(pa.table({"cid": people.customer_id.astype(str).tolist()}))
    s = scores.filter(scores.customer_id.isin(ids.cid)).select(
        "customer_id", "clv", "p_alive", "risk_band"
    )
    return ws.engine.to_arrow(s).to_pandas().merge(people, on="customer_id")


def _topics(ws: Workspace) -> pd.DataFrame | None:
    """Per (platform, handle, topic): posts and summed sentiment, from listening."""
    if not ws.warehouse.exists("posts_enriched"):
        return None
    pe = ws.warehouse.table("posts_enriched")
    if "is_spam" in pe.columns:
        pe = pe.filter(~pe.is_spam.fill_null(False))
    pe = pe.filter(pe.topic_id.notnull() & (pe.topic_id >= 0))  # -1: no topic
    g = pe.group_by("platform", handle=pe.author_handle, topic_id=pe.topic_id).aggregate(
        n=pe.count(), sentiment=pe.sentiment_score.sum()
    )
    return ws.engine.to_arrow(g).to_pandas()


def _topics_by_community(
    topics: pd.DataFrame | None, handles: pd.DataFrame
) -> dict[int, pd.DataFrame]:
    """The per-(platform, handle, topic) rows of each community's members' handles, in
    the order of ``topics`` (one join for all communities instead of one per community)."""
    if topics is None:
        return {}
    owned = handles.rename(columns={"community_id": "_community"})
    owned = owned.astype({"_community": np.int64})
    t = topics.merge(owned, on=["platform", "handle"])
    return {int(k): g.drop(columns="_community") for k, g in t.groupby("_community", sort=False)}


def _mean(v: pd.DataFrame | None, col: str) -> float | None:
    if v is None or v.empty or v[col].isna().all():
        return None
    return float(v[col].mean())


def _topic_labels(ws: Workspace) -> dict[int, str]:
    if not ws.warehouse.exists("topics"):
        return {}
    t = ws.warehouse.read_arrow("topics").select(["topic_id", "label"]).to_pylist()
    return {int(r["topic_id"]): str(r["label"]) for r in t}
