"""The client's httpx pieces: one-connection pools handed out idle-first, and no cookie jar."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
from clerk_servers import JsonServer

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.connections import Connections, CookielessClient
from migrate._internal.clerk.network import Network
from migrate._internal.clerk.outcomes import Counted
from migrate._internal.secrets import Secret

pytestmark = pytest.mark.anyio

KEY = "sk_test_" + "c" * 40


class Body(httpx.AsyncByteStream):
    """A response body read from the wire (not yet in memory), as real transports give."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.data


class Gate:
    """Mock transports whose answers wait until ``open`` is set; records who served what."""

    def __init__(self) -> None:
        self.open = anyio.Event()
        self.made: list[httpx.MockTransport] = []
        self.served: list[int] = []  # index of the transport, per request
        self.closed: list[int] = []

    def make(self) -> httpx.AsyncBaseTransport:
        index = len(self.made)

        async def handler(request: httpx.Request) -> httpx.Response:
            self.served.append(index)
            await self.open.wait()
            return httpx.Response(200, stream=Body(b'{"n": %d}' % index))

        gate = self

        class Recorded(httpx.MockTransport):
            async def aclose(self) -> None:
                gate.closed.append(index)

        transport = Recorded(handler)
        self.made.append(transport)
        return transport


async def _send(pool: Connections, results: list[int]) -> None:
    response = await pool.handle_async_request(httpx.Request("GET", "http://127.0.0.1/v1/x"))
    await response.aread()  # closes the body: the connection is free again
    results.append(response.json()["n"])


async def test_requests_in_flight_each_get_their_own_transport_up_to_the_size() -> None:
    """Three requests at once over a size of three take three transports; a fourth, when all
    are busy, queues on one of them instead of making a fourth."""
    gate = Gate()
    pool = Connections(gate.make, 3)
    results: list[int] = []
    async with anyio.create_task_group() as tg:
        for _ in range(4):
            tg.start_soon(_send, pool, results)
        await anyio.wait_all_tasks_blocked()
        assert len(gate.made) == 3
        assert sorted(gate.served) == [0, 0, 1, 2]  # the fourth waits on the least busy
        gate.open.set()
    assert sorted(results) == sorted(gate.served)


async def test_a_closed_response_makes_its_transport_idle_again() -> None:
    """Requests one after another reuse one transport: none is made while one is idle."""
    gate = Gate()
    gate.open.set()
    pool = Connections(gate.make, 8)
    results: list[int] = []
    for _ in range(5):
        await _send(pool, results)
    assert results == [0] * 5
    assert len(gate.made) == 1


async def test_a_failed_request_gives_its_transport_back_and_close_closes_all() -> None:
    """A transport error frees the transport for the next request; aclose closes every one."""
    made: list[int] = []

    def make() -> httpx.AsyncBaseTransport:
        made.append(len(made))

        def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/boom":
                raise httpx.ConnectError("refused", request=request)
            return httpx.Response(204)

        return httpx.MockTransport(handler)

    pool = Connections(make, 4)
    response = await pool.handle_async_request(httpx.Request("GET", "http://127.0.0.1/ok"))
    assert response.status_code == 204  # an in-memory body: the transport is free at once
    with pytest.raises(httpx.ConnectError):
        await pool.handle_async_request(httpx.Request("GET", "http://127.0.0.1/boom"))
    response = await pool.handle_async_request(httpx.Request("GET", "http://127.0.0.1/ok"))
    await response.aread()
    assert response.status_code == 204
    assert made == [0]
    await pool.aclose()
    with pytest.raises(ValueError, match="at least 1"):
        Connections(make, 0)


async def test_the_client_sends_over_keep_alive_connections_to_a_real_server() -> None:
    """Ten calls one after another reach a real HTTP server over one kept-alive connection;
    four at once open four connections and no more."""
    server = JsonServer()
    await server.start()
    try:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        client = ClerkClient(server.url(), Secret(KEY), limits=limits, network=Network(environ={}))
        async with client as clerk:
            for _ in range(10):
                assert await clerk.count_users() == Counted(7)
            assert server.connections == 1
            outcomes: list[object] = []

            async def count() -> None:
                outcomes.append(await clerk.count_users())

            async with anyio.create_task_group() as tg:
                for _ in range(12):
                    tg.start_soon(count)
            assert outcomes == [Counted(7)] * 12
            assert server.connections <= 4
        assert len(server.requests) == 22
    finally:
        await server.stop()


async def test_cookies_set_by_a_response_are_never_sent_back() -> None:
    """A Set-Cookie from the server is dropped: the next request carries no Cookie header."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, headers={"set-cookie": "session=abc; Path=/"}, json={})

    async with CookielessClient(transport=httpx.MockTransport(handler)) as http:
        await http.get("http://127.0.0.1/a")
        await http.get("http://127.0.0.1/a")
        assert seen == [None, None]
        assert len(http.cookies) == 0
        with pytest.raises(TypeError, match="no cookies"):
            http.cookies = {"a": "b"}
