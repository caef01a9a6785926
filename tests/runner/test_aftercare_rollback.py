"""``rollback_users`` records each batch of deletes as it goes, so a rollback stopped midway
resumes where it stopped (real-socket sandbox, real SQLite file)."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.runner.aftercare import RollbackResult, rollback_users
from migrate._internal.runner.pacing import Pacer
from migrate._internal.secrets import Secret
from migrate._internal.state import Completed, Fingerprints, PlanRow, RowState, StateStore
from migrate.sandbox import SandboxHandle


class StopError(Exception):
    """Raised from the progress callback to cut a rollback short, like Ctrl-C would."""


def created_run(sandbox: SandboxHandle, path: Path, n: int) -> StateStore:
    """A state DB whose rows 1..n are created, each with a real sandbox user."""
    store = StateStore.create(path, Fingerprints({"users.csv": "a" * 64}, "b" * 64))
    store.plan(PlanRow(i, f"u{i}", f"u{i}", f"user{i}@example.com") for i in range(1, n + 1))
    store.claim(range(1, n + 1))
    ids = []
    for i in range(1, n + 1):
        response = httpx.post(
            f"{sandbox.url}/v1/users",
            json={"external_id": f"u{i}", "email_address": [f"user{i}@example.com"]},
            headers={"Authorization": f"Bearer {sandbox.secret_key}"},
        )
        response.raise_for_status()
        ids.append(Completed(i, str(response.json()["id"])))
    store.record_many(ids)
    return store


async def _rollback(sandbox: SandboxHandle, store: StateStore, stop_after: int | None) -> None:
    def progress(result: RollbackResult) -> None:
        if stop_after is not None and result.deleted >= stop_after:
            raise StopError

    async with ClerkClient(sandbox.url, Secret(sandbox.secret_key)) as client:
        await rollback_users(client, Pacer(1000, fixed_concurrency=1), store, progress)


def test_a_rollback_stopped_midway_resumes_where_it_stopped(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Rows whose user was deleted before the stop are already pending; the next rollback deletes
    only the rest, and every row ends pending with no user left."""
    store = created_run(sandbox, tmp_path / "state.sqlite", 4)
    with pytest.raises(BaseExceptionGroup) as stopped:  # the task group wraps the stop
        anyio.run(_rollback, sandbox, store, 2)
    assert stopped.group_contains(StopError)
    assert len(sandbox.store) == 2
    assert [r.row for r in store.iter_rows((RowState.CREATED,))] == [3, 4]
    assert store.count_rolled_back() == 2
    deletes = sandbox.counters()["requests"]
    anyio.run(_rollback, sandbox, store, None)
    assert sandbox.counters()["requests"] == deletes + 2
    assert len(sandbox.store) == 0
    assert store.counts()[RowState.PENDING] == 4
    assert store.count_rolled_back() == 4
