"""The demo: a realistic brand loaded exactly as a user's files would be, then scored."""

from __future__ import annotations

import json
from time import perf_counter

from rich.console import Console

from socialcrm.config import Settings
from socialcrm.pipeline import run_context, run_with_progress
from socialcrm.store.ingest import ingest_file
from socialcrm.store.workspace import Workspace

# Parents before children: identities, consents, orders and touches name customers.
LOAD_ORDER = ("customers", "identities", "consents", "orders", "touches", "posts", "follows")


def run_demo(
    settings: Settings, customers: int, seed: int, console: Console, hard_names: bool = False
) -> str:
    """Generate, ingest and score the demo brand; return a short summary.

    ``hard_names`` gives the persons names from small hand-written lists (far more
    namesakes than real life) instead of each country's real name frequencies.
    """
    from socialcrm.synth.brand import generate_brand

    t0 = perf_counter()
    demo_dir = settings.home / "demo"
    names = ", hard names" if hard_names else ""
    console.print(f"generating a demo brand of {customers:,} people (seed {seed}{names})…")
    files = generate_brand(
        demo_dir, customers=customers, seed=seed, progress=True, hard_names=hard_names
    )
    _install_catalogue(settings)
    region = _home_region(files.inputs)
    if region:
        settings = settings.model_copy(update={"phone_region": region})
    lines = []
    with Workspace.open(settings) as ws:
        for table in LOAD_ORDER:
            path = files.inputs[table]
            with console.status(f"loading {table} from {path.name}…"):
                report = ingest_file(ws, table, path)
            lines.append(
                f"  {table:<28} {report.accepted + report.updated + report.unchanged:>10,} rows"
                + (f"  ({report.rejected:,} rejected)" if report.rejected else "")
            )
        results = run_with_progress(ws, console, started_by="demo")
        for r in results:
            for name, rows in r.written.items():
                lines.append(f"  {name:<28} {rows:>10,} rows  (step {r.name})")
        with console.status("loyalty: awarding points for purchases and reshares…"):
            lines.append(_run_loyalty(ws))
    from socialcrm.appdb.accounts import ensure_demo_admin

    admin = ensure_demo_admin(settings.resolved_database_url)
    if admin:  # printed this once; only its hash is stored
        lines.append(f"  web app: sign in as {admin[0]} with password {admin[1]}")
    with console.status("inbox: a support team works the conversations…"):
        lines.append(_work_the_inbox(settings, seed))
    seconds = perf_counter() - t0
    return "\n".join(
        [
            f"demo brand ready in {seconds:.0f}s — workspace {settings.home}",
            *lines,
            f"  hidden truth in {files.truth_dir}",
        ]
    )


def _run_loyalty(ws: Workspace) -> str:
    """Run the loyalty program over the demo's history, as a brand running one would
    have: points for purchases and reshares of brand posts (idempotent, like
    ``socialcrm loyalty award``), then the tiers copied into the warehouse."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.programs import loyalty

    rules = loyalty.load_rules(ws.settings.loyalty_rules)
    db = AppDB(ws.settings.resolved_database_url)
    try:
        with db.session() as s:
            awards = loyalty.purchase_awards(ws, rules)
            awards += loyalty.reshare_awards(ws, rules)[0]
            report = loyalty.award(s, awards, rules, actor="demo")
    finally:
        db.close()
    loyalty.step_customer_rewards(ws, run_context(ws))
    return f"  {'loyalty points':<28} {report.points:>10,} points on {report.awarded:,} events"


def _work_the_inbox(settings: Settings, seed: int) -> str:
    """A small team answers, assigns and resolves the demo's conversations as its history
    went (the inbox's own actions, dated then), so the inbox's SLA figures look like a
    real team's; then the SLAs are checked as of today, as the pipeline does."""
    from socialcrm.appdb.db import AppDB
    from socialcrm.responding.simulate import work_the_inbox
    from socialcrm.responding.step import check_slas_in_batches

    db = AppDB(settings.resolved_database_url)
    try:
        done = work_the_inbox(db, settings, seed)
        check_slas_in_batches(db, settings)
    finally:
        db.close()
    worked = ", ".join(f"{n:,} {what}" for what, n in sorted(done.items(), key=lambda x: -x[1]))
    return f"  {'inbox worked by demo team':<28} {sum(done.values()):>10,} conversations ({worked})"


def _install_catalogue(settings: Settings) -> None:
    """Give listening the demo brand's catalogue (brand, products, competitor).

    A user's own workspace gets its ``catalogue.json`` from them; the demo's comes
    with the generator. An existing one is left alone.
    """
    from importlib import resources

    target = settings.home / "catalogue.json"
    if target.exists():
        return
    settings.home.mkdir(parents=True, exist_ok=True)
    target.write_text(resources.files("socialcrm.synth").joinpath("catalogue.json").read_text())


def _home_region(inputs: dict) -> str | None:
    """The brand's home country, if its catalogue names one (for national phone numbers)."""
    from importlib import resources

    try:
        catalogue = json.loads(
            resources.files("socialcrm.synth").joinpath("catalogue.json").read_text()
        )
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    region = catalogue.get("home_country") or catalogue.get("brand", {}).get("home_country")
    return region if isinstance(region, str) else None
