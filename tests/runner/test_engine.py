"""One pass of the engine over a real SQLite state DB and a fake Clerk (no HTTP)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from runner_fakes import FakeApi, limited, rejected, transient

from migrate._internal.runner.engine import EngineSettings, RowWindow, execute
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.runner.workers import Stopper, WorkerSettings
from migrate._internal.state import Fingerprints, PlanRow, RowState, StateStore


@dataclass(frozen=True)
class P:
    """A payload as ``prepare`` yields it."""

    row: int
    key: str
    body: dict[str, Any]


def _body(row: int) -> dict[str, Any]:
    return {"external_id": f"u{row}", "email_address": [f"u{row}@example.com"]}


def _payloads(rows: Sequence[int]) -> Iterator[P]:
    for row in rows:
        yield P(row, f"u{row}", _body(row))


def _store(tmp_path: Path, n: int) -> StateStore:
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan(PlanRow(r, f"u{r}", f"u{r}", f"u{r}@example.com") for r in range(2, n + 2))
    return store


SETTINGS = EngineSettings(rate=100_000.0, record_interval=0.0)


def test_every_pending_row_is_created_once(tmp_path: Path) -> None:
    """A clean pass creates each pending row exactly once and records its Clerk id."""
    store = _store(tmp_path, 300)
    api = FakeApi()
    outcome = anyio.run(execute, api, StoreLedger(store), _payloads, SETTINGS)
    assert store.counts()[RowState.CREATED] == 300
    assert len(api.posts) == 300
    assert outcome.tally.created == 300
    assert all(api.count(f"u{r}") == 1 for r in range(2, 302))
    assert sum(1 for _ in store.iter_id_map()) == 300


def test_in_flight_rows_are_reconciled_before_anything_is_sent(tmp_path: Path) -> None:
    """Rows left in_flight are looked up first: found -> created, missing -> sent once."""
    store = _store(tmp_path, 250)
    store.claim(list(range(2, 152)))  # a crashed process claimed 150 rows
    api = FakeApi()
    for r in range(2, 52):  # ... and 50 of them reached Clerk
        api.add_user(f"u{r}", f"u{r}@example.com")
    outcome = anyio.run(execute, api, StoreLedger(store), _payloads, SETTINGS)
    assert outcome.reconciled.found == 50
    assert outcome.reconciled.released == 100
    assert api.finds == 2  # 150 external ids -> 2 lookups of <= 100
    assert len(api.posts) == 200
    assert store.counts()[RowState.CREATED] == 250
    assert all(api.count(f"u{r}") == 1 for r in range(2, 252))


def test_window_limits_which_rows_are_sent(tmp_path: Path) -> None:
    """--rows A-B and --limit N restrict the pass to that slice; the rest stays pending."""
    store = _store(tmp_path, 50)
    api = FakeApi()
    anyio.run(
        lambda: execute(api, StoreLedger(store), _payloads, SETTINGS, window=RowWindow(10, 30, 5))
    )
    assert sorted(api.posts) == sorted(f"u{r}" for r in range(10, 15))
    assert store.counts()[RowState.PENDING] == 45


def test_faults_and_conflicts_end_in_the_right_states(tmp_path: Path) -> None:
    """Lost responses, 5xx, 429s and conflicts each end in the state the design gives."""
    store = _store(tmp_path, 6)
    api = FakeApi(
        {
            "u2": ["lost"],
            "u3": [transient(), transient()],
            "u4": [limited()],
            "u5": [rejected("form_param_format_invalid", "email_address")],
        }
    )
    api.add_user("u6", "u6@example.com")  # already migrated: exists
    api.add_user("someone", "u7@example.com")  # email held by another user: conflict
    outcome = anyio.run(execute, api, StoreLedger(store), _payloads, SETTINGS)
    states = {r.row: (r.state, r.code) for r in store.iter_rows()}
    assert states == {
        2: (RowState.CREATED, None),
        3: (RowState.CREATED, None),
        4: (RowState.CREATED, None),
        5: (RowState.FAILED, "form_param_format_invalid"),
        6: (RowState.EXISTS, None),
        7: (RowState.FAILED, "form_identifier_exists"),
    }
    assert api.count("u2") == 1
    assert outcome.pacing.rate_limited == 1
    assert outcome.retries >= 4


def test_an_interrupt_saves_state_and_leaves_the_rest_pending(tmp_path: Path) -> None:
    """Stopping mid-pass leaves no row in_flight: done rows recorded, the rest pending."""
    store = _store(tmp_path, 500)
    api = FakeApi()
    stopper = Stopper()
    original = api.create_user

    async def create(body: dict[str, Any]) -> Any:
        if len(api.posts) == 100:
            stopper.interrupt()
        return await original(body)

    api.create_user = create  # type: ignore[method-assign]
    outcome = anyio.run(
        lambda: execute(api, StoreLedger(store), _payloads, SETTINGS, stopper=stopper)
    )
    counts = store.counts()
    assert outcome.interrupted
    assert counts[RowState.IN_FLIGHT] == 0
    assert counts[RowState.CREATED] == len(api.posts)
    assert counts[RowState.PENDING] == 500 - len(api.posts)


def test_an_interrupt_while_the_producer_waits_for_room_loses_no_row(tmp_path: Path) -> None:
    """A stop that finds the producer blocked on a full queue, with requests that yield as a
    network call does, still ends with no row in_flight: sent rows recorded, the rest pending."""
    store = _store(tmp_path, 300)
    api = FakeApi()
    stopper = Stopper()
    original = api.create_user

    async def create(body: dict[str, Any]) -> Any:
        await anyio.sleep(0)  # a real request suspends the worker
        if len(api.posts) == 40:
            stopper.interrupt()
        return await original(body)

    api.create_user = create  # type: ignore[method-assign]
    settings = EngineSettings(
        rate=100_000.0, concurrency=3, claim_batch=25, queue_size=4, record_interval=0.0
    )
    outcome = anyio.run(
        lambda: execute(api, StoreLedger(store), _payloads, settings, stopper=stopper)
    )
    counts = store.counts()
    assert outcome.interrupted
    assert counts[RowState.IN_FLIGHT] == 0
    assert counts[RowState.CREATED] == len(api.posts)
    assert 40 <= len(api.posts) < 50
    assert counts[RowState.PENDING] == 300 - len(api.posts)
    # every claimed row (whole claims of 25) was either sent or handed back
    assert (len(api.posts) + outcome.tally.released) % 25 == 0


def test_an_abort_code_stops_the_pass_resumably(tmp_path: Path) -> None:
    """An abort code mid-run is reported; rows are pending or done, none in_flight or lost."""
    store = _store(tmp_path, 200)
    api = FakeApi({"u50": [rejected("user_quota_exceeded")]})
    outcome = anyio.run(execute, api, StoreLedger(store), _payloads, SETTINGS)
    counts = store.counts()
    assert outcome.abort_code == "user_quota_exceeded"
    assert counts[RowState.IN_FLIGHT] == 0
    assert counts[RowState.FAILED] == 0
    assert counts[RowState.CREATED] + counts[RowState.PENDING] == 200


def test_an_outage_stops_the_run_instead_of_failing_every_row(tmp_path: Path) -> None:
    """When Clerk cannot be reached, a streak of give-ups stops the pass; most rows stay pending."""
    store = _store(tmp_path, 300)
    down = transient(ambiguous=False, code="connection")
    api = FakeApi({f"u{r}": [down] * 10 for r in range(2, 302)})
    settings = EngineSettings(
        rate=100_000.0,
        record_interval=0.0,
        worker=WorkerSettings(max_attempts=2, backoff_base=0.0, outage_rows=10),
    )
    outcome = anyio.run(execute, api, StoreLedger(store), _payloads, settings)
    counts = store.counts()
    assert outcome.abort_code == "clerk_unreachable"
    assert counts[RowState.CREATED] == 0
    assert counts[RowState.FAILED] < 100
    assert counts[RowState.PENDING] > 200
    assert counts[RowState.IN_FLIGHT] == 0


def test_in_flight_rows_without_external_id_are_reconciled_by_email(tmp_path: Path) -> None:
    """Rows with no external_id left in_flight are matched on primary email (and no ext id)."""
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    store.plan(PlanRow(r, f"k{r}", None, f"u{r}@example.com") for r in range(2, 8))
    store.claim(list(range(2, 8)))
    api = FakeApi()
    mine = api.add_user(None, "U2@example.com")
    api.add_user("someone", "u3@example.com")  # same email but another's: not this row

    def payloads(rows: Sequence[int]) -> Iterator[P]:
        return (P(r, f"k{r}", {"email_address": [f"u{r}@example.com"]}) for r in rows)

    outcome = anyio.run(execute, api, StoreLedger(store), payloads, SETTINGS)
    assert outcome.reconciled.found == 1
    record = store.get(2)
    assert record is not None
    assert record.clerk_user_id == mine
    states = {r.row: (r.state, r.code) for r in store.iter_rows()}
    assert states[3] == (RowState.FAILED, "form_identifier_exists")
    assert all(states[r] == (RowState.CREATED, None) for r in (2, 4, 5, 6, 7))
