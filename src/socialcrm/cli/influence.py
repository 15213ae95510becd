"""``socialcrm influence | plan | campaign``: amplification programs from the command line.

Thin: it parses, calls :mod:`socialcrm.programs`, and prints.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli_common import JsonOpt, command_group, err, out
from socialcrm.cli_common import fail as _fail

influence_app = command_group(
    "influence",
    (
        "Influence maximization and cascade simulation on any edge list or the workspace.\n\n"
        "Example: socialcrm influence seeds edges.csv --k 50 --model wc --json"
    ),
)
campaign_app = command_group(
    "campaign",
    (
        "Campaigns measured against a randomised holdout.\n\n"
        "Example: socialcrm campaign report spring-2026 --json"
    ),
)

ModelOpt = Annotated[
    str, typer.Option("--model", help="wc (p=1/in-degree) | ic (uniform --p) | weighted | lt.")
]


def _plain_label(x: object) -> object:
    s = str(x)
    return int(s) if s.lstrip("-").isdigit() else s


def _load_graph(edges: Path, model: str, p: float | None, undirected: bool):
    from socialcrm.programs.diffusion import MODELS, GraphInputError, build_graph, read_edges

    if model not in MODELS:
        raise _fail(f"unknown model {model!r}; use {', '.join(MODELS)}")
    try:
        df = read_edges(edges)
        weights = df["weight"].to_numpy() if "weight" in df.columns else None
        if model == "weighted" and weights is None:
            raise GraphInputError(f"{edges}: model 'weighted' needs a weight column")
        return build_graph(
            df["source"].to_numpy(),
            df["target"].to_numpy(),
            model,  # type: ignore[arg-type]
            p=p,
            weights=weights if model in ("weighted", "lt") else None,
            undirected=undirected,
        )
    except (GraphInputError, UnicodeDecodeError, OSError) as e:
        raise _fail(str(e)) from None


def _read_node_values(path: Path, column: str) -> dict[str, float]:
    import pandas as pd

    if not path.is_file():
        raise _fail(f"{path}: no such file")
    df = pd.read_csv(path, dtype=str, skipinitialspace=True)
    if "node" not in df.columns or column not in df.columns:
        raise _fail(f"{path}: need columns node,{column}")
    vals = pd.to_numeric(df[column], errors="coerce")
    bad = vals.isna() | (vals <= 0)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise _fail(f"{path}: line {i + 2}: field {column!r} must be a positive number")
    return dict(zip(df["node"].str.strip(), vals.astype(float), strict=True))


@influence_app.command("seeds")
def seeds(
    edges: Annotated[
        Path, typer.Argument(help="CSV source,target[,weight]: source can influence target.")
    ],
    k: Annotated[int | None, typer.Option("--k", help="Number of seeds.", min=1)] = None,
    model: ModelOpt = "wc",
    p: Annotated[float | None, typer.Option("--p", help="Edge probability for --model ic.")] = None,
    epsilon: Annotated[float, typer.Option("--epsilon", help="Approximation slack ε.")] = 0.1,
    algorithm: Annotated[str, typer.Option(help="imm | opim-c.")] = "imm",
    budget: Annotated[float | None, typer.Option(help="Total budget (needs --costs).")] = None,
    costs: Annotated[
        Path | None, typer.Option(help="CSV node,cost: cost of engaging each node (default 1).")
    ] = None,
    exclude: Annotated[
        Path | None, typer.Option(help="File with one node per line that may not be a seed.")
    ] = None,
    undirected: Annotated[bool, typer.Option(help="Each edge influences both ways.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Choose the seeds that spread furthest (IMM / OPIM-C, (1 − 1/e − ε) guarantee).

    Example: socialcrm influence seeds edges.csv --k 50 --model ic --p 0.01 --json
    """
    import numpy as np

    from socialcrm.programs.maximization import select_seeds

    if k is None and budget is None:
        raise _fail("give --k, or --budget with --costs")
    graph = _load_graph(edges, model, p, undirected)
    labels = [str(x) for x in graph.labels]
    cost_arr = None
    if costs is not None:
        given = _read_node_values(costs, "cost")
        cost_arr = np.array([given.get(lab, 1.0) for lab in labels])
    eligible = np.ones(graph.n, dtype=bool)
    if exclude is not None:
        if not exclude.is_file():
            raise _fail(f"{exclude}: no such file")
        banned = {line.strip() for line in exclude.read_text().splitlines() if line.strip()}
        eligible = np.array([lab not in banned for lab in labels])
    try:
        with err.status("choosing seeds…") as status:
            result = select_seeds(
                graph,
                k,
                algorithm=algorithm,
                budget=budget,
                costs=cost_arr,
                eligible=eligible,
                epsilon=epsilon,
                seed=seed,
                on_progress=lambda m: status.update(m),
            )
    except ValueError as e:
        raise _fail(str(e)) from None
    if as_json:
        doc = {
            "seeds": [_plain_label(s.label) for s in result.seeds],
            "expected_spread": result.expected_spread,
            "seconds": result.seconds,
            "marginal_gains": [s.marginal_gain for s in result.seeds],
            "certified_ratio": result.certified_ratio,
            "rr_sets": result.rr_sets,
            "total_cost": result.total_cost,
        }
        out.print_json(json.dumps(doc))
        return
    t = Table("#", "seed", "marginal gain", "cost", title="seeds", title_justify="left")
    for i, s in enumerate(result.seeds, 1):
        # handles are social text: untrusted, so never read as rich markup
        t.add_row(str(i), escape(str(s.label)), f"{s.marginal_gain:,.1f}", f"{s.cost:,.2f}")
    out.print(t)
    out.print(
        f"expected spread {result.expected_spread:,.1f} · {result.rr_sets:,} RR sets · "
        f"{result.seconds:.2f}s · guarantee {result.certified_ratio:.3f}"
    )


