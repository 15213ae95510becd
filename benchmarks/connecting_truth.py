"""Communities and amplifiers of the connecting step against a demo brand's hidden truth.

Two importable measures on one demo workspace (truth in ``home/demo/truth``):

- :func:`community_nmi`: over every handle listed in ``communities.csv`` (platform, handle,
  community), the found label is ``handle_influence.community_id`` of that (platform,
  handle); a handle absent from ``handle_influence`` or with community_id -1 counts as its
  own singleton label. NMI is sklearn's ``normalized_mutual_info_score`` (arithmetic mean).
- :func:`amplifier_scores`: precision and recall of ``handle_influence.amplifier`` against
  ``accounts.csv`` kind == 'amplifier', per (platform, handle) — what
  ``benchmarks/targeting_vs_truth.py``'s ``measure`` computes.

Run as a script, it measures the given demo workspaces (by default the one
``connecting_at_scale.py`` builds for ``make bench``: realistic names, 2,000 people,
evaluation seed 101) and checks the connecting targets: amplifier precision ≥ 0.9 and
recall ≥ 0.85, and NMI ≥ 0.6 from 20,000 people (:data:`TARGETS`, shared with
``connecting_at_scale.py``).

Seeds (the convention of ``_check.py``): the amplifier thresholds
(``connecting/influence.py``) were chosen on development seeds 2 and 3 (2,000 and 20,000
people; seed 2 at 100,000); the community rules' one constant (20 ties before an
account's following is judged random) on seed 2 at 20,000; the resolution is estimated
from each graph, never from a truth. Quote the evaluation seeds (≥ 100); do not tune on
them. Build a brand with
``SOCIALCRM_HOME=/tmp/dev2_20k socialcrm demo --customers 20000 --seed 2 --no-serve``.

Usage:
  python benchmarks/connecting_truth.py               # .bench/cas/realistic_2000_seed101
  python benchmarks/connecting_truth.py /tmp/dev2_20k [/tmp/dev3_20k ...]           # measure
  python benchmarks/connecting_truth.py --rerun /tmp/dev2_20k    # re-run connecting first
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import normalized_mutual_info_score

from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace

DEFAULT_HOME = Path(__file__).resolve().parents[1] / ".bench" / "cas" / "realistic_2000_seed101"
"""The workspace ``make bench`` builds with ``connecting_at_scale.py --sizes 2000``."""
TARGETS = {"nmi": 0.6, "amp_precision": 0.9, "amp_recall": 0.85}
NMI_FROM = 20_000
"""Communities are only judged from this many people (small brands have few ties)."""


def _handle_influence(home: Path) -> pd.DataFrame:
    with Workspace.open(Settings(home=home)) as ws:
        t = ws.warehouse.read_arrow("handle_influence")
    return t.select(["platform", "handle", "community_id", "amplifier"]).to_pandas()


def community_nmi(home: Path) -> dict[str, object]:
    """NMI of found vs true communities over the truth's handles (see the module docstring).

    Returns nmi, found (communities with an id >= 0 among those handles), true (true
    communities), handles (handles compared), unassigned (handles counted as singletons:
    absent or -1) and found_1pct (found communities holding at least 1% of the handles;
    the rest are fragments of a few handles).
    """
    truth = pd.read_csv(home / "demo" / "truth" / "communities.csv", dtype=str)
    found = _handle_influence(home)[["platform", "handle", "community_id"]]
    m = truth.merge(found, on=["platform", "handle"], how="left")
    cid = pd.to_numeric(m.community_id, errors="coerce").fillna(-1).astype(np.int64).to_numpy()
    single = cid < 0
    labels = cid.copy()
    # every unassigned handle is a label of its own, distinct from every community id
    labels[single] = int(cid.max(initial=0)) + 1 + np.arange(int(single.sum()))
    nmi = normalized_mutual_info_score(m.community.to_numpy(), labels, average_method="arithmetic")
    _, sizes = np.unique(cid[~single], return_counts=True)
    return {
        "nmi": round(float(nmi), 4),
        "found": len(sizes),
        "found_1pct": int((sizes >= 0.01 * len(m)).sum()),
        "true": int(truth.community.nunique()),
        "handles": len(m),
        "unassigned": int(single.sum()),
    }


def amplifier_scores(home: Path) -> dict[str, object]:
    """Precision and recall of the amplifier flag per (platform, handle) against the truth."""
    accounts = pd.read_csv(home / "demo" / "truth" / "accounts.csv", dtype=str)
    is_amp = accounts.kind == "amplifier"
    true = set(zip(accounts.platform[is_amp], accounts.handle[is_amp], strict=True))
    h = _handle_influence(home)
    flagged = h[h.amplifier.fillna(False).astype(bool)]
    found = set(zip(flagged.platform, flagged.handle, strict=True))
    tp = len(true & found)
    return {
        "precision": round(tp / max(len(found), 1), 4),
        "recall": round(tp / max(len(true), 1), 4),
        "found": len(found),
        "true": len(true),
    }


def rerun(home: Path) -> float:
    """Re-run only the connecting step on ``home``; seconds it took."""
    from socialcrm.pipeline import run_pipeline

    with Workspace.open(Settings(home=home)) as ws:
        start = time.perf_counter()
        run_pipeline(ws, ["connecting"])
        return time.perf_counter() - start


def main() -> int:
    import sys

    from _check import Run

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("homes", type=Path, nargs="*", help="demo workspaces", default=[DEFAULT_HOME])
    ap.add_argument("--rerun", action="store_true", help="re-run the connecting step first")
    args = ap.parse_args()
    run = Run("connecting_truth")
    for home in args.homes:
        if not (home / "demo" / "truth").exists():
            sys.exit(f"{home}: no demo workspace with its truth there; build one with "
                     f"benchmarks/connecting_at_scale.py (see its docstring)")  # fmt: skip
        row: dict[str, object] = {"home": str(home)}
        if args.rerun:
            row["connecting_s"] = round(rerun(home), 1)
        row["communities"] = c = community_nmi(home)
        row["amplifiers"] = a = amplifier_scores(home)
        print(json.dumps(row), flush=True)
        run.figure(home.name, row)
        for k in ("precision", "recall"):
            t = TARGETS[f"amp_{k}"]
            run.check(f"{home.name}: amplifier {k} ≥ {t}", a[k] >= t,
                      f"{a[k]:.4f} ({a['found']} flagged, {a['true']} true)")  # fmt: skip
        people = len(pd.read_csv(home / "demo" / "truth" / "people.csv", usecols=[0]))
        if people >= NMI_FROM:
            run.check(f"{home.name}: community NMI ≥ {TARGETS['nmi']}",
                      c["nmi"] >= TARGETS["nmi"], f"{c['nmi']:.4f}")  # fmt: skip
        else:
            print(f"({home.name}: NMI {c['nmi']:.4f}, not judged below {NMI_FROM:,} people)")
    return run.finish()


if __name__ == "__main__":
    raise SystemExit(main())
