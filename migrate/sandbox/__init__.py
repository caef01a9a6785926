"""A Clerk-compatible Backend API on 127.0.0.1, for tests, benchmarks and rehearsals.

Serves the user endpoints a migration touches with Clerk's validation rules, error bodies, rate
limits, instance settings and seeded faults; see docs/sandbox.md. Three ways in:

- ``create_app(config)``: the ASGI app (``SandboxApp``);
- ``running_sandbox(config)``: a real uvicorn server in a thread, yielding a ``SandboxHandle``
  (``.url``, ``.secret_key``, ``.store``, ``.counters()``);
- ``in_process_sandbox(config)``: the app behind an httpx transport, no socket.

May import ``migrate.hashers`` (pure) and nothing else of the tool but the error tree.
"""

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
