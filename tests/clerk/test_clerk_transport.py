"""OriginTransport against a scripted HTTP/1.1 server on 127.0.0.1 (and one https origin, unsent).

The server answers by what the path holds: ``/ok`` a JSON body, ``/gzip`` a chunked gzip body,
``/close`` a body with ``Connection: close``, ``/hold`` waits for the test to release it,
``/stall`` never answers, ``/lost`` reads the request and closes the socket, ``/drop`` answers
and then closes the socket without saying so. It counts the connections it accepts and how many
were open at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
from collections.abc import AsyncIterator, Iterator

import anyio
import httpcore
import httpx
import pytest

from migrate.clerk.client import ClerkClient
from migrate.clerk.outcomes import Counted, Transient
from migrate.clerk.transport import OriginTransport, map_exception
from migrate.secrets import Secret

pytestmark = pytest.mark.anyio

COUNT_BODY = b'{"object":"total_count","total_count":7}'


class ScriptedServer:
    """A tiny HTTP/1.1 server whose behaviour is chosen by the request path."""

    def __init__(self) -> None:
        self.accepted = 0
        self.open = 0
        self.peak_open = 0
        self.closed_by_client = 0
        self.release = asyncio.Event()
        self.dropped = asyncio.Event()
        self.server: asyncio.Server | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        self.release.set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    self.closed_by_client += 1
                    return
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1]
                length = next(
                    (int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length")),
                    0,
                )
                await reader.readexactly(length)
                if not await self._answer(path, reader, writer):
                    return
        finally:
            self.open -= 1
            writer.close()

    async def _answer(
        self, path: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Write the answer for ``path``; False when the connection is to be closed."""
        if "/stall" in path:
            await reader.read()  # until the client gives up and closes
            return False
        if "/lost" in path:
            return False
        if path == "/hold":
            await self.release.wait()
        if "/gzip" in path:
            packed = gzip.compress(COUNT_BODY)
            half = len(packed) // 2
            chunks = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (
                half, packed[:half], len(packed) - half, packed[half:]
            )  # fmt: skip
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks
            )
            await writer.drain()
            return True
        close = path == "/close"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
            % (len(COUNT_BODY), b"Connection: close\r\n" if close else b"", COUNT_BODY)
        )
        await writer.drain()
        if path == "/drop":
            self.dropped.set()
            return False
        return not close


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    """A scripted server on 127.0.0.1, stopped after the test."""
    s = ScriptedServer()
    await s.start()
    yield s
    await s.stop()


def client(transport: OriginTransport, read: float = 5.0) -> httpx.AsyncClient:
    """An httpx client over ``transport`` with a 5 s timeout (``read`` if given)."""
    timeout = httpx.Timeout(5.0, read=read)
    return httpx.AsyncClient(transport=transport, timeout=timeout)


@contextlib.contextmanager
def socket_bound() -> Iterator[int]:
    """A loopback port that is bound but not listening (connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def transport_for(server: ScriptedServer, **options: float | int | None) -> OriginTransport:
    """An OriginTransport to ``server``."""
    return OriginTransport(server.url, **options)  # type: ignore[arg-type]


async def test_sequential_requests_reuse_one_connection(server: ScriptedServer) -> None:
    """Requests one after another travel over one kept-alive connection."""
    transport = transport_for(server)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        for _ in range(5):
            response = await http.get("/ok")
            assert response.json()["total_count"] == 7
        assert transport.idle_connections == 1
    assert server.accepted == 1


async def test_concurrency_is_capped_at_max_connections(server: ScriptedServer) -> None:
    """Six concurrent requests over a transport of two connections never open a third."""
    transport = transport_for(server, max_connections=2)
    statuses: list[int] = []
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:

        async def one() -> None:
            statuses.append((await http.get("/hold")).status_code)

        async with anyio.create_task_group() as tg:
            for _ in range(6):
                tg.start_soon(one)
            await anyio.wait_all_tasks_blocked()
            server.release.set()
    assert statuses == [200] * 6
    assert server.accepted == 2
    assert server.peak_open == 2


async def test_clerk_client_caps_its_connections_at_its_limits(server: ScriptedServer) -> None:
    """ClerkClient's default transport opens no more connections than limits.max_connections."""
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
    """With every connection busy, a request that waits past its pool timeout raises PoolTimeout."""
    transport = transport_for(server, max_connections=1)
    async with (
        httpx.AsyncClient(
            transport=transport, base_url=server.url, timeout=httpx.Timeout(5.0, pool=0.05)
        ) as http,
        anyio.create_task_group() as tg,
    ):
        tg.start_soon(http.get, "/hold")
        await anyio.wait_all_tasks_blocked()
        with pytest.raises(httpx.PoolTimeout):
            await http.get("/ok")
        server.release.set()
    assert server.accepted == 1


