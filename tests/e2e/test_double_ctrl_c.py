"""A double Ctrl-C through the real signal path: a ``clerk-migrate run`` subprocess against a
slow sandbox gets SIGINT twice mid-run, and its pass is still counted in summary.json."""

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
from click.testing import CliRunner

from migrate.cli import main
from migrate.sandbox import FaultConfig, SandboxConfig, SandboxHandle, running_sandbox

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
"""
ROWS = 80


@pytest.fixture
def slow_sandbox() -> Iterator[SandboxHandle]:
    """A sandbox on a real socket that answers every request after about a second."""
    faults = FaultConfig(latency_mean_ms=1000, latency_sigma=0.1)
    with running_sandbox(SandboxConfig.for_tests(faults=faults, seed=4)) as handle:
        yield handle


def states(run_dir: Path) -> dict[str, int]:
    """Rows per state in the run's state DB."""
    with closing(sqlite3.connect(run_dir / "state.sqlite")) as db:
        return dict(db.execute("SELECT state, count(*) FROM rows GROUP BY state").fetchall())


def test_a_pass_ended_by_a_double_ctrl_c_is_counted(
    slow_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """SIGINT, then SIGINT again while requests are on the wire: exit 130, the abandoned rows
    stay in_flight, and summary.json (also as `report` rewrites it) counts the pass with the
    rows it created."""
    path = tmp_path / "users.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email"])
        writer.writerows([f"u{i}", f"u{i}@example.com"] for i in range(ROWS))
    (tmp_path / "map.toml").write_text(MAPPING)
    run_dir = tmp_path / "users.clerk-migrate"
    env = os.environ | {"CLERK_SECRET_KEY": slow_sandbox.secret_key,
                        "CLERK_API_URL": slow_sandbox.url}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "migrate", "run", str(path), "--mapping",
         str(tmp_path / "map.toml"), "--rate", "20", "--quiet", "--no-check"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    while slow_sandbox.counters()["creates"] < 5 and proc.poll() is None:
        time.sleep(0.01)
    running = proc.poll() is None
    if running:
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)  # well inside the second it takes Clerk to answer what is on the wire
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert running, f"the run ended before the signals ({proc.returncode}): {err}"
    assert proc.returncode == 130, err
    assert "Stopping: finishing requests in flight" in err
    left = states(run_dir)
    assert left.get("in_flight", 0) > 0  # abandoned on the wire: the second signal took effect
    assert left.get("pending", 0) > 0
    for source in ("the run", "report"):
        if source == "report":
            done = CliRunner().invoke(main, ["report", str(run_dir)])
            assert done.exit_code == 0, done.output
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["run"]["passes"] == 1, source
        last = summary["run"]["last_pass"]
        assert last["interrupted"] is True
        assert last["abandoned"] is True
        assert last["created"] == left.get("created", 0)
        assert last["requests"] >= left.get("created", 0) + left["in_flight"]
    assert "This pass:" in out
