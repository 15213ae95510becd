"""Fixtures borrowed from the areas that feed outbound: the PostgreSQL server, and the
ideas' small known world (idea status changes are the webhook events tests send)."""

from __future__ import annotations

from tests.collaborating.conftest import world
from tests.web.conftest import postgres_url

__all__ = ["postgres_url", "world"]
