"""Targeting on the demo brand against the generator's hidden truth, per seed.

Per demo workspace: lift of true dropout among customers flagged at risk over the base
rate; precision, recall and F1 of the amplifier flag (connecting's, per handle) against the
generator's amplifier accounts; lift of true promoters in the evangelist segment (and
contributors) and of true detractors in the detractor segment over their base rates; the
rank correlation of relationship value with the latent engagement the generator drew.

Development and held-out seeds (the convention of ``_check.py``): the thresholds of the
amplifier flag (``connecting/influence.py``; since issue 17 the structural cutoff and 1.5x
the brand's average responses, chosen on seeds 2 and 3 at 2k-100k, see
``benchmarks/connecting_at_scale.py``) and of the evangelist rule (``targeting/rules.toml``)
were chosen on the development seeds only (:data:`DEV`: seeds 2 and 3, at 2,000 and 10,000
people). The held-out seeds (:data:`HELD_OUT`: evaluation seed 101 at 2,000 and 10,000
people) are used by no test, default, rule or threshold; they are the numbers to quote.
Seeds 0 and 1, quoted as held out before, are not: seed 0 is the demo's default and the
brand the listening tests were tuned on, and a rule was evaluated on both before being
replaced. Do not tune on the held-out seeds: a change to a rule is chosen on DEV, then
reported on HELD_OUT.

Checks (one line each; exit status 1 when one fails), per workspace: customers flagged at
risk (risk band, and the at-risk segments) drop out more than the base rate (lift > 1); the
detractor segment holds more true detractors and the evangelist segment more true
promoters than the base rates; relationship value correlates positively with the latent
engagement.

Usage:
  python benchmarks/targeting_vs_truth.py --root /tmp/tvt --build    # the six demos, then measure
  python benchmarks/targeting_vs_truth.py --root /tmp/tvt --build --held-out --sizes 2000
  python benchmarks/targeting_vs_truth.py --root /tmp/tvt --rescore  # after a rule change
  python benchmarks/targeting_vs_truth.py --root /tmp/tvt            # measure
  SOCIALCRM_HOME=/tmp/ws python benchmarks/targeting_vs_truth.py --seed 0  # one workspace

``--build`` generates each demo brand as ``socialcrm demo`` does (``<root>/seed<S>_<N>``,
kept when it exists; a 10,000-person one takes a few minutes); ``--rescore`` re-runs only
the steps from connecting to segments, which is what a rule change affects.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pandas as pd
from _check import EVAL_SEEDS, Run
from scipy.stats import spearmanr

from socialcrm.config import Settings
from socialcrm.store.workspace import Workspace

DEV = ((2, 2_000), (3, 2_000), (2, 10_000), (3, 10_000))
"""(seed, people) of the demos the thresholds were chosen on."""
HELD_OUT = ((EVAL_SEEDS[0], 2_000), (EVAL_SEEDS[0], 10_000))
"""(seed, people) of the demos the thresholds are reported on, never chosen on."""
RESCORE = ["connecting", "communities", "trinity", "segments"]


def role(seed: int | None) -> str:
    if seed is None:
        return "unknown seed"
    if seed in {s for s, _ in HELD_OUT}:
        return "held-out"
    return "dev" if seed in {s for s, _ in DEV} else "other"


def measure(home: Path) -> dict[str, object]:
    """Every measure on one demo workspace (its hidden truth in ``home/demo/truth``)."""
    truth = home / "demo" / "truth"
    persons = pd.read_csv(truth / "persons.csv", dtype=str)
    people = pd.read_csv(truth / "people.csv", dtype={"person_id": str})
    dropout = pd.read_csv(truth / "dropout.csv", dtype={"person_id": str})
    accounts = pd.read_csv(truth / "accounts.csv", dtype=str)
    with Workspace.open(Settings(home=home)) as ws:
        seg = ws.warehouse.read_arrow("customer_segments").to_pandas()
        scores = ws.warehouse.read_arrow("customer_scores").to_pandas()
        handles = ws.warehouse.read_arrow("handle_influence").to_pandas()
    pid = dict(zip(persons.customer_id, persons.person_id, strict=True))
    s = seg.merge(scores[["customer_id", "relationship_value", "frequency"]], on="customer_id")
    s["person_id"] = s.customer_id.map(pid)
    report: dict[str, object] = {"people": len(people)}

    buyers = s[s.frequency.notna()].merge(dropout[["person_id", "dropped_at"]], on="person_id")
    buyers["dropped"] = buyers.dropped_at.notna()
    base = buyers.dropped.mean()
    for name, flag in {
        "risk_band high/very_high": buyers.risk_band.isin(["high", "very_high"]),
        "segments at_risk_high_value+dormant": buyers.segment.isin(
            ["at_risk_high_value", "dormant"]
        ),
    }.items():
        rate = buyers.dropped[flag].mean()
        report[f"dropout lift, {name}"] = {
            "flagged": int(flag.sum()),
            "dropout_rate": round(float(rate), 3),
            "base_rate": round(float(base), 3),
            "lift": round(float(rate / base), 2),
        }

    is_amp = accounts.kind == "amplifier"
    amp_true = set(zip(accounts.platform[is_amp], accounts.handle[is_amp], strict=True))
    found = set(
        zip(handles.platform[handles.amplifier], handles.handle[handles.amplifier], strict=True)
    )
    tp = len(amp_true & found)
    precision, recall = tp / max(len(found), 1), tp / max(len(amp_true), 1)
    report["amplifier handles vs truth"] = {
        "true": len(amp_true),
        "found": len(found),
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(2 * precision * recall / max(precision + recall, 1e-12), 3),
    }
    report["customers among true amplifiers"] = int(
        accounts[is_amp & accounts.person_id.notna()].shape[0]
    )

    att = s.merge(people[["person_id", "attitude", "engagement"]], on="person_id")
    for segment, attitude in (
        ("evangelist", "promoter"),
        ("contributor", "promoter"),
        ("detractor", "detractor"),
    ):
        inside = att[att.segment == segment]
        share = float((inside.attitude == attitude).mean()) if len(inside) else None
        base_share = float((att.attitude == attitude).mean())
        report[f"{segment} segment: share true {attitude}"] = {
            "n": len(inside),
            "share": None if share is None else round(share, 3),
            "base_share": round(base_share, 3),
            "lift": None if share is None else round(share / base_share, 2),
        }
    rho = spearmanr(att.relationship_value, att.engagement, nan_policy="omit").statistic
    report["spearman(relationship_value, true engagement)"] = round(float(rho), 3)
    return report


def build(home: Path, seed: int, people: int) -> None:
    """Generate, load and score one demo brand, as ``socialcrm demo`` does."""
    from rich.console import Console

    from socialcrm.demo import run_demo

    run_demo(Settings(home=home), customers=people, seed=seed, console=Console(stderr=True))


def rescore(home: Path) -> None:
    """Re-run the steps a change of the amplifier or segment rules affects."""
    from socialcrm.pipeline import run_pipeline

    with Workspace.open(Settings(home=home)) as ws:
        run_pipeline(ws, RESCORE)


def summary(rows: list[dict[str, object]]) -> str:
    """One line per workspace, dev first, then the held-out means."""
    head = (
        f"{'role':<9} {'seed':>4} {'people':>7} | {'amp P':>5} {'R':>5} {'F1':>5} "
        f"{'true':>4} {'found':>5} | {'evang n':>7} {'promoters':>9} {'base':>5} {'lift':>5}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        a, e = r["amplifiers"], r["evangelists"]
        share = "-" if e["share"] is None else f"{e['share']:.3f}"
        lift = "-" if e["lift"] is None else f"{e['lift']:.2f}"
        lines.append(
            f"{r['role']:<9} {r['seed']!s:>4} {r['people']!s:>7} | {a['precision']:>5.3f} "
            f"{a['recall']:>5.3f} {a['f1']:>5.3f} {a['true']:>4} {a['found']:>5} | "
            f"{e['n']:>7} {share:>9} {e['base_share']:>5.3f} {lift:>5}"
        )
    for name in ("dev", "held-out"):
        part = [r for r in rows if r["role"] == name]
        if part:
            f1 = sum(r["amplifiers"]["f1"] for r in part) / len(part)
            lifts = [r["evangelists"]["lift"] for r in part if r["evangelists"]["lift"]]
            lift = f"{sum(lifts) / len(lifts):.2f}" if lifts else "-"
            lines.append(f"mean {name}: amplifier F1 {f1:.3f}, evangelist lift {lift}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", type=Path, help="folder of seed<S>_<N> demo workspaces")
    ap.add_argument("--build", action="store_true", help="generate the missing demos first")
    ap.add_argument("--rescore", action="store_true", help="re-run connecting..segments first")
    ap.add_argument("--seed", type=int, help="seed of the single SOCIALCRM_HOME workspace")
    ap.add_argument("--sizes", type=int, nargs="+", help="only brands of these sizes")
    ap.add_argument("--held-out", action="store_true", help="only the held-out seeds")
    args = ap.parse_args()
    run = Run("targeting_vs_truth")
    if args.root:
        wanted = HELD_OUT if args.held_out else (*DEV, *HELD_OUT)
        targets = [(args.root / f"seed{s}_{n}", s, n) for s, n in wanted
                   if not args.sizes or n in args.sizes]  # fmt: skip
    else:
        home = Path(os.environ.get("SOCIALCRM_HOME", Settings().home))
        targets = [(home, args.seed, None)]
    rows, reports = [], {}
    for home, seed, people in targets:
        if args.build and seed is not None and people and not (home / "demo" / "truth").exists():
            build(home, seed, people)
        elif args.rescore:
            rescore(home)
        if not (home / "demo" / "truth").exists():
            print(f"skipped {home}: no demo there (use --build)")
            continue
        report = measure(home)
        reports[str(home)] = {"seed": seed, "role": role(seed), **report}
        claims(run, f"{role(seed)} seed {seed}, {report['people']:,} people", report)
        rows.append(
            {
                "role": role(seed),
                "seed": seed,
                "people": report["people"],
                "amplifiers": report["amplifier handles vs truth"],
                "evangelists": report["evangelist segment: share true promoter"],
            }
        )
    print(json.dumps(reports, indent=2))
    print()
    print(f"thresholds chosen on dev seeds (2, 3); held-out seed {EVAL_SEEDS[0]} never used to "
          "choose")  # fmt: skip
    print(summary(rows))
    for home, report in reports.items():
        run.figure(home, report)
    return run.finish()


def claims(run: Run, label: str, report: dict) -> None:
    """What docs/targeting.md claims, checked on one workspace."""
    for name in ("risk_band high/very_high", "segments at_risk_high_value+dormant"):
        r = report[f"dropout lift, {name}"]
        run.check(f"{label}: {name} drop out above the base rate", r["lift"] > 1,
                  f"{r['dropout_rate']:.3f} of {r['flagged']:,} vs {r['base_rate']:.3f}: "
                  f"lift {r['lift']:.2f}")  # fmt: skip
    for segment, attitude in (("detractor", "detractor"), ("evangelist", "promoter")):
        r = report[f"{segment} segment: share true {attitude}"]
        ok = r["lift"] is not None and r["lift"] > 1
        detail = f"{r['share']} of {r['n']} vs {r['base_share']:.3f}: lift {r['lift']}"
        run.check(f"{label}: {segment} segment holds more true {attitude}s than the base", ok,
                  detail)  # fmt: skip
    rho = report["spearman(relationship_value, true engagement)"]
    run.check(f"{label}: relationship value rises with true engagement", rho > 0,
              f"Spearman ρ {rho:.3f}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
