"""https through an HTTP proxy: CONNECT, then TLS to the origin inside the tunnel (127.0.0.1)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from clerk_servers import COUNT_BODY, ConnectProxy, ScriptedServer

from migrate.clerk.tunnel import Proxy
from migrate.clerk.wire import Wire

pytestmark = pytest.mark.anyio

HEADERS = [("Authorization", "Bearer sk_test_secret"), ("Accept", "application/json")]


@pytest.fixture
async def proxy() -> AsyncIterator[ConnectProxy]:
    """An open CONNECT proxy on 127.0.0.1."""
    p = ConnectProxy()
    await p.start()
    yield p
    await p.stop()


@pytest.fixture
async def guarded() -> AsyncIterator[ConnectProxy]:
    """A CONNECT proxy that wants ``ops:s3cret!`` as Basic credentials."""
    p = ConnectProxy(credentials="ops:s3cret!")
    await p.start()
    yield p
    await p.stop()


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """A TLS context that trusts the test certificate."""
    return ssl.create_default_context(cafile=str(certificate[0]))


async def test_requests_go_through_one_tunnel_and_the_proxy_sees_only_tls(
    tls_server: ScriptedServer, certificate: tuple[Path, Path], proxy: ConnectProxy
) -> None:
    """Three requests reuse one CONNECT tunnel; the proxy relays TLS, never the key or a body."""
    wire = Wire(
        tls_server.url, HEADERS, ssl_context=trusting(certificate), proxy=Proxy.parse(proxy.url)
    )
    for path in ("/ok", "/gzip", "/ok"):
        response = await wire.request("POST", path, b'{"password_digest":"$2b$10$abc"}')
        assert response.content == COUNT_BODY
    await wire.aclose()
    port = tls_server.url.rsplit(":", 1)[1]
    assert proxy.heads == [
        f"CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    ]
    assert len(tls_server.requests) == 3
    assert proxy.relayed
    assert b"sk_test_secret" not in proxy.relayed
    assert b"password_digest" not in proxy.relayed
    assert b"POST" not in proxy.relayed


async def test_a_proxy_wanting_credentials_gets_them_from_the_url(
    tls_server: ScriptedServer, certificate: tuple[Path, Path], guarded: ConnectProxy
) -> None:
    """user:password in the proxy URL (percent-encoded) become Proxy-Authorization: Basic."""
    url = guarded.url.replace("http://", "http://ops:s3cret%21@")
    wire = Wire(tls_server.url, HEADERS, ssl_context=trusting(certificate), proxy=Proxy.parse(url))
    assert (await wire.request("GET", "/ok")).content == COUNT_BODY
    await wire.aclose()


async def test_a_refusing_proxy_is_a_connect_error_without_its_credentials(
    tls_server: ScriptedServer, certificate: tuple[Path, Path], guarded: ConnectProxy
) -> None:
    """A 407 is ConnectError naming the status (nothing reached Clerk); no password in it."""
    url = guarded.url.replace("http://", "http://ops:wrong-pass@")
    wire = Wire(tls_server.url, HEADERS, ssl_context=trusting(certificate), proxy=Proxy.parse(url))
    with pytest.raises(httpx.ConnectError, match="407 Proxy Authentication Required") as caught:
        await wire.request("GET", "/ok")
    await wire.aclose()
    assert "wrong-pass" not in str(caught.value)
    assert "wrong-pass" not in repr(wire)
    assert tls_server.requests == []


async def test_an_unreachable_proxy_is_a_connect_error(tls_server: ScriptedServer) -> None:
    """Nothing listening at the proxy's address: ConnectError naming the proxy."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        wire = Wire(tls_server.url, HEADERS, proxy=Proxy.parse(f"http://127.0.0.1:{port}"))
        with pytest.raises(httpx.ConnectError, match=f"proxy 127.0.0.1:{port}"):
            await wire.request("GET", "/ok")
    await wire.aclose()


async def test_the_origin_certificate_is_still_verified_through_the_tunnel(
    tls_server: ScriptedServer, proxy: ConnectProxy
) -> None:
    """The tunnel changes the route, not the trust: an untrusted origin certificate fails."""
    wire = Wire(tls_server.url, HEADERS, proxy=Proxy.parse(proxy.url))
    with pytest.raises(httpx.ConnectError, match="TLS"):
        await wire.request("GET", "/ok")
    await wire.aclose()
    assert tls_server.requests == []


def test_a_plain_http_origin_takes_no_proxy() -> None:
    """The proxy is for https origins only (the sandbox on loopback is reached directly)."""
    with pytest.raises(ValueError, match="https origins only"):
        Wire("http://127.0.0.1:8080", HEADERS, proxy=Proxy.parse("http://127.0.0.1:3128"))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://proxy.corp:3128", "must start with http://"),
        ("socks5://proxy.corp:1080", "must start with http://"),
        ("http://:3128", "has no host"),
        ("http://proxy.corp:3128/path", "just http://"),
        ("http://proxy.corp:notaport", "malformed"),
    ],
)
def test_a_bad_proxy_url_is_refused_with_the_reason(url: str, message: str) -> None:
    """Another scheme, no host, a path or a bad port: ValueError saying which."""
    with pytest.raises(ValueError, match=message):
        Proxy.parse(url)


def test_a_parsed_proxy_hides_its_credentials() -> None:
    """Port 8080 by default; credentials become a Basic header, and no repr shows them."""
    proxy = Proxy.parse("http://ops:s3cret@proxy.corp")
    assert (proxy.host, proxy.port) == ("proxy.corp", 8080)
    assert proxy.authorization == "Basic b3BzOnMzY3JldA=="
    assert "s3cret" not in repr(proxy)
    assert "b3Bz" not in repr(proxy)
    assert Proxy.parse("http://10.0.0.1:3128").authorization is None
