"""How many creates per second the sandbox sustains, what each costs, and what clients cost.

    uv run python bench/sandbox_throughput.py                  # 20,000 creates, raw, 32 conns
    uv run python bench/sandbox_throughput.py --client httpx -c 16 -n 5000
    uv run python bench/sandbox_throughput.py --client clerk -c 16   # the loader's ClerkClient
    uv run python bench/sandbox_throughput.py --sweep -n 5000  # raw; httpx, clerk at 4-32 conns
    uv run python bench/sandbox_throughput.py --store 1000000  # memory and lookups at 1 M users

The server runs in its own process (``python -m migrate sandbox``, production instance, limits
and user cap off), as Clerk would. Clients are ``--clients`` processes, each one asyncio loop
holding ``-c / --clients`` keep-alive HTTP/1.1 connections (for httpx and clerk: a pool of
exactly that size, ``max_connections = max_keepalive_connections = c``, every connection busy):

- ``raw``: a minimal client (one write per request, headers parsed by hand): it costs little, so
  the wall rate shows the server, not the client;
- ``httpx``: ``httpx.AsyncClient.post(json=...)``;
- ``clerk``: ``migrate._internal.clerk.ClerkClient.create_user``, exactly what the loader sends;
- ``lean``: the same ``ClerkClient`` over ``LeanTransport`` (below), a prototype transport that
  shows what httpcore's pool and I/O layers cost;
- ``bare``: the same with the response parsed by hand (``BareTransport``), to price h11.

``--pool P`` splits the connections of httpx/clerk over several clients of P connections each
(workers take turns), since httpcore's cost per request grows with its pool's size.

Each client warms up (connects, sends ``--warmup`` creates) before the clock starts. Printed:
the wall rate; the server's CPU per create (from /proc, so other load on the machine does not
inflate it much); each client's own CPU per request (``time.process_time``) — the figure that
says whether a client can drive the server, and what the loader pays per user for HTTP. Every
response is checked (200) and the server's create counter must match what was sent.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import h11
import httpx

from migrate.sandbox.config import SandboxConfig
from migrate.sandbox.listing import parse_list_query, run_count, run_list
from migrate.sandbox.store import UserStore
from migrate.sandbox.validation import validate_create

_SWEEP_POOLS = (4, 8, 16, 32)


def _start_server(seed: int) -> tuple[subprocess.Popen[str], str, str]:
    cmd = [
        sys.executable,
        "-m",
        "migrate",
        "sandbox",
        "--port",
        "0",
        "--instance",
        "production",
        "--rate-limit",
        "0",
        "--user-cap",
        "0",
        "--seed",
        str(seed),
    ]
    # stderr is dropped: it only says "# sandbox stopped" (a failed start shows as no URL).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = key = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export CLERK_API_URL="):
            url = line.split("=", 1)[1].strip()
        elif line.startswith("export CLERK_SECRET_KEY="):
            key = line.split("=", 1)[1].strip()
            break
    if not url or not key:
        proc.kill()
        raise SystemExit("the sandbox did not start")
    return proc, url, key


def _body(i: int) -> dict[str, object]:
    return {
        "external_id": f"legacy-{i}",
        "email_address": [f"user{i}@example.com"],
        "first_name": "Ada",
        "last_name": f"Lovelace{i}",
        "password_digest": "$2b$10$" + "N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"[:53],
        "password_hasher": "bcrypt",
        "created_at": "2020-01-02T03:04:05Z",
        "public_metadata": {"plan": "pro", "source": "bench"},
        "skip_password_checks": True,
    }


# A sender posts create ``i`` and raises SystemExit unless it is a 200.
Sender = Any


async def _httpx_sender(url: str, key: str, pool: int, stack: Any) -> Sender:
    headers = {"Authorization": f"Bearer {key}", "Clerk-API-Version": "2025-11-10"}
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    client = await stack.enter_async_context(
        httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30)
    )

    async def send(i: int) -> None:
        r = await client.post("/v1/users", json=_body(i))
        if r.status_code != 200:
            raise SystemExit(f"create {i} failed: {r.status_code} {r.text[:200]}")

    return send


_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter, h11.Connection]


class LeanTransport(httpx.AsyncBaseTransport):
    """A prototype keep-alive HTTP/1.1 transport for one origin, to measure what httpcore costs.

    Idle connections wait in a stack (taking one is O(1), where httpcore's pool looks at every
    connection per request); a request leaves in one write; h11 parses the response; the
    request's read timeout covers the whole exchange (``httpx.ReadTimeout``) and a connection
    that breaks is ``httpx.RemoteProtocolError``, as a ClerkClient expects. No TLS, proxies,
    HTTP/2, streaming or connection cap: a measuring device, not yet a client for Clerk.
    """

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._address = (host, int(port))
        self._idle: list[_Conn] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on an idle (or new) connection and read the whole response."""
        timeout = request.extensions.get("timeout", {}).get("read")
        conn = self._idle.pop() if self._idle else None
        try:
            async with asyncio.timeout(timeout):
                if conn is None:
                    conn = await self._connect()
                return await self._exchange(conn, request)
        except TimeoutError as exc:
            if conn is not None:
                conn[1].close()
            raise httpx.ReadTimeout("timed out", request=request) from exc
        except (OSError, EOFError, h11.ProtocolError) as exc:
            if conn is not None:
                conn[1].close()
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc

    async def _connect(self) -> _Conn:
        reader, writer = await asyncio.open_connection(*self._address)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer, h11.Connection(h11.CLIENT)

    async def _exchange(self, c: _Conn, request: httpx.Request) -> httpx.Response:
        reader, writer, conn = c
        body = await request.aread()
        head = h11.Request(
            method=request.method, target=request.url.raw_path, headers=request.headers.raw
        )
        writer.write(
            conn.send(head) + conn.send(h11.Data(data=body)) + conn.send(h11.EndOfMessage())
        )
        response: h11.Response | None = None
        chunks: list[bytes] = []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                if not data:
                    raise EOFError("server closed the connection")
                conn.receive_data(data)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
        assert response is not None
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self._idle.append(c)
        else:
            writer.close()
        return httpx.Response(
            response.status_code, headers=response.headers, content=b"".join(chunks)
        )

    async def aclose(self) -> None:
        """Close every idle connection."""
        for _, writer, _ in self._idle:
            writer.close()
        self._idle.clear()


