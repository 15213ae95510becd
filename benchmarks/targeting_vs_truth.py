"""Targeting on the demo brand against the generator's hidden truth.

Prints: lift of true dropout among customers flagged at risk over the base rate;
precision/recall of amplifiers against the generator's amplifier accounts; how often
evangelists are true promoters and detractors true detractors; and the rank correlation
of relationship value with the latent engagement the generator drew.

Usage: SOCIALCRM_HOME=/tmp/ws socialcrm demo --customers 2000 --no-serve
       SOCIALCRM_HOME=/tmp/ws python benchmarks/targeting_vs_truth.py
"""

from __future__ import annotations

import json

import pandas as pd
from scipy.stats import spearmanr

from socialcrm.config import get_settings
from socialcrm.store.workspace import Workspace


def main() -> dict[str, object]:
    settings = get_settings()
    truth = settings.home / "demo" / "truth"
    persons = pd.read_csv(truth / "persons.csv", dtype=str)
    people = pd.read_csv(truth / "people.csv", dtype={"person_id": str})
    dropout = pd.read_csv(truth / "dropout.csv", dtype={"person_id": str})
    accounts = pd.read_csv(truth / "accounts.csv", dtype=str)
    with Workspace.open(settings) as ws:
        seg = ws.warehouse.read_arrow("customer_segments").to_pandas()
        scores = ws.warehouse.read_arrow("customer_scores").to_pandas()
        handles = ws.warehouse.read_arrow("handle_influence").to_pandas()
    pid = dict(zip(persons.customer_id, persons.person_id, strict=True))
    s = seg.merge(scores[["customer_id", "relationship_value", "frequency"]], on="customer_id")
    s["person_id"] = s.customer_id.map(pid)
    report: dict[str, object] = {}

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

    amp_true = set(
        zip(
            accounts.platform[accounts.kind == "amplifier"],
            accounts.handle[accounts.kind == "amplifier"],
            strict=True,
        )
    )
    found = set(
        zip(handles.platform[handles.amplifier], handles.handle[handles.amplifier], strict=True)
    )
    tp = len(amp_true & found)
    report["amplifier handles vs truth"] = {
        "true": len(amp_true),
        "found": len(found),
        "precision": round(tp / max(len(found), 1), 3),
        "recall": round(tp / max(len(amp_true), 1), 3),
    }
    report["customers among true amplifiers"] = int(
        accounts[(accounts.kind == "amplifier") & accounts.person_id.notna()].shape[0]
    )

    att = s.merge(people[["person_id", "attitude", "engagement"]], on="person_id")
    for segment, attitude in (("evangelist", "promoter"), ("detractor", "detractor")):
        inside = att[att.segment == segment]
        report[f"{segment} segment: share true {attitude}"] = {
            "n": len(inside),
            "share": round(float((inside.attitude == attitude).mean()), 3) if len(inside) else None,
            "base_share": round(float((att.attitude == attitude).mean()), 3),
        }
    rho = spearmanr(att.relationship_value, att.engagement, nan_policy="omit").statistic
    report["spearman(relationship_value, true engagement)"] = round(float(rho), 3)
    return report


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
