"""The data model as Markdown, generated from the declared schemas.

``docs/data-model.md`` is this function's output; a test fails when the two differ, so
the documentation always says what ingestion really accepts.
"""

from __future__ import annotations

from socialcrm.store.schemas import INPUT_TABLES

HEADER = """# Data model

Generated from `src/socialcrm/store/schemas.py` by `socialcrm schema --markdown`; do not
edit by hand (a test checks that this file matches the code).

Every input table is loaded with `socialcrm ingest TABLE FILE` from CSV, JSON lines or
Parquet. Column names are matched case-insensitively; unknown columns are ignored (and
listed in the report). Empty strings are missing values.

Conventions:

- **timestamps** are ISO 8601: `2026-03-01T10:15:00+01:00`, `2026-03-01T09:15:00Z`, or
  `2026-03-01 10:15` (no offset: read in `SOCIALCRM_TIMEZONE`, default UTC). A date alone
  (`2026-03-01`) means midnight UTC. Everything is stored in UTC.
- **dates** are `YYYY-MM-DD`; **booleans** `true/false` (also `yes/no`, `1/0`).
- **emails** are trimmed and lower-cased; **phones** become E.164 (`+4930901820`);
  national numbers are read in `SOCIALCRM_PHONE_REGION` (default `US`); **handles** lose
  `@` and profile URLs and are lower-cased (Mastodon keeps `user@instance`).
- **lists** (`interests`, `preferred_social_sites`) are `;`-separated.
- The **natural key** identifies a row: loading a row whose key exists updates it when it
  differs and leaves it alone when it is identical; a key repeated within one file is
  rejected after its first occurrence.
- Rejected rows are kept verbatim in the `rejects` table with file, line, field and
  reason (`socialcrm rejects`).

The Four Ps column says which part of the relationship a customer field belongs to:
Personal, Profile, Preferential or Performance.
"""


def data_model_markdown() -> str:
    parts = [HEADER]
    for schema in INPUT_TABLES.values():
        parts.append(f"\n## `{schema.name}`\n\n{schema.meaning}\n\n")
        parts.append(f"Natural key: {', '.join(f'`{k}`' for k in schema.key)}.")
        for group in schema.one_of:
            parts.append(f" At least one of {', '.join(f'`{g}`' for g in group)} is required.")
        four_ps = any(c.four_p for c in schema.columns)
        head = "| column | type | required | allowed values | meaning |"
        rule = "|---|---|---|---|---|"
        if four_ps:
            head = head[:-1] + " Four Ps |"
            rule += "---|"
        parts.append(f"\n\n{head}\n{rule}\n")
        for c in schema.columns:
            allowed = ", ".join(f"`{d}`" for d in c.domain) if c.domain else ""
            if c.minimum is not None:
                allowed = f"≥ {c.minimum:g}"
            if schema.name == "orders" and c.name == "currency":
                allowed = "ISO 4217"
            if schema.name == "customers" and c.name == "country":
                allowed = "ISO 3166-1 alpha-2"
            required = "yes" if c.required else ""
            row = f"| `{c.name}` | {c.type} | {required} | {allowed} | {c.meaning} |"
            if four_ps:
                row += f" {c.four_p or ''} |"
            parts.append(row + "\n")
    return "".join(parts)
