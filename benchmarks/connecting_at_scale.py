"""Connecting's claims at scale: demo brands against the generator's hidden truth (issue 17).

Per demo workspace (size x name mode x seed), against ``<home>/demo/truth/``:

* identity resolution: pairwise precision, recall and F1 of ``identity_clusters``
  (record -> person) against ``persons.csv``; the share of records in clusters that mix
  people; the largest cluster against the largest true person (records); clusters of six
  records or more; and the **recall ceiling**: the pairwise recall of the connected
  components of true pairs that carry distinguishing evidence (a shared mailbox, phone,
  loyalty id or verified handle in ``identities``, birth dates within two digits, or
  street lines that agree: same house number, at most three edits apart), i.e. how much
  recall is reachable at all without merging on name and place alone;
* communities: NMI of ``handle_influence.community_id`` against ``communities.csv``;
* the amplifier flag: precision and recall per (platform, handle) against the generator's
  amplifier accounts;
* wall time and peak memory (RSS of the process running them; Spark's JVM not included)
  of each step Connecting needs.

Targets (a failed one makes the exit status 1): pairwise precision >= 0.98 and recall
>= 0.85 with realistic names, precision >= 0.95 with hard names; the largest cluster at
most one record larger than the largest true person (every size and mode); NMI >= 0.6 from
20,000 people; amplifier precision >= 0.9 and recall >= 0.85. With ``--references`` (on by
default) also FEBRL3 and FEBRL4 F1 >= 0.99 and ego-Facebook modularity >= 0.835, measured
by the test suite's own code (``tests/connecting/test_resolve_febrl.py``,
``tests/connecting/test_network.py``). ``--engine spark`` resolves each brand's identities
on Spark too and requires its ``identity_clusters`` to equal DuckDB's, record by record.

Seeds (the convention of ``_check.py``: ``DEV_SEEDS``, ``EVAL_SEEDS``): rules and
parameters are chosen on the development seeds 2 and 3 only. The evaluation seeds (≥ 100;
default 101) are never used to choose a rule or a parameter, nor by a test or a default;
they are the numbers to quote. Do not tune on them.

Usage (``--root`` defaults to ``.bench/cas`` in the repository, git-ignored):
  python benchmarks/connecting_at_scale.py --root /tmp/cas     # 2k; both name modes (minutes)
  python benchmarks/connecting_at_scale.py --root /tmp/cas --sizes 2000 20000 100000
  python benchmarks/connecting_at_scale.py --root /tmp/cas --sizes 2000 --no-references
  python benchmarks/connecting_at_scale.py --root /tmp/cas --sizes 1000000 --realistic-names
  python benchmarks/connecting_at_scale.py --root /tmp/cas --seeds 2 3      # development
  python benchmarks/connecting_at_scale.py --root /tmp/cas --rescore        # after a change
  python benchmarks/connecting_at_scale.py --root /tmp/cas --engine spark   # + Spark parity

Each workspace is ``<root>/<names>_<size>_seed<S>`` (``names``: realistic or hard) and is
kept when it exists. A missing one is built as ``socialcrm demo`` builds its brand
(``generate_brand``, then every input file ingested in the demo's order) but scored with
only the steps Connecting needs (identities, households when the pipeline has it,
listening for the spam the amplifier flag excludes, connecting), not the whole pipeline.
``--rescore`` re-runs those steps on existing workspaces, identity resolution from scratch
(earlier links, clusters and lineage dropped). Each workspace runs in a child process of
its own, so that its peak memory is its own; step timings are kept in
``<home>/connecting_at_scale.json`` and reported again when the workspace is reused.
With ``--engine spark`` the workspace's ingested ``customers`` and ``identities`` are
copied into ``<root>/<names>_<size>_seed<S>_spark`` and resolved there from scratch; they
are compared with the DuckDB workspace's current clusters (``--rescore`` after a change).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import tempfile
import traceback
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from time import perf_counter

import numpy as np
import pandas as pd
from _check import DEV_SEEDS, EVAL_SEEDS, Run
from connecting_truth import NMI_FROM, amplifier_scores, community_nmi
from connecting_truth import TARGETS as TRUTH_TARGETS

REPO = Path(__file__).resolve().parents[1]
SIZES = (2_000,)
"""The default: a few minutes on a 2-core machine; 20,000 and more with ``--sizes``."""
NAME_MODES = ("realistic", "hard")
WANTED_STEPS = ("identities", "households", "listening", "connecting")
"""The steps Connecting's results depend on (``households`` when the pipeline has it)."""
IDENTITY_TABLES = ("identity_clusters", "identity_links", "identity_lineage")
STATE = "connecting_at_scale.json"

