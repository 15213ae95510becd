"""The recorded social networks on loopback, and an app database for the workspace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from socialcrm.appdb.db import AppDB
from socialcrm.config import Settings
from socialcrm.outbound.urls import ALLOW_HOSTS_ENV
from tests.preferences.social_world import SocialWorld, social_world


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[SocialWorld]:
    # the allow-list the connector tests use: loopback is refused without it
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")
    with social_world() as w:
        yield w


@pytest.fixture
def db(settings: Settings) -> Iterator[AppDB]:
    d = AppDB(settings.resolved_database_url)
    yield d
    d.close()
