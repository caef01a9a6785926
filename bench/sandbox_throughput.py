"""How many creates per second the sandbox sustains, and what a million users cost in memory.

    uv run python bench/sandbox_throughput.py                 # 20,000 creates, 2 clients x 16
    uv run python bench/sandbox_throughput.py -n 50000 -c 64 --clients 3
    uv run python bench/sandbox_throughput.py --client raw --clients 1   # the server's ceiling
    uv run python bench/sandbox_throughput.py --store 1000000 # memory and lookups at 1 M users

The server runs in its own process (``clerk-migrate sandbox`` with limits off), as Clerk would,
so the figure is the server's, not shared with the client's GIL. Clients are ``--clients``
processes, each an asyncio loop with a keep-alive ``httpx.AsyncClient``. They share this
machine's cores with the server, and httpx costs more CPU per request than the server does, so
the wall rate is a floor; the server's own CPU time per create (read from /proc) gives its
capacity on one core. Every response is checked (status 200), and the server's counter must
agree with the number of creates sent.
"""

from __future__ import annotations

import argparse
import asyncio
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
from typing import Any

import httpx

from migrate.sandbox.config import SandboxConfig
from migrate.sandbox.listing import parse_list_query, run_count, run_list
from migrate.sandbox.store import UserStore
from migrate.sandbox.validation import validate_create


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
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
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


async def _drive(url: str, key: str, first: int, n: int, concurrency: int) -> list[float]:
    """Send creates first..first+n-1 at ``concurrency``; return each request's latency."""
    headers = {"Authorization": f"Bearer {key}", "Clerk-API-Version": "2025-11-10"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    # TCP_NODELAY so that Nagle never holds a POST's body (httpx writes headers and body apart).
    transport = httpx.AsyncHTTPTransport(
        limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    latencies: list[float] = []
    next_i = first
    async with httpx.AsyncClient(
        base_url=url, headers=headers, transport=transport, timeout=30
    ) as client:

        async def worker() -> None:
            nonlocal next_i
            while next_i < first + n:
                i = next_i
                next_i += 1
                t0 = time.perf_counter()
                r = await client.post("/v1/users", json=_body(i))
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"create {i} failed: {r.status_code} {r.text[:200]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _drive_raw(url: str, key: str, first: int, n: int, concurrency: int) -> list[float]:
    """The same creates through a minimal keep-alive HTTP/1.1 client (one write per request).

    It costs a fraction of httpx's CPU, so on a small machine it shows what the server sustains
    when the client is not the bottleneck.
    """
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/users HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {key}\r\n"
        "Clerk-API-Version: 2025-11-10\r\nContent-Type: application/json\r\n"
    ).encode()
    latencies: list[float] = []
    next_i = first

    async def connection() -> None:
        nonlocal next_i
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while next_i < first + n:
            i = next_i
            next_i += 1
            body = json.dumps(_body(i)).encode()
            t0 = time.perf_counter()
            writer.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            status_line, _, rest = (await reader.readuntil(b"\r\n\r\n")).partition(b"\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in rest.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status_line.split()[1] != b"200":
                raise SystemExit(f"create {i} failed: {status_line!r}")
        writer.close()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies


def _client_process(job: tuple[str, str, str, int, int, int], go: Any, out: Any) -> None:
    kind, url, key, first, n, concurrency = job
    drive = _drive_raw if kind == "raw" else _drive
    go.wait()
    out.put(asyncio.run(drive(url, key, first, n, concurrency)))


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _throughput(kind: str, n: int, concurrency: int, clients: int, seed: int) -> None:
    proc, url, key = _start_server(seed)
    ctx = multiprocessing.get_context("fork")
    go, out = ctx.Event(), ctx.Queue()
    share = n // clients
    workers = [
        ctx.Process(
            target=_client_process,
            args=((kind, url, key, c * share, share, max(1, concurrency // clients)), go, out),
        )
        for c in range(clients)
    ]
    try:
        for w in workers:
            w.start()
        time.sleep(1.0)  # let the clients import and connect before the clock starts
        cpu0 = _cpu_seconds(proc.pid)
        start = time.perf_counter()
        go.set()
        lat = sorted(x for _ in workers for x in out.get())
        elapsed = time.perf_counter() - start
        server_cpu = _cpu_seconds(proc.pid) - cpu0
        for w in workers:
            w.join()
        counters = httpx.get(f"{url}/_sandbox/counters").json()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    sent = share * clients
    if counters["creates"] != sent:
        raise SystemExit(f"server counted {counters['creates']} creates, expected {sent}")
    per_create = server_cpu / sent
    print(
        f"sandbox throughput: {sent} creates, {clients} {kind} client process(es), concurrency "
        f"{concurrency}, {os.cpu_count()} CPUs shared by server and clients"
    )
    print(f"  wall: {sent / elapsed:,.0f} creates/s ({elapsed:.2f} s)")
    print(
        f"  server CPU: {per_create * 1e6:,.0f} us per create -> capacity "
        f"{1 / per_create:,.0f} creates/s on one core"
    )
    print(
        f"  latency p50 {statistics.median(lat) * 1000:.1f} ms, "
        f"p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms"
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
    parser.add_argument("-n", type=int, default=20_000, help="creates to send")
    parser.add_argument("-c", "--concurrency", type=int, default=32, help="in flight, in total")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--client", choices=["httpx", "raw"], default="httpx", help="client implementation"
    )
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
    else:
        _throughput(args.client, args.n, args.concurrency, args.clients, args.seed)


if __name__ == "__main__":
    main()