TARGETS = {
    "precision_realistic": 0.98,
    "recall_realistic": 0.85,
    "precision_hard": 0.95,
    "largest_slack": 1,
    **TRUTH_TARGETS,  # nmi, amp_precision, amp_recall
    "febrl_f1": 0.99,
    "facebook_modularity": 0.835,
}


# -- building and scoring one workspace (in a child process) ----------------------------------
def connecting_steps() -> list[str]:
    """The pipeline's steps Connecting needs, in the pipeline's order."""
    from socialcrm.pipeline import STEPS

    return [s.name for s in STEPS if s.name in WANTED_STEPS]


def demo_settings(home: Path, engine: str = "duckdb"):
    """The settings ``socialcrm demo`` scores its brand with: its catalogue in the
    workspace and its home country's phone numbers."""
    from socialcrm.config import Settings
    from socialcrm.demo import _home_region, _install_catalogue

    settings = Settings(home=home, engine=engine)
    _install_catalogue(settings)
    region = _home_region({})
    return settings.model_copy(update={"phone_region": region}) if region else settings


def has_hard_names() -> bool:
    from socialcrm.synth.brand import generate_brand

    return "hard_names" in inspect.signature(generate_brand).parameters


def _reset_peak() -> bool:
    """Start a new peak-RSS window (Linux: ``clear_refs`` 5 resets VmHWM)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float | None:
    """The process's peak RSS since the last reset, in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def _timed(fn) -> dict[str, object]:
    fresh = _reset_peak()
    t0 = perf_counter()
    fn()
    return {"seconds": perf_counter() - t0, "peak_rss_mb": _peak_mb(), "peak_reset": fresh}


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def build(home: Path, size: int, seed: int, hard: bool) -> dict[str, object]:
    """Generate the demo brand and ingest its inputs as ``socialcrm demo`` does."""
    from socialcrm.demo import LOAD_ORDER
    from socialcrm.store.ingest import ingest_file
    from socialcrm.store.workspace import Workspace
    from socialcrm.synth.brand import generate_brand

    kwargs = {"hard_names": True} if hard else {}  # the parameter defaults to False
    timings: dict[str, object] = {}
    files: list = []
    _log(f"{home.name}: generating {size:,} people (seed {seed})…")
    timings["generate"] = _timed(
        lambda: files.append(
            generate_brand(home / "demo", customers=size, seed=seed, progress=False, **kwargs)
        )
    )
    settings = demo_settings(home)
    with Workspace.open(settings) as ws:
        for table in LOAD_ORDER:
            _log(f"{home.name}: ingesting {table}…")
            timings[f"ingest {table}"] = _timed(
                lambda t=table: ingest_file(ws, t, files[0].inputs[t])
            )
    return timings


def score(home: Path, fresh_identities: bool) -> dict[str, object]:
    """Run Connecting's steps one by one, each timed with its own peak RSS."""
    from socialcrm.pipeline import run_pipeline
    from socialcrm.store.workspace import Workspace

    timings: dict[str, object] = {}
    with Workspace.open(demo_settings(home)) as ws:
        if fresh_identities:
            for t in IDENTITY_TABLES:
                if ws.warehouse.exists(t):
                    ws.warehouse.drop(t)
        for step in connecting_steps():
            _log(f"{home.name}: step {step}…")
            timings[step] = _timed(lambda s=step: run_pipeline(ws, [s]))
    return timings