async def test_an_expired_idle_connection_is_replaced(server: ScriptedServer) -> None:
    """An idle connection older than keepalive_expiry is closed and a new one opened."""
    transport = transport_for(server, keepalive_expiry=0.01)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        await http.get("/ok")
        await anyio.sleep(0.05)
        await http.get("/ok")
    assert server.accepted == 2
    assert server.closed_by_client >= 1


async def test_a_connection_the_server_closed_is_not_reused(server: ScriptedServer) -> None:
    """An idle connection the server has closed is dropped before use, not sent on."""
    transport = transport_for(server)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        await http.get("/drop")
        await server.dropped.wait()
        await anyio.sleep(0.02)  # the FIN crosses loopback
        response = await http.get("/ok")
    assert response.status_code == 200
    assert server.accepted == 2


async def test_a_closed_connection_at_the_bottom_of_the_stack_is_swept(
    server: ScriptedServer,
) -> None:
    """The least recently used idle connection, closed by the server, is closed, not kept."""
    transport = transport_for(server)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        async with anyio.create_task_group() as tg:
            tg.start_soon(http.get, "/hold")
            await anyio.wait_all_tasks_blocked()
            await http.get("/drop")  # a second connection, pushed first, then closed
            server.release.set()
        assert transport.idle_connections == 2
        await server.dropped.wait()
        await anyio.sleep(0.02)  # the FIN crosses loopback
        await http.get("/ok")  # reuses the top connection; the sweep closes the bottom one
        assert transport.idle_connections == 1
    assert server.accepted == 2


async def test_connection_close_is_honoured(server: ScriptedServer) -> None:
    """A response saying ``Connection: close`` leaves no idle connection behind."""
    transport = transport_for(server)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        await http.get("/close")
        assert transport.idle_connections == 0
        await http.get("/ok")
    assert server.accepted == 2


async def test_chunked_gzip_bodies_are_decoded(server: ScriptedServer) -> None:
    """A chunked, gzip-encoded body reaches the caller decoded, as httpx's transport gives it."""
    async with ClerkClient(f"{server.url}/gzip", Secret("sk_test_x")) as clerk:
        outcome = await clerk.count_users()
    assert outcome == Counted(7)


async def test_a_stalled_server_is_a_read_timeout(server: ScriptedServer) -> None:
    """A server that never answers raises ReadTimeout and the connection is dropped."""
    transport = transport_for(server)
    async with client(transport, read=0.05) as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(f"{server.url}/stall")
        assert transport.idle_connections == 0


async def test_a_stall_through_clerk_client_is_an_ambiguous_timeout(server: ScriptedServer) -> None:
    """Through ClerkClient a stalled create is Transient timeout, ambiguous (it may have worked)."""
    timeout = httpx.Timeout(5.0, read=0.05)
    async with ClerkClient(f"{server.url}/stall", Secret("sk_test_x"), timeout=timeout) as clerk:
        outcome = await clerk.create_user({"external_id": "e1"})
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == ("timeout", True)


async def test_a_lost_response_is_an_ambiguous_protocol_failure(server: ScriptedServer) -> None:
    """A socket closed after the request was read is RemoteProtocolError: Transient, ambiguous."""
    transport = transport_for(server)
    async with client(transport) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(f"{server.url}/lost")
    async with ClerkClient(f"{server.url}/lost", Secret("sk_test_x")) as clerk:
        outcome = await clerk.create_user({"external_id": "e1"})
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == ("protocol", True)