class BareTransport(LeanTransport):
    """``LeanTransport`` with the response parsed by hand instead of by h11.

    Reads the status line, the headers and a ``Content-Length`` body, which is all the sandbox
    sends; chunked or compressed responses (which a CDN in front of Clerk may send) are not
    handled. It shows what h11's parsing costs per request.
    """

    async def _exchange(self, c: _Conn, request: httpx.Request) -> httpx.Response:
        reader, writer, _ = c
        body = await request.aread()
        head = b"%s %s HTTP/1.1\r\n" % (request.method.encode(), request.url.raw_path)
        head += b"".join(k + b": " + v + b"\r\n" for k, v in request.headers.raw)
        writer.write(head + b"\r\n" + body)
        try:
            lines = (await reader.readuntil(b"\r\n\r\n"))[:-4].split(b"\r\n")
        except asyncio.IncompleteReadError as exc:
            raise EOFError("server closed the connection") from exc
        status = int(lines[0].split(b" ", 2)[1])
        headers = [tuple(line.split(b":", 1)) for line in lines[1:]]
        length = next(int(v) for k, v in headers if k.lower() == b"content-length")
        content = await reader.readexactly(length)
        self._idle.append(c)
        return httpx.Response(status, headers=[(k, v.strip()) for k, v in headers], content=content)


async def _clerk_sender(url: str, key: str, pool: int, stack: Any, *, lean: str = "") -> Sender:
    from migrate._internal.clerk.client import ClerkClient  # noqa: PLC0415 (only this mode needs it)
    from migrate._internal.clerk.outcomes import Created  # noqa: PLC0415
    from migrate._internal.secrets import Secret  # noqa: PLC0415

    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    transport = LeanTransport(url) if lean == "lean" else BareTransport(url) if lean else None
    clerk = await stack.enter_async_context(
        ClerkClient(url, Secret(key), limits=limits, transport=transport)
    )

    async def send(i: int) -> None:
        outcome = await clerk.create_user(_body(i))
        if not isinstance(outcome, Created):
            raise SystemExit(f"create {i} failed: {outcome}")

    return send


