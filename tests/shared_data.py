"""Where the real data for accuracy checks lives (``../shared/data`` beside the repo).

``SOCIALCRM_TEST_DATA`` points elsewhere, for a clone that does not sit beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_BESIDE = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_DATA = Path(os.environ.get("SOCIALCRM_TEST_DATA", _BESIDE))


def shared_file(*parts: str) -> Path:
    """A file of the shared data; a failing test (not a skip) when it is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.fail(
            f"real data missing: {path} (the repo expects ../shared/data beside it, "
            "or SOCIALCRM_TEST_DATA pointing at it)"
        )
    return path
