"""Does ``clerk-migrate run`` reach the configured rate without tripping Clerk's limit?

    uv run python bench/pacing.py                  # N = 5,000, both cases
    uv run python bench/pacing.py -n 10000 --case limit

The sandbox runs as its own process with production behaviour (1,000 requests per 10 s per key,
429 + Retry-After beyond that) and a realistic latency: log-normal, mean 150 ms, sigma 1.0 (a
long tail: p99 around 1 s). The tool runs as a real ``clerk-migrate run`` subprocess with an
``sk_live_`` key and ``--yes``. Two cases:

- ``default``: no ``--rate`` (90 % of the limit, 90 req/s): target >= 97 % of 90/s, zero 429s;
- ``limit``: ``--rate 100``, exactly the limit: target 429s < 0.5 % of requests.

The tool runs as an installed one does, with compiled bytecode (``tool_env``): kept between runs
under a cache folder even where PYTHONDONTWRITEBYTECODE is set (and made before the measured run
by ``warm_bytecode``), so compiling the sources is not counted as the tool's CPU.

Figures come from the run's own summary.json (requests, duration of the sending pass, 429s) and
are cross-checked with the sandbox's counters. The tool's CPU time (user + system, from
``os.wait4`` on the run's process alone) over its wall time is the share of one core it used at
that rate.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
first_name = "first"
last_name = "last"
"""


def write_input(directory: Path, n: int) -> Path:
    """A CSV of ``n`` valid users, with the mapping beside it as map.toml."""
    path = directory / "users.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email", "first", "last"])
        for i in range(1, n + 1):
            writer.writerow([f"legacy-{i}", f"user{i}@example.com", f"First{i}", f"Last{i}"])
    (directory / "map.toml").write_text(MAPPING)
    return path


PYCACHE = Path(tempfile.gettempdir()) / "clerk-migrate-bench" / "pycache"


def tool_env(**extra: str) -> dict[str, str]:
    """The tool's environment: bytecode cached under ``PYCACHE``, as an installed tool has it."""
    env = os.environ | extra
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def warm_bytecode() -> None:
    """Compile what ``clerk-migrate run`` imports into ``PYCACHE`` (a no-op once it is there)."""
    modules = "migrate.cli.run, migrate._internal.api.passes, migrate._internal.reports.run"
    subprocess.run([sys.executable, "-c", f"import {modules}"], env=tool_env(), check=True)


def start_sandbox(*options: str) -> tuple[subprocess.Popen[str], str, str]:
    """Start ``clerk-migrate sandbox`` as a process; return it, its URL and its key."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrate", "sandbox", "--port", "0", *options],
        stdout=subprocess.PIPE,
        text=True,
    )
    url = key = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("export CLERK_API_URL="):
            url = line.split("=", 1)[1].strip()
        elif line.startswith("export CLERK_SECRET_KEY="):
            key = line.split("=", 1)[1].strip()
        if url and key:
            break
    return proc, url, key


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop a sandbox process started here."""
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def counters(url: str) -> dict[str, object]:
    """The sandbox's private counters."""
    return dict(httpx.get(f"{url}/_sandbox/counters", timeout=10).json())


def run_case(n: int, case: str, seed: int) -> dict[str, float]:
    """One run of ``n`` users; the figures of its sending pass."""
    sandbox, url, key = start_sandbox(
        "--instance", "production", "--latency-ms", "150", "--latency-sigma", "1.0",
        "--seed", str(seed),
    )  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = write_input(Path(tmp), n)
            args = [sys.executable, "-m", "migrate", "run", str(path), "--mapping",
                    str(Path(tmp) / "map.toml"), "--api-url", url, "--yes", "--quiet"]  # fmt: skip
            if case == "limit":
                args += ["--rate", "100"]
            env = tool_env(CLERK_SECRET_KEY=key)
            warm_bytecode()
            started = time.monotonic()
            proc = subprocess.Popen(
                args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
            )
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - started
            if os.waitstatus_to_exitcode(status) != 0:
                assert proc.stderr is not None
                raise SystemExit(f"run failed ({status}):\n{proc.stderr.read()}")
            summary = json.loads((Path(tmp) / "users.clerk-migrate" / "summary.json").read_text())
        seen = counters(url)
    finally:
        stop(sandbox)
    last = summary["run"]["last_pass"]
    configured = float(last["rate_limit_per_s"])
    return {
        "configured": configured,
        "requests": float(last["requests"]),
        "duration": float(last["duration_s"]),
        "achieved": float(last["achieved_rate_per_s"]),
        "share": float(last["achieved_rate_per_s"]) / configured,
        "sending": float(last["sending_rate_per_s"]),
        "startup": float(last["startup_s"]),
        "drain": float(last["drain_s"]),
        "max_latency": float(last["max_latency_s"]),
        "429s": float(last["rate_limited_429"]),
        "sandbox_429s": float(seen["rate_limited"]),  # type: ignore[arg-type]
        "created": float(summary["counts"]["created"]),
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def main() -> None:
    """Run the cases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="users per case (>= 5000)")
    parser.add_argument("--case", choices=["default", "limit", "both"], default="both")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cases = ["default", "limit"] if args.case == "both" else [args.case]
    for case in cases:
        f = run_case(args.n, case, args.seed)
        print(
            f"{case:>7}: {int(f['created']):,} created, {int(f['requests']):,} requests in "
            f"{f['duration']:.1f} s (wall {f['wall']:.1f} s) -> {f['achieved']:.2f} req/s of "
            f"{f['configured']:g} configured = {100 * f['share']:.1f} % (first to last request: "
            f"{f['sending']:.2f} req/s = {100 * f['sending'] / f['configured']:.1f} %); 429s: "
            f"{int(f['429s'])} ({100 * f['429s'] / max(f['requests'], 1):.2f} % of requests; "
            f"sandbox counted {int(f['sandbox_429s'])}); first request after "
            f"{f['startup']:.2f} s, last answer {f['drain']:.2f} s after the last request "
            f"(slowest answer of the run: {f['max_latency']:.2f} s); tool CPU {f['cpu']:.1f} s "
            f"in {f['wall']:.1f} s = {100 * f['cpu'] / f['wall']:.1f} % of one core, "
            f"{1000 * f['cpu'] / max(f['created'], 1):.2f} ms per created user"
        )


if __name__ == "__main__":
    main()