def spark_parity(home: Path) -> dict[str, object]:
    """Resolve the workspace's customers and identities on Spark (the very tables DuckDB
    resolved, copied) and compare the clusters with DuckDB's record by record."""
    from socialcrm.pipeline import run_pipeline
    from socialcrm.store.workspace import Workspace

    spark_home = home.parent / f"{home.name}_spark"
    with Workspace.open(demo_settings(home)) as duck:
        inputs = {t: duck.warehouse.read_arrow(t) for t in ("customers", "identities")}
        theirs = duck.warehouse.read_arrow("identity_clusters")
    with Workspace.open(demo_settings(spark_home, engine="spark")) as ws:
        for t, data in inputs.items():
            ws.warehouse.write(t, data)
        for t in IDENTITY_TABLES:
            if ws.warehouse.exists(t):
                ws.warehouse.drop(t)
        _log(f"{home.name}: identities on Spark…")
        timing = _timed(lambda: run_pipeline(ws, ["identities"]))
        ours = ws.warehouse.read_arrow("identity_clusters")
    d = theirs.select(["record_id", "customer_id"]).to_pandas()
    s = ours.select(["record_id", "customer_id"]).to_pandas()
    both = d.merge(s, on="record_id", how="outer", suffixes=("_duckdb", "_spark"))
    differ = both[both.customer_id_duckdb != both.customer_id_spark]  # NaN != x too
    return {
        "records": len(both),
        "differing": len(differ),
        "examples": differ.head(5).fillna("-").to_dict("records"),
        "seconds": timing["seconds"],
    }


def measure_identity(ws, truth: Path) -> dict[str, float]:
    """Pairwise scores, mixed clusters, cluster sizes and the recall ceiling."""
    from socialcrm.connecting.clusters import pairwise_scores

    persons = pd.read_csv(truth / "persons.csv", dtype=str)
    clusters = ws.warehouse.read_arrow("identity_clusters").select(["record_id", "customer_id"])
    c = clusters.to_pandas().merge(
        persons.rename(columns={"customer_id": "record_id"}), on="record_id", how="inner"
    )
    scores = pairwise_scores(c.customer_id.tolist(), c.person_id.tolist())
    people_per_cluster = c.groupby("customer_id").person_id.nunique()
    mixed = c.customer_id.map(people_per_cluster) > 1
    sizes = c.customer_id.value_counts()
    return {
        "records": len(c),
        "records_not_resolved": len(persons) - len(c),
        "precision": scores["precision"],
        "recall": scores["recall"],
        "f1": scores["f1"],
        "recall_ceiling": recall_ceiling(ws, c[["record_id", "person_id"]]),
        "mixed_share": float(mixed.mean()),
        "largest_cluster": int(sizes.max()),
        "largest_person": int(c.person_id.value_counts().max()),
        "clusters_ge6": int((sizes >= 6).sum()),
    }


