"""The httpx pieces ``ClerkClient`` sends through: a cookieless client, one connection per pool.

``Connections`` (the transport): httpcore's connection pool re-examines every connection and
every queued request each time a request starts or a response is closed: an O(connections²)
scan, plus a ``poll`` of each idle socket (httpcore issues #1035, #1110). With the 8 to 24
keep-alive connections a run holds, that scan was the largest share of the tool's CPU.
``Connections`` keeps up to ``size`` ordinary ``httpx.AsyncHTTPTransport``s of one connection
each and hands each request to an idle one, so every pool's scan is constant. Measured with
ClerkClient alone against the sandbox (interleaved rounds, same process, load average ~12):
8 connections 1.96 -> 1.51 ms of CPU per create, 24 connections 4.39 -> 1.45 ms.
Transports are made on demand, so their count is the peak number of requests in flight; a
request when all are busy goes to the least busy one and waits in its pool.

``CookielessClient``: Clerk's Backend API authenticates with the bearer key and sets no cookie
the tool needs, yet ``httpx.AsyncClient`` runs every response through ``http.cookiejar``
(about 6 % of a run's CPU in a py-spy profile). This client keeps no cookies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx

__all__ = ["Connections", "CookielessClient"]


class Connections(httpx.AsyncBaseTransport):
    """Up to ``size`` one-connection transports made by ``make``; a request takes an idle one."""

    def __init__(self, make: Callable[[], httpx.AsyncBaseTransport], size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._make = make
        self._size = size
        self._busy: dict[httpx.AsyncBaseTransport, int] = {}
        self._idle: list[httpx.AsyncBaseTransport] = []

    def _take(self) -> httpx.AsyncBaseTransport:
        if self._idle:
            transport = self._idle.pop()
        elif len(self._busy) < self._size:
            transport = self._make()
        else:
            transport = min(self._busy, key=self._busy.__getitem__)
        self._busy[transport] = self._busy.get(transport, 0) + 1
        return transport

    def _give_back(self, transport: httpx.AsyncBaseTransport) -> None:
        if transport not in self._busy:  # closed meanwhile
            return
        left = self._busy[transport] - 1
        self._busy[transport] = left
        if left == 0:
            self._idle.append(transport)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on an idle connection; it is idle again once the response closes."""
        transport = self._take()
        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            self._give_back(transport)
            raise
        stream = response.stream
        if isinstance(stream, httpx.ByteStream):  # already in memory: the connection is free
            self._give_back(transport)
            return response
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _Releasing(stream, lambda: self._give_back(transport))
        return response

    async def aclose(self) -> None:
        """Close every connection."""
        transports, self._busy, self._idle = list(self._busy), {}, []
        for transport in transports:
            await transport.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its connection back once, when it is closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            release, self._release = self._release, None
            if release is not None:
                release()


class _NoCookies(httpx.Cookies):
    """An always-empty cookie store."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep nothing from ``Set-Cookie``."""


class CookielessClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that neither stores nor sends cookies."""

    _no_cookies = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        """Always empty."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("this client keeps no cookies")
