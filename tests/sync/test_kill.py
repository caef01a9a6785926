"""``sync`` killed with SIGKILL mid-send, then rerun: every change in, every user once."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

import migrate
from migrate.sandbox import SandboxHandle
from migrate.sandbox.config import FaultConfig
from migrate.sandbox.faults import Faults

MAPPING = '[source]\nkey = "id"\n\n[fields]\nexternal_id = "id"\nemail_address = "email"\nfirst_name = "first"\n'  # noqa: E501
N = 60


def write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A CSV of (id, email, first) rows."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email", "first"])
        writer.writerows(rows)
    return path


def test_kill_9_mid_sync_then_rerun_applies_each_change_once(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A SIGKILL after some writes; the rerun finishes: names all new, no user twice or lost."""
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    first = write(tmp_path / "first.csv", [(f"u{i}", f"u{i}@example.com", "Old") for i in range(N)])
    conn = migrate.Connection(api_url=sandbox.url, secret_key=migrate.Secret(sandbox.secret_key))
    assert migrate.run(first, mapping, connection=conn, run_dir=tmp_path / "run",
                       rate=2000).summary.count("created") == N  # fmt: skip
    rows = [(f"u{i}", f"u{i}@example.com", "New") for i in range(N)]
    newer = write(tmp_path / "newer.csv", rows + [(f"n{i}", f"n{i}@example.com", "New")
                                                  for i in range(N // 3)])  # fmt: skip
    # slow answers and some lost ones, so the kill lands while writes are under way
    sandbox.app.faults = Faults(FaultConfig(latency_mean_ms=40, latency_sigma=0.3,
                                            lost_rate=0.2), seed=3)  # fmt: skip
    env = os.environ | {"CLERK_SECRET_KEY": sandbox.secret_key}
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrate", "sync", str(newer), "-m", str(mapping), "--run-dir",
         str(tmp_path / "run"), "--api-url", sandbox.url, "--rate", "2000", "--concurrency", "2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while sandbox.counters()["updates"] < 10 and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert sandbox.counters()["updates"] < N, f"sync ended before the kill: {err}"
    assert proc.returncode == -signal.SIGKILL
    sandbox.app.faults = Faults(FaultConfig(), seed=0)
    for _ in range(3):
        result = migrate.sync(newer, mapping, run_dir=tmp_path / "run", connection=conn,
                              rate=2000)  # fmt: skip
        if result.exit_code == migrate.ExitCode.OK:
            break
    assert result.exit_code == migrate.ExitCode.OK, result.failures
    auth = {"Authorization": f"Bearer {sandbox.secret_key}", "Clerk-API-Version": "2026-05-12"}
    users = httpx.get(f"{sandbox.url}/v1/users", params={"limit": 500}, headers=auth).json()
    ids = sorted(u["external_id"] for u in users)
    assert ids == sorted([r[0] for r in rows] + [f"n{i}" for i in range(N // 3)])
    assert {u["first_name"] for u in users} == {"New"}
    assert migrate.sync(newer, mapping, run_dir=tmp_path / "run", connection=conn,
                        rate=2000).requests == 0  # fmt: skip