@influence_app.command("simulate")
def simulate(
    edges: Annotated[Path, typer.Argument(help="CSV source,target[,weight].")],
    seeds_: Annotated[str, typer.Option("--seeds", help="Comma-separated seed nodes.")],
    model: ModelOpt = "wc",
    p: Annotated[float | None, typer.Option("--p", help="Edge probability for --model ic.")] = None,
    runs: Annotated[int, typer.Option(help="Monte-Carlo runs.", min=1)] = 10_000,
    engagement_rate: Annotated[float, typer.Option(help="Share of reached who engage.")] = 1.0,
    conversion_rate: Annotated[float, typer.Option(help="Share of engaged who convert.")] = 0.0,
    undirected: Annotated[bool, typer.Option(help="Each edge influences both ways.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Simulate cascades from seeds: spread with a 95% interval, reach by hop, funnel.

    Example: socialcrm influence simulate edges.csv --seeds 12,40 --runs 10000 --json
    """
    from socialcrm.programs.cascade import simulate_spread

    graph = _load_graph(edges, model, p, undirected)
    wanted = [s.strip() for s in seeds_.split(",") if s.strip()]
    try:
        idx = graph.index_of([str(w) for w in wanted])
        report = simulate_spread(
            graph,
            idx,
            runs,
            engagement_rate=engagement_rate,
            conversion_rate=conversion_rate,
            seed=seed,
        )
    except (KeyError, ValueError) as e:
        raise _fail(str(e).strip("'\"")) from None
    if as_json:
        out.print_json(json.dumps(report.to_json()))
        return
    out.print(
        f"expected spread {report.mean:,.1f} (95% CI {report.ci_low:,.1f}–{report.ci_high:,.1f})"
        f"; engaged {report.engaged:,.1f}; converted {report.converted:,.1f}"
    )
    t = Table("hop", "newly reached", title="reach by hop", title_justify="left")
    for h, x in enumerate(report.reach_by_hop):
        t.add_row(str(h), f"{x:,.1f}")
    out.print(t)


@influence_app.command("workspace")
def workspace_seeds(
    k: Annotated[int, typer.Option("--k", help="Number of seeds.", min=1)] = 20,
    model: Annotated[str, typer.Option(help="learned (from reshares) | wc | ic | lt.")] = "learned",
    p: Annotated[float | None, typer.Option("--p", help="Edge probability for ic.")] = None,
    epsilon: Annotated[float, typer.Option("--epsilon", help="Approximation slack ε.")] = 0.1,
    as_json: JsonOpt = False,
) -> None:
    """Seeds among the workspace's customers who consented to social linking.

    Example: socialcrm influence workspace --k 20 --json
    """
    from socialcrm.cli import _workspace
    from socialcrm.programs.maximization import select_seeds
    from socialcrm.programs.social_graph import workspace_graph

    try:
        with _workspace() as ws:
            wg = workspace_graph(ws, model, p=p)
        result = select_seeds(wg.graph, k, eligible=wg.eligible, epsilon=epsilon)
    except ValueError as e:
        raise _fail(str(e)) from None
    rows = [
        {
            "node": s.label,
            "customer_id": wg.customer_of.get(str(s.label)),
            "marginal_gain": s.marginal_gain,
        }
        for s in result.seeds
    ]
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "seeds": rows,
                    "expected_spread": result.expected_spread,
                    "seconds": result.seconds,
                    "eligible": int(wg.eligible.sum()),
                    "nodes": wg.graph.n,
                }
            )
        )
        return
    t = Table("#", "handle", "customer", "marginal gain", title="seeds", title_justify="left")
    for i, r in enumerate(rows, 1):
        t.add_row(
            str(i),
            escape(str(r["node"])),
            escape(r["customer_id"] or ""),
            f"{r['marginal_gain']:,.1f}",
        )
    out.print(t)
    out.print(
        f"expected spread {result.expected_spread:,.1f} over {wg.graph.n:,} accounts; "
        f"{int(wg.eligible.sum()):,} may be seeds (social-linking consent)"
    )


def plan(
    list_size: Annotated[int, typer.Option(help="Emails sent.", min=0)] = 1_000_000,
    click_rate: Annotated[float, typer.Option(help="Email click-through rate.")] = 0.06,
    email_conversion_rate: Annotated[float, typer.Option(help="Clickers who buy.")] = 0.03,
    cost_per_email: Annotated[float, typer.Option(help="Cost of one email.")] = 0.001,
    amplifiers: Annotated[int, typer.Option(help="Amplifiers engaged.", min=0)] = 20,
    reach: Annotated[float, typer.Option(help="Measured reach of one amplifier.")] = 10_000,
    engagement_rate: Annotated[float, typer.Option(help="Reached people who engage.")] = 0.05,
    reamplification_rate: Annotated[float, typer.Option(help="Engaged who reshare.")] = 0.01,
    secondary_reach: Annotated[float, typer.Option(help="Friends one resharer reaches.")] = 75,
    amplifier_conversion_rate: Annotated[float, typer.Option(help="Engaged who buy.")] = 0.03,
    fee_per_amplifier: Annotated[float, typer.Option(help="Paid to each amplifier.")] = 0.0,
    referral_reward: Annotated[float, typer.Option(help="Paid per referred sale.")] = 5.0,
    baseline_rate: Annotated[
        float, typer.Option(help="Share who would convert anyway (from a holdout).")
    ] = 0.0,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG chart here.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Plan an email blast against amplifiers: reach, engagement, conversions, cost.

    Example: socialcrm plan --list-size 1000000 --amplifiers 20 --reach 10000 --chart plan.png
    """
    from socialcrm.programs.planner import Amplifiers, EmailBlast, PlanError, compare, plan_chart

    try:
        result = compare(
            EmailBlast(list_size, click_rate, email_conversion_rate, cost_per_email, baseline_rate),
            Amplifiers(
                amplifiers,
                reach,
                engagement_rate,
                reamplification_rate,
                secondary_reach,
                amplifier_conversion_rate,
                fee_per_amplifier,
                referral_reward,
                baseline_rate,
            ),
        )
    except PlanError as e:
        raise _fail(str(e)) from None
    if chart is not None:
        try:
            plan_chart(result, chart)
        except OSError as e:
            raise _fail(f"{chart}: {e.strerror or e}") from None
    if as_json:
        out.print_json(json.dumps({k: v.to_json() for k, v in result.items()}))
        return
    t = Table("", "email blast", "amplifiers", title="expected outcome", title_justify="left")
    e, a = result["email"], result["amplifiers"]
    for label, attr, fmt in (
        ("reached", "reach", "{:,.0f}"),
        ("engaged", "engaged", "{:,.0f}"),
        ("conversions", "conversions", "{:,.1f}"),
        ("incremental", "incremental_conversions", "{:,.1f}"),
        ("cost", "cost", "${:,.2f}"),
    ):
        t.add_row(label, fmt.format(getattr(e, attr)), fmt.format(getattr(a, attr)))
    t.add_row(
        "cost / incremental",
        *(f"${o.cost_per_incremental:,.2f}" if o.cost_per_incremental else "—" for o in (e, a)),
    )
    out.print(t)
    if chart is not None:
        out.print(f"chart: {chart}")


@campaign_app.command("create")
def campaign_create(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    audience: Annotated[Path, typer.Option(help="File of customer ids, one per line.")],
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day.")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Day after the last.")],
    holdout: Annotated[float, typer.Option(help="Share held out (not contacted).")] = 0.1,
    channel: Annotated[str, typer.Option(help="email | sms | phone | social | push.")] = "email",
    kind: Annotated[str, typer.Option(help="direct | amplifier.")] = "direct",
    posts: Annotated[
        str | None, typer.Option(help="Comma-separated post ids of an amplifier campaign.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the holdout draw.")] = 0,
    as_json: JsonOpt = False,
) -> None:
    """Define a campaign and draw its randomised holdout.

    Example: socialcrm campaign create spring --audience ids.txt --start 2026-03-01 --end 2026-04-01
    """
    from socialcrm.cli import _workspace
    from socialcrm.programs.campaigns import CampaignError, create_campaign

    if not audience.is_file():
        raise _fail(f"{audience}: no such file")
    ids = [line.strip() for line in audience.read_text().splitlines() if line.strip()]
    if ids and ids[0] == "customer_id":
        ids = ids[1:]
    try:
        with _workspace() as ws:
            counts = create_campaign(
                ws,
                campaign_id,
                ids,
                starts_at=start,
                ends_at=end,
                holdout_share=holdout,
                kind=kind,
                channel=channel,
                post_ids=[p.strip() for p in (posts or "").split(",") if p.strip()],
                seed=seed,
            )
    except CampaignError as e:
        raise _fail(str(e)) from None
    if as_json:
        out.print_json(json.dumps(counts))
        return
    out.print(
        f"campaign {campaign_id}: {counts['treatment']:,} treated, {counts['control']:,} held "
        f"out, {counts['left_out_without_consent']:,} left out (no consent)"
    )


@campaign_app.command("report")
def campaign_report_cmd(
    campaign_id: Annotated[str, typer.Argument(help="Campaign id.")],
    confidence: Annotated[float, typer.Option(help="Confidence level of intervals.")] = 0.95,
    as_json: JsonOpt = False,
) -> None:
    """Incremental conversions and revenue against the holdout, with intervals.

    Example: socialcrm campaign report spring --json
    """
    from socialcrm.cli import _workspace
    from socialcrm.programs.campaigns import CampaignError, campaign_report

    try:
        with _workspace() as ws:
            r = campaign_report(ws, campaign_id, confidence)
    except CampaignError as e:
        raise _fail(str(e)) from None
    if as_json:
        out.print_json(json.dumps(r.to_json()))
        return
    pct = f"{confidence:.0%}"
    t = Table("", "treated", "holdout", title=f"campaign {campaign_id}", title_justify="left")
    t.add_row("customers", f"{r.treatment.customers:,}", f"{r.control.customers:,}")
    t.add_row("conversion rate", f"{r.treatment.rate:.2%}", f"{r.control.rate:.2%}")
    t.add_row(
        "revenue / customer", f"{r.treatment.mean_revenue:,.2f}", f"{r.control.mean_revenue:,.2f}"
    )
    out.print(t)
    lo, hi = r.incremental_conversions_ci
    out.print(
        f"incremental conversions {r.incremental_conversions:,.1f} "
        f"({pct} CI {lo:,.1f} to {hi:,.1f})"
    )
    lo, hi = r.incremental_revenue_ci
    out.print(f"incremental revenue {r.incremental_revenue:,.2f} ({pct} CI {lo:,.2f} to {hi:,.2f})")
    if r.reach:
        out.print(
            f"reach through reshares: {r.reach['reshares']} reshares by "
            f"{r.reach['distinct_resharers']} people, potential audience "
            f"{r.reach['potential_audience']:,}"
        )
