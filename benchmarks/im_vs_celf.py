"""Influence maximization: our IMM beside CELF greedy, pynetim's C++ IMM and heuristics.

For each graph of ``../shared/data/graphs`` (k = 50):

* ego-Facebook (undirected), weighted cascade and uniform p = 0.01;
* NetHEPT, weighted cascade (the IMM paper's probabilities, from the file);
* Wiki-Vote (directed), weighted cascade;

it times the seed selection of socialcrm's IMM (``select_seeds``, ε = 0.1; on all cores
and on one thread, beside pynetim, which runs on one) and of pynetim's C++
``IMMAlgorithm`` at the same ε in this process, picks top-degree and top-PageRank seeds,
and evaluates every seed set with the same independent forward Monte-Carlo evaluator
(10,000 cascades; it shares no code with the RR sampling). CELF greedy (pynetim's
``CELFAlgorithm``, 1,000 simulations per estimate) runs here on NetHEPT (about 2
minutes on a quiet 2-core machine; ``--no-celf`` skips it). CELF's times on ego-Facebook (935 s and
632 s), recorded once on another machine, are printed apart and enter no ratio and no
check: every ratio divides two times measured in this run.

Checks (one line each; exit status 1 when one fails): our spread ≥ pynetim IMM's − 1%
and ≥ CELF's − 1% where CELF ran here (the target), ≥ top PageRank's and top degree's;
our selection on one thread no slower than pynetim's IMM, and ≥ 50× faster than CELF where
it ran here (by CPU time of the calling thread, single-threaded on both sides; wall times
are printed beside it); the same seeds on one thread as on all; and on NetHEPT pynetim's own IC
simulator gives our seeds the spread our evaluator gives (within 1%), so the evaluator is
not only ours.

``--big`` adds a synthetic power-law graph with 10 million edges (k = 50, weighted
cascade), reporting time and peak memory (resident set, sampled every 10 ms).

    .venv/bin/python benchmarks/im_vs_celf.py              # the four cases, CELF on NetHEPT
    .venv/bin/python benchmarks/im_vs_celf.py --no-celf    # without CELF
    .venv/bin/python benchmarks/im_vs_celf.py --big        # and the 10M-edge graph
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from _check import Run, shared_data

from socialcrm.programs.cascade import simulate_spread
from socialcrm.programs.diffusion import DiffusionGraph, build_graph, read_edges
from socialcrm.programs.maximization import select_seeds

K = 50
EVAL_RUNS = 10_000
SPREAD_SLACK = 0.01
"""Target: our spread at least the peer's − 1%."""
CELF_SPEEDUP = 50.0
CROSS_CHECK = 0.01
"""pynetim's simulator and ours agree on our seeds' spread within 1%."""

CPU: dict[str, float] = {}
"""CPU seconds of the calling thread per single-threaded selection of the current case:
what the speed checks compare (another process on a shared machine does not inflate it)."""

RECORDED_ELSEWHERE = {
    "ego-Facebook WC": "CELF greedy 1,220.0 in 935 s",
    "ego-Facebook p=0.01": "CELF greedy 438.0 in 632 s",
    "NetHEPT WC": "CELF greedy 965.8 in 41 s",
}
"""CELF figures recorded once on another machine: shown apart, never in a ratio or check."""


@dataclass
class Case:
    name: str
    graph: DiffusionGraph
    src: np.ndarray
    dst: np.ndarray
    prob: np.ndarray
    run_celf: bool


def load_cases() -> list[Case]:
    cases = []
    fb = read_edges(shared_data("graphs", "facebook_combined.txt.gz"))
    for name, model, p in (("ego-Facebook WC", "wc", None), ("ego-Facebook p=0.01", "ic", 0.01)):
        g = build_graph(fb["source"], fb["target"], model, p=p, undirected=True)
        cases.append(_case(name, g, False))
    hep = read_edges(shared_data("graphs", "nethept_graph_ic_wc.inf.gz"))
    g = build_graph(hep["source"], hep["target"], "weighted", weights=hep["weight"])
    cases.append(_case("NetHEPT WC", g, True))
    wiki = read_edges(shared_data("graphs", "Wiki-Vote.txt.gz"))
    cases.append(_case("Wiki-Vote WC", build_graph(wiki["source"], wiki["target"], "wc"), False))
    return cases


