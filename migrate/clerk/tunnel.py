"""Reach an https origin through an HTTP proxy: one ``CONNECT``, then TLS inside the tunnel.

Corporate networks often let HTTPS out only through a proxy. ``open_tunnel`` connects to the
proxy, asks it to ``CONNECT host:port`` (with ``Proxy-Authorization: Basic`` when the proxy URL
carries credentials) and returns the raw transport once the proxy answers 2xx; ``Wire`` then
starts TLS to the origin over it, so the proxy sees only the host name, never the key or a body.

A refusal (``407 Proxy Authentication Required``, ``403``...) or a proxy that cannot be reached
raises ``httpx.ConnectError`` (nothing reached Clerk, so a retry cannot duplicate a user), with
the proxy's status but never its credentials.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote, urlsplit

import httpx

__all__ = ["Proxy", "open_tunnel"]

# A proxy's answer to CONNECT is a status line and a few headers; more is not an answer.
_MAX_HEAD: Final = 16 << 10


@dataclass(frozen=True)
class Proxy:
    """An HTTP proxy: where it listens and the ``Proxy-Authorization`` to send (or None).

    Its ``repr`` shows where it listens, never the credentials.
    """

    host: str
    port: int
    authorization: str | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """``http://[user:password@]host[:port]`` (port 8080 when omitted).

        Raises ``ValueError`` (naming what is wrong, not the credentials) for another scheme, a
        missing host, or a path, query or fragment.
        """
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise ValueError("the proxy URL is malformed; expected http://host:port") from None
        if parts.scheme != "http":
            raise ValueError(
                f"the proxy URL must start with http:// (the tunnel to Clerk is TLS either way), "
                f"not {parts.scheme or 'nothing'}://"
            )
        if not parts.hostname:
            raise ValueError("the proxy URL has no host; expected http://host:port")
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("the proxy URL must be just http://[user:password@]host:port")
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        return cls(parts.hostname, port or 8080, authorization)


class _Answer(asyncio.Protocol):
    """Collects the proxy's answer to CONNECT, up to the blank line that ends its head."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.head: asyncio.Future[bytes] = loop.create_future()
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        if self.head.done():
            return
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end >= 0:
            if end + 4 < len(self._buffer):
                # The origin speaks only after our TLS hello: bytes here are the proxy's own.
                self.head.set_exception(httpx.ConnectError("the proxy sent data after CONNECT"))
            else:
                self.head.set_result(self._buffer[:end])
        elif len(self._buffer) > _MAX_HEAD:
            self.head.set_exception(httpx.ConnectError("the proxy's answer to CONNECT is too long"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.head.done():
            self.head.set_exception(
                httpx.ConnectError("the proxy closed the connection instead of answering CONNECT")
            )


async def open_tunnel(proxy: Proxy, host: str, port: int) -> asyncio.Transport:
    """A transport to ``proxy`` that now carries bytes to ``host:port`` (not yet TLS).

    Raises ``httpx.ConnectError`` when the proxy cannot be reached or refuses; the caller bounds
    the time (its connect timeout).
    """
    loop = asyncio.get_running_loop()
    try:
        transport, answer = await loop.create_connection(
            lambda: _Answer(loop), proxy.host, proxy.port
        )
    except OSError as exc:
        raise httpx.ConnectError(
            f"could not connect to the proxy {proxy.host}:{proxy.port}: {exc.strerror or exc}"
        ) from None
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"Proxy-Authorization: {proxy.authorization}")
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        head = await answer.head
    except BaseException:
        transport.abort()
        raise
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1", "replace")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        transport.abort()
        raise httpx.ConnectError("the proxy's answer to CONNECT is not HTTP")
    if not 200 <= int(parts[1]) < 300:
        transport.abort()
        raise httpx.ConnectError(f"the proxy refused the tunnel: {' '.join(parts[1:])[:100]}")
    return transport
