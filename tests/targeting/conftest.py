"""The scored demo brand for the targeting tests."""

from __future__ import annotations

import pytest

from tests.targeting.brand import ScoredBrand, scored_brand


@pytest.fixture(scope="session")
def brand(tmp_path_factory: pytest.TempPathFactory) -> ScoredBrand:
    return scored_brand(tmp_path_factory.mktemp("targeting"))