async def _raw_connection(url: str, key: str) -> Sender:
    """One keep-alive HTTP/1.1 connection of the minimal client (one write per request)."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/users HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        "Clerk-API-Version: 2025-11-10\r\nContent-Type: application/json\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    async def send(i: int) -> None:
        body = json.dumps(_body(i)).encode()
        writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        status_line, _, rest = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in rest.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        if status_line.split()[1] != b"200":
            raise SystemExit(f"create {i} failed: {status_line!r}")

    return send


@dataclass(frozen=True)
class _Job:
    kind: str
    url: str
    key: str
    ids: range  # the measured creates
    warm: range  # sent before the clock starts
    concurrency: int
    pool: int  # connections per httpx client; concurrency / pool clients share the work


async def _drive(job: _Job, ready: Any, go: Any) -> tuple[list[float], float]:
    """Warm up, wait for ``go``, send ``job.ids``; return latencies and this process's CPU."""
    from contextlib import AsyncExitStack  # noqa: PLC0415

    async with AsyncExitStack() as stack:
        if job.kind == "raw":
            senders = [await _raw_connection(job.url, job.key) for _ in range(job.concurrency)]
        else:
            make = {
                "httpx": _httpx_sender,
                "clerk": _clerk_sender,
                "lean": functools.partial(_clerk_sender, lean="lean"),
                "bare": functools.partial(_clerk_sender, lean="bare"),
            }[job.kind]
            # Workers take turns over ceil(concurrency / pool) clients of ``pool`` connections.
            shards = [
                await make(job.url, job.key, job.pool, stack)
                for _ in range(-(-job.concurrency // job.pool))
            ]
            senders = [shards[w % len(shards)] for w in range(job.concurrency)]

        async def run(ids: range, latencies: list[float] | None) -> None:
            pending = iter(ids)

            async def worker(send: Sender) -> None:
                for i in pending:  # a shared iterator: each id is sent once
                    t0 = time.perf_counter()
                    await send(i)
                    if latencies is not None:
                        latencies.append(time.perf_counter() - t0)

            await asyncio.gather(*(worker(s) for s in senders))

        await run(job.warm, None)
        ready.put(True)
        await asyncio.get_running_loop().run_in_executor(None, go.wait)
        latencies: list[float] = []
        cpu0 = time.process_time()
        await run(job.ids, latencies)
        return latencies, time.process_time() - cpu0


def _client_process(job: _Job, ready: Any, go: Any, out: Any) -> None:
    out.put(asyncio.run(_drive(job, ready, go)))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Result:
    """One measured run."""

    kind: str
    connections: int
    pool: int
    clients: int
    sent: int
    wall_rate: float
    server_cpu_us: float  # per create
    client_cpu_us: float  # per request, summed over client processes
    p50_ms: float
    p99_ms: float


def measure(
    kind: str, n: int, concurrency: int, *, pool: int, clients: int, warmup: int, seed: int
) -> Result:
    """Start a server, drive ``n`` creates through ``clients`` processes, and measure."""
    proc, url, key = _start_server(seed)
    ctx = multiprocessing.get_context("fork")
    ready, go, out = ctx.Queue(), ctx.Event(), ctx.Queue()
    share, per_client = n // clients, max(1, concurrency // clients)
    jobs = [
        _Job(
            kind,
            url,
            key,
            range(c * share, (c + 1) * share),
            range(n + c * warmup, n + (c + 1) * warmup),
            per_client,
            min(pool, per_client) if pool else per_client,
        )
        for c in range(clients)
    ]
    workers = [ctx.Process(target=_client_process, args=(job, ready, go, out)) for job in jobs]
    try:
        for w in workers:
            w.start()
        for _ in workers:
            ready.get(timeout=120)
        cpu0 = _cpu_seconds(proc.pid)
        start = time.perf_counter()
        go.set()
        results = [out.get() for _ in workers]
        elapsed = time.perf_counter() - start
        server_cpu = _cpu_seconds(proc.pid) - cpu0
        for w in workers:
            w.join()
        counters = httpx.get(f"{url}/_sandbox/counters").json()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    sent = share * clients
    if counters["creates"] != sent + warmup * clients:
        raise SystemExit(f"server counted {counters['creates']} creates, expected {sent}")
    lat = sorted(x for latencies, _ in results for x in latencies)
    return Result(
        kind=kind,
        connections=per_client * clients,
        pool=jobs[0].pool,
        clients=clients,
        sent=sent,
        wall_rate=sent / elapsed,
        server_cpu_us=server_cpu / sent * 1e6,
        client_cpu_us=sum(cpu for _, cpu in results) / sent * 1e6,
        p50_ms=statistics.median(lat) * 1000,
        p99_ms=lat[int(len(lat) * 0.99)] * 1000,
    )


def _print_header() -> None:
    print(
        f"sandbox throughput ({os.cpu_count()} CPUs shared by server and clients; "
        f"load average {os.getloadavg()[0]:.1f} at start)"
    )
    print(
        f"{'client':>6} {'conns':>5} {'pool':>4} {'procs':>5} {'creates':>7} {'wall/s':>8} "
        f"{'server us/create':>16} {'client us/req':>13} {'p50 ms':>7} {'p99 ms':>7}"
    )


def _print(r: Result) -> None:
    print(
        f"{r.kind:>6} {r.connections:>5} {r.pool if r.kind != 'raw' else '-':>4} {r.clients:>5} "
        f"{r.sent:>7} {r.wall_rate:>8,.0f} "
        f"{r.server_cpu_us:>16,.0f} {r.client_cpu_us:>13,.0f} {r.p50_ms:>7.1f} {r.p99_ms:>7.1f}",
        flush=True,
    )


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _store(n: int, seed: int) -> None:

    config = SandboxConfig.for_tests()
    store = UserStore(seed)
    now = int(time.time() * 1000)
    before = _rss_mb()
    t0 = time.perf_counter()
    for i in range(n):
        rec, problems = validate_create(_body(i), config, now, store.plaintext_digest)
        assert rec is not None, problems
        store.add(rec)
    build = time.perf_counter() - t0
    after = _rss_mb()
    ids = [("external_id", f"+legacy-{i}") for i in range(0, n, max(1, n // 100))][:100]
    t0 = time.perf_counter()
    q = parse_list_query([*ids, ("limit", "100")], paging=True)
    assert not isinstance(q, list)
    found = run_list(store, q)
    lookup = time.perf_counter() - t0
    assert isinstance(found, list)
    t0 = time.perf_counter()
    q = parse_list_query([("limit", "10")], paging=True)
    assert not isinstance(q, list)
    run_list(store, q)
    newest = time.perf_counter() - t0
    q = parse_list_query([("email_address_query", "user99999")], paging=False)
    assert not isinstance(q, list)
    t0 = time.perf_counter()
    run_count(store, q)
    scan = time.perf_counter() - t0
    print(f"sandbox store: {n:,} users validated and stored in {build:.1f} s")
    print(f"  memory: {after - before:,.0f} MB RSS ({(after - before) * 2**20 / n:,.0f} B/user)")
    print(f"  lookup of {len(found)} external_ids: {lookup * 1000:.2f} ms")
    print(f"  first page of the default order (-created_at): {newest * 1000:.0f} ms")
    print(f"  full scan (email_address_query count): {scan * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="creates to measure")
    parser.add_argument("-c", "--concurrency", type=int, default=32, help="connections in total")
    parser.add_argument("--clients", type=int, default=1, help="client processes")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx", "clerk", "lean", "bare"],
        default="raw",
        help="client implementation",
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=0,
        help="httpx/clerk: connections per client (default: all in one pool); more clients share",
    )
    parser.add_argument("--warmup", type=int, default=200, help="creates per client before timing")
    parser.add_argument(
        "--sweep",
        action="store_true",
        help=f"raw at 32 connections, then httpx and clerk at {_SWEEP_POOLS} (-n each)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each configuration")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--store",
        type=int,
        default=0,
        metavar="N",
        help="instead: fill an in-memory store with N users and measure it",
    )
    args = parser.parse_args()
    if args.store:
        _store(args.store, args.seed)
        return
    if args.sweep:
        configs = [("raw", 32, 0)]
        configs += [(k, c, 0) for k in ("httpx", "clerk") for c in _SWEEP_POOLS]
        configs += [("clerk", 32, p) for p in (1, 4)]
        configs += [(k, c, 0) for k in ("lean", "bare") for c in (4, 32)]
    else:
        configs = [(args.client, args.concurrency, args.pool)]
    _print_header()
    for kind, concurrency, pool in configs:
        for _ in range(args.repeat):
            _print(
                measure(
                    kind,
                    args.n,
                    concurrency,
                    pool=pool,
                    clients=args.clients,
                    warmup=args.warmup,
                    seed=args.seed,
                )
            )


if __name__ == "__main__":
    main()
