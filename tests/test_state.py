"""The SQLite checkpoint: planning, named moves, refusals, fingerprints and reads."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from migrate._internal.state import (
    SCHEMA_VERSION,
    Completed,
    Existed,
    Failed,
    Fingerprints,
    Move,
    PlanRow,
    Reconciled,
    Released,
    RowState,
    StateStore,
)
from migrate.errors import ResumeMismatchError, StateError

FP = Fingerprints({"users.csv": "a" * 64, "extra.csv": "b" * 64}, "c" * 64)
BAD_EMAIL = {"field": "email_address", "reason": "invalid_email", "message": "not an email"}
NO_ID = {"field": "external_id", "reason": "missing_key", "message": "no key"}


class Clock:
    """A settable clock, so timestamps are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    """A fake clock starting at t=1000."""
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[StateStore]:
    """A state DB planned with rows 2-6 pending and row 7 invalid."""
    s = StateStore.create(tmp_path / "state.sqlite", FP, {"rate": 90.0}, clock=clock)
    s.plan(
        [PlanRow(r, f"k{r}", f"ext{r}", f"u{r}@example.com") for r in range(2, 7)]
        + [PlanRow(7, "k7", None, "bad", [BAD_EMAIL, NO_ID])]
    )
    yield s
    s.close()


def states(store: StateStore) -> dict[int, RowState]:
    """Every row's state."""
    return {r.row: r.state for r in store.iter_rows()}


# --- creating and opening ------------------------------------------------------------------


def test_create_then_open_keeps_fingerprints_options_and_version(tmp_path: Path) -> None:
    """What create records is what open reads back, with the current schema version."""
    path = tmp_path / "state.sqlite"
    StateStore.create(path, FP, {"rate": 90.0, "rows": "2-9"}).close()
    with StateStore.open(path) as reopened:
        assert reopened.fingerprints() == FP
        assert reopened.options() == {"rate": 90.0, "rows": "2-9"}
        assert reopened.get_meta("created_at") is not None
        assert not reopened.planned
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_create_refuses_an_existing_file(tmp_path: Path) -> None:
    """Creating over an existing state DB would lose a run: refused."""
    path = tmp_path / "state.sqlite"
    StateStore.create(path, FP).close()
    with pytest.raises(StateError, match="a state DB already exists; open it to resume"):
        StateStore.create(path, FP)


def test_create_in_a_missing_directory_is_a_state_error(tmp_path: Path) -> None:
    """An unusable location is reported as StateError naming the path."""
    path = tmp_path / "nope" / "state.sqlite"
    with pytest.raises(StateError, match="cannot open the state DB"):
        StateStore.create(path, FP)


def test_open_missing_file(tmp_path: Path) -> None:
    """Opening where there is no state DB says so."""
    path = tmp_path / "state.sqlite"
    with pytest.raises(StateError) as info:
        StateStore.open(path)
    assert str(info.value) == f"{path}: no state DB here"


