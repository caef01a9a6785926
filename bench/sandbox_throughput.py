"""How many creates per second the sandbox sustains, and what a million users cost in memory.

    uv run python bench/sandbox_throughput.py                 # 20,000 creates, concurrency 32
    uv run python bench/sandbox_throughput.py -n 50000 -c 64
    uv run python bench/sandbox_throughput.py --store 1000000 # memory and lookups at 1 M users

The server runs in its own process (``clerk-migrate sandbox`` with limits off), as Clerk would,
so the figure is the server's, not shared with the client's GIL; the client is one asyncio
process with a keep-alive ``httpx.AsyncClient``. Both share this machine's cores, so the figure
is a floor for the server alone. Every response is checked (status 200), and the server's own
counter must agree with the number of creates sent.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time

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


async def _drive(url: str, key: str, n: int, concurrency: int) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {key}", "Clerk-API-Version": "2025-11-10"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    next_i = 0
    # Without TCP_NODELAY, httpx's separate header and body writes meet Nagle + delayed ACK and
    # every POST waits ~40 ms: a client artefact, not the server's cost.
    transport = httpx.AsyncHTTPTransport(
        limits=limits, socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    )
    async with httpx.AsyncClient(
        base_url=url, headers=headers, transport=transport, timeout=30
    ) as client:

        async def worker() -> None:
            nonlocal next_i
            while next_i < n:
                i = next_i
                next_i += 1
                t0 = time.perf_counter()
                r = await client.post("/v1/users", json=_body(i))
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise SystemExit(f"create {i} failed: {r.status_code} {r.text[:200]}")

        await client.post("/v1/users", json=_body(-1))  # warm the connection path
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        counters = (await client.get("/_sandbox/counters")).json()
    if counters["creates"] != n + 1:
        raise SystemExit(f"server counted {counters['creates']} creates, expected {n + 1}")
    return elapsed, latencies


def _throughput(n: int, concurrency: int, seed: int) -> None:
    proc, url, key = _start_server(seed)
    try:
        elapsed, lat = asyncio.run(_drive(url, key, n, concurrency))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    lat.sort()
    print(f"sandbox throughput: {n} creates, concurrency {concurrency}, {os.cpu_count()} CPUs")
    print(f"  {n / elapsed:,.0f} creates/s ({elapsed:.2f} s)")
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
    parser.add_argument("-c", "--concurrency", type=int, default=32)
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
        _throughput(args.n, args.concurrency, args.seed)


if __name__ == "__main__":
    main()
