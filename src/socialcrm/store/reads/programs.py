"""Reads of the programs tables: campaigns and their groups (DuckDB SQL over Parquet)."""

from __future__ import annotations

from typing import Any

from socialcrm.store.reads.model import ReadModel


def campaigns(rm: ReadModel) -> list[dict[str, Any]]:
    """Campaigns, newest first, with how many customers each group holds."""
    if not rm.exists("campaigns"):
        return []
    groups = "NULL::BIGINT AS treated, NULL::BIGINT AS held_out"
    join = ""
    if {"campaign_id", "grp"} <= rm.columns("campaign_assignments"):
        groups = "coalesce(a.treated, 0) AS treated, coalesce(a.held_out, 0) AS held_out"
        join = f"""LEFT JOIN (SELECT campaign_id,
                       count(*) FILTER (WHERE grp = 'treatment') AS treated,
                       count(*) FILTER (WHERE grp = 'control') AS held_out
                   FROM {rm.source("campaign_assignments")} GROUP BY 1) a USING (campaign_id)"""
    order = "c.created_at DESC NULLS LAST, " if "created_at" in rm.columns("campaigns") else ""
    return rm.rows(
        f"SELECT c.*, {groups} FROM {rm.source('campaigns')} c {join} ORDER BY {order}c.campaign_id"
    )


def campaign_touches_daily(rm: ReadModel, campaign_id: str) -> list[dict[str, Any]]:
    """A campaign's touches per day and event (sent, delivered, open, click, unsubscribe,
    bounce, complaint): distinct people, oldest day first; what the results page draws."""
    if not {"campaign_id", "event", "at", "customer_id"} <= rm.columns("touches"):
        return []
    return rm.rows(
        f"""SELECT CAST("at" AS DATE) AS day, event, count(DISTINCT customer_id) AS people
            FROM {rm.source("touches")} WHERE campaign_id = ? GROUP BY 1, 2 ORDER BY 1, 2""",
        [campaign_id],
    )


def first_actions(rm: ReadModel) -> list[dict[str, Any]]:
    """Each next-best-action and how many people have it first (rank 1), largest first:
    the audiences a campaign can be built from, besides segments."""
    if not {"action", "rank", "customer_id"} <= rm.columns("customer_actions"):
        return []
    return rm.rows(
        f"""SELECT action, count(DISTINCT customer_id) AS customers
            FROM {rm.source("customer_actions")} WHERE "rank" = 1 AND action <> 'none'
            GROUP BY 1 ORDER BY 2 DESC, 1"""
    )