def recall_ceiling(ws, truth: pd.DataFrame) -> float:
    """Pairwise recall of the components of true pairs with distinguishing evidence.

    Evidence for two records of one person: a shared contact point as the identity rules
    key it (``canonical_identity``: email mailbox, phone, loyalty id, verified handle);
    birth dates (YYYYMMDD) that differ in at most two digits; or street lines that agree:
    the same house number and at most three edits apart once lower-cased without
    punctuation (``2 Lake Rd`` / ``2 Lake Road``, ``Hauptstr. 3`` / ``Hauptstraße 3``).
    Name and place alone are not evidence.
    """
    import pyarrow as pa
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from socialcrm.connecting.clusters import pairwise_scores
    from socialcrm.connecting.identity import canonical_identity
    from socialcrm.store.engine import local_sql
    from socialcrm.store.schemas import IDENTITIES, PLATFORMS

    n = len(truth)
    person = truth.person_id.to_numpy()

    ids = ws.warehouse.table_or_empty("identities", IDENTITIES.arrow_schema)
    usable = ids.filter(
        ids.kind.isin(["email", "phone", "loyalty_id"])
        | (ids.kind.isin(list(PLATFORMS)) & ids.verified)
    )
    keyed = usable.select(
        "customer_id", key=usable.kind + ":" + canonical_identity(usable.kind, usable.value)
    ).distinct()
    cust = ws.warehouse.table("customers")
    rec = cust.select("customer_id", birth=cust.birth_date.cast("string"), street=cust.street)
    with local_sql() as con:
        con.register("truth", pa.table({"rid": truth.record_id, "i": np.arange(n), "p": person}))
        con.register("keys", ws.engine.to_arrow(keyed))
        con.register("rec", ws.engine.to_arrow(rec))
        edges = con.arrow(
            r"""
            WITH r AS (
              SELECT t.i, t.p,
                     nullif(regexp_replace(rec.birth, '[^0-9]', '', 'g'), '') AS birth,
                     nullif(trim(regexp_replace(regexp_replace(lower(rec.street),
                       '[^\p{L}\p{N} ]', ' ', 'g'), ' +', ' ', 'g')), '') AS street
              FROM truth t JOIN rec ON rec.customer_id = t.rid),
            k AS (SELECT DISTINCT t.i, t.p, keys.key
                  FROM truth t JOIN keys ON keys.customer_id = t.rid)
            SELECT a.i AS l, b.i AS r FROM k a JOIN k b ON a.p = b.p AND a.key = b.key
            WHERE a.i < b.i
            UNION
            SELECT a.i, b.i FROM r a JOIN r b ON a.p = b.p AND a.i < b.i
            WHERE (length(a.birth) = length(b.birth) AND hamming(a.birth, b.birth) <= 2)
               OR (regexp_replace(a.street, '[^0-9]', '', 'g')
                     = regexp_replace(b.street, '[^0-9]', '', 'g')
                   AND levenshtein(a.street, b.street) <= 3)
            """
        )
    left = edges["l"].to_numpy(zero_copy_only=False)
    right = edges["r"].to_numpy(zero_copy_only=False)
    graph = coo_matrix((np.ones(len(left)), (left, right)), (n, n))
    _, labels = connected_components(graph, directed=False)
    return pairwise_scores(labels.astype(str).tolist(), person.tolist())["recall"]


def truth_measures(home: Path) -> tuple[float, dict[str, float]]:
    """NMI and amplifier precision and recall (``benchmarks/connecting_truth.py``)."""
    nmi = community_nmi(home)["nmi"]
    amp = amplifier_scores(home)
    return float(nmi), {k: float(v) for k, v in amp.items() if isinstance(v, int | float)}


def run_workspace(job: dict) -> dict:
    """Build (when missing), score (when asked or unscored) and measure one workspace."""
    from socialcrm.store.workspace import Workspace

    home, size, seed, hard = Path(job["home"]), job["size"], job["seed"], job["hard"]
    state_path = home / STATE
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    if state and state.get("hard_names") != hard:
        raise RuntimeError(f"{home} was built with hard_names={state.get('hard_names')}")
    if not state.get("ingested"):
        from socialcrm.demo import LOAD_ORDER

        with Workspace.open(demo_settings(home)) as ws:
            loaded = all(ws.warehouse.exists(t) for t in LOAD_ORDER)
        if loaded and (home / "demo" / "truth" / "persons.csv").exists():
            state = {"hard_names": hard, "build": {}}  # a demo built elsewhere: kept
        else:
            state = {"hard_names": hard, "build": build(home, size, seed, hard)}
        state["ingested"] = True
        state_path.write_text(json.dumps(state, indent=2))
    with Workspace.open(demo_settings(home)) as ws:
        scored = all(
            ws.warehouse.exists(t) for t in ("identity_clusters", "handle_influence")
        ) and all(s in state.get("steps", {}) for s in connecting_steps())
    if job["rescore"] or not scored:
        state["steps"] = score(home, fresh_identities=True)
        state["steps_run_now"] = True
        state_path.write_text(json.dumps(state, indent=2))
    else:
        state["steps_run_now"] = False
    with Workspace.open(demo_settings(home)) as ws:
        identity = measure_identity(ws, home / "demo" / "truth")
    nmi, amp = truth_measures(home)
    out = {
        **job,
        "identity": identity,
        "nmi": nmi,
        "amplifier": amp,
        "steps": state["steps"],
        "steps_run_now": state["steps_run_now"],
        "build": state.get("build", {}),
    }
    if job["on_spark"]:
        out["spark_parity"] = spark_parity(home)
    return out