def _case(name: str, g: DiffusionGraph, celf: bool) -> Case:
    src = np.repeat(np.arange(g.n), np.diff(g.out_ptr))
    return Case(name, g, src, g.out_dst.astype(np.int64), g.out_p, celf)


def pagerank_seeds(c: Case, k: int) -> np.ndarray:
    n = c.graph.n
    a = sp.csr_matrix((np.ones(len(c.src)), (c.src, c.dst)), shape=(n, n))
    out = np.asarray(a.sum(axis=1)).ravel()
    # influence flows source → target, so rank by PageRank on the reversed graph
    at = sp.csr_matrix((np.ones(len(c.src)), (c.dst, c.src)), shape=(n, n))
    deg = np.asarray(at.sum(axis=1)).ravel()
    inv = np.where(deg > 0, 1 / np.maximum(deg, 1), 0)
    m = (sp.diags(inv) @ at).T.tocsr()
    r = np.full(n, 1 / n)
    for _ in range(100):
        r_new = 0.85 * (m @ r + r[deg == 0].sum() / n) + 0.15 / n
        if np.abs(r_new - r).sum() < 1e-10:
            break
        r = r_new
    del out
    return np.argsort(-r)[:k]


def degree_seeds(c: Case, k: int) -> np.ndarray:
    return np.argsort(-np.diff(c.graph.out_ptr), kind="stable")[:k]


def pynetim_graph(c: Case):
    import pynetim

    edges = list(zip(c.src.tolist(), c.dst.tolist(), strict=True))
    return pynetim.IMGraph(edges, weights=c.prob.tolist(), directed=True, renumber=False)


def run_pynetim_imm(c: Case, eps: float) -> tuple[np.ndarray, float]:
    import pynetim

    g = pynetim_graph(c)
    c0, t0 = time.thread_time(), time.perf_counter()
    seeds = pynetim.IMMAlgorithm(g, "IC", epsilon=eps, random_seed=1).run(K)
    CPU["pynetim IMM (C++)"] = time.thread_time() - c0
    return np.array(sorted(seeds)), time.perf_counter() - t0


def run_pynetim_celf(c: Case) -> tuple[np.ndarray, float]:
    import pynetim

    g = pynetim_graph(c)
    c0, t0 = time.thread_time(), time.perf_counter()
    algo = pynetim.CELFAlgorithm(g, "IC")
    seeds = algo.run(K, mc_rounds=1000, show_progress=False, random_seed=1)
    CPU["CELF greedy"] = time.thread_time() - c0
    return np.array(sorted(seeds)), time.perf_counter() - t0


def pynetim_spread(c: Case, seeds: np.ndarray) -> float:
    import pynetim

    model = pynetim.IndependentCascadeModel(pynetim_graph(c), {int(s) for s in seeds})
    return float(model.run_monte_carlo_diffusion(EVAL_RUNS, random_seed=7))


class PeakRSS:
    """Peak resident set size during a block (sampled), in MiB."""

    def __enter__(self):
        self.peak = self.start = _rss()
        self._stop = False
        self._t = threading.Thread(target=self._watch, daemon=True)
        self._t.start()
        return self

    def _watch(self):
        while not self._stop:
            self.peak = max(self.peak, _rss())
            time.sleep(0.01)

    def __exit__(self, *exc):
        self._stop = True
        self._t.join()
        self.peak = max(self.peak, _rss())


def _rss() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def evaluate(c: Case, seeds: np.ndarray) -> float:
    return simulate_spread(c.graph, seeds, EVAL_RUNS, seed=12345).mean


