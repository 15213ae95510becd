"""A workspace: settings, the engine and the warehouse, opened together.

Pipeline steps, the CLI and the web app all receive one; it is the only thing a step
needs to read its inputs and write its outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from socialcrm.config import Settings, get_settings
from socialcrm.store.engine import Engine, make_engine
from socialcrm.store.warehouse import Warehouse


@dataclass
class Workspace:
    settings: Settings
    engine: Engine
    warehouse: Warehouse

    @classmethod
    def open(cls, settings: Settings | None = None) -> Self:
        """Open the workspace the settings name (created on first write).

        Opening removes what killed imports and writers left behind (their scratch
        folders, half-built versions) and finishes commits interrupted after their commit
        point; nothing a running process still uses is touched (``Warehouse.tidy``).
        """
        settings = settings or get_settings()
        engine = make_engine(settings)
        warehouse = Warehouse(settings.warehouse_dir, engine)
        warehouse.tidy()
        return cls(settings, engine, warehouse)

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
