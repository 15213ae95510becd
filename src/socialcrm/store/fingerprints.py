"""Input fingerprints: what a pipeline step read, so that a later run can tell whether
anything it depends on changed since and skip it when nothing did.

A step's fingerprint is taken while it runs, not declared by hand: the warehouse reports
every table a step resolves (:func:`recording`), with the version it found, and every
table it publishes; the run context reports whether the step asked for the run's clock
(see :class:`socialcrm.store.run.RunContext`). Around those come what every step may
depend on without saying so: the code that ran, the settings and the rule and catalogue
files they name. A warehouse version is a natural fingerprint of a table: versions are
immutable, and a new write, even of the same rows, is a new version.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from socialcrm.config import Settings

CHANGED = "<changed while read>"
"""The version noted for a table that two reads of one step found at different versions."""


@dataclass
class Reads:
    """The warehouse tables one step read and wrote, as it ran."""

    root: str
    read: dict[str, str | None] = field(default_factory=dict)
    """Table -> version first found (None: the table did not exist)."""
    wrote: dict[str, str] = field(default_factory=dict)
    """Table -> the version this step published last."""


_ACTIVE: list[Reads] = []
_GUARD = threading.Lock()


@contextlib.contextmanager
def recording(root: Path) -> Iterator[Reads]:
    """Record the tables read and written under warehouse ``root`` during the block.

    Reads from any thread of the process are recorded (a step may read in a pool): a
    concurrent reader in the same process can only add tables, which makes a later skip
    rarer, never wrong.
    """
    reads = Reads(str(root.resolve()))
    with _GUARD:
        _ACTIVE.append(reads)
    try:
        yield reads
    finally:
        with _GUARD:
            _ACTIVE.remove(reads)


def note_read(root: Path, name: str, version: str | None) -> None:
    """Called by the warehouse whenever a table's current version is resolved."""
    if not _ACTIVE:
        return
    where = str(root.resolve())
    with _GUARD:
        for r in _ACTIVE:
            if r.root != where or name in r.wrote:
                continue
            seen = r.read.setdefault(name, version)
            if seen != version:
                r.read[name] = CHANGED


def note_write(root: Path, name: str, version: str) -> None:
    """Called by the warehouse when it points a table at a new version."""
    if not _ACTIVE:
        return
    where = str(root.resolve())
    with _GUARD:
        for r in _ACTIVE:
            if r.root == where:
                r.wrote[name] = version


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


@cache
def code_fingerprint() -> str:
    """The content of the installed package (code, shipped rules and models), hashed once
    per process: the code that runs is the code imported at its start."""
    import socialcrm

    base = Path(socialcrm.__file__).parent
    h = hashlib.sha256()
    for path in sorted(base.rglob("*")):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        h.update(path.relative_to(base).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:32]


SCHEDULING = frozenset({"incremental_graph_threshold"})
"""Settings that decide which steps run, not what a step computes."""


def settings_fingerprint(settings: Settings) -> str:
    """Every setting but :data:`SCHEDULING`, hashed: a changed setting may change any
    step's results."""
    return digest(settings.model_dump_json(exclude=set(SCHEDULING)).encode())


def rule_files(settings: Settings) -> list[Path]:
    """The workspace's own rule and catalogue files named by the settings."""
    paths = {settings.catalogue_path}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, Path) and name != "home":
            paths.add(value)
    return sorted(paths)


def files_fingerprint(settings: Settings) -> dict[str, str | None]:
    """Path -> content hash of each rule and catalogue file (None: absent)."""
    out: dict[str, str | None] = {}
    for path in rule_files(settings):
        try:
            out[str(path)] = digest(path.read_bytes()) if path.is_file() else None
        except OSError:
            out[str(path)] = None
    return out


def workspace_files(home: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    """Relative path -> content hash of the files under ``home/name`` for each name (a
    step's own state, such as listening's saved topic model); an absent name maps to None."""
    out: dict[str, str | None] = {}
    for name in names:
        base = home / name
        found = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []
        if base.is_file():
            found = [base]
        if not found:
            out[name] = None
        for path in found:
            with contextlib.suppress(OSError):
                out[path.relative_to(home).as_posix()] = digest(path.read_bytes())
    return out


def environment(settings: Settings) -> dict[str, Any]:
    """What every step may depend on besides its tables: code, settings, rule files."""
    return {
        "code": code_fingerprint(),
        "settings": settings_fingerprint(settings),
        "files": files_fingerprint(settings),
    }