def bench_case(run: Run, c: Case, eps: float, celf: bool) -> None:
    print(f"\n== {c.name}: {c.graph.n:,} nodes, {c.graph.m:,} arcs, k={K}, ε={eps}")
    rows: list[tuple[str, float, float | None, str]] = []
    t0 = time.perf_counter()
    ours = select_seeds(c.graph, K, epsilon=eps, seed=1)
    ours_t = time.perf_counter() - t0
    c0, t0 = time.thread_time(), time.perf_counter()
    ours1 = select_seeds(c.graph, K, epsilon=eps, seed=1, threads=1)
    ours1_t = time.perf_counter() - t0
    CPU["socialcrm IMM, 1 thread"] = ours1_cpu = time.thread_time() - c0
    ours_seeds = np.array([s.index for s in ours.seeds])
    spread = evaluate(c, ours_seeds)
    rows.append(("socialcrm IMM", spread, ours_t, f"{ours.rr_sets:,} RR sets, all cores"))
    rows.append(("socialcrm IMM, 1 thread", spread, ours1_t, "same seeds"))
    pseeds, pt = run_pynetim_imm(c, eps)
    rows.append(("pynetim IMM (C++)", evaluate(c, pseeds), pt, "1 thread"))
    if c.run_celf and celf:
        cseeds, ct = run_pynetim_celf(c)
        rows.append(("CELF greedy", evaluate(c, cseeds), ct, "pynetim, 1,000 sims/estimate"))
    rows.append(("top PageRank", evaluate(c, pagerank_seeds(c, K)), None, ""))
    rows.append(("top degree", evaluate(c, degree_seeds(c, K)), None, ""))
    print(f"{'method':<24}{'spread (10k MC)':>17}{'select s':>11}   note")
    for name, sp_, secs, note in rows:
        s = f"{secs:11.2f}" if secs is not None else f"{'':11}"
        print(f"{name:<24}{sp_:17.1f}{s}   {note}")
    if c.name in RECORDED_ELSEWHERE:
        print(f"(recorded once on another machine, not comparable: "
              f"{RECORDED_ELSEWHERE[c.name]})")  # fmt: skip
    by = {r[0]: r for r in rows}
    run.figure(c.name, {name: {"spread": round(sp_, 1), "seconds": secs and round(secs, 3),
                               "cpu_seconds": CPU.get(name) and round(CPU[name], 3)}
                        for name, sp_, secs, _ in rows})  # fmt: skip
    run.check(f"{c.name}: same seeds on 1 thread as on all",
              [s.index for s in ours1.seeds] == ours_seeds.tolist())  # fmt: skip
    peers = ["pynetim IMM (C++)", "CELF greedy"]
    for peer in [p for p in peers if p in by]:
        ps = by[peer][1]
        run.check(f"{c.name}: spread ≥ {peer} − 1%", spread >= ps * (1 - SPREAD_SLACK),
                  f"{spread:.1f} vs {ps:.1f} ({spread / ps - 1:+.2%})")  # fmt: skip
    for peer in ("top PageRank", "top degree"):
        ps = by[peer][1]
        run.check(f"{c.name}: spread ≥ {peer}'s", spread >= ps, f"{spread:.1f} vs {ps:.1f}")
    pc = CPU["pynetim IMM (C++)"]
    run.check(f"{c.name}: selection on 1 thread no slower than pynetim IMM (CPU time)",
              ours1_cpu <= pc, f"{pc / ours1_cpu:.1f}× by CPU time; wall {pt / ours1_t:.1f}× "
              f"({pt / ours_t:.1f}× on all cores)")  # fmt: skip
    if "CELF greedy" in by:
        ct, cc = by["CELF greedy"][2], CPU["CELF greedy"]
        speedup = (f"{cc / ours1_cpu:,.0f}× by CPU time; wall {ct / ours1_t:,.0f}× on 1 "
                   f"thread ({ct / ours_t:,.0f}× on all cores)")  # fmt: skip
        run.check(f"{c.name}: selection ≥ {CELF_SPEEDUP:g}× faster than CELF (run here, "
                  "CPU time)", cc / ours1_cpu >= CELF_SPEEDUP, speedup)  # fmt: skip
    if c.name == "NetHEPT WC":
        theirs = pynetim_spread(c, ours_seeds)
        run.check(
            f"{c.name}: pynetim's simulator agrees with our evaluator on our seeds",
            abs(theirs / spread - 1) <= CROSS_CHECK,
            f"{theirs:.1f} vs {spread:.1f} ({theirs / spread - 1:+.2%})",
        )


