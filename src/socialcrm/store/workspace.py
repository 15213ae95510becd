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
        """Open the workspace the settings name (created on first write)."""
        settings = settings or get_settings()
        engine = make_engine(settings)
        return cls(settings, engine, Warehouse(settings.warehouse_dir, engine))

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
