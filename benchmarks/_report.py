"""Print the docs' benchmark tables (Markdown) from a results file that ``make bench`` wrote.

The numbers the docs quote come from here, not from a terminal: each table names the
machine, the load average around the run and the date, and every ratio in it divides two
times measured in that one run.

    python benchmarks/_report.py                          # benchmarks/results/latest.json
    python benchmarks/_report.py results.json clv_vs_lifetimes im_vs_celf
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _check import results_path


def context(data: dict[str, Any], b: dict[str, Any]) -> str:
    m = data.get("machine", {})
    return (
        f"{b['started'][:10]}, {m.get('cpu', '?')} ({m.get('cores', '?')} cores, "
        f"{m.get('memory_gib', '?')} GiB), Python {b.get('python', m.get('python'))}, "
        f"DuckDB {m.get('duckdb', '?')} ({m.get('duckdb_default_threads', '?')} threads); "
        f"load average {b['load_average_start'][0]} at the start, "
        f"{b['load_average_end'][0]} at the end; {b['seconds']:.0f} s; checks "
        f"{sum(c['ok'] for c in b['checks'])} of {len(b['checks'])} ok"
    )


def clv(b: dict[str, Any]) -> list[str]:
    out = [
        "| preset, customers | rows | triples | fit: lifetimes / with weights / ours (s) "
        "| fit ratio (at its best) | summary ratio (DuckDB 1 thread) | score ratio "
        "(at its best) | total ratio (at its best) | peak traced MB (lifetimes / with "
        "weights / ours) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, f in b["figures"].items():
        preset, n = key.rsplit("_", 1)
        fit, summ, score, tot = f["fit"], f["summary"], f["score"], f["total"]
        out.append(
            f"| {preset}, {int(n):,} | {f['rows'] / 1e6:.2f} M | {f['triples']:,} "
            f"| {fit['lifetimes_s']:.3f} / {fit['lifetimes_weighted_s']:.3f} / "
            f"{fit['ours_s']:.3f} | {fit['ratio']:.1f}× (**{fit['ratio_best']:.1f}×**) "
            f"| {summ['ratio']:.1f}× ({summ['ratio_best_1_thread']:.1f}×) "
            f"| {score['ratio']:.1f}× ({score['ratio_best']:.1f}×) "
            f"| {tot['ratio']:.1f}× (**{tot['ratio_best']:.1f}×**) "
            f"| {' / '.join(str(x) for x in tot['traced_mb'])} |"
        )
    return out


def graph(b: dict[str, Any]) -> list[str]:
    pr, c = b["figures"]["pagerank"], b["figures"]["communities"]
    return [
        "| | ours | networkx | speed-up | agreement |",
        "|---|---|---|---|---|",
        f"| PageRank | {pr['ours_ms']:.1f} ms ({pr['openmp_threads']} threads), "
        f"{pr['ours_1_thread_ms']:.1f} ms (1 thread) | {pr['networkx_default_tol_ms']:.1f} ms "
        f"(default tol), {pr['networkx_tol_1e-10_ms']:.1f} ms (tol 1e-10) "
        f"| **{pr['speedup_1_thread_default_tol']:.1f}×** one thread each "
        f"({pr['speedup_default_tol']:.1f}× on all threads) "
        f"| L1 {pr['l1_default_tol']:.1e} (default tol), {pr['l1_tol_1e-10']:.1e} (1e-10) |",
        f"| communities | {c['ours_leiden_best_of_5_ms']:.0f} ms (Leiden, best of 5 runs) "
        f"| {c['networkx_louvain_ms']:.0f} ms (Louvain) | **{c['speedup']:.1f}×** "
        f"| modularity {c['modularity_ours']:.4f} vs {c['modularity_networkx']:.4f} |",
    ]


def im(b: dict[str, Any]) -> list[str]:
    out = [
        "| graph | socialcrm IMM (all cores / 1 thread) | pynetim IMM (C++, 1 thread) "
        "| CELF greedy (run here) | top PageRank | top degree |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in b["figures"].items():
        if not isinstance(f, dict) or "socialcrm IMM" not in f:
            continue
        us, us1, py = f["socialcrm IMM"], f["socialcrm IMM, 1 thread"], f["pynetim IMM (C++)"]
        celf = f.get("CELF greedy")
        celf_s = f"{celf['spread']:,.1f} in {celf['seconds']:.0f} s" if celf else "—"
        out.append(
            f"| {name} | **{us['spread']:,.1f}** in {us['seconds']:.2f} / {us1['seconds']:.2f} s "
            f"| {py['spread']:,.1f} in {py['seconds']:.2f} s | {celf_s} "
            f"| {f['top PageRank']['spread']:,.1f} | {f['top degree']['spread']:,.1f} |"
        )
    return out


def queries(b: dict[str, Any]) -> list[str]:
    f = b["figures"]
    c, ours, fts, cpu = f["corpus"], f["ours"], f["fts5"], f["cpu_seconds"]
    return [
        "| posts, queries | matches | ours: CPU s / wall s (posts/s by CPU) "
        "| FTS5 MATCH: CPU s / wall s (index build s) | speed, ours over FTS5 (CPU) |",
        "|---|---|---|---|---|",
        f"| {c['posts']:,}, {c['queries']} | {c['matches']:,} | {cpu['ours']:.2f} / "
        f"{ours['seconds']:.2f} ({c['posts'] / cpu['ours']:,.0f}) | {cpu['fts5']:.2f} / "
        f"{fts['seconds']:.2f} ({fts['index_build_s']:.1f}) "
        f"| {f['cpu_ratio_ours_over_fts5']:.2f}× |",
    ]


def checks(b: dict[str, Any]) -> list[str]:
    return [f"- {'ok' if c['ok'] else '**FAIL**'} {c['check']}: {c['detail']}" for c in b["checks"]]


TABLES: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "clv_vs_lifetimes": clv,
    "graph_vs_networkx": graph,
    "im_vs_celf": im,
    "listening_queries": queries,
}


def main() -> None:
    args = sys.argv[1:]
    path = Path(args.pop(0)) if args and args[0].endswith(".json") else results_path()
    data = json.loads(path.read_text())
    names = args or [n for n in data["benchmarks"] if not n.startswith("_")]
    for name in names:
        b = data["benchmarks"][name]
        print(f"### {name}\n\n{context(data, b)}\n")
        if name in TABLES:
            print("\n".join(TABLES[name](b)) + "\n")
        print("\n".join(checks(b)) + "\n")


if __name__ == "__main__":
    main()
