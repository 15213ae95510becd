"""Posts from a JSON-lines file, as ``socialcrm ingest posts`` reads them: the offline
source, and how other tools hand posts over. The cursor is the number of lines read, so
lines appended later are the next run's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from socialcrm.listening.sources.base import Batch, Reject, SourceError, SourceQuery


class FileSource:
    """``file:PATH``: one ``posts`` row per line."""

    platform = "file"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = f"file:{path}"

    def fetch(self, query: SourceQuery, cursor: str | None) -> Batch:
        if not self.path.exists():
            raise SourceError(f"file: {self.path} does not exist", retryable=True)
        start = int(cursor) if cursor and cursor.isdigit() else 0
        lines = self.path.read_text(encoding="utf-8").splitlines()
        rows: list[dict[str, Any]] = []
        rejects: list[Reject] = []
        for line in lines[start:]:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                rejects.append(Reject(line, "not JSON"))
                continue
            if not isinstance(row, dict):
                rejects.append(Reject(line, "not a JSON object"))
                continue
            row.setdefault("source", self.name)
            rows.append(row)
        return Batch(rows, rejects, str(len(lines)))

    def close(self) -> None:
        pass


__all__ = ["FileSource"]
