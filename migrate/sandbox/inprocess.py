"""The sandbox in-process: an httpx transport that calls the ASGI app directly, no socket.

``httpx.ASGITransport`` alone would differ from a real socket in two ways that matter to a
client under test: it ignores timeouts, and an app that "loses" a response has no connection to
close. ``SandboxTransport`` closes both gaps: the request's read timeout is enforced (the app is
cancelled, the client gets ``httpx.ReadTimeout``) and a lost response surfaces as
``httpx.RemoteProtocolError``, as it does over a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx

from migrate.sandbox.app import ResponseLostError, SandboxApp, create_app
from migrate.sandbox.config import SandboxConfig
from migrate.sandbox.store import UserStore

__all__ = ["InProcessSandbox", "SandboxTransport", "in_process_sandbox"]

IN_PROCESS_URL = "http://127.0.0.1"


class SandboxTransport(httpx.AsyncBaseTransport):
    """Send requests straight to a ``SandboxApp``, honouring read timeouts and lost responses."""

    def __init__(self, app: SandboxApp) -> None:
        self._inner = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run the app for ``request``; map timeouts and lost responses to httpx errors."""
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            with anyio.fail_after(timeout):
                return await self._inner.handle_async_request(request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("timed out waiting for the sandbox", request=request) from exc
        except ResponseLostError as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc


@dataclass
class InProcessSandbox:
    """A sandbox app plus what a client needs to reach it in-process."""

    app: SandboxApp
    url: str = IN_PROCESS_URL
    transport: SandboxTransport = field(init=False)

    def __post_init__(self) -> None:
        self.transport = SandboxTransport(self.app)

    @property
    def secret_key(self) -> str:
        """The instance's secret key."""
        return self.app.secret_key

    @property
    def store(self) -> UserStore:
        """The users, for assertions."""
        return self.app.store

    @property
    def headers(self) -> dict[str, str]:
        """Authorization and API-version headers for hand-made requests."""
        return {"Authorization": f"Bearer {self.app.secret_key}", "Clerk-API-Version": "2025-11-10"}

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        """An ``httpx.AsyncClient`` wired to this sandbox, with auth headers set."""
        return httpx.AsyncClient(
            base_url=self.url, transport=self.transport, headers=self.headers, **kwargs
        )

    def counters(self) -> dict[str, Any]:
        """Same data as GET /_sandbox/counters."""
        return self.app.counters.snapshot(len(self.app.store))

    def __repr__(self) -> str:
        return f"InProcessSandbox(instance={self.app.config.instance!r})"


def in_process_sandbox(config: SandboxConfig | None = None) -> InProcessSandbox:
    """A fresh sandbox reachable through ``SandboxTransport`` (no socket, no thread)."""
    return InProcessSandbox(create_app(config))
