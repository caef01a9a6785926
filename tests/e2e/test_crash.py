"""Crash safety end to end: a real ``clerk-migrate run`` subprocess against a real-socket sandbox
that loses responses, killed with SIGKILL (or interrupted with SIGINT) mid-run and rerun."""

from __future__ import annotations

import csv
import os
import random
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

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
first_name = "first"
"""


# Requests per second of the runs that get killed (a burst of at most 0.1 s of them).
KILL_RATE = 30


def write_input(directory: Path, n: int) -> Path:
    """``n`` valid rows and their mapping."""
    path = directory / "users.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email", "first"])
        writer.writerows([f"-id{i}", f"user{i}@example.com", f"N{i}"] for i in range(1, n + 1))
    (directory / "map.toml").write_text(MAPPING)
    return path


@pytest.fixture
def lossy_sandbox() -> Iterator[SandboxHandle]:
    """A sandbox on a real socket that loses 10 % of create responses, with some latency."""
    faults = FaultConfig(lost_rate=0.1, error_rate=0.03, latency_mean_ms=5, latency_sigma=0.8)
    with running_sandbox(SandboxConfig.for_tests(faults=faults, seed=11)) as handle:
        yield handle


def start(handle: SandboxHandle, path: Path, *extra: str) -> subprocess.Popen[str]:
    """Start ``clerk-migrate run`` as a separate process."""
    env = os.environ | {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    return subprocess.Popen(
        [sys.executable, "-m", "migrate", "run", str(path), "--mapping",
         str(path.parent / "map.toml"), "--rate", "400", "--quiet", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def wait_for_creates(handle: SandboxHandle, proc: subprocess.Popen[str], target: int) -> bool:
    """Poll until the sandbox saw ``target`` creates; False if the process ended first."""
    while handle.counters()["creates"] < target:
        if proc.poll() is not None:
            return False
        time.sleep(0.002)
    return True


def finish(handle: SandboxHandle, path: Path) -> subprocess.CompletedProcess[str]:
    """Rerun until the run completes (a rerun also resends rows that gave up on faults)."""
    for _ in range(5):
        proc = start(handle, path)
        out, err = proc.communicate(timeout=120)
        done = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        if done.returncode != 3:
            break
    return done


def run_dir(path: Path) -> Path:
    """The default run directory."""
    return path.parent / "users.clerk-migrate"


def assert_exactly_once(handle: SandboxHandle, path: Path, n: int) -> None:
    """Every row is one Clerk user, the state says created, the id map matches Clerk."""
    ids = [u.external_id for u in handle.store]
    assert len(ids) == len(set(ids)), "a row was created twice"
    assert sorted(ids, key=str) == sorted(f"-id{i}" for i in range(1, n + 1))
    with closing(sqlite3.connect(run_dir(path) / "state.sqlite")) as db:
        states = dict(db.execute("SELECT state, count(*) FROM rows GROUP BY state").fetchall())
        pairs = dict(db.execute("SELECT external_id, clerk_user_id FROM rows").fetchall())
    assert states == {"created": n}
    clerk = {u.external_id: handle.store.user_id(u.seq) for u in handle.store}
    assert pairs == clerk
    with (run_dir(path) / "id_map.csv").open() as f:
        assert {r["external_id"]: r["clerk_user_id"] for r in csv.DictReader(f)} == clerk


def unfinished_rows(path: Path) -> int:
    """Rows of the run's state DB not yet in a final state (pending or in_flight)."""
    with closing(sqlite3.connect(run_dir(path) / "state.sqlite")) as db:
        (count,) = db.execute(
            "SELECT count(*) FROM rows WHERE state IN ('pending', 'in_flight')"
        ).fetchone()
    return int(count)


def crash_loop(handle: SandboxHandle, path: Path, n: int, kills: int, seed: int) -> None:
    """SIGKILL the run at random points of its sending phase ``kills`` times, then finish.

    Each kill must land mid-run: the process was still running when the signal went, died of
    it, and left rows unfinished in the state DB.
    """
    rng = random.Random(seed)
    for kill in range(kills):
        seen = handle.counters()["creates"]
        # Paced slowly, a run cannot end in the moment between the test seeing the count it
        # waits for and the kill, however loaded the machine (n=100: about 2.5 s still to go).
        proc = start(handle, path, "--rate", str(KILL_RATE))
        running = wait_for_creates(handle, proc, seen + rng.randint(1, max(2, n // (kills + 2))))
        if running:
            proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        assert running, f"kill {kill + 1}: the run ended before the kill ({proc.returncode}): {err}"
        assert proc.returncode == -signal.SIGKILL, f"kill {kill + 1}: exit {proc.returncode}"
        assert unfinished_rows(path) > 0, f"kill {kill + 1}: every row was final at the kill"
    done = finish(handle, path)
    assert done.returncode == 0, done.stderr
    assert_exactly_once(handle, path, n)


def test_kill_9_mid_run_then_rerun_creates_every_row_exactly_once(
    lossy_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Two SIGKILLs during sending, then reruns: each row exists exactly once, states right."""
    path = write_input(tmp_path, 100)
    crash_loop(lossy_sandbox, path, 100, kills=2, seed=1)


@pytest.mark.slow
def test_many_kill_9s_on_a_larger_run(lossy_sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Eight SIGKILLs at random moments over 1,500 rows: still exactly once, nothing missing."""
    path = write_input(tmp_path, 1500)
    crash_loop(lossy_sandbox, path, 1500, kills=8, seed=2)


def test_ctrl_c_saves_state_exits_130_and_resumes(
    lossy_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """SIGINT mid-run: exit 130 with a resume hint, nothing left in flight; a rerun finishes."""
    path = write_input(tmp_path, 200)
    proc = start(lossy_sandbox, path, "--rate", str(KILL_RATE))
    assert wait_for_creates(lossy_sandbox, proc, 20)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Resume with:" in err
    assert f"clerk-migrate run {path}" in err
    with closing(sqlite3.connect(run_dir(path) / "state.sqlite")) as db:
        states = dict(db.execute("SELECT state, count(*) FROM rows GROUP BY state").fetchall())
    assert states["pending"] > 0
    # only rows whose last attempt was ambiguous stay in_flight (for reconciliation): a handful
    assert states.get("in_flight", 0) < 20
    done = finish(lossy_sandbox, path)
    assert done.returncode == 0, done.stderr
    assert_exactly_once(lossy_sandbox, path, 200)
