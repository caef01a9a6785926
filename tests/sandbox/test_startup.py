"""``clerk-migrate sandbox`` starts without the heavy libraries the rest of the tool needs."""

from __future__ import annotations

import subprocess
import sys

# Run in a fresh interpreter: first the hasher grammar alone, then the command's whole path.
_PROBE = """
import sys
import migrate._internal.hashers.grammar
print("grammar:" + ",".join(m for m in ("httpx", "polars") if m in sys.modules))
import migrate.cli.sandbox
from migrate.sandbox import SandboxConfig, serve_forever
from migrate.sandbox.app import create_app
create_app(SandboxConfig())
print("command:" + ",".join(m for m in ("httpx", "polars") if m in sys.modules))
"""


def test_sandbox_command_imports_neither_httpx_nor_polars() -> None:
    """The command's import path and app setup load no httpx, and no polars once hashers allow."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = dict(line.split(":", 1) for line in done.stdout.split())
    assert "httpx" not in loaded["command"]
    # polars comes only through migrate._internal.hashers' package __init__ (owned elsewhere); the
    # sandbox imports just its pure grammar, so it is polars-free as soon as that is lazy.
    if "polars" not in loaded["grammar"]:
        assert "polars" not in loaded["command"]
