"""Does ``clerk-migrate run`` reach the configured rate without tripping Clerk's limit?

    uv run python bench/pacing.py                  # N = 5,000, every case
    uv run python bench/pacing.py -n 10000 --case limit
    uv run python bench/pacing.py --case mixed     # organizations, users, memberships

The sandbox runs as its own process with production behaviour (1,000 requests per 10 s per key,
429 + Retry-After beyond that) and a realistic latency: log-normal, mean 150 ms, sigma 1.0 (a
long tail: p99 around 1 s). The tool runs as a real ``clerk-migrate run`` subprocess with an
``sk_live_`` key and ``--yes``. Two cases:

- ``default``: no ``--rate`` (90 % of the limit, 90 req/s): target >= 97 % of 90/s, zero 429s;
- ``limit``: ``--rate 100``, exactly the limit: target 429s < 0.5 % of requests;
- ``mixed``: no ``--rate``, a tenant export (``tests/tenant_export.py``, no bad rows: 200
  organizations, N users, 1.4 N memberships) sent in one run, organizations, then users, then
  memberships, sharing the one limiter: target >= 97 % of 90/s in each phase and overall, zero
  429s. Each phase's rate is measured on the sandbox's side, which counts a request when it
  arrives: its counters are read every 10 ms during the run. A phase's requests are those that
  arrived after the previous phase's last create was answered and by the time its own last one
  was (creates and any lookups: phases do not overlap); its rate is (requests - 1) over the
  time from its first arrival to its last (each known within 10 ms). The run has
  ``--no-check``: the instance checks' lookups come before the pass and would be counted in
  the organizations' phase.

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
import threading
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


class CounterLog:
    """The sandbox's counters read every ``interval`` seconds in a thread: (time, requests,
    organizations created, users, memberships created)."""

    def __init__(self, url: str, interval: float = 0.01) -> None:
        self.url, self.interval = url, interval
        self.samples: list[tuple[float, int, int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> CounterLog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self._stop.is_set():
                c = client.get("/_sandbox/counters").json()
                writes = c["org_writes"]
                self.samples.append((time.monotonic(), c["requests"],
                                     writes.get("organizations_created", 0), c["users"],
                                     writes.get("memberships_created", 0)))  # fmt: skip
                self._stop.wait(self.interval)

    def phases(self, columns: list[int]) -> list[tuple[float, float, int]]:
        """(time of the first request, of the last, requests) of each phase, in order."""
        out, before = [], 0
        for column in columns:
            final = self.samples[-1][column]
            done = next(s[1] for s in self.samples if s[column] == final)
            first = next(s[0] for s in self.samples if s[1] > before)
            last = next(s[0] for s in self.samples if s[1] >= done)
            out.append((first, last, done - before))
            before = done
        return out


def run_mixed(n: int, seed: int) -> dict[str, float]:
    """One run of a tenant export with ``n`` users; overall and per-phase figures."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tenant_export import build_export  # noqa: PLC0415 - a test helper, found at run time

    sandbox, url, key = start_sandbox(
        "--instance", "production", "--latency-ms", "150", "--latency-sigma", "1.0",
        "--seed", str(seed),
    )  # fmt: skip
    try:
        with tempfile.TemporaryDirectory() as tmp:
            export = build_export(Path(tmp), users=n, second=2 * n // 5, bad=False)
            args = [sys.executable, "-m", "migrate", "run", str(export.users_csv), "--mapping",
                    "django", "--organizations", str(export.organizations_csv), "--memberships",
                    str(export.memberships_csv), "--api-url", url, "--yes", "--quiet",
                    "--no-check"]  # fmt: skip
            warm_bytecode()
            with CounterLog(url) as log:
                done = subprocess.run(args, env=tool_env(CLERK_SECRET_KEY=key),
                                      capture_output=True, text=True, check=False)  # fmt: skip
            if done.returncode != 0:
                raise SystemExit(f"run failed ({done.returncode}):\n{done.stderr}")
            summary = json.loads(
                (Path(tmp) / "auth_user.clerk-migrate" / "summary.json").read_text()
            )
        seen = counters(url)
    finally:
        stop(sandbox)
    last = summary["run"]["last_pass"]
    figures = {
        "configured": float(last["rate_limit_per_s"]),
        "requests": float(last["requests"]),
        "duration": float(last["duration_s"]),
        "achieved": float(last["achieved_rate_per_s"]),
        "429s": float(last["rate_limited_429"]),
        "sandbox_429s": float(seen["rate_limited"]),  # type: ignore[arg-type]
    }
    kinds = (("organizations", 2), ("users", 3), ("memberships", 4))
    phases = log.phases([c for _, c in kinds])
    for (name, column), (first, last, requests) in zip(kinds, phases, strict=True):
        figures[f"{name}_s"], figures[f"{name}_requests"] = last - first, float(requests)
        figures[f"{name}_created"] = float(log.samples[-1][column])
    # between phases: from one's last request to the next one's first (its answers drain)
    figures["gap_users"] = phases[1][0] - phases[0][1]
    figures["gap_memberships"] = phases[2][0] - phases[1][1]
    return figures


def print_mixed(f: dict[str, float]) -> None:
    """The mixed case's lines: each phase, then the whole pass."""
    configured = f["configured"]
    for name in ("organizations", "users", "memberships"):
        rate = (f[f"{name}_requests"] - 1) / f[f"{name}_s"]
        print(
            f"  mixed {name:>13}: {int(f[f'{name}_created']):,} created, "
            f"{int(f[f'{name}_requests']):,} requests, first to last in {f[f'{name}_s']:.2f} s -> "
            f"{rate:.2f} "
            f"req/s of {configured:g} = {100 * rate / configured:.1f} %"
        )
    print(
        f"  mixed       overall: {int(f['requests']):,} requests in {f['duration']:.1f} s -> "
        f"{f['achieved']:.2f} req/s of {configured:g} = {100 * f['achieved'] / configured:.1f} "
        f"%; 429s: {int(f['429s'])} (sandbox counted {int(f['sandbox_429s'])}); between "
        f"phases (last request to the next phase's first): {f['gap_users']:.2f} s, "
        f"{f['gap_memberships']:.2f} s"
    )


def main() -> None:
    """Run the cases and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=5000, help="users per case (>= 5000)")
    parser.add_argument("--case", choices=["default", "limit", "mixed", "all"], default="all")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cases = ["default", "limit", "mixed"] if args.case == "all" else [args.case]
    for case in cases:
        if case == "mixed":
            print_mixed(run_mixed(args.n, args.seed))
            continue
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
