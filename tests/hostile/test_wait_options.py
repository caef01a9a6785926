"""``--outage-limit`` and ``--max-retry-after``: checked before anything is created (exit 2, one
line), and carried to the pass (an outage stops the run after the limit, Retry-After is capped)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_cases import csv_bytes, run

from migrate.cli import main
from migrate.sandbox import SandboxConfig, SandboxHandle

BAD = [
    ("--outage-limit", "0"),
    ("--outage-limit", "-5"),
    ("--outage-limit", "nan"),
    ("--outage-limit", "inf"),
    ("--max-retry-after", "0"),
    ("--max-retry-after", "-1"),
    ("--max-retry-after", "nan"),
]


@pytest.mark.parametrize(("flag", "value"), BAD)
def test_run_refuses_a_bad_wait_before_anything_exists(
    tmp_path: Path, mapping: Path, flag: str, value: str
) -> None:
    """``run``: exit 2 with one line naming the option and the value; no run directory."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3))
    run_dir = tmp_path / "run"
    args = ["run", str(path), "--mapping", str(mapping), "--sandbox", "--run-dir", str(run_dir)]
    result = CliRunner().invoke(main, [*args, flag, value])
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: {flag} must be a positive number of seconds, got {value}\n"
    assert not run_dir.exists()


@pytest.mark.parametrize(("flag", "value"), [BAD[0], BAD[4]])
def test_retry_and_sync_refuse_a_bad_wait_and_leave_the_run_alone(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle, flag: str, value: str
) -> None:
    """``retry`` and ``sync``: exit 2, one line, and the run directory's state DB is not
    touched."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3))
    run_dir = tmp_path / "run"
    assert run(sandbox, path, mapping, "--run-dir", str(run_dir)).exit_code == 0
    state = run_dir / "state.sqlite"
    before = state.read_bytes()
    env = {"CLERK_SECRET_KEY": sandbox.secret_key, "CLERK_API_URL": sandbox.url}
    commands = [
        ["retry", str(run_dir)],
        ["sync", str(path), "--mapping", str(mapping), "--run-dir", str(run_dir)],
    ]
    for command in commands:
        result = CliRunner().invoke(main, [*command, flag, value], env=env)
        assert result.exit_code == 2, result.output
        assert result.output == f"Error: {flag} must be a positive number of seconds, got 0\n"
    assert state.read_bytes() == before


def test_outage_limit_stops_a_run_against_an_unreachable_api(tmp_path: Path, mapping: Path) -> None:
    """Nothing listens at the API URL: with --outage-limit 0.5 the run stops after the first
    probe (not 300 s), exit 1, naming clerk_unreachable and the outage's duration, resumable."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3))
    with socket.socket() as held:  # bound, not listening: refused, and no one else gets it
        held.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{held.getsockname()[1]}"
        env = {"CLERK_SECRET_KEY": "sk_test_" + "k" * 30, "CLERK_API_URL": url}
        args = ["run", str(path), "--mapping", str(mapping), "-q", "--no-check"]
        result = CliRunner().invoke(main, [*args, "--outage-limit", "0.5"], env=env)
    assert result.exit_code == 1, result.output
    assert "the run stopped (clerk_unreachable): Clerk has been unreachable for" in (result.stderr)
    assert "Nothing is lost: fix the cause, then resume with:" in result.stderr
    assert "3 pending" in result.output


def test_max_retry_after_caps_the_instance_s_retry_after(
    tmp_path: Path, mapping: Path, make_sandbox: Callable[..., SandboxHandle]
) -> None:
    """An instance asking to wait 1 s after 10 requests: --max-retry-after 0.25 waits less, says
    so, and every row is still created."""
    handle = make_sandbox(SandboxConfig.for_tests(rate_limit=10, rate_window=1.0))
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(15))
    result = run(handle, path, mapping, "--max-retry-after", "0.25")
    assert result.exit_code == 0, result.output
    assert "Clerk asked to wait 1 s (429, Retry-After) (capped at 0 s)" in result.stderr
    assert len(handle.store) == 15