def power_law_graph(n: int, m: int, seed: int = 0) -> DiffusionGraph:
    """Directed graph whose in- and out-degrees follow power laws (Chung–Lu style)."""
    rng = np.random.default_rng(seed)
    w_out = rng.pareto(1.2, n) + 1
    w_in = rng.pareto(1.2, n) + 1
    # oversample, then keep m distinct non-loop arcs so the graph has exactly m edges
    draw = int(m * 1.25)
    src = rng.choice(n, draw, p=w_out / w_out.sum())
    dst = rng.choice(n, draw, p=w_in / w_in.sum())
    key = np.unique(src[src != dst] * np.int64(n) + dst[src != dst])
    key = rng.permutation(key)[:m]
    if len(key) < m:
        raise RuntimeError(f"only {len(key):,} distinct arcs drawn; raise the oversampling")
    return build_graph(key // n, key % n, "wc")


def bench_big(run: Run, eps: float) -> None:
    print("\n== synthetic power-law graph, 10,000,000 edges, weighted cascade")
    t0 = time.perf_counter()
    with PeakRSS() as mem_build:
        g = power_law_graph(1_000_000, 10_000_000)
    print(f"built {g.n:,} nodes, {g.m:,} arcs in {time.perf_counter() - t0:.1f}s")
    with PeakRSS() as mem:
        res = select_seeds(g, K, epsilon=eps, seed=1)
    print(
        f"socialcrm IMM k={K} ε={eps}: {res.seconds:.1f}s, {res.rr_sets:,} RR sets, "
        f"estimated spread {res.expected_spread:,.0f}; process peak RSS during selection "
        f"{mem.peak:,.0f} MiB (graph build peak {mem_build.peak:,.0f} MiB)"
    )
    rep = simulate_spread(g, [s.index for s in res.seeds], 200, seed=3)
    print(f"MC check (200 runs): {rep.mean:,.0f} (95% CI {rep.ci_low:,.0f}–{rep.ci_high:,.0f})")
    run.figure("big", {"seconds": round(res.seconds, 1), "rr_sets": res.rr_sets,
                       "peak_rss_mib": round(mem.peak), "mc_spread": round(rep.mean)})  # fmt: skip
    run.check(f"10M edges: IMM's estimate within ε = {eps:g} of the Monte-Carlo spread",
              abs(res.expected_spread / rep.mean - 1) <= eps,
              f"{res.expected_spread:,.0f} vs {rep.mean:,.0f}")  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--epsilon", type=float, default=0.1)
    ap.add_argument("--big", action="store_true", help="add the 10M-edge synthetic graph")
    ap.add_argument("--no-celf", action="store_true", help="skip CELF greedy on NetHEPT (~2 min)")
    ap.add_argument("--only", help="run only the cases whose name contains this ('big': none)")
    args = ap.parse_args()
    run = Run("im_vs_celf")
    try:
        import pynetim  # noqa: F401
    except ImportError:
        run.check("pynetim (the peer) is installed", False, "pip install -e '.[bench]'")
        return run.finish()
    run.figure("cores", os.cpu_count())
    print(f"threads: ours all {os.cpu_count()} cores and 1; pynetim 1")
    # warm the JIT so no one's timing pays numba's compile
    warm = build_graph([0, 1], [1, 2], "wc")
    select_seeds(warm, 1)
    select_seeds(warm, 1, threads=1)
    simulate_spread(warm, [0], 10)
    for c in load_cases():
        if args.only and args.only not in c.name:
            continue
        bench_case(run, c, args.epsilon, not args.no_celf)
    if args.big:
        bench_big(run, args.epsilon)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