async def test_connection_refused_is_a_connect_error() -> None:
    """Nothing listening is ConnectError; through ClerkClient a Transient that is not ambiguous."""
    with socket_bound() as port:
        url = f"http://127.0.0.1:{port}"
        async with client(OriginTransport(url)) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get(f"{url}/ok")
        async with ClerkClient(url, Secret("sk_test_x")) as clerk:
            outcome = await clerk.count_users()
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == ("connection", False)


async def test_a_cancelled_request_frees_its_connection_and_permit(server: ScriptedServer) -> None:
    """A request cancelled mid-exchange drops its connection and the next request still runs."""
    transport = transport_for(server, max_connections=1)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        with anyio.move_on_after(0.05):
            await http.get("/stall")
        assert transport.idle_connections == 0
        with anyio.fail_after(5):
            assert (await http.get("/ok")).status_code == 200
    assert server.accepted == 2


async def test_aclose_closes_idle_connections(server: ScriptedServer) -> None:
    """Closing the transport closes its idle connections (the server sees them go)."""
    transport = transport_for(server)
    async with httpx.AsyncClient(transport=transport, base_url=server.url) as http:
        await http.get("/ok")
    with anyio.fail_after(5):
        while server.closed_by_client < 1:
            await anyio.sleep(0.005)
    assert transport.idle_connections == 0


async def test_another_origin_is_refused(server: ScriptedServer) -> None:
    """A request for an origin other than the transport's raises ValueError before any I/O."""
    async with client(transport_for(server)) as http:
        with pytest.raises(ValueError, match="own origin"):
            await http.get("http://127.0.0.2:9/ok")
    assert server.accepted == 0


def test_an_https_origin_builds_verifying_tls_connections() -> None:
    """An https URL gives port 443, a verifying TLS context and connections for that origin."""
    transport = OriginTransport("https://api.clerk.com/v1")
    assert transport.origin == httpcore.Origin(b"https", b"api.clerk.com", 443)
    assert isinstance(transport.ssl_context, ssl.SSLContext)
    assert transport.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert transport.ssl_context.check_hostname
    conn = transport.new_connection()
    assert conn.can_handle_request(transport.origin)
    assert not conn.can_handle_request(httpcore.Origin(b"http", b"api.clerk.com", 443))
    assert OriginTransport("http://127.0.0.1:8080").ssl_context is None


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (httpcore.ConnectTimeout, httpx.ConnectTimeout),
        (httpcore.ReadTimeout, httpx.ReadTimeout),
        (httpcore.WriteTimeout, httpx.WriteTimeout),
        (httpcore.PoolTimeout, httpx.PoolTimeout),
        (httpcore.ConnectError, httpx.ConnectError),
        (httpcore.ReadError, httpx.ReadError),
        (httpcore.WriteError, httpx.WriteError),
        (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
        (httpcore.LocalProtocolError, httpx.LocalProtocolError),
        (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
        (httpcore.NetworkError, httpx.NetworkError),
    ],
)
def test_httpcore_errors_map_as_httpx_maps_them(
    raised: type[Exception], expected: type[Exception]
) -> None:
    """Each httpcore error becomes exactly the httpx error httpx's own transport raises."""
    request = httpx.Request("GET", "http://127.0.0.1/")
    mapped = map_exception(raised("boom"), request)
    assert type(mapped) is expected
    assert mapped is not None
    assert mapped.request is request


def test_a_foreign_error_is_not_mapped() -> None:
    """An error that is not httpcore's is left alone (raised as is)."""
    assert map_exception(KeyError("x"), httpx.Request("GET", "http://127.0.0.1/")) is None


def test_max_connections_must_be_positive() -> None:
    """A transport of zero connections is refused."""
    with pytest.raises(ValueError, match="at least 1"):
        OriginTransport("http://127.0.0.1:1", max_connections=0)
