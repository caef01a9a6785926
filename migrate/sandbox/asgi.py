"""Raw ASGI pieces of the sandbox: bare responses, gateway errors, lost connections, lifespan.

Kept apart from the endpoints because they work below Starlette, on the server's own ``send``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

from starlette.responses import Response

from migrate.sandbox.problems import Problem, error_body

__all__ = [
    "RAW_SEND",
    "NoResponse",
    "ResponseLostError",
    "json_response",
    "lifespan",
    "lose_connection",
    "send_bytes",
    "send_error_status",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Scope key under which the app keeps the server's own ``send`` (see ``lose_connection``).
RAW_SEND: Final = "sandbox.raw_send"
_JSON: Final = "application/json"


class ResponseLostError(Exception):
    """Raised in-process where a real server would close the connection without answering."""


class NoResponse(Response):
    """Sends nothing: the connection it would answer on is already closed."""

    def __init__(self) -> None:
        super().__init__(b"", 200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        return


def json_response(payload: Any) -> Response:
    return Response(json.dumps(payload, separators=(",", ":")), 200, media_type=_JSON)


async def send_bytes(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_error_status(send: Send, status: int) -> None:
    if status == 500:
        body = error_body(
            [
                Problem(
                    "internal_clerk_error",
                    "Oops, an unexpected error occurred",
                    "There was an internal error on our servers. We've been notified and are "
                    "working on fixing it.",
                )
            ]
        )
        await send_bytes(send, status, body, [])
        return
    # Gateway errors come from the proxy in front of Clerk: not JSON, as in production.
    text = f"<html><body><h1>{status}</h1>upstream unavailable</body></html>".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/html"),
                (b"content-length", str(len(text)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})


async def lose_connection(scope: Scope) -> None:
    """Close the client's connection without a response (the user is already stored).

    Under uvicorn the server's ``send`` is a method of the request cycle, which owns the
    transport; closing it sends FIN with no bytes, exactly what a crashed upstream does. The
    response the endpoint returns afterwards is dropped by the server (the client is gone).
    In-process there is no socket: raise, and ``SandboxTransport`` turns it into
    ``httpx.RemoteProtocolError``.
    """
    cycle = getattr(scope.get(RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise ResponseLostError
    transport.close()
    for _ in range(100):
        if getattr(cycle, "disconnected", True):
            return
        await asyncio.sleep(0)


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
