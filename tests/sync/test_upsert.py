"""``run --upsert`` updates users already in Clerk to the input's rows, over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

import migrate
from migrate._internal.clerk.client import ClerkClient
from migrate._internal.delta.fingerprint import fingerprinted_fields
from migrate._internal.prepare import prepare_input
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.sync_send import SyncOptions, SyncTally
from migrate._internal.runner.upserting import UPSERT, upsert_existing
from migrate._internal.secrets import Secret
from migrate._internal.state import StateStore
from migrate.sandbox import SandboxHandle
from migrate.sandbox.config import FaultConfig
from migrate.sandbox.faults import Faults
from tests.sync.test_send import (
    MAPPING,
    NEW,
    connection,
    user,
    users_by_external_id,
    verifies,
    write,
)

HEADERS = {"Clerk-API-Version": "2026-05-12"}
# u1..u4 are in Clerk already (made by hand, by an earlier tool); u5, u6 are not
ROWS = [
    user(1),
    user(2, first="Renamed"),
    user(3, email="moved3@example.com", meta='{"plan": "pro"}'),
    user(4, hash=NEW),
    user(5),
    user(6),
]


def seed_existing(sandbox: SandboxHandle, count: int = 4) -> dict[str, str]:
    """Users u1..u``count`` as another tool made them: old names, password, extra metadata."""
    made = {}
    with httpx.Client(base_url=sandbox.url, headers={
        **HEADERS, "Authorization": f"Bearer {sandbox.secret_key}",
    }) as http:  # fmt: skip
        for i in range(1, count + 1):
            body = {"external_id": f"u{i}", "email_address": [f"user{i}@example.com"],
                    "first_name": f"Before{i}", "password": "old-pass",
                    "skip_password_checks": True,
                    "public_metadata": {"plan": "legacy", "stale": True}}  # fmt: skip
            answer = http.post("/v1/users", json=body)
            assert answer.status_code == 200, answer.text
            made[f"u{i}"] = answer.json()["id"]
    return made


@pytest.fixture
def setup(sandbox: SandboxHandle, tmp_path: Path) -> tuple[Path, Path]:
    """The mapping and an input whose u1..u4 are already users of the sandbox."""
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    seed_existing(sandbox)
    return write(tmp_path / "users.csv", ROWS), mapping


def assert_matches_rows(sandbox: SandboxHandle, rows: list[dict[str, str]]) -> None:
    """The sandbox holds each row's user once, with its name, primary email, metadata."""
    users = users_by_external_id(sandbox)
    assert sorted(users) == sorted(r["id"] for r in rows)
    for row in rows:
        got: dict[str, Any] = users[row["id"]]
        primary = next(e["email_address"] for e in got["email_addresses"]
                       if e["id"] == got["primary_email_address_id"])  # fmt: skip
        assert (got["first_name"], primary) == (row["first"], row["email"])
        assert got["public_metadata"] == json.loads(row["meta"])


