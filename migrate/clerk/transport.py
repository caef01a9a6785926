"""A lean keep-alive transport for one origin: httpcore connections, an O(1) idle stack.

``httpx``'s default transport hands each request to httpcore's connection pool, which looks at
every pooled connection per request (``has_expired()`` on each, asking anyio for the socket's
attributes every time) and rebuilds its idle list per queued request: 1.2 ms of CPU per request
with 4 connections, 2.4-3.3 ms with 16-32. The loader talks to exactly one origin (Clerk's API),
so a pool needs none of that: ``OriginTransport`` keeps its idle connections in a LIFO stack,
takes the top one (checking only that one for expiry) and puts it back when the response has
been read. Everything that is hard about HTTP stays in httpcore's own connection class
(``httpcore.AsyncHTTPConnection``): TLS, HTTP/1.1 keep-alive, chunked bodies, ``Connection:
close``, idle expiry, connect/read/write timeouts.

What it keeps from httpx's transport, so ``ClerkClient``'s outcome mapping holds:

- httpcore's exceptions become the same httpx exceptions (``ReadTimeout``, ``ConnectError``,
  ``RemoteProtocolError``...) as ``httpx.AsyncHTTPTransport`` maps them to; waiting longer than
  the request's ``pool`` timeout for a free connection is ``httpx.PoolTimeout``;
- the body is read in full here (Clerk's bodies are small JSON) and handed to httpx as a byte
  stream, so httpx decodes ``Content-Encoding`` (gzip, deflate...) exactly as it always does;
- a connection is dropped on any error, when it expired or was closed by either side, and on
  cancellation, so a half-used connection is never reused.

At most ``max_connections`` requests are in flight, and never more connections exist: a new
connection is opened only when no idle one is left, under a permit of the semaphore. Once a
second the least recently used idle connection is checked too, so one left at the bottom of the
stack by light traffic is closed when it expires or the server closes it.
"""

from __future__ import annotations

import ssl
import time
from collections import deque
from typing import Final

import anyio
import httpcore
import httpx

__all__ = ["DEFAULT_KEEPALIVE_EXPIRY", "OriginTransport", "map_exception"]

# httpx's own default: an idle connection older than this is closed, not reused.
DEFAULT_KEEPALIVE_EXPIRY: Final = 5.0
# How often the least recently used idle connection is checked for expiry: a LIFO stack leaves
# it untouched while traffic is light, and the server may have closed it (a CLOSE_WAIT socket).
_SWEEP_INTERVAL: Final = 1.0

