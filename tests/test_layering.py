"""Imports flow one way: cli -> api -> runner -> {clerk, state, reports, prepare} -> pure cores."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "migrate"

# Which top-level parts of the package each part may import (besides itself).
BASE = {"errors", "secrets"}
CORE = BASE | {"hashers", "sources", "mapping", "validation", "detect"}
ALLOWED: dict[str, set[str]] = {
    "errors": {"secrets"},
    "secrets": set(),
    "hashers": set(),
    "sources": BASE,
    "detect": CORE,
    "mapping": CORE,
    "validation": CORE,
    "delta": CORE,
    "prepare": CORE,
    "tenancy": CORE,
    "mapping_init": CORE,
    "clerk": BASE,
    "state": BASE,
    "reports": CORE | {"clerk", "state", "prepare", "tenancy"},
    "runner": CORE | {"clerk", "state", "reports", "prepare", "delta", "tenancy"},
    "sandbox": BASE | {"hashers"},
    "instance": CORE | {"clerk", "state", "reports", "prepare", "runner", "tenancy"},
    "api": CORE
    | {"clerk", "state", "reports", "prepare", "runner", "sandbox", "instance", "delta", "tenancy"},
    # the commands call the public API; `mapping init` and `sandbox` call their own modules
    "cli": BASE | {"api", "mapping_init", "reports", "sandbox"},
}


def _part(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    if parts[0] == "_internal" and len(parts) > 1:
        parts = parts[1:]
    return parts[0].removesuffix(".py")


def _imported_parts(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[:2] == ["migrate", "_internal"] and len(parts) > 2:
                found.add(parts[2])
            elif parts[0] == "migrate" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize(
    "path", sorted(p for p in PACKAGE.rglob("*.py") if _part(p) in ALLOWED), ids=str
)
def test_imports_flow_one_way(path: Path) -> None:
    """A module imports only the layers below it (nothing imports cli; sandbox stays apart)."""
    part = _part(path)
    extra = _imported_parts(path) - ALLOWED[part] - {part}
    assert not extra, f"{path.relative_to(PACKAGE)} ({part}) imports {sorted(extra)}"
