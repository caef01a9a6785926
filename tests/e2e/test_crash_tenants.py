"""Crash safety of the organizations phase: a real ``clerk-migrate run`` subprocess with teams and
members, against a real-socket sandbox that loses answers, killed with SIGKILL while it creates
organizations, then rerun: every organization, user and membership exists exactly once."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from migrate.sandbox import FaultConfig, SandboxConfig, SandboxHandle, running_sandbox

MAPPING = '[source]\nkey = "id"\n\n[fields]\nexternal_id = "id"\nemail_address = "email"\n'
ORGS, USERS = 40, 20


def write_export(directory: Path) -> Path:
    """``USERS`` users, ``ORGS`` organizations (the generic shape) and two memberships per user."""
    users = directory / "users.csv"
    with users.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email"])
        writer.writerows([f"u{i}", f"user{i}@example.com"] for i in range(1, USERS + 1))
    with (directory / "organizations.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name"])
        writer.writerows([f"t{i}", f"Team {i}"] for i in range(1, ORGS + 1))
    with (directory / "memberships.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["user_id", "organization_id", "role"])
        for i in range(1, USERS + 1):
            writer.writerow([f"u{i}", f"t{i}", "admin"])
            writer.writerow([f"u{i}", f"t{ORGS + 1 - i}", "member"])
    (directory / "map.toml").write_text(MAPPING)
    return users


@pytest.fixture
def lossy_sandbox() -> Iterator[SandboxHandle]:
    """A sandbox on a real socket that loses 10 % of create answers and fails 3 % with a 5xx."""
    faults = FaultConfig(lost_rate=0.1, error_rate=0.03, latency_mean_ms=5, latency_sigma=0.8)
    with running_sandbox(SandboxConfig.for_tests(faults=faults, seed=7)) as handle:
        yield handle


def command(handle: SandboxHandle, users: Path, rate: int) -> tuple[list[str], dict[str, str]]:
    """``clerk-migrate run`` with the export's organizations and memberships: argv and env."""
    env = os.environ | {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    folder = users.parent
    args = [
        sys.executable, "-m", "migrate", "run", str(users), "--mapping", str(folder / "map.toml"),
        "--organizations", str(folder / "organizations.csv"), "--memberships",
        str(folder / "memberships.csv"), "--rate", str(rate), "--quiet",
    ]  # fmt: skip
    return args, env


def states(users: Path, table: str) -> dict[str, int]:
    """Rows per state of one table of the run's state DB."""
    path = users.parent / "users.clerk-migrate" / "state.sqlite"
    with closing(sqlite3.connect(path)) as db:
        return dict(db.execute(f"SELECT state, count(*) FROM {table} GROUP BY state").fetchall())  # noqa: S608


def test_kill_9_in_the_organizations_phase_then_rerun_creates_everything_once(
    lossy_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """SIGKILL after a few organizations, before any user: the rerun reconciles the
    organizations left in flight by slug and finishes; nothing exists twice."""
    users = write_export(tmp_path)
    args, env = command(lossy_sandbox, users, rate=20)
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    while len(lossy_sandbox.store.orgs) < 5 and proc.poll() is None:
        time.sleep(0.002)
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=60)
    assert running, f"the run ended before the kill ({proc.returncode}): {err}"
    assert proc.returncode == -signal.SIGKILL
    assert len(lossy_sandbox.store) == 0  # killed in the organizations phase
    assert states(users, "organizations").get("created", 0) < ORGS
    args, env = command(lossy_sandbox, users, rate=2000)
    for _ in range(5):  # a rerun also resends rows that gave up on faults
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip
        if done.returncode != 3:
            break
    assert done.returncode == 0, done.stderr + done.stdout
    keys = [json.loads(o.private_metadata or "{}")["legacy_key"] for o in lossy_sandbox.store.orgs]
    assert sorted(keys) == sorted(f"t{i}" for i in range(1, ORGS + 1))
    assert sorted(str(u.external_id) for u in lossy_sandbox.store) == sorted(
        f"u{i}" for i in range(1, USERS + 1)
    )
    assert sum(len(o.members) for o in lossy_sandbox.store.orgs) == 2 * USERS
    assert states(users, "organizations") == {"created": ORGS}
    assert states(users, "memberships") == {"created": 2 * USERS}