# httpcore exception -> httpx exception, as httpx.AsyncHTTPTransport maps them; looked up along
# the raised type's MRO, so the most specific class wins.
_EXCEPTIONS: Final[dict[type[Exception], type[httpx.TransportError]]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


def map_exception(exc: Exception, request: httpx.Request) -> httpx.TransportError | None:
    """The httpx exception httpx's own transport would raise for httpcore's ``exc``, or None."""
    for cls in type(exc).__mro__:
        mapped = _EXCEPTIONS.get(cls)
        if mapped is not None:
            return mapped(str(exc), request=request)
    return None


class OriginTransport(httpx.AsyncBaseTransport):
    """An ``httpx`` transport to one origin with at most ``max_connections`` connections.

    ``base_url`` names the origin (scheme, host, port; the path is ignored); a request to any
    other origin raises ``ValueError`` (a programming error). ``https`` origins use
    ``ssl_context`` (default: httpx's, verifying against certifi's CA bundle and, like
    ``ClerkClient``'s ``trust_env=False``, ignoring ``SSL_CERT_FILE``). Timeouts come from each
    request's ``timeout`` extension, which ``httpx.AsyncClient`` sets: ``connect``, ``read``,
    ``write`` are httpcore's; ``pool`` bounds the wait for a free connection.
    """

    def __init__(
        self,
        base_url: str,
        *,
        max_connections: int = 16,
        keepalive_expiry: float | None = DEFAULT_KEEPALIVE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        url = httpx.URL(base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"{base_url!r} is not an http(s) URL")
        port = url.port or (443 if url.scheme == "https" else 80)
        self.origin = httpcore.Origin(url.raw_scheme, url.raw_host, port)
        self.ssl_context = (
            (ssl_context or httpx.create_ssl_context(trust_env=False))
            if url.scheme == "https"
            else None
        )
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self._idle: deque[httpcore.AsyncHTTPConnection] = deque()
        self._next_sweep = 0.0
        self._permits = anyio.Semaphore(max_connections)
        self._closed = False

    @property
    def idle_connections(self) -> int:
        """How many open connections wait in the idle stack."""
        return len(self._idle)

    def new_connection(self) -> httpcore.AsyncHTTPConnection:
        """A fresh, unconnected connection to the origin (it connects on its first request)."""
        return httpcore.AsyncHTTPConnection(
            self.origin,
            ssl_context=self.ssl_context,
            keepalive_expiry=self.keepalive_expiry,
            http1=True,
            http2=False,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on an idle (or new) connection; return the fully read response.

        Raises the httpx transport exceptions httpx's own transport raises
        (``httpx.PoolTimeout`` when no connection frees up within the ``pool`` timeout).
        """
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        if (
            url.raw_scheme != self.origin.scheme
            or url.raw_host != self.origin.host
            or (url.port or (443 if url.scheme == "https" else 80)) != self.origin.port
        ):
            raise ValueError("this transport only sends to its own origin")
        timeouts = request.extensions.get("timeout") or {}
        await self._acquire(request, timeouts.get("pool"))
        try:
            return await self._exchange(request, url)
        finally:
            self._permits.release()

    async def _acquire(self, request: httpx.Request, pool_timeout: float | None) -> None:
        try:
            self._permits.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(pool_timeout) as scope:
                await self._permits.acquire()
            if scope.cancelled_caught:
                raise httpx.PoolTimeout(
                    "no connection became free within the pool timeout", request=request
                ) from None

    async def _take(self) -> httpcore.AsyncHTTPConnection:
        """The most recently used idle connection that is still usable, else a new one."""
        if self._idle and time.monotonic() >= self._next_sweep:
            await self._sweep()
        while self._idle:
            conn = self._idle.pop()
            # has_expired() is also true when the server closed the idle socket (it is readable).
            if conn.is_idle() and not conn.has_expired():
                return conn
            await self._close_shielded(conn)
        return self.new_connection()

    async def _exchange(self, request: httpx.Request, url: httpx.URL) -> httpx.Response:
        body = await request.aread()
        core = httpcore.Request(
            request.method,
            httpcore.URL(scheme=self.origin.scheme, host=self.origin.host,
                         port=self.origin.port, target=url.raw_path),
            headers=request.headers.raw,
            content=body,
            extensions=request.extensions,
        )  # fmt: skip
        conn = await self._take()
        try:
            response = await conn.handle_async_request(core)
            try:
                content = await response.aread()
            finally:
                await response.aclose()
        except Exception as exc:
            await self._close_shielded(conn)
            mapped = map_exception(exc, request)
            if mapped is None:
                raise
            raise mapped from exc
        except BaseException:
            # Cancelled mid-exchange (or interrupted): the connection's state is unknown.
            await self._close_shielded(conn)
            raise
        if not self._closed and conn.is_idle():
            self._idle.append(conn)
        else:
            await self._close_shielded(conn)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=httpx.ByteStream(content),
            extensions=response.extensions,
        )

    async def _sweep(self) -> None:
        """Close the least recently used idle connections that have expired."""
        self._next_sweep = time.monotonic() + _SWEEP_INTERVAL
        while self._idle and (not self._idle[0].is_idle() or self._idle[0].has_expired()):
            await self._close_shielded(self._idle.popleft())

    async def _close_shielded(self, conn: httpcore.AsyncHTTPConnection) -> None:
        with anyio.CancelScope(shield=True):
            await conn.aclose()

    async def aclose(self) -> None:
        """Close every idle connection; connections in use close when their request ends."""
        self._closed = True
        idle, self._idle = self._idle, deque()
        for conn in idle:
            await self._close_shielded(conn)
