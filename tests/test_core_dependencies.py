"""``make demo`` installs the package without extras: every package that src/ imports must
come with the core dependencies (pyspark, for the Spark engine, is the ``spark`` extra)."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

SRC = Path(__file__).resolve().parents[1] / "src" / "socialcrm"
OPTIONAL = {"pyspark", "grpc"}  # the spark extra (grpc: Connect), imported only by the Spark engine


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _core_closure() -> set[str]:
    """Distributions installed by ``pip install .``: the core requirements, transitively."""
    stack: list[tuple[str, set[str]]] = []
    for text in requires("socialcrm") or []:
        req = Requirement(text)
        if req.marker is None or "extra" not in str(req.marker):
            stack.append((req.name, set(req.extras)))
    seen: set[str] = set()
    while stack:
        name, extras = stack.pop()
        if _norm(name) in seen:
            continue
        seen.add(_norm(name))
        try:
            texts = requires(name) or []
        except Exception:  # not installed here: nothing further to follow
            continue
        for text in texts:
            req = Requirement(text)
            if req.marker is not None:
                envs = [{"extra": e} for e in extras or {""}]
                if not any(req.marker.evaluate(env) for env in envs):
                    continue
            stack.append((req.name, set(req.extras)))
    return seen


def test_everything_src_imports_is_a_core_dependency() -> None:
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    dists = packages_distributions()
    core = _core_closure()
    missing = sorted(
        n
        for n in names - set(sys.stdlib_module_names) - {"socialcrm"} - OPTIONAL
        if n in dists and not any(_norm(d) in core for d in dists[n])
    )
    assert not missing, f"imported by src/ but only in an extra: {missing}"
