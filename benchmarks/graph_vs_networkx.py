"""Our graph algorithms (igraph PRPACK PageRank, best-of-5 Leiden) against networkx on
SNAP ego-Facebook: time and quality, measured in one process.

Run: .venv/bin/python benchmarks/graph_vs_networkx.py
"""

from __future__ import annotations

import gzip
from pathlib import Path
from time import perf_counter

import networkx as nx
import numpy as np
import pyarrow as pa

from socialcrm.connecting.network import build, leiden, pagerank, undirected

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "graphs"


def best_of(fn, repeat: int = 3):
    times, out = [], None
    for _ in range(repeat):
        t0 = perf_counter()
        out = fn()
        times.append(perf_counter() - t0)
    return min(times), out


def main() -> None:
    with gzip.open(DATA / "facebook_combined.txt.gz", "rt") as fh:
        rows = np.loadtxt(fh, dtype=np.int64)
    a, b = rows[:, 0].astype(str), rows[:, 1].astype(str)
    edges = pa.table(
        {"src": np.concatenate([a, b]), "dst": np.concatenate([b, a]),
         "weight": np.ones(2 * len(rows))}
    )  # fmt: skip
    g_nx = nx.Graph(rows.tolist())
    print(f"ego-Facebook: {g_nx.number_of_nodes():,} nodes, {g_nx.number_of_edges():,} edges")

    t_build, net = best_of(lambda: build(edges))
    t_pr, pr = best_of(lambda: pagerank(net))
    t_nx_pr, nx_pr = best_of(lambda: nx.pagerank(g_nx, alpha=0.85, tol=1e-10))
    idx = net.names.astype(int)
    l1 = float(np.abs(pr - np.array([nx_pr[i] for i in idx])).sum())
    print(f"PageRank   ours {t_pr * 1000:8.1f} ms   networkx {t_nx_pr * 1000:8.1f} ms   "
          f"speed-up {t_nx_pr / t_pr:6.1f}x   L1 difference {l1:.2e}")  # fmt: skip

    und = undirected(net)
    t_ld, (_, q) = best_of(lambda: leiden(und))
    t_lv, parts = best_of(lambda: nx.community.louvain_communities(g_nx, seed=0), repeat=1)
    q_nx = nx.community.modularity(g_nx, parts)
    print(f"Community  ours {t_ld * 1000:8.1f} ms   networkx {t_lv * 1000:8.1f} ms   "
          f"speed-up {t_lv / t_ld:6.1f}x   modularity ours {q:.4f} (Leiden, best of 5) "
          f"vs networkx {q_nx:.4f} (Louvain)")  # fmt: skip
    print(f"(building our graph from the edge list: {t_build * 1000:.1f} ms)")


if __name__ == "__main__":
    main()
