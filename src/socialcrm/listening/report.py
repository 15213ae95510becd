"""The listening report: a readable HTML page with PNG charts, from the warehouse.

``write_report(ws, out_dir, since=...)`` reads ``posts_enriched``, ``listening_daily``,
``topics`` and ``alerts`` and writes ``report.html`` beside four charts: volume and
sentiment per day (alert days marked), share of voice per week, topics by volume and
negative share, and net sentiment per product.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pandas as pd

from socialcrm.listening.step import counted
from socialcrm.store.workspace import Workspace


@dataclass
class ReportSummary:
    """The headline numbers of a report (also what ``--json`` prints)."""

    since: str | None
    until: str | None
    posts: int
    counted: int
    duplicates: int
    spam: int
    sentiment: dict[str, int]
    intents: dict[str, int]
    alerts: int
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _since(t: ibis.Table, since: date | None) -> ibis.Table:
    return t if since is None else t.filter(t.day >= since)


def write_report(ws: Workspace, out_dir: Path, since: date | None = None) -> ReportSummary:
    """Write ``report.html`` and its charts to ``out_dir``; returns the headline numbers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    enriched = _since(ws.warehouse.table("posts_enriched"), since)
    daily = ws.engine.to_arrow(_since(ws.warehouse.table("listening_daily"), since)).to_pandas()
    alerts = ws.engine.to_arrow(_since(ws.warehouse.table("alerts"), since)).to_pandas()
    topics = ws.warehouse.read_arrow("topics").to_pandas()

    c = counted(enriched)
    totals = ws.engine.to_arrow(
        enriched.aggregate(
            posts=enriched.count(),
            duplicates=enriched.is_duplicate.sum(),
            spam=enriched.is_spam.sum(),
            first=enriched.day.min(),
            last=enriched.day.max(),
        )
    ).to_pylist()[0]
    sentiment = dict(
        ws.engine.to_arrow(c.group_by("sentiment_label").aggregate(n=c.count()))
        .to_pandas()
        .values.tolist()
    )
    intents = dict(
        ws.engine.to_arrow(c.group_by("intent").aggregate(n=c.count())).to_pandas().values.tolist()
    )
    summary = ReportSummary(
        since=str(totals["first"]) if totals["first"] else None,
        until=str(totals["last"]) if totals["last"] else None,
        posts=int(totals["posts"] or 0),
        counted=int(sum(sentiment.values())),
        duplicates=int(totals["duplicates"] or 0),
        spam=int(totals["spam"] or 0),
        sentiment={k: int(v) for k, v in sentiment.items()},
        intents={k: int(v) for k, v in intents.items()},
        alerts=len(alerts),
    )

    charts: list[tuple[str, str]] = []
    overall = daily[daily.dimension == "all"].sort_values("day")
    if not overall.empty:
        fig, ax = plt.subplots(figsize=(10, 3.6))
        days = pd.to_datetime(overall.day).to_numpy()
        ax.stackplot(days, overall.negative, overall.neutral, overall.positive,
                     labels=["negative", "neutral", "positive"],
                     colors=["#d62728", "#c7c7c7", "#2ca02c"], alpha=0.85)  # fmt: skip
        spikes = alerts[(alerts.dimension == "all") & (alerts.metric == "volume")]
        if not spikes.empty:
            when = pd.to_datetime(spikes.day).to_numpy()
            ax.scatter(when, spikes.observed, color="black", zorder=3, marker="v",
                       label="volume alert")  # fmt: skip
        ax.set_title("Posts per day (one per duplicate group, no spam)")
        ax.legend(loc="upper left", fontsize=8)
        charts.append(_save(fig, out_dir / "volume.png", "Volume and sentiment per day"))

    companies = daily[daily.key.str.startswith(("brand:", "competitor:"))].copy()
    if not companies.empty:
        companies["week"] = pd.to_datetime(companies.day).dt.to_period("W").dt.start_time
        weekly = companies.pivot_table(index="week", columns="label", values="posts",
                                       aggfunc="sum", fill_value=0)  # fmt: skip
        share = weekly.div(weekly.sum(axis=1), axis=0)
        fig, ax = plt.subplots(figsize=(10, 3.2))
        ax.stackplot(share.index.to_numpy(), *[share[c].to_numpy() for c in share.columns],
                     labels=[str(c) for c in share.columns], alpha=0.85)  # fmt: skip
        ax.set_ylim(0, 1)
        ax.set_title("Share of voice per week (brand vs competitors)")
        ax.legend(loc="upper left", fontsize=8)
        charts.append(_save(fig, out_dir / "share_of_voice.png", "Share of voice"))

    per_topic = daily[daily.dimension == "topic"].groupby("label")[["posts", "negative"]].sum()
    if not per_topic.empty:
        per_topic = per_topic.sort_values("posts").tail(12)
        fig, ax = plt.subplots(figsize=(10, 0.35 * len(per_topic) + 1))
        ax.barh(per_topic.index, per_topic.posts, color="#1f77b4", label="posts")
        ax.barh(per_topic.index, per_topic.negative, color="#d62728", label="negative")
        ax.set_title("Topics: posts and negative posts")
        ax.legend(fontsize=8)
        charts.append(_save(fig, out_dir / "topics.png", "Topics"))

    products = daily[daily.key.str.startswith("product:")]
    if not products.empty:
        net = products.groupby("label")[["positive", "negative", "posts"]].sum()
        net = ((net.positive - net.negative) / net.posts.clip(lower=1)).sort_values()
        fig, ax = plt.subplots(figsize=(10, 0.35 * len(net) + 1))
        ax.barh(net.index, net.values, color=["#d62728" if v < 0 else "#2ca02c" for v in net])
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_title("Net sentiment about each product ((positive − negative) / posts)")
        charts.append(_save(fig, out_dir / "products.png", "Products"))
    plt.close("all")

    posts_by_id = {}
    wanted = sorted({p for ids in alerts.get("post_ids", []) for p in _ids(ids)})
    if wanted:
        rows = ws.engine.to_arrow(
            enriched.filter(enriched.post_id.isin(wanted)).select("post_id", "text")
        )
        posts_by_id = dict(zip(rows.column("post_id").to_pylist(),
                               rows.column("text").to_pylist(), strict=True))  # fmt: skip
    page = _html(summary, charts, alerts, topics, posts_by_id)
    (out_dir / "report.html").write_text(page, "utf-8")
    summary.files = [str(out_dir / "report.html")] + [str(out_dir / f) for f, _ in charts]
    return summary


