"""A Clerk-compatible Backend API on 127.0.0.1, for tests, benchmarks and rehearsals.

Serves the user endpoints a migration touches with Clerk's validation rules, error bodies, rate
limits, instance settings and seeded faults; see docs/sandbox.md. Three ways in:

- ``create_app(config)``: the ASGI app (``SandboxApp``);
- ``running_sandbox(config)``: a real uvicorn server in a thread, yielding a ``SandboxHandle``
  (``.url``, ``.secret_key``, ``.store``, ``.counters()``);
- ``in_process_sandbox(config)``: the app behind an httpx transport, no socket.

Names are imported on first use (PEP 562), so ``clerk-migrate sandbox`` does not pay for httpx.
May import ``hashers.grammar`` (pure) and nothing else of the tool but the error tree.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from migrate.sandbox.app import ResponseLostError, SandboxApp, create_app
    from migrate.sandbox.config import FaultConfig, SandboxConfig
    from migrate.sandbox.inprocess import InProcessSandbox, SandboxTransport, in_process_sandbox
    from migrate.sandbox.server import SandboxHandle, running_sandbox, serve_forever

__all__ = [
    "FaultConfig",
    "InProcessSandbox",
    "ResponseLostError",
    "SandboxApp",
    "SandboxConfig",
    "SandboxHandle",
    "SandboxTransport",
    "create_app",
    "in_process_sandbox",
    "running_sandbox",
    "serve_forever",
]

_HOMES: Final = {
    "ResponseLostError": "app",
    "SandboxApp": "app",
    "create_app": "app",
    "FaultConfig": "config",
    "SandboxConfig": "config",
    "InProcessSandbox": "inprocess",
    "SandboxTransport": "inprocess",
    "in_process_sandbox": "inprocess",
    "SandboxHandle": "server",
    "running_sandbox": "server",
    "serve_forever": "server",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
