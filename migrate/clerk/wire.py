"""A lean HTTP/1.1 client for one origin: asyncio protocols, httptools' parser, an idle stack.

The loader sends up to ~2,000 small JSON requests a second to exactly one origin (Clerk's API),
so the cost of each request in the client matters: through httpx and httpcore (h11's pure-Python
parser, several layers of objects and checkpoints per request) it was 0.75-0.9 ms of CPU, more
than everything else the tool does per user together. ``Wire`` does only what this traffic needs:

- each connection is an ``asyncio.Protocol``; a response is parsed as it arrives by
  ``httptools`` (the C llhttp parser uvicorn uses), so there is no read loop and no per-chunk
  Python parsing. TLS is asyncio's own (``loop.create_connection(ssl=...)``), verifying with the
  given ``ssl.SSLContext``; chunked bodies are decoded by the parser; ``gzip`` / ``deflate``
  bodies are inflated with ``zlib``; a body delimited by the connection closing is supported;
- a request is one ``transport.write`` of a header block built once (Host, Authorization...) plus
  the per-request line, ``Content-Type``/``Content-Length`` and body;
- idle connections wait on a LIFO stack; one is reused only while it is open and younger than
  ``keepalive_expiry``; a server's ``Connection: close`` (or an HTTP/1.0 answer) closes it after
  the response. The protocol knows at once when the server closes a socket, so a dead idle
  connection is never chosen;
- at most ``max_connections`` requests are in flight; a request waits for a free permit up to
  ``pool`` seconds (None: no limit);
- timeouts: ``connect`` bounds opening a connection (TCP, the proxy's CONNECT, TLS); ``read``
  bounds the wait from sending the request to the end of the response;
- an https origin can be reached through an HTTP proxy (``proxy``: ``tunnel.Proxy``), with one
  ``CONNECT`` per connection and TLS to the origin inside the tunnel.

Failures raise the httpx exceptions ``ClerkClient`` already maps to outcomes (so the test seam,
an httpx transport, and this one behave alike): ``httpx.ConnectTimeout``, ``httpx.ConnectError``
(nothing was sent), ``httpx.ReadTimeout``, ``httpx.RemoteProtocolError`` (the connection closed
before a whole response, or an unparseable one), ``httpx.DecodingError``, ``httpx.PoolTimeout``.
A connection is dropped on any failure and on cancellation, so a half-used one is never reused.

Secrets: the header block holds the key; nothing here logs, and no exception message carries a
header or a body.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import anyio
import certifi
import httptools
import httpx

from migrate.clerk.tunnel import Proxy, open_tunnel

__all__ = ["MAX_BODY", "RawResponse", "Wire", "default_ssl_context"]

# Clerk's largest answer is a list page of 500 users (a few MB); anything far bigger is an error.
MAX_BODY: Final = 64 << 20
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class RawResponse:
    """A whole response: status, headers (lower-case names; repeated ones joined by ``", "``)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status_code < 300


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; ``exchange`` sends one request and waits for its response."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._started = False  # some of the response has arrived
        self._complete = False
        self.closed = False
        self.reusable = True
        self.idle_since = 0.0

    # --- asyncio.Protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        if self._waiter is None or self._waiter.done():
            # Bytes nobody asked for (or after the answer): the connection cannot be trusted.
            self.reusable = False
            self.abort()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._fail(httpx.RemoteProtocolError("the server sent a malformed HTTP response"))
            self.abort()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost finishes the story

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._started and self._until_close():
            self._finish()  # a body delimited by the connection closing
            return
        if self._started:
            message = "the connection closed in the middle of the response"
        else:
            message = "the server closed the connection without answering"
        self._fail(httpx.RemoteProtocolError(message))

    # --- httptools callbacks ----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._complete:
            # A second message glued to the answer: nobody asked for it, so the connection's
            # parser is no longer at a message boundary and it must not be reused.
            self.reusable = False
        self._started = True

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            raise httptools.HttpParserError("response body too large")
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._parser.get_status_code() < 200:
            # An interim answer (103 Early Hints...): the real response follows on the stream.
            self._headers, self._body, self._size = [], [], 0
            return
        if not self._parser.should_keep_alive():
            self.reusable = False
        self._finish()

    # --- the exchange -------------------------------------------------------------------------

    async def exchange(self, payload: bytes, read_timeout: float | None) -> RawResponse:
        """Write ``payload`` (a whole request) and return its response.

        Raises httpx's ``ReadTimeout`` / ``RemoteProtocolError`` / ``DecodingError``; the caller
        drops the connection on any exception (and on cancellation).
        """
        assert self._transport is not None
        waiter: asyncio.Future[RawResponse] = self._loop.create_future()
        self._waiter = waiter
        self._headers, self._body, self._size = [], [], 0
        self._started = self._complete = False
        self._transport.write(payload)
        timer = (
            self._loop.call_later(read_timeout, self._timed_out, waiter)
            if read_timeout is not None
            else None
        )
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            self._waiter = None

    def _timed_out(self, waiter: asyncio.Future[RawResponse]) -> None:
        if not waiter.done():
            waiter.set_exception(httpx.ReadTimeout("no complete response within the read timeout"))

    def _until_close(self) -> bool:
        names = {name.lower() for name, _ in self._headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def _finish(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done() or self._complete:
            return
        self._complete = True
        status = self._parser.get_status_code()
        headers: dict[str, str] = {}
        for raw_name, raw_value in self._headers:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        body = b"".join(self._body)
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            try:
                body = _inflate(encoding, body)
            except (zlib.error, ValueError):
                self.reusable = False
                waiter.set_exception(httpx.DecodingError("the response body could not be decoded"))
                return
        waiter.set_result(RawResponse(status, headers, body))

    def _fail(self, exc: Exception) -> None:
        self.reusable = False
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)

    def abort(self) -> None:
        """Close the socket at once (unsent data is dropped)."""
        self.reusable = False
        self.closed = True
        if self._transport is not None:
            self._transport.abort()


def default_ssl_context() -> ssl.SSLContext:
    """A verifying TLS context trusting certifi's CA bundle, as httpx's default does.

    certifi rather than the system store: the tool then behaves alike wherever Python came from
    (some builds ship with an empty system store), and ``SSL_CERT_FILE`` cannot redirect it.
    """
    return ssl.create_default_context(cafile=certifi.where())


def _inflate(encoding: str, body: bytes) -> bytes:
    """Undo ``Content-Encoding`` gzip / deflate (zlib-wrapped or raw); anything else is refused."""
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompress(body, wbits=zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        try:
            return zlib.decompress(body)
        except zlib.error:
            return zlib.decompress(body, wbits=-zlib.MAX_WBITS)
    raise ValueError(f"unsupported content encoding {encoding!r}")


class Wire:
    """HTTP/1.1 to one origin with at most ``max_connections`` connections (see module doc).

    ``base_url`` gives the origin (scheme, host, port; its path is not used: callers pass the
    whole request target). ``headers`` are sent with every request (``Host`` is added).
    ``ssl_context`` is used for ``https`` (default: ``default_ssl_context()``, which verifies
    the certificate and the host name against certifi's CA bundle). Raises ``ValueError`` for
    a URL that is not http(s) or a ``max_connections`` below 1.
    """

    def __init__(
        self,
        base_url: str,
        headers: Sequence[tuple[str, str]],
        *,
        max_connections: int = 16,
        keepalive_expiry: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 30.0,
        pool_timeout: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        url = httpx.URL(base_url)
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            raise ValueError(f"{base_url!r} is not an http(s) URL")
        self.host = url.host
        self.port = url.port or _DEFAULT_PORTS[url.scheme]
        self.ssl_context = (ssl_context or default_ssl_context()) if url.scheme == "https" else None
        if proxy is not None and self.ssl_context is None:
            raise ValueError("a proxy is used for https origins only")
        self.proxy = proxy
        host = url.raw_host.decode("ascii")
        if ":" in host:
            host = f"[{host}]"  # an IPv6 literal
        if url.port is not None and url.port != _DEFAULT_PORTS[url.scheme]:
            host = f"{host}:{url.port}"
        lines = [f"Host: {host}", *(f"{name}: {value}" for name, value in headers)]
        for line in lines:
            if "\r" in line or "\n" in line:
                raise ValueError("a header name or value holds a line break")
        self._head = ("\r\n".join(lines) + "\r\n").encode("latin-1")
        self.max_connections = max_connections
        self.keepalive_expiry = keepalive_expiry
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.pool_timeout = pool_timeout
        self._idle: deque[_Connection] = deque()
        self._permits = anyio.Semaphore(max_connections)
        self._opened = 0
        self._closed = False

    def __repr__(self) -> str:
        via = f", proxy={self.proxy.host}:{self.proxy.port}" if self.proxy else ""
        return f"Wire({self.host!r}, {self.port}, max_connections={self.max_connections}{via})"

    @property
    def idle_connections(self) -> int:
        """How many open connections wait in the idle stack."""
        return len(self._idle)

    @property
    def opened(self) -> int:
        """How many connections have been opened so far."""
        return self._opened

    async def request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> RawResponse:
        """Send ``method target`` (``target``: path and query, already percent-encoded).

        ``body`` None sends no body (and, for POST/PUT/PATCH, ``Content-Length: 0``).
        Raises the httpx exceptions listed in the module docstring, and ``RuntimeError`` once
        closed.
        """
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        if body is not None:
            extra = f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        elif method in ("POST", "PUT", "PATCH"):
            extra = "Content-Length: 0\r\n\r\n"
        else:
            extra = "\r\n"
        payload = b"".join(
            (f"{method} {target} HTTP/1.1\r\n".encode("ascii"), self._head,
             extra.encode("ascii"), body or b"")
        )  # fmt: skip
        await self._acquire()
        try:
            conn = self._take() or await self._connect()
            try:
                response = await conn.exchange(payload, self.read_timeout)
            except BaseException:
                # Failed, timed out or cancelled mid-exchange: its state is unknown.
                conn.abort()
                raise
            if conn.reusable and not conn.closed and not self._closed:
                conn.idle_since = time.monotonic()
                self._idle.append(conn)
            else:
                conn.abort()
            return response
        finally:
            self._permits.release()

    async def _acquire(self) -> None:
        try:
            self._permits.acquire_nowait()
        except anyio.WouldBlock:
            with anyio.move_on_after(self.pool_timeout) as scope:
                await self._permits.acquire()
            if scope.cancelled_caught:
                message = "no connection became free within the pool timeout"
                raise httpx.PoolTimeout(message) from None

    def _take(self) -> _Connection | None:
        """The most recently used idle connection that is open and not expired, else None."""
        now = time.monotonic()
        expiry = self.keepalive_expiry
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and (expiry is None or now - conn.idle_since < expiry):
                self._sweep(now)
                return conn
            conn.abort()
        return None

    def _sweep(self, now: float) -> None:
        """Close the least recently used idle connections that have expired or closed."""
        expiry = self.keepalive_expiry
        while self._idle and (
            self._idle[0].closed
            or (expiry is not None and now - self._idle[0].idle_since >= expiry)
        ):
            self._idle.popleft().abort()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            with anyio.fail_after(self.connect_timeout):
                if self.proxy is not None and self.ssl_context is not None:
                    conn = await self._through_proxy(loop, self.proxy, self.ssl_context)
                else:
                    _, conn = await loop.create_connection(
                        lambda: _Connection(loop),
                        self.host,
                        self.port,
                        ssl=self.ssl_context,
                        server_hostname=self.host if self.ssl_context is not None else None,
                    )
        except TimeoutError:
            raise httpx.ConnectTimeout("could not connect within the connect timeout") from None
        except ssl.SSLError as exc:
            raise httpx.ConnectError(f"TLS handshake failed: {exc.reason or 'error'}") from None
        except OSError as exc:
            raise httpx.ConnectError(
                f"could not connect to {self.host}:{self.port}: {exc.strerror or exc}"
            ) from None
        self._opened += 1
        return conn

    async def _through_proxy(
        self, loop: asyncio.AbstractEventLoop, proxy: Proxy, context: ssl.SSLContext
    ) -> _Connection:
        """A connection to the origin through ``proxy``: CONNECT, then TLS inside the tunnel."""
        raw = await open_tunnel(proxy, self.host, self.port)
        conn = _Connection(loop)
        try:
            tls = await loop.start_tls(raw, conn, context, server_hostname=self.host)
        except BaseException:
            raw.abort()
            raise
        if tls is None:  # the loop closed the transport while starting TLS
            raise httpx.ConnectError("the tunnel closed during the TLS handshake")
        conn.connection_made(tls)
        return conn

    async def aclose(self) -> None:
        """Close every idle connection; one in use closes when its request ends."""
        self._closed = True
        idle, self._idle = self._idle, deque()
        for conn in idle:
            conn.abort()