# -- targets and report ----------------------------------------------------------------------
def checks(r: dict) -> list[tuple[str, str, str, bool | None]]:
    """(measure, value, target, passed) rows of one workspace; passed None: no target."""
    i, a, hard = r["identity"], r["amplifier"], r["hard"]
    rows: list[tuple[str, str, str, bool | None]] = []
    p_target = TARGETS["precision_hard" if hard else "precision_realistic"]
    rows.append(
        ("identity pairwise precision", f"{i['precision']:.4f}", f">= {p_target}",
         i["precision"] >= p_target)
    )  # fmt: skip
    recall = f"{i['recall']:.4f} (ceiling {i['recall_ceiling']:.4f})"
    if hard:
        rows.append(("identity pairwise recall", recall, "-", None))
    else:
        t = TARGETS["recall_realistic"]
        rows.append(("identity pairwise recall", recall, f">= {t}", i["recall"] >= t))
    rows.append(("identity pairwise F1", f"{i['f1']:.4f}", "-", None))
    rows.append(("records in clusters mixing people", f"{i['mixed_share']:.2%}", "-", None))
    slack = TARGETS["largest_slack"]
    rows.append(
        ("largest cluster / largest person", f"{i['largest_cluster']} / {i['largest_person']}",
         f"<= person + {slack}", i["largest_cluster"] <= i["largest_person"] + slack)
    )  # fmt: skip
    rows.append(("clusters of >= 6 records", f"{i['clusters_ge6']:,}", "-", None))
    nmi_target = r["size"] >= NMI_FROM
    rows.append(
        ("community NMI", f"{r['nmi']:.4f}", f">= {TARGETS['nmi']}" if nmi_target else "-",
         r["nmi"] >= TARGETS["nmi"] if nmi_target else None)
    )  # fmt: skip
    for k in ("precision", "recall"):
        t = TARGETS[f"amp_{k}"]
        rows.append((f"amplifier {k}", f"{a[k]:.4f}", f">= {t}", a[k] >= t))
    if "spark_parity" in r:
        s = r["spark_parity"]
        rows.append(
            ("Spark clusters differing from DuckDB", f"{s['differing']:,} of {s['records']:,}",
             "= 0", s["differing"] == 0)
        )  # fmt: skip
    return rows


def _fmt_step(t: dict) -> str:
    mb = t.get("peak_rss_mb")
    peak = "-" if mb is None else f"{mb:,.0f} MiB" + ("" if t.get("peak_reset") else " (proc)")
    return f"{t['seconds']:8.1f} s  peak RSS {peak}"


def table(title: str, rows: list[tuple[str, str, str, bool | None]]) -> str:
    lines = [title, f"  {'measure':<38} {'value':<28} {'target':<16} result"]
    lines.append("  " + "-" * (len(lines[1]) - 2))
    for name, value, target, ok in rows:
        result = "-" if ok is None else ("PASS" if ok else "FAIL")
        lines.append(f"  {name:<38} {value:<28} {target:<16} {result}")
    return "\n".join(lines)


