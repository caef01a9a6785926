"""The tool's own cost: CPU time per created user, and peak memory as the input grows.

    uv run python bench/overhead.py                        # CPU: 20,000 users
    uv run python bench/overhead.py --cpu 50000
    uv run python bench/overhead.py --rss 100000 1000000   # peak RSS of full runs
    uv run python bench/overhead.py --cpu 0 --rss 100000 1000000 --format ndjson
    uv run python bench/overhead.py --cpu 0 --clients 20000  # CPU per request of the client

The sandbox runs as its own process with every limit off (``--rate-limit 0 --user-cap 0``) and
no latency, so the run is bound by the tool and the server, not by pacing. The tool runs as a
real ``clerk-migrate run`` subprocess with ``--rate 1000000``; its CPU time (user + system) and
peak RSS come from ``os.wait4`` on that process alone (the sandbox's own costs are excluded).
It runs with compiled bytecode, as an installed tool does (``pacing.tool_env``).

- CPU per created user: the whole process (start-up, reading and validating the input, planning,
  sending, recording, reports) divided by the users created, and the share of one core that
  cost takes at production's 100 requests/s. Target: <= 15 % of a core (1.5 ms per user).
- The same without HTTP (``--engine-only``): prepare, plan, the engine, the state DB and the
  recorder driving an in-memory API that answers instantly, in this process: what the tool adds
  on top of the HTTP client.
- CPU per request of ``ClerkClient.create_user`` alone (``--clients N``), in this process against
  the same sandbox, every connection busy, over ``--concurrency`` connections (its one
  ``httpx.AsyncClient``, as a run sends).
- Peak RSS of a full run on a 100 k-row and a 1 M-row input. Target: the 1 M run within 1.3x
  of the 100 k run (memory flat in the input size).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import anyio
import httpx
from pacing import start_sandbox, stop, tool_env, warm_bytecode, write_input

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import ClerkUser, Created, CreateOutcome, ListOutcome, Users
from migrate._internal.prepare import prepare_input
from migrate._internal.runner.engine import EngineSettings, execute
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.runner.session import open_run
from migrate._internal.secrets import Secret

TRANSPORTS = ("httpx",)
PRODUCTION_RATE = 100.0  # requests per second: Clerk's production limit


class InstantApi:
    """Clerk that answers every create at once (no network): isolates the tool's own cost."""

    def __init__(self) -> None:
        self.created = 0

    async def create_user(self, body: Mapping[str, object]) -> CreateOutcome:
        """Always created."""
        self.created += 1
        return Created(ClerkUser(f"user_{self.created}"))

    async def list_users(self, **_: object) -> ListOutcome:
        """Nobody is there."""
        return Users(())


def measure_engine(n: int, concurrency: int) -> dict[str, float]:
    """Prepare + plan + one engine pass over ``n`` rows with ``InstantApi``, in this process."""
    with tempfile.TemporaryDirectory() as tmp:
        path = write_input(Path(tmp), n)
        cpu0, wall0 = time.process_time(), time.monotonic()
        prepared = prepare_input(path, str(Path(tmp) / "map.toml"))
        plan = open_run(Path(tmp) / "run", path, str(Path(tmp) / "map.toml"), {}, prepared)
        api = InstantApi()
        settings = EngineSettings(rate=1e9, concurrency=concurrency)
        anyio.run(execute, api, StoreLedger(plan.store), prepared.payloads, settings)
        plan.store.close()
        return {"cpu": time.process_time() - cpu0, "wall": time.monotonic() - wall0,
                "created": float(api.created)}  # fmt: skip


