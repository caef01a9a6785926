"""The engine against the sandbox in-process (real HTTP semantics via its ASGI transport):
faults, stalls, 429 storms, abort codes and start-up reconciliation, with fast backoff."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import httpx

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.runner.engine import EngineSettings, RunOutcome, execute
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.runner.workers import WorkerSettings
from migrate._internal.secrets import Secret
from migrate._internal.state import Fingerprints, PlanRow, RowState, StateStore
from migrate.sandbox import FaultConfig, InProcessSandbox, SandboxConfig, in_process_sandbox

FAST = WorkerSettings(max_attempts=12, backoff_base=0.001, backoff_cap=0.01)


@dataclass(frozen=True)
class P:
    """A payload as ``prepare`` yields it."""

    row: int
    key: str
    body: dict[str, Any]


def body(row: int, **extra: Any) -> dict[str, Any]:
    """A valid CreateUser body for ``row``."""
    return {"external_id": f"u{row}", "email_address": [f"u{row}@example.com"], **extra}


def store_for(tmp_path: Path, n: int) -> StateStore:
    """A planned state DB of ``n`` pending rows (rows 2..n+1)."""
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan(PlanRow(r, f"u{r}", f"u{r}", f"u{r}@example.com") for r in range(2, n + 2))
    return store


def migrate(
    sandbox: InProcessSandbox,
    store: StateStore,
    *,
    rate: float = 5000.0,
    worker: WorkerSettings = FAST,
    timeout: float = 5.0,
    key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> RunOutcome:
    """One engine pass through a ``ClerkClient`` wired to the in-process sandbox."""

    def payloads(rows: Sequence[int]) -> Iterator[P]:
        return (P(r, f"u{r}", body(r, **(extra or {}))) for r in rows)

    async def main() -> RunOutcome:
        client = ClerkClient(
            sandbox.url,
            Secret(key or sandbox.secret_key),
            transport=sandbox.transport,
            timeout=httpx.Timeout(timeout),
        )
        async with client:
            settings = EngineSettings(rate=rate, worker=worker, record_interval=0.0)
            return await execute(client, StoreLedger(store), payloads, settings)

    return anyio.run(main)


def assert_all_once(sandbox: InProcessSandbox, store: StateStore, n: int) -> None:
    """Every row created exactly once, and the state DB agrees with the sandbox."""
    ids = [u.external_id for u in sandbox.store]
    assert sorted(ids, key=str) == sorted(f"u{r}" for r in range(2, n + 2))
    assert store.counts()[RowState.CREATED] == n
    clerk = {u.external_id: sandbox.store.user_id(u.seq) for u in sandbox.store}
    assert {ext: uid for _, ext, uid in store.iter_id_map()} == clerk


def test_heavy_5xx_and_lost_responses_create_each_row_once(tmp_path: Path) -> None:
    """30 % 5xx and 20 % lost responses: every row exists once, lost ones found by lookup.

    About half of all calls (creates and lookups) fail here, so with FAST's 12 attempts a row
    sometimes ran out and stayed in_flight for the next start, as designed (3 passes of 15 on
    a loaded machine). With 30 attempts (0.5**30 per row) the pass itself settles every row."""
    sandbox = in_process_sandbox(
        SandboxConfig.for_tests(faults=FaultConfig(error_rate=0.3, lost_rate=0.2), seed=5)
    )
    store = store_for(tmp_path, 200)
    outcome = migrate(sandbox, store, worker=replace(FAST, max_attempts=30))
    assert_all_once(sandbox, store, 200)
    assert outcome.retries > 50
    assert sandbox.counters()["faults"]


def test_stalls_past_the_timeout_are_reconciled_not_duplicated(tmp_path: Path) -> None:
    """Requests stalled past the client timeout (some after storing) end up created once."""
    faults = FaultConfig(stall_rate=0.15, stall_seconds=2.0, stall_after_store=True)
    sandbox = in_process_sandbox(SandboxConfig.for_tests(faults=faults, seed=2))
    store = store_for(tmp_path, 60)
    outcome = migrate(sandbox, store, timeout=0.1)
    assert_all_once(sandbox, store, 60)
    assert outcome.retries > 0


def test_a_429_storm_is_absorbed_by_the_global_pause(tmp_path: Path) -> None:
    """A limit far below our rate: 429s pause everyone; every row created once."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests(rate_limit=10, rate_window=0.2))
    store = store_for(tmp_path, 30)
    outcome = migrate(sandbox, store, rate=2000.0)
    assert_all_once(sandbox, store, 30)
    assert outcome.pacing.rate_limited == sandbox.counters()["rate_limited"] > 0
    assert outcome.pacing.pauses >= 1


def test_a_bad_key_aborts_before_creating_anything(tmp_path: Path) -> None:
    """clerk_key_invalid stops the pass; nothing created, every row still pending."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = store_for(tmp_path, 30)
    outcome = migrate(sandbox, store, key="sk_test_" + "x" * 40)
    assert outcome.abort_code == "clerk_key_invalid"
    assert len(sandbox.store) == 0
    counts = store.counts()
    assert counts[RowState.PENDING] == 30
    assert counts[RowState.IN_FLIGHT] == counts[RowState.FAILED] == 0


def test_an_instance_setting_that_dooms_every_row_stops_the_run(tmp_path: Path) -> None:
    """Phones disabled on the instance: a streak of form_param_unknown aborts the pass."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests(phone_enabled=False))
    store = store_for(tmp_path, 200)
    outcome = migrate(sandbox, store, extra={"phone_number": ["+14155550100"]})
    assert outcome.abort_code == "form_param_unknown"
    counts = store.counts()
    assert 25 <= counts[RowState.FAILED] < 200
    assert counts[RowState.PENDING] > 0
    assert counts[RowState.IN_FLIGHT] == 0


def test_in_flight_rows_of_a_crashed_run_are_looked_up_first(tmp_path: Path) -> None:
    """Rows left in_flight whose users exist are marked created by a lookup, never re-sent."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = store_for(tmp_path, 250)
    store.claim(list(range(2, 232)))  # 230 claimed by a process that then died

    async def precreate() -> None:
        async with sandbox.client() as http:
            for r in range(2, 122):  # ... after 120 of its creates reached Clerk
                (await http.post("/v1/users", json=body(r))).raise_for_status()

    anyio.run(precreate)
    before = sandbox.counters()["creates"]
    outcome = migrate(sandbox, store)
    assert outcome.reconciled.found == 120
    assert outcome.reconciled.released == 110
    assert sandbox.counters()["creates"] - before == 130
    assert_all_once(sandbox, store, 250)