def workspace_report(r: dict) -> tuple[str, int]:
    roles = {**dict.fromkeys(EVAL_SEEDS, "evaluation"), **dict.fromkeys(DEV_SEEDS, "development")}
    role = roles.get(r["seed"], "other seed")
    names = "hard names" if r["hard"] else "realistic names"
    title = (
        f"{names}, {r['size']:,} people, seed {r['seed']} ({role}): "
        f"{r['identity']['records']:,} records — {r['home']}"
    )
    rows = checks(r)
    text = [table(title, rows)]
    when = "this run" if r["steps_run_now"] else "when last scored"
    text.append(f"  steps ({when}):")
    for name, t in r["steps"].items():
        text.append(f"    {name:<20} {_fmt_step(t)}")
    if "spark_parity" in r:
        text.append(f"    {'identities (Spark)':<20} {r['spark_parity']['seconds']:8.1f} s")
        for e in r["spark_parity"]["examples"]:
            text.append(
                f"  differs: record {e['record_id']}: DuckDB {e['customer_id_duckdb']}, "
                f"Spark {e['customer_id_spark']}"
            )
    if r["identity"]["records_not_resolved"]:
        text.append(f"  note: {r['identity']['records_not_resolved']:,} true records not resolved")
    return "\n".join(text), sum(ok is False for *_, ok in rows)


def references() -> list[tuple[str, str, str, bool | None]]:
    """FEBRL3, FEBRL4 and ego-Facebook, through the test suite's own code."""
    import gzip

    sys.path.insert(0, str(REPO))
    from tests.connecting.test_network import _both_ways
    from tests.connecting.test_resolve_febrl import _resolve
    from tests.shared_data import data_file

    from socialcrm.connecting.network import build, leiden, undirected

    rows: list[tuple[str, str, str, bool | None]] = []
    t = TARGETS["febrl_f1"]
    for name, files in (
        ("FEBRL3 F1 (dedupe)", [("dataset3.csv", "")]),
        ("FEBRL4 F1 (two files as one)", [("dataset4a.csv", "a:"), ("dataset4b.csv", "b:")]),
    ):
        _log(f"references: {name}…")
        with tempfile.TemporaryDirectory() as tmp:
            _, scores = _resolve(Path(tmp), files)
        rows.append((name, f"{scores['f1']:.4f}", f">= {t}", scores["f1"] >= t))
    _log("references: ego-Facebook…")
    with gzip.open(data_file("graphs", "facebook_combined.txt.gz"), "rt") as fh:
        edges = np.loadtxt(fh, dtype=np.int64)
    _, q = leiden(undirected(build(_both_ways(edges))))
    t = TARGETS["facebook_modularity"]
    rows.append(("ego-Facebook Leiden modularity", f"{q:.4f}", f">= {t}", q >= t))
    return rows