def _ids(value: Any) -> list[str]:
    """A list column's cell as a list (pandas gives arrays, or None)."""
    return [] if value is None else [str(v) for v in value]


def _save(fig: Any, path: Path, title: str) -> tuple[str, str]:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path.name, title


def _html(
    summary: ReportSummary,
    charts: list[tuple[str, str]],
    alerts: pd.DataFrame,
    topics: pd.DataFrame,
    posts_by_id: dict[str, str],
) -> str:
    e = html.escape
    sent = summary.sentiment
    brand = sent.get("brand", 0)  # the brand's own posts: volume, not sentiment
    total = max(summary.counted - brand, 1)
    lines = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Listening report</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "color:#222}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid "
        "#ddd;padding:4px 8px;text-align:left;vertical-align:top}.num{text-align:right}"
        "img{max-width:100%}small{color:#666}</style></head><body>",
        f"<h1>Listening report</h1><p>{e(summary.since or '')} to {e(summary.until or '')}: "
        f"<b>{summary.posts:,}</b> posts collected, <b>{summary.counted:,}</b> counted "
        f"({summary.duplicates:,} duplicates and reshares counted once, "
        f"{summary.spam:,} spam or bot posts left out).</p>",
        f"<p>Sentiment: {sent.get('negative', 0) / total:.0%} negative, "
        f"{sent.get('neutral', 0) / total:.0%} neutral, "
        f"{sent.get('positive', 0) / total:.0%} positive"
        + (f" (the brand's own {brand:,} posts left out)" if brand else "")
        + ". Intents: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(summary.intents.items(), key=lambda x: -x[1]))
        + "</p>",
    ]
    for name, title in charts:
        lines.append(f"<h2>{e(title)}</h2><img src='{e(name)}' alt='{e(title)}'>")
    lines.append(f"<h2>Alerts ({len(alerts)})</h2>")
    if alerts.empty:
        lines.append("<p>No unusual day.</p>")
    else:
        lines.append("<table><tr><th>day</th><th>what</th><th>top posts</th></tr>")
        for _, a in alerts.sort_values(["day", "z"], ascending=[False, False]).head(50).iterrows():
            posts = "".join(f"<li>{e(posts_by_id.get(p, p))}</li>" for p in _ids(a.post_ids)[:3])
            lines.append(f"<tr><td>{e(str(a.day))}</td><td>{e(a.message)}</td>"
                         f"<td><ul>{posts}</ul></td></tr>")  # fmt: skip
        lines.append("</table>")
    lines.append("<h2>Topics</h2><table><tr><th>topic</th><th class='num'>posts</th>"
                 "<th class='num'>negative</th><th>examples</th></tr>")  # fmt: skip
    for _, t in topics.sort_values("posts", ascending=False).iterrows():
        neg = "" if pd.isna(t.negative_share) else f"{t.negative_share:.0%}"
        ex = "".join(f"<li>{e(x)}</li>" for x in list(t.examples)[:2])
        lines.append(f"<tr><td><b>{e(t.label)}</b><br><small>{e(', '.join(t.keywords))}"
                     f"</small></td><td class='num'>{t.posts:,}</td><td class='num'>{neg}</td>"
                     f"<td><ul>{ex}</ul></td></tr>")  # fmt: skip
    lines.append("</table></body></html>")
    return "\n".join(lines)
