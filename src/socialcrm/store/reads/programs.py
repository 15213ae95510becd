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