def input_file(directory: Path, n: int, fmt: str) -> Path:
    """The bench's CSV of ``n`` users (and its mapping), converted to ``fmt`` if not csv."""
    path = write_input(directory, n)
    if fmt == "csv":
        return path
    mapping = directory / "map.toml"  # the format comes from the extension
    mapping.write_text(mapping.read_text().replace('format = "csv"\n', ""))
    out = path.with_suffix(f".{fmt}")
    # In a child process: a process started by this one reports (ru_maxrss) at least the RSS this
    # one had when it forked, so converting here would inflate the figure being measured.
    write = "write_ndjson" if fmt == "ndjson" else "write_parquet"
    code = (
        f"import polars as pl; pl.read_csv({str(path)!r}, infer_schema=False).{write}({str(out)!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    path.unlink()
    return out


def measure(n: int, concurrency: int, fmt: str = "csv") -> dict[str, float]:
    """One full run of ``n`` users; CPU seconds, peak RSS (MB), wall time, users created."""
    sandbox, url, key = start_sandbox(
        "--instance", "production", "--rate-limit", "0", "--user-cap", "0", "--seed", "1"
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = input_file(Path(tmp), n, fmt)
            args = [sys.executable, "-m", "migrate", "run", str(path), "--mapping",
                    str(Path(tmp) / "map.toml"), "--api-url", url, "--yes", "--quiet",
                    "--rate", "1000000", "--concurrency", str(concurrency)]  # fmt: skip
            env = tool_env(CLERK_SECRET_KEY=key)
            warm_bytecode()
            started = time.monotonic()
            proc = subprocess.Popen(
                args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            code = os.waitstatus_to_exitcode(status)
            if code != 0:
                assert proc.stderr is not None
                raise SystemExit(f"run failed ({code}):\n{proc.stderr.read()}")
            summary = json.loads((Path(tmp) / "users.clerk-migrate" / "summary.json").read_text())
    finally:
        stop(sandbox)
    created = float(summary["counts"]["created"])
    return {
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "wall": wall,
        "created": created,
        "send_s": float(summary["run"]["last_pass"]["duration_s"]),
    }


def _clients(kind: str, url: str, key: str, concurrency: int) -> list[ClerkClient]:
    """The ClerkClient one measurement sends through, sized as a run sizes it."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return [ClerkClient(url, Secret(key), limits=limits)]


async def _drive_clients(clients: list[ClerkClient], start: int, n: int, workers: int) -> float:
    """Send creates ``start .. start+n`` from ``workers`` tasks; return this process's CPU."""
    pending = iter(range(start, start + n))

    async def worker(clerk: ClerkClient) -> None:
        for i in pending:  # shared: each id is sent once
            body = {"external_id": f"legacy-{i}", "email_address": [f"user{i}@example.com"],
                    "first_name": "Ada", "last_name": f"Lovelace{i}"}  # fmt: skip
            outcome = await clerk.create_user(body)
            if not isinstance(outcome, Created):
                raise SystemExit(f"create {i} failed: {outcome}")

    cpu0 = time.process_time()
    async with anyio.create_task_group() as tg:
        for w in range(workers):
            tg.start_soon(worker, clients[w % len(clients)])
    return time.process_time() - cpu0


def measure_clients(n: int, concurrency: int, repeat: int) -> dict[str, list[float]]:
    """ClerkClient CPU ms per create for each transport (``repeat`` rounds, interleaved)."""
    sandbox, url, key = start_sandbox(
        "--instance", "production", "--rate-limit", "0", "--user-cap", "0", "--seed", "1"
    )
    figures: dict[str, list[float]] = {kind: [] for kind in TRANSPORTS}
    next_id = 0

    async def one(kind: str) -> float:
        nonlocal next_id
        clients = _clients(kind, url, key, concurrency)
        for clerk in clients:
            await clerk.__aenter__()
        try:
            warm = 200
            await _drive_clients(clients, next_id, warm, concurrency)
            cpu = await _drive_clients(clients, next_id + warm, n, concurrency)
        finally:
            for clerk in clients:
                await clerk.aclose()
        next_id += warm + n
        return 1000 * cpu / n

    try:
        for _ in range(repeat):
            for kind in TRANSPORTS:
                figures[kind].append(anyio.run(one, kind))
    finally:
        stop(sandbox)
    return figures


def main() -> None:
    """Print CPU per user and/or peak RSS figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", type=int, default=20_000, help="users for the CPU figure")
    parser.add_argument("--rss", type=int, nargs="*", default=[], help="input sizes for RSS")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--format", choices=("csv", "ndjson", "parquet"), default="csv", help="input format (--rss)"
    )
    parser.add_argument("--engine-only", type=int, default=0, help="rows for the no-HTTP figure")
    parser.add_argument("--clients", type=int, default=0, help="creates per transport compared")
    parser.add_argument("--repeat", type=int, default=2, help="rounds of the transport comparison")
    args = parser.parse_args()
    if args.clients:
        figures = measure_clients(args.clients, args.concurrency, args.repeat)
        for kind, values in figures.items():
            shown = " / ".join(f"{v:.3f}" for v in values)
            print(
                f"client {kind:>5}: {args.concurrency} connections: "
                f"{shown} ms CPU per create ({args.clients:,} creates per round)"
            )
    if args.engine_only:
        e = measure_engine(args.engine_only, args.concurrency)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"engine only: {int(e['created']):,} rows in {e['wall']:.1f} s; CPU {e['cpu']:.2f} s"
            f" = {1000 * e['cpu'] / e['created']:.3f} ms per row (prepare, plan, state DB, "
            f"engine; no HTTP); peak RSS of this process {peak:.0f} MB"
        )
    if args.cpu:
        f = measure(args.cpu, args.concurrency)
        print(
            f"cpu: {int(f['created']):,} users created in {f['wall']:.1f} s wall "
            f"({f['send_s']:.1f} s sending, {f['created'] / f['send_s']:.0f} users/s); tool CPU "
            f"{f['cpu']:.2f} s = {1000 * f['cpu'] / f['created']:.3f} ms per created user "
            f"= {100 * PRODUCTION_RATE * f['cpu'] / f['created']:.1f} % of one core at "
            f"{PRODUCTION_RATE:g} users/s (target <= 15 %); peak RSS {f['rss_mb']:.0f} MB"
        )
    base = None
    for n in args.rss:
        f = measure(n, args.concurrency, args.format)
        base = base or f["rss_mb"]
        print(
            f"rss ({args.format}): {n:>9,} rows -> peak RSS {f['rss_mb']:.0f} MB "
            f"({f['rss_mb'] / base:.2f}x the first size), {f['wall']:.0f} s wall, "
            f"CPU {1000 * f['cpu'] / f['created']:.3f} ms/user"
        )


if __name__ == "__main__":
    main()
