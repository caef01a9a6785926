"""Wire (the lean HTTP/1.1 client) against scripted servers on 127.0.0.1, plain and TLS.

What each path of the scripted server does is listed in ``clerk_servers``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import anyio
import certifi
import httpx
import pytest
from clerk_servers import COUNT_BODY, ScriptedServer

from migrate.clerk.client import ClerkClient
from migrate.clerk.outcomes import Counted, Transient
from migrate.clerk.wire import RawResponse, Wire
from migrate.secrets import Secret

pytestmark = pytest.mark.anyio

HEADERS = [("Authorization", "Bearer sk_test_x"), ("Accept", "application/json")]


@contextlib.contextmanager
def socket_bound() -> Iterator[int]:
    """A loopback port that is bound but not listening (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def wire_for(server: ScriptedServer, **options: float | int | None) -> Wire:
    """A Wire to ``server`` sending ``HEADERS``."""
    return Wire(server.url, HEADERS, **options)  # type: ignore[arg-type]


async def get(wire: Wire, path: str) -> RawResponse:
    """GET ``path`` through ``wire``."""
    return await wire.request("GET", path)


# --- requests and responses ---------------------------------------------------------------


async def test_a_request_is_sent_as_one_well_formed_http11_message(server: ScriptedServer) -> None:
    """The request line, Host (with the port), the fixed headers, Content-Type/-Length and body."""
    wire = wire_for(server)
    response = await wire.request("POST", "/v1/users?x=%2Ba", b'{"a":1}')
    await wire.aclose()
    port = server.url.rsplit(":", 1)[1]
    assert server.requests == [
        b"POST /v1/users?x=%2Ba HTTP/1.1\r\nHost: 127.0.0.1:" + port.encode() + b"\r\n"
        b"Authorization: Bearer sk_test_x\r\nAccept: application/json\r\n"
        b'Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}'
    ]
    assert response == RawResponse(
        200, {"content-type": "application/json", "content-length": "40"}, COUNT_BODY
    )
    assert response.is_success


async def test_bodiless_requests_carry_no_body_headers_but_an_empty_post_says_zero(
    server: ScriptedServer,
) -> None:
    """GET/DELETE send no Content-Length; a POST without a body sends ``Content-Length: 0``."""
    wire = wire_for(server)
    await wire.request("DELETE", "/v1/users/u1")
    await wire.request("POST", "/v1/x")
    await wire.aclose()
    assert b"content-length" not in server.requests[0].lower()
    assert server.requests[1].endswith(b"Content-Length: 0\r\n\r\n")


async def test_repeated_response_headers_are_joined(server: ScriptedServer) -> None:
    """Two headers of one name (any case) come back as one lower-case name, values joined."""
    wire = wire_for(server)
    response = await get(wire, "/twice")
    await wire.aclose()
    assert response.headers["x-thing"] == "a, b"


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/eof"])
async def test_encoded_chunked_and_close_delimited_bodies_are_decoded(
    server: ScriptedServer, path: str
) -> None:
    """Chunked gzip, deflate, and a body ended by the server closing all arrive whole, decoded."""
    wire = wire_for(server)
    response = await get(wire, path)
    await wire.aclose()
    assert response.content == COUNT_BODY


async def test_an_interim_1xx_answer_is_skipped(server: ScriptedServer) -> None:
    """A 103 Early Hints before the response is not taken for it; the connection stays usable."""
    wire = wire_for(server)
    response = await get(wire, "/early")
    assert (response.status_code, response.content) == (200, COUNT_BODY)
    assert "link" not in response.headers
    assert (await get(wire, "/ok")).content == COUNT_BODY
    await wire.aclose()
    assert server.accepted == 1


async def test_an_unknown_content_encoding_is_a_decoding_error(server: ScriptedServer) -> None:
    """A body in an encoding Wire cannot undo raises DecodingError, and the connection goes."""
    wire = wire_for(server)
    with pytest.raises(httpx.DecodingError):
        await get(wire, "/brotli")
    assert wire.idle_connections == 0
    await wire.aclose()


async def test_a_header_with_a_line_break_is_refused() -> None:
    """A header value that could split the request is refused before anything is sent."""
    with pytest.raises(ValueError, match="line break"):
        Wire("http://127.0.0.1:1", [("X", "a\r\nEvil: 1")])


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:80", "http://"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    """Only http(s) URLs with a host make a Wire."""
    with pytest.raises(ValueError, match="not an http"):
        Wire(url, HEADERS)


def test_max_connections_must_be_positive() -> None:
    """A pool of zero connections is refused."""
    with pytest.raises(ValueError, match="at least 1"):
        Wire("http://127.0.0.1:1", HEADERS, max_connections=0)


# --- connections ----------------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(server: ScriptedServer) -> None:
    """Requests one after another travel over one kept-alive connection."""
    wire = wire_for(server)
    for _ in range(5):
        assert (await get(wire, "/ok")).content == COUNT_BODY
    assert wire.idle_connections == 1
    await wire.aclose()
    assert server.accepted == 1
    assert wire.opened == 1


async def test_concurrency_is_capped_at_max_connections(server: ScriptedServer) -> None:
    """Six concurrent requests over a pool of two connections never open a third."""
    wire = wire_for(server, max_connections=2)
    statuses: list[int] = []

    async def one() -> None:
        statuses.append((await get(wire, "/hold")).status_code)

    async with anyio.create_task_group() as tg:
        for _ in range(6):
            tg.start_soon(one)
        await anyio.wait_all_tasks_blocked()
        server.release.set()
    await wire.aclose()
    assert statuses == [200] * 6
    assert server.accepted == 2
    assert server.peak_open == 2


async def test_clerk_client_caps_its_connections_at_its_limits(server: ScriptedServer) -> None:
    """ClerkClient's default Wire opens no more connections than limits.max_connections."""
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    outcomes: list[object] = []
    async with ClerkClient(f"{server.url}/hold", Secret("sk_test_x"), limits=limits) as clerk:

        async def one() -> None:
            outcomes.append(await clerk.count_users())

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(one)
            await anyio.wait_all_tasks_blocked()
            server.release.set()
    assert outcomes == [Counted(7)] * 5
    assert server.accepted == 2


async def test_waiting_past_the_pool_timeout_is_a_pool_timeout(server: ScriptedServer) -> None:
    """With every connection busy, a request that waits past the pool timeout: PoolTimeout."""
    wire = wire_for(server, max_connections=1, pool_timeout=0.05)
    async with anyio.create_task_group() as tg:
        tg.start_soon(get, wire, "/hold")
        await anyio.wait_all_tasks_blocked()
        with pytest.raises(httpx.PoolTimeout):
            await get(wire, "/ok")
        server.release.set()
    await wire.aclose()
    assert server.accepted == 1


async def test_an_expired_idle_connection_is_replaced(server: ScriptedServer) -> None:
    """An idle connection older than keepalive_expiry is closed and a new one opened."""
    wire = wire_for(server, keepalive_expiry=0.01)
    await get(wire, "/ok")
    await anyio.sleep(0.05)
    await get(wire, "/ok")
    await wire.aclose()
    assert server.accepted == 2
    with anyio.fail_after(5):
        while server.closed_by_client < 1:
            await anyio.sleep(0.005)


async def test_a_connection_the_server_closed_is_not_reused(server: ScriptedServer) -> None:
    """An idle connection the server has closed is dropped before use, not sent on."""
    wire = wire_for(server)
    await get(wire, "/drop")
    await server.dropped.wait()
    await anyio.sleep(0.02)  # the FIN crosses loopback
    response = await get(wire, "/ok")
    await wire.aclose()
    assert response.status_code == 200
    assert server.accepted == 2


async def test_a_closed_connection_at_the_bottom_of_the_stack_is_swept(
    server: ScriptedServer,
) -> None:
    """The least recently used idle connection, closed by the server, is dropped, not kept."""
    wire = wire_for(server)
    async with anyio.create_task_group() as tg:
        tg.start_soon(get, wire, "/hold")
        await anyio.wait_all_tasks_blocked()
        await get(wire, "/drop")  # a second connection, pushed first, then closed
        server.release.set()
    assert wire.idle_connections == 2
    await server.dropped.wait()
    await anyio.sleep(0.02)  # the FIN crosses loopback
    await get(wire, "/ok")  # reuses the top connection; the sweep drops the bottom one
    assert wire.idle_connections == 1
    await wire.aclose()
    assert server.accepted == 2


async def test_connection_close_is_honoured(server: ScriptedServer) -> None:
    """A response saying ``Connection: close`` leaves no idle connection behind."""
    wire = wire_for(server)
    await get(wire, "/close")
    assert wire.idle_connections == 0
    await get(wire, "/ok")
    await wire.aclose()
    assert server.accepted == 2


async def test_bytes_nobody_asked_for_condemn_the_connection(server: ScriptedServer) -> None:
    """Data arriving on an idle connection closes it; the next request gets a fresh one."""
    wire = wire_for(server)
    await get(wire, "/extra")
    await anyio.sleep(0.05)  # the unsolicited bytes arrive
    assert (await get(wire, "/ok")).content == COUNT_BODY
    await wire.aclose()
    assert server.accepted == 2


async def test_bytes_glued_to_the_answer_condemn_the_connection(server: ScriptedServer) -> None:
    """A partial second message in the same packet as the answer: the answer is returned, the
    connection is not reused (its parser is mid-message), the next request gets a fresh one."""
    wire = wire_for(server)
    assert (await get(wire, "/glued")).content == COUNT_BODY
    assert wire.idle_connections == 0
    assert (await get(wire, "/ok")).content == COUNT_BODY
    await wire.aclose()
    assert server.accepted == 2


async def test_a_stalled_server_is_a_read_timeout(server: ScriptedServer) -> None:
    """A server that never answers raises ReadTimeout and the connection is dropped."""
    wire = wire_for(server, read_timeout=0.05)
    with pytest.raises(httpx.ReadTimeout):
        await get(wire, "/stall")
    assert wire.idle_connections == 0
    await wire.aclose()


async def test_a_stall_through_clerk_client_is_an_ambiguous_timeout(server: ScriptedServer) -> None:
    """Through ClerkClient a stalled create is Transient timeout, ambiguous (it may have worked)."""
    timeout = httpx.Timeout(5.0, read=0.05)
    async with ClerkClient(f"{server.url}/stall", Secret("sk_test_x"), timeout=timeout) as clerk:
        outcome = await clerk.create_user({"external_id": "e1"})
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == ("timeout", True)


@pytest.mark.parametrize("path", ["/garbage", "/lost"])
async def test_no_usable_answer_is_an_ambiguous_protocol_failure(
    server: ScriptedServer, path: str
) -> None:
    """Bytes that are not HTTP, or a socket closed after the request was read, raise
    RemoteProtocolError; through ClerkClient a create is Transient protocol, ambiguous."""
    wire = wire_for(server)
    with pytest.raises(httpx.RemoteProtocolError):
        await get(wire, path)
    await wire.aclose()
    async with ClerkClient(f"{server.url}{path}", Secret("sk_test_x")) as clerk:
        outcome = await clerk.create_user({"external_id": "e1"})
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == ("protocol", True)


async def test_connection_refused_is_a_connect_error() -> None:
    """Nothing listening is ConnectError; through ClerkClient a Transient that is not ambiguous."""
    with socket_bound() as port:
        url = f"http://127.0.0.1:{port}"
        with pytest.raises(httpx.ConnectError):
            await get(Wire(url, HEADERS), "/ok")
        async with ClerkClient(url, Secret("sk_test_x")) as clerk:
            outcome = await clerk.count_users()
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == ("connection", False)


async def test_a_cancelled_request_frees_its_connection_and_permit(server: ScriptedServer) -> None:
    """A request cancelled mid-exchange drops its connection and the next request still runs."""
    wire = wire_for(server, max_connections=1)
    with anyio.move_on_after(0.05):
        await get(wire, "/stall")
    assert wire.idle_connections == 0
    with anyio.fail_after(5):
        assert (await get(wire, "/ok")).status_code == 200
    await wire.aclose()
    assert server.accepted == 2


async def test_aclose_closes_idle_connections(server: ScriptedServer) -> None:
    """Closing the pool closes its idle connections (the server sees them go)."""
    wire = wire_for(server)
    await get(wire, "/ok")
    await wire.aclose()
    with anyio.fail_after(5):
        while server.closed_by_client < 1:
            await anyio.sleep(0.005)
    assert wire.idle_connections == 0
    with pytest.raises(RuntimeError, match="closed"):
        await get(wire, "/ok")


# --- TLS ------------------------------------------------------------------------------------


async def test_https_works_with_a_trusted_certificate(
    tls_server: ScriptedServer, certificate: tuple[Path, Path]
) -> None:
    """Over TLS with a context that trusts the server, requests and keep-alive work as in clear."""
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    wire = Wire(tls_server.url, HEADERS, ssl_context=trusting)
    for path in ("/ok", "/gzip", "/ok"):
        assert (await get(wire, path)).content == COUNT_BODY
    await wire.aclose()
    assert tls_server.accepted == 1


async def test_https_refuses_an_untrusted_certificate(tls_server: ScriptedServer) -> None:
    """The default context verifies: a self-signed certificate is a ConnectError, nothing sent."""
    wire = Wire(tls_server.url, HEADERS)
    assert wire.ssl_context is not None
    assert wire.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert wire.ssl_context.check_hostname
    with pytest.raises(httpx.ConnectError, match="TLS"):
        await get(wire, "/ok")
    await wire.aclose()
    assert tls_server.requests == []


def test_plain_http_has_no_tls_context_and_https_trusts_certifi() -> None:
    """An http URL (the sandbox) makes no TLS context; https uses port 443 and certifi's CAs."""
    assert Wire("http://127.0.0.1:8080", HEADERS).ssl_context is None
    wire = Wire("https://api.clerk.com/v1", HEADERS)
    assert wire.port == 443
    assert wire.ssl_context is not None
    trusted = {c["subject"] for c in wire.ssl_context.get_ca_certs()}
    bundle = ssl.create_default_context(cafile=certifi.where()).get_ca_certs()
    assert trusted == {c["subject"] for c in bundle}
    assert len(trusted) > 50


async def test_the_key_never_shows_in_repr_or_errors(server: ScriptedServer) -> None:
    """Neither the pool's repr nor any error it raises carries the Authorization header."""
    wire = Wire(server.url, HEADERS, read_timeout=0.05)
    texts = [repr(wire)]
    for path in ("/stall", "/lost", "/garbage", "/brotli"):
        with pytest.raises(httpx.HTTPError) as caught:
            await get(wire, path)
        texts += [str(caught.value), repr(caught.value)]
    await wire.aclose()
    assert texts
    assert not [t for t in texts if "sk_test_x" in t or "Bearer" in t]
