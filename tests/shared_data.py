"""Where the real data for accuracy checks lives.

The small public files the tests use are committed under ``tests/data/`` (source, licence
and sha256 in ``tests/data/SOURCES.md``), so a fresh clone with nothing beside it passes.
Anything else (TweetEval, NetHEPT, the benchmarks' data) is looked up in
``SOCIALCRM_TEST_DATA``, or else ``../shared/data`` beside the repo.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_DATA = Path(__file__).resolve().parent / "data"
_BESIDE = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_DATA = Path(os.environ.get("SOCIALCRM_TEST_DATA", _BESIDE))


def data_file(*parts: str) -> Path:
    """The first of ``tests/data/<parts>`` and ``SHARED_DATA/<parts>`` that exists.

    Returns the shared path when neither does, so a caller can still name it.
    """
    for root in (REPO_DATA, SHARED_DATA):
        path = root.joinpath(*parts)
        if path.exists():
            return path
    return SHARED_DATA.joinpath(*parts)


def shared_file(*parts: str) -> Path:
    """A real-data file; a failing test (not a skip) when it is found nowhere."""
    path = data_file(*parts)
    if not path.exists():
        pytest.fail(
            f"real data missing: {Path(*parts)} is neither under {REPO_DATA} nor under "
            f"{SHARED_DATA} (SOCIALCRM_TEST_DATA, or ../shared/data beside the repo)"
        )
    return path
