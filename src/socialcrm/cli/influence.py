"""``socialcrm influence``: influence maximization and cascade simulation, on any edge
list or on the workspace's social graph.

Thin: it parses, calls :mod:`socialcrm.programs`, and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypedDict, cast

import typer
from rich.markup import escape
from rich.table import Table

from socialcrm.cli.common import JsonOpt, command_group, err, opened, out
from socialcrm.cli.common import fail as _fail

if TYPE_CHECKING:
    from socialcrm.programs.diffusion import DiffusionGraph

influence_app = command_group(
    "influence",
    (
        "Influence maximization and cascade simulation on any edge list or the workspace.\n\n"
        "Example: socialcrm influence seeds edges.csv --k 50 --model wc --json"
    ),
)

ModelOpt = Annotated[
    str, typer.Option("--model", help="wc (p=1/in-degree) | ic (uniform --p) | weighted | lt.")
]


class _SeedRow(TypedDict):
    node: object
    customer_id: str | None
    marginal_gain: float


def _plain_label(x: object) -> object:
    s = str(x)
    return int(s) if s.lstrip("-").isdigit() else s


def _load_graph(edges: Path, model: str, p: float | None, undirected: bool) -> DiffusionGraph:
    from socialcrm.programs.diffusion import (
        MODELS,
        GraphInputError,
        Model,
        build_graph,
        read_edges,
    )

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
            cast(Model, model),  # one of MODELS: checked above
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
    from socialcrm.programs.maximization import select_seeds
    from socialcrm.programs.social_graph import workspace_graph

    try:
        with opened() as o:
            wg = workspace_graph(o.ws, model, p=p)
        result = select_seeds(wg.graph, k, eligible=wg.eligible, epsilon=epsilon)
    except ValueError as e:
        raise _fail(str(e)) from None
    rows: list[_SeedRow] = [
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