def test_upsert_updates_existing_users_and_a_later_sync_sees_them_unchanged(
    sandbox: SandboxHandle, setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """Existing users take the rows' names, email, metadata and digest; sync then sends nothing."""
    users_csv, mapping = setup
    run_dir = tmp_path / "run"
    result = migrate.run(users_csv, mapping, connection=connection(sandbox), run_dir=run_dir,
                         rate=2000, upsert=True)  # fmt: skip
    assert result.exit_code == migrate.ExitCode.OK, result.this_pass
    assert result.this_pass is not None
    assert (result.this_pass.created, result.this_pass.exists) == (2, 4)
    assert result.this_pass.upserted == {"updated": 4}
    assert result.summary.upserts == {"done": 4}
    assert_matches_rows(sandbox, ROWS)
    users = users_by_external_id(sandbox)
    assert verifies(sandbox, users["u4"]["id"], "new-pass")
    assert not verifies(sandbox, users["u4"]["id"], "old-pass")
    assert verifies(sandbox, users["u1"]["id"], "old-pass")  # the row's digest: old-pass too
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["upserts"] == {"done": 4}
    assert summary["counts"]["exists"] == 4
    before = sandbox.counters()["requests"]
    again = migrate.run(users_csv, mapping, connection=connection(sandbox), run_dir=run_dir,
                        rate=2000, upsert=True)  # fmt: skip
    assert again.this_pass is not None
    assert again.this_pass.upsert_requests == 0
    synced = migrate.sync(users_csv, mapping, run_dir=run_dir, connection=connection(sandbox),
                          rate=2000)  # fmt: skip
    assert synced.counts["unchanged"] == 6
    assert synced.requests == 0
    assert sandbox.counters()["requests"] - before == again.this_pass.requests


def test_without_upsert_existing_users_are_left_as_they_were(
    sandbox: SandboxHandle, setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """A plain run records the existing users and sends them no update."""
    users_csv, mapping = setup
    result = migrate.run(users_csv, mapping, connection=connection(sandbox),
                         run_dir=tmp_path / "run", rate=2000)  # fmt: skip
    assert result.this_pass is not None
    assert result.this_pass.exists == 4
    assert result.this_pass.upserted == {}
    assert result.summary.upserts == {}
    assert users_by_external_id(sandbox)["u2"]["first_name"] == "Before2"
    assert sandbox.counters()["updates"] == 0


def test_upsert_with_lost_answers_and_5xx_converges_and_duplicates_nothing(
    sandbox: SandboxHandle, setup: tuple[Path, Path], tmp_path: Path
) -> None:
    """With 30 % lost answers and 30 % 5xx, repeated upserts bring every user to its row once."""
    users_csv, mapping = setup
    run_dir = tmp_path / "run"
    # the pass first, without faults: a 5xx on the create of a row whose user is already there
    # makes the runner's lookup take that user for its own (recorded created, not exists)
    migrate.run(users_csv, mapping, connection=connection(sandbox), run_dir=run_dir, rate=2000)
    sandbox.app.faults = Faults(FaultConfig(error_rate=0.3, lost_rate=0.3), seed=5)
    prepared = prepare_input(users_csv, str(mapping))
    fields = fingerprinted_fields(prepared.mapped().collect_schema().names())
    # one key at a time: the requests, and so the fault dice, come in the same order every time
    fast = SyncOptions(max_attempts=4, backoff_base=0.001, backoff_cap=0.01, batch=1)
    store = StateStore.open(run_dir / "state.sqlite")
    try:
        for _ in range(8):

            async def once() -> SyncTally:
                async with ClerkClient(sandbox.url, Secret(sandbox.secret_key)) as client:
                    return await upsert_existing(client, Pacer(2000), store, prepared.payloads,
                                                 fields, options=fast)  # fmt: skip

            anyio.run(once)
            if store.sync_states(UPSERT) == {"done": 4}:
                break
        assert store.sync_states(UPSERT) == {"done": 4}
    finally:
        store.close()
    assert sandbox.counters()["faults"].get("lost", 0) > 0
    sandbox.app.faults = Faults(FaultConfig(), seed=0)
    assert_matches_rows(sandbox, ROWS)
    assert verifies(sandbox, users_by_external_id(sandbox)["u4"]["id"], "new-pass")


def test_kill_9_mid_upsert_then_rerun_finishes_every_user_once(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A SIGKILL while existing users are updated; the rerun brings all to their rows."""
    n = 40
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    seed_existing(sandbox, n)
    rows = [user(i, first="Upserted") for i in range(1, n + 1)]
    users_csv = write(tmp_path / "users.csv", rows)
    sandbox.app.faults = Faults(FaultConfig(latency_mean_ms=40, latency_sigma=0.3,
                                            lost_rate=0.2), seed=3)  # fmt: skip
    env = os.environ | {"CLERK_SECRET_KEY": sandbox.secret_key}
    args = [sys.executable, "-m", "migrate", "run", str(users_csv), "-m", str(mapping),
            "--run-dir", str(tmp_path / "run"), "--api-url", sandbox.url, "--rate", "2000",
            "--concurrency", "2", "--upsert", "--quiet"]  # fmt: skip
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    while sandbox.counters()["updates"] < 10 and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, err
    assert sandbox.counters()["updates"] < 2 * n, "the upsert ended before the kill"
    sandbox.app.faults = Faults(FaultConfig(), seed=0)
    result = migrate.run(users_csv, mapping, connection=connection(sandbox),
                         run_dir=tmp_path / "run", rate=2000, upsert=True)  # fmt: skip
    assert result.exit_code == migrate.ExitCode.OK, result.this_pass
    assert result.summary.upserts == {"done": n}
    assert_matches_rows(sandbox, rows)


def test_the_command_upserts_and_prints_what_it_did(
    sandbox: SandboxHandle,
    setup: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`run --upsert` exits 0, says how many existing users it updated, and updates them."""
    from click.testing import CliRunner  # noqa: PLC0415

    from migrate.cli import main  # noqa: PLC0415

    users_csv, mapping = setup
    monkeypatch.setenv("CLERK_SECRET_KEY", sandbox.secret_key)
    args = ["run", str(users_csv), "-m", str(mapping), "--run-dir", str(tmp_path / "run"),
            "--api-url", sandbox.url, "--rate", "2000", "--quiet", "--upsert"]  # fmt: skip
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "Upsert of users already there: 4 updated (" in done.stdout
    assert "Upserted: 4 existing users up to date\n" in done.stdout
    assert_matches_rows(sandbox, ROWS)
