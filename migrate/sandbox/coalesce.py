"""One ``send`` per response: a uvicorn HTTP protocol whose writes are merged per loop turn.

uvicorn writes a response's status line and headers, then its body, as two ``transport.write``
calls, and asyncio turns each into a ``send`` syscall on an idle socket. On small virtual
machines a loopback send costs a tenth of a millisecond or more, so two per response was the
largest single cost of a create. Writes made in one event-loop turn are buffered here and handed
to the real transport together on the next turn, so each response leaves in one syscall (and one
TCP segment). Everything else is delegated to uvicorn's own protocol, unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.auto import AutoHTTPProtocol

__all__ = ["CoalescingHTTPProtocol"]


class _CoalescingTransport:
    """A transport proxy that batches ``write`` calls made within one loop iteration."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(data)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self._flush()  # a "connection: close" response must still go out
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHTTPProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's HTTP protocol (httptools, else h11) with coalesced writes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Hand uvicorn a write-coalescing proxy of the connection's transport."""
        assert isinstance(transport, asyncio.Transport)
        super().connection_made(_CoalescingTransport(transport, asyncio.get_running_loop()))