def test_open_a_file_that_is_not_a_state_db(tmp_path: Path) -> None:
    """A random file (or another SQLite DB) is refused, not silently used."""
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateError, match=r"cannot open the state DB|not a clerk-migrate state DB"):
        StateStore.open(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    with pytest.raises(StateError, match="not a clerk-migrate state DB"):
        StateStore.open(other)


def test_open_refuses_another_schema_version(tmp_path: Path) -> None:
    """A state DB from a newer clerk-migrate is refused with both versions named."""
    path = tmp_path / "state.sqlite"
    StateStore.create(path, FP).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(StateError) as info:
        StateStore.open(path)
    assert str(info.value) == (
        f"{path}: state DB schema version 99; this clerk-migrate reads version {SCHEMA_VERSION}"
    )


def test_the_rows_table_has_no_column_for_a_secret(store: StateStore) -> None:
    """The schema stores keys, states, ids and errors only: no password/digest/TOTP column."""
    with sqlite3.connect(store.path) as conn:
        columns = {r[1] for r in conn.execute("PRAGMA table_info(rows)")}
    conn.close()
    assert columns == {
        "row", "key", "external_id", "email", "state", "clerk_user_id", "code", "param",
        "message", "attempts", "retryable", "updated_at", "details",
    }  # fmt: skip


# --- fingerprints --------------------------------------------------------------------------


def test_same_fingerprints_resume(store: StateStore) -> None:
    """Unchanged inputs and mapping pass the check."""
    store.check_fingerprints(Fingerprints(dict(FP.inputs), FP.mapping))


def test_changed_input_is_named(store: StateStore) -> None:
    """One changed input is named, with what to do."""
    changed = Fingerprints({"users.csv": "f" * 64, "extra.csv": "b" * 64}, FP.mapping)
    with pytest.raises(ResumeMismatchError) as info:
        store.check_fingerprints(changed)
    assert str(info.value) == (
        f"cannot resume {store.path}: input users.csv changed since the run was planned; "
        "restore the original files, or start a new run with another --run-dir"
    )


def test_every_change_is_named_at_once(store: StateStore) -> None:
    """Added, missing and changed inputs and a changed mapping are all listed, sorted."""
    changed = Fingerprints({"users.csv": "f" * 64, "new.csv": "d" * 64}, "e" * 64)
    with pytest.raises(ResumeMismatchError) as info:
        store.check_fingerprints(changed)
    assert str(info.value) == (
        f"cannot resume {store.path}: input extra.csv is no longer given, input new.csv was "
        "added, input users.csv changed, the mapping changed since the run was planned; "
        "restore the original files, or start a new run with another --run-dir"
    )


# --- planning ------------------------------------------------------------------------------


def test_plan_counts_and_records_invalid_rows(store: StateStore) -> None:
    """Valid rows are pending; an invalid row keeps its first error in code/param/message and
    every error in details."""
    assert store.planned
    assert store.counts() == {
        RowState.PENDING: 5, RowState.IN_FLIGHT: 0, RowState.CREATED: 0, RowState.EXISTS: 0,
        RowState.FAILED: 0, RowState.INVALID: 1, RowState.SKIPPED: 0,
    }  # fmt: skip
    invalid = store.get(7)
    assert invalid is not None
    assert (invalid.state, invalid.code, invalid.param, invalid.message) == (
        RowState.INVALID, "invalid_email", "email_address", "not an email",
    )  # fmt: skip
    assert invalid.details == (BAD_EMAIL, NO_ID)
    assert store.get(99) is None


def test_plan_returns_counts_per_state(tmp_path: Path) -> None:
    """plan() reports how many rows became pending and invalid."""
    with StateStore.create(tmp_path / "s.sqlite", FP) as s:
        counts = s.plan([PlanRow(2, "a"), PlanRow(3, "b", errors=[BAD_EMAIL])])
        assert counts == {RowState.PENDING: 1, RowState.INVALID: 1, RowState.SKIPPED: 0}


def test_plan_puts_rows_with_a_skip_reason_in_skipped(tmp_path: Path) -> None:
    """A PlanRow with skip is planned skipped with the reason as its code, even with errors."""
    with StateStore.create(tmp_path / "s.sqlite", FP) as s:
        counts = s.plan(
            [PlanRow(2, "a"), PlanRow(3, "b", errors=[BAD_EMAIL], skip="deleted_in_source")]
        )
        assert counts == {RowState.PENDING: 1, RowState.INVALID: 0, RowState.SKIPPED: 1}
        record = s.get(3)
        assert record is not None
        assert (record.state, record.code) == (RowState.SKIPPED, "deleted_in_source")
        assert [r.row for r in s.iter_rows((RowState.PENDING,))] == [2]


def test_plan_runs_once(store: StateStore) -> None:
    """A second plan on the same DB is refused (it would duplicate rows)."""
    with pytest.raises(StateError, match="already planned; resume it instead"):
        store.plan([PlanRow(100, "x")])


def test_plan_refuses_a_row_without_a_key(tmp_path: Path) -> None:
    """A row without a key cannot be tracked across runs: the plan is refused and says why."""
    with StateStore.create(tmp_path / "s.sqlite", FP) as s:
        with pytest.raises(StateError, match="cannot plan: the plan has a row without a key"):
            s.plan([PlanRow(2, None)])  # type: ignore[arg-type]
        assert not s.planned


def test_plan_is_atomic_on_a_repeated_row(tmp_path: Path) -> None:
    """A repeated row number refuses the whole plan: no partial plan is left behind."""
    with StateStore.create(tmp_path / "s.sqlite", FP) as s:
        with pytest.raises(StateError, match="cannot plan: the plan repeats a row number"):
            s.plan([PlanRow(2, "a"), PlanRow(3, "b"), PlanRow(2, "c")])
        assert not s.planned
        assert sum(s.counts().values()) == 0
        s.plan([PlanRow(2, "a")])
        assert s.counts()[RowState.PENDING] == 1


# --- claiming ------------------------------------------------------------------------------


def test_claim_moves_pending_to_in_flight(store: StateStore) -> None:
    """claim marks the rows in_flight and returns their keys in the order given."""
    claimed = store.claim([4, 2])
    assert claimed == [
        PlanRow(4, "k4", "ext4", "u4@example.com"),
        PlanRow(2, "k2", "ext2", "u2@example.com"),
    ]
    assert [r.row for r in store.in_flight_rows()] == [2, 4]
    assert store.claim([]) == []


def test_claim_is_all_or_nothing(store: StateStore) -> None:
    """One row that is not pending refuses the whole claim and claims nothing."""
    store.claim([3])
    with pytest.raises(StateError) as info:
        store.claim([2, 3, 4])
    assert str(info.value) == f"{store.path}: cannot claim row 3: it is in_flight, expected pending"
    assert [r.row for r in store.in_flight_rows()] == [3]


@pytest.mark.parametrize(("row", "text"), [(7, "it is invalid"), (99, "it not planned")])
def test_claim_refuses_invalid_and_unknown_rows(store: StateStore, row: int, text: str) -> None:
    """Invalid rows are never sent; unknown rows cannot be claimed."""
    with pytest.raises(StateError, match=f"cannot claim row {row}: {text}"):
        store.claim([row])


# --- finishing moves -----------------------------------------------------------------------


def test_complete_records_the_user_and_attempts(store: StateStore, clock: Clock) -> None:
    """Completed: in_flight -> created, with the Clerk id, attempts added, time stamped."""
    store.claim([2])
    clock.now = 2000.0
    store.record_many([Completed(2, "user_2", attempts=3)])
    record = store.get(2)
    assert record is not None
    assert (record.state, record.clerk_user_id, record.attempts, record.updated_at) == (
        RowState.CREATED, "user_2", 3, 2000.0,
    )  # fmt: skip


def test_reconciled_and_mark_exists(store: StateStore) -> None:
    """A found lost create becomes created; a pre-existing same-external_id user is exists."""
    store.claim([2, 3])
    store.record_many([Reconciled(2, "user_2"), Existed(3, "user_3")])
    assert states(store)[2] is RowState.CREATED
    assert states(store)[3] is RowState.EXISTS
    assert list(store.iter_id_map()) == [("k2", "ext2", "user_2"), ("k3", "ext3", "user_3")]


def test_fail_records_code_param_message(store: StateStore) -> None:
    """Failed: in_flight -> failed with Clerk's code, param, message and retryable flag."""
    store.claim([4])
    store.record_many(
        [Failed(4, "internal_clerk_error", None, "gave up after 5 tries", True, attempts=5)]
    )
    record = store.get(4)
    assert record is not None
    assert (record.state, record.code, record.param, record.message) == (
        RowState.FAILED, "internal_clerk_error", None, "gave up after 5 tries",
    )  # fmt: skip
    assert (record.retryable, record.attempts, record.clerk_user_id) == (True, 5, None)


def test_release_returns_the_row_to_pending(store: StateStore) -> None:
    """Released: in_flight -> pending (never sent, or lookup found nothing); it can be reclaimed."""
    store.claim([5])
    store.record_many([Released(5, attempts=1)])
    record = store.get(5)
    assert record is not None
    assert (record.state, record.attempts) == (RowState.PENDING, 1)
    assert store.claim([5])[0].row == 5


MOVES: dict[str, Callable[[int], Move]] = {
    "complete": lambda row: Completed(row, "user_x"),
    "reconciled": lambda row: Reconciled(row, "user_x"),
    "mark_exists": lambda row: Existed(row, "user_x"),
    "fail": lambda row: Failed(row, "form_param_unknown"),
    "release": Released,
}


@pytest.mark.parametrize("move", sorted(MOVES))
@pytest.mark.parametrize("state", ["pending", "created", "exists", "failed", "invalid"])
def test_moves_need_an_in_flight_row(store: StateStore, move: str, state: str) -> None:
    """Every finishing move refuses a row that is not in_flight, naming move, row and state."""
    if state == "invalid":
        row = 7
    else:
        row = 2
        if state != "pending":
            store.claim([2])
            store.record_many([{"created": Completed(2, "u"), "exists": Existed(2, "u"),
                                "failed": Failed(2, "c")}[state]])  # fmt: skip
    before = store.get(row)
    with pytest.raises(StateError) as info:
        store.record_many([MOVES[move](row)])
    assert str(info.value) == (
        f"{store.path}: cannot {move} row {row}: it is {state}, expected in_flight"
    )
    assert store.get(row) == before


def test_a_refused_batch_applies_nothing(store: StateStore) -> None:
    """record_many is one transaction: one illegal move rolls back the moves before it."""
    store.claim([2, 3, 4])
    with pytest.raises(StateError, match="cannot complete row 5: it is pending"):
        store.record_many(
            [Completed(2, "u2"), Failed(3, "x"), Completed(4, "u4"), Completed(5, "u5")]
        )
    assert [r.row for r in store.in_flight_rows()] == [2, 3, 4]


def test_the_same_row_twice_in_a_batch_is_refused(store: StateStore) -> None:
    """Two final moves for one row in a batch are a bug: refused, nothing applied."""
    store.claim([2])
    with pytest.raises(
        StateError, match="cannot complete row 2: it moved earlier in the same batch"
    ):
        store.record_many([Completed(2, "u2"), Completed(2, "u2")])
    assert states(store)[2] is RowState.IN_FLIGHT


def test_a_mixed_batch_applies_in_order(store: StateStore) -> None:
    """A batch of different moves applies each to its row in one commit."""
    store.claim([2, 3, 4, 5, 6])
    store.record_many(
        [Completed(2, "u2"), Completed(3, "u3"), Failed(4, "form_param_format_invalid",
         "email_address", "bad", details=[{"code": "form_param_format_invalid"}]),
         Released(5), Existed(6, "u6")]
    )  # fmt: skip
    assert states(store) == {
        2: RowState.CREATED, 3: RowState.CREATED, 4: RowState.FAILED, 5: RowState.PENDING,
        6: RowState.EXISTS, 7: RowState.INVALID,
    }  # fmt: skip
    failed = store.get(4)
    assert failed is not None
    assert failed.details == ({"code": "form_param_format_invalid"},)


# --- retry ---------------------------------------------------------------------------------


@pytest.fixture
def failures(store: StateStore) -> StateStore:
    """Rows 2-5 failed with different codes (3 retryable), row 6 created."""
    store.claim([2, 3, 4, 5, 6])
    store.record_many(
        [Failed(2, "form_password_pwned"), Failed(3, "internal_clerk_error", retryable=True),
         Failed(4, "form_password_pwned"), Failed(5, "form_param_unknown"), Completed(6, "u6")]
    )  # fmt: skip
    return store


def test_requeue_all_failed(failures: StateStore) -> None:
    """requeue_failed() with no filter sends every failed row back to pending, clearing errors."""
    assert failures.requeue_failed() == 4
    record = failures.get(2)
    assert record is not None
    assert (record.state, record.code, record.message, record.attempts) == (
        RowState.PENDING, None, None, 1,
    )  # fmt: skip
    assert states(failures)[6] is RowState.CREATED


def test_requeue_by_code_rows_and_retryable(failures: StateStore) -> None:
    """Filters combine: codes, explicit rows (non-failed ones ignored), retryable only."""
    assert failures.requeue_failed(codes=["form_password_pwned"], rows=[4, 6, 99]) == 1
    assert states(failures)[4] is RowState.PENDING
    assert states(failures)[2] is RowState.FAILED
    assert failures.requeue_failed(retryable_only=True) == 1
    assert states(failures)[3] is RowState.PENDING
    assert failures.requeue_failed(codes=[]) == 0
    assert failures.requeue_failed(codes=["form_password_pwned", "form_param_unknown"]) == 2


# --- reading -------------------------------------------------------------------------------


def test_code_counts_order_by_frequency(failures: StateStore) -> None:
    """code_counts lists failed and invalid rows per code, most frequent first."""
    assert list(failures.code_counts().items()) == [
        ((RowState.FAILED, "form_password_pwned"), 2),
        ((RowState.FAILED, "form_param_unknown"), 1),
        ((RowState.FAILED, "internal_clerk_error"), 1),
        ((RowState.INVALID, "invalid_email"), 1),
    ]


def test_iterators_stream_in_row_order(failures: StateStore) -> None:
    """iter_errors lists failed and invalid rows; row_numbers feeds failed_rows.<ext>."""
    assert [r.row for r in failures.iter_errors()] == [2, 3, 4, 5, 7]
    assert list(failures.row_numbers([RowState.FAILED, RowState.INVALID])) == [2, 3, 4, 5, 7]
    assert list(failures.row_numbers([])) == []
    assert [r.row for r in failures.iter_rows([RowState.CREATED])] == [6]
    assert list(failures.iter_rows([])) == []


def test_meta_round_trips_json(store: StateStore) -> None:
    """set_meta stores JSON values (run statistics) that get_meta reads back."""
    store.set_meta("stats", {"429s": 3, "retries": 7})
    store.set_meta("stats", {"429s": 4, "retries": 7})
    assert store.get_meta("stats") == {"429s": 4, "retries": 7}
    assert store.get_meta("absent", "default") == "default"


def test_streaming_many_rows(tmp_path: Path) -> None:
    """Plans and iterators cross the executemany/fetchmany chunk size without losing rows."""
    with StateStore.create(tmp_path / "s.sqlite", FP) as s:
        n = 25_001
        s.plan(PlanRow(r, f"k{r}", f"e{r}") for r in range(1, n + 1))
        claimed = s.claim(range(1, n + 1))
        s.record_many(Completed(p.row, f"user_{p.row}") for p in claimed)
        ids = list(s.iter_id_map())
        assert len(ids) == n
        assert ids[-1] == (f"k{n}", f"e{n}", f"user_{n}")
        assert s.counts()[RowState.CREATED] == n