def summary(results: list[dict]) -> str:
    """One line per workspace: the figures side by side, and the steps' time and memory."""
    head = (
        f"{'names':<9} {'people':>9} {'seed':>4} {'records':>9} | {'P':>6} {'R':>6} "
        f"{'ceil':>6} {'mixed':>6} {'max':>4} {'true':>4} {'>=6':>5} | {'NMI':>5} "
        f"{'ampP':>5} {'ampR':>5} | steps s (peak MiB)"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        i, a = r["identity"], r["amplifier"]
        steps = ", ".join(
            f"{k} {t['seconds']:.0f} ({t['peak_rss_mb'] or 0:,.0f})" for k, t in r["steps"].items()
        )
        lines.append(
            f"{'hard' if r['hard'] else 'realistic':<9} {r['size']:>9,} {r['seed']:>4} "
            f"{i['records']:>9,} | {i['precision']:>6.4f} {i['recall']:>6.4f} "
            f"{i['recall_ceiling']:>6.4f} {i['mixed_share']:>6.2%} {i['largest_cluster']:>4} "
            f"{i['largest_person']:>4} {i['clusters_ge6']:>5,} | {r['nmi']:>5.3f} "
            f"{a['precision']:>5.3f} {a['recall']:>5.3f} | {steps}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--root", type=Path, default=REPO / ".bench" / "cas",
                    help="folder of the demo workspaces (default: .bench/cas)")  # fmt: skip
    ap.add_argument(
        "--sizes", type=int, nargs="+", default=list(SIZES), help="people per brand (2000 …)"
    )
    ap.add_argument(
        "--seeds", type=int, nargs="+", default=[EVAL_SEEDS[0]],
        help=f"seeds (evaluation: {EVAL_SEEDS}; development: {DEV_SEEDS})",
    )  # fmt: skip
    modes = ap.add_mutually_exclusive_group()
    modes.add_argument("--hard-names", action="store_true", help="only the worst-case names")
    modes.add_argument("--realistic-names", action="store_true", help="only realistic names")
    ap.add_argument("--rescore", action="store_true", help="re-run the steps on existing ones")
    ap.add_argument(
        "--references", action=argparse.BooleanOptionalAction, default=True,
        help="also FEBRL3, FEBRL4 and ego-Facebook (default: on)",
    )  # fmt: skip
    ap.add_argument(
        "--engine", choices=["duckdb", "spark"], default="duckdb",
        help="spark: resolve identities on Spark too and require the same clusters",
    )  # fmt: skip
    ap.add_argument("--json", type=Path, help="also write every measure to this file")
    args = ap.parse_args()

    names = ["hard"] if args.hard_names else ["realistic"] if args.realistic_names else NAME_MODES
    jobs = [
        {
            "home": str(args.root / f"{mode}_{size}_seed{seed}"),
            "size": size,
            "seed": seed,
            "hard": mode == "hard",
            "rescore": args.rescore,
            "on_spark": args.engine == "spark",
        }
        for size in args.sizes
        for mode in names
        for seed in args.seeds
    ]
    args.root.mkdir(parents=True, exist_ok=True)
    failed, reports, results = 0, [], []
    hard_ok = has_hard_names()
    for job in jobs:
        if job["hard"] and not hard_ok:
            reports.append(
                f"hard names, {job['size']:,} people, seed {job['seed']}: FAIL — "
                "generate_brand has no hard_names parameter yet"
            )
            failed += 1
            continue
        # a fresh process per workspace: its peak memory is its own, and nothing is shared
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            try:
                r = pool.submit(run_workspace, job).result()
            except Exception:
                reports.append(f"{job['home']}: FAIL — error\n{traceback.format_exc()}")
                failed += 1
                continue
        text, n_failed = workspace_report(r)
        reports.append(text)
        results.append(r)
        failed += n_failed
    ref_rows = references() if args.references else []
    failed += sum(ok is False for *_, ok in ref_rows)

    print(f"Connecting at scale — seeds: development {DEV_SEEDS}; evaluation {EVAL_SEEDS} "
          "(never chosen on)")  # fmt: skip
    print()
    for text in reports:
        print(text)
        print()
    if ref_rows:
        print(table("references (test suite's code and data)", ref_rows))
        print()
    if results:
        print(summary(results))
        print()
    if args.json:
        args.json.write_text(json.dumps({"workspaces": results, "references": ref_rows}, indent=2))
    # one line per target, into the results file with every measure
    run = Run("connecting_at_scale")
    for text in reports:
        if ": FAIL — " in text:
            run.check(text.split(": FAIL — ")[0], False, text.split(": FAIL — ")[1][:200])
    for r in results:
        label = f"{'hard' if r['hard'] else 'realistic'} {r['size']:,} seed {r['seed']}"
        run.figure(label, {k: r[k] for k in ("identity", "amplifier", "nmi", "steps") if k in r})
        for name, value, target, ok in checks(r):
            if ok is not None:
                run.check(f"{label}: {name} {target}", ok, value)
    for name, value, target, ok in ref_rows:
        run.figure(name, value)
        if ok is not None:
            run.check(f"{name} {target}", ok, value)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
