"""The moves made on a finished run: ``revalidate`` (retry --input) and ``roll_back`` (rollback),
on a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from migrate._internal.state import (
    RETRY_NOTE,
    ROLLED_BACK,
    Completed,
    Failed,
    Fingerprints,
    PlanRow,
    RowState,
    StateStore,
)
from migrate.errors import StateError

FP = Fingerprints({"users.csv": "a" * 64}, "c" * 64)
BAD_EMAIL = {"field": "email_address", "reason": "invalid_email", "message": "not an email"}
BAD_PHONE = {"field": "phone_number", "reason": "invalid_phone", "message": "not a phone"}


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    """Rows 1-2 created, 3-4 invalid, 5 pending, 6 shares row 3's key (a duplicate)."""
    s = StateStore.create(tmp_path / "state.sqlite", FP)
    s.plan([
        PlanRow(1, "k1", "k1", "a@x.io"),
        PlanRow(2, "k2", "k2", "b@x.io"),
        PlanRow(3, "k3", "k3", "bad", (BAD_EMAIL,)),
        PlanRow(4, "k4", "k4", "bad4", (BAD_EMAIL, BAD_PHONE)),
        PlanRow(5, "k5", "k5", "e@x.io"),
        PlanRow(6, "k3", "k3", "f@x.io", ({"field": "_key", "reason": "duplicate_key",
                                          "message": "k3 repeats row 3"},)),
    ])  # fmt: skip
    s.claim([1, 2])
    s.record_many([Completed(1, "user_1"), Completed(2, "user_2")])
    return s


def test_revalidate_requeues_corrected_rows_and_records_new_reasons(store: StateStore) -> None:
    """A now-valid row goes pending with old errors cleared and its corrected email; a still
    invalid one keeps state invalid with only the new reasons."""
    counts = store.revalidate(
        [PlanRow(3, "k3", "k3", "c@x.io"), PlanRow(4, "k4", "k4", "d@x.io", (BAD_PHONE,))],
        "fixed.csv",
    )
    assert counts == {RowState.PENDING: 1, RowState.INVALID: 1}
    fixed = store.get(3)
    assert fixed is not None
    assert (fixed.state, fixed.email, fixed.code, fixed.param, fixed.message, fixed.details) == (
        RowState.PENDING, "c@x.io", RETRY_NOTE, None, "corrected in fixed.csv", (),
    )  # fmt: skip
    again = store.get(4)
    assert again is not None
    assert (again.state, again.email, again.code, again.param, again.details) == (
        RowState.INVALID, "d@x.io", "invalid_phone", "phone_number", (BAD_PHONE,),
    )  # fmt: skip
    assert list(store.row_numbers([RowState.PENDING])) == [3, 5]


def test_revalidate_refuses_a_row_that_is_not_invalid_and_applies_nothing(
    store: StateStore,
) -> None:
    """One row in the wrong state rolls the whole batch back, and the message names it."""
    with pytest.raises(StateError) as caught:
        store.revalidate([PlanRow(3, "k3", "k3", "c@x.io"), PlanRow(1, "k1", "k1", "a@x.io")])
    assert str(caught.value) == (
        f"{store.path}: cannot revalidate row 1: it is created, expected invalid"
    )
    with pytest.raises(StateError) as missing:
        store.revalidate([PlanRow(99, "k99")])
    assert str(missing.value) == f"{store.path}: cannot revalidate row 99: it is not planned"
    record = store.get(3)
    assert record is not None
    assert record.state is RowState.INVALID
    assert record.code == "invalid_email"


def test_shared_keys_names_keys_several_rows_hold(store: StateStore) -> None:
    """shared_keys picks keys held by more than one row (row 3 and its duplicate row 6)."""
    assert store.shared_keys(["k3", "k4", "k1", "nope"]) == {"k3"}
    assert store.shared_keys([]) == set()


def test_roll_back_moves_created_rows_to_pending_with_a_note(store: StateStore) -> None:
    """A rolled-back row is pending (rerun sends it), leaves the id map and is listed as such."""
    assert store.roll_back([(1, "user_1")]) == 1
    record = store.get(1)
    assert record is not None
    assert (record.state, record.clerk_user_id, record.code, record.message) == (
        RowState.PENDING, None, ROLLED_BACK, "user user_1 deleted by rollback",
    )  # fmt: skip
    assert list(store.iter_id_map()) == [("k2", "k2", "user_2")]
    assert list(store.iter_rolled_back()) == [(1, "k1", "k1", "user_1")]
    assert store.count_rolled_back() == 1
    assert list(store.row_numbers([RowState.PENDING])) == [1, 5]


def test_resending_a_rolled_back_row_clears_its_note(store: StateStore) -> None:
    """Once run creates the user again, the row is created with the new id and no note."""
    store.roll_back([(1, "user_1")])
    store.claim([1])
    store.record_many([Completed(1, "user_1b")])
    record = store.get(1)
    assert record is not None
    assert (record.state, record.clerk_user_id, record.code) == (RowState.CREATED, "user_1b", None)
    assert store.count_rolled_back() == 0
    assert list(store.iter_rolled_back()) == []


def test_roll_back_refuses_wrong_rows_and_applies_nothing(store: StateStore) -> None:
    """A row not created, or created for another user, refuses the whole batch."""
    with pytest.raises(StateError) as caught:
        store.roll_back([(1, "user_1"), (5, "user_5")])
    assert str(caught.value) == (
        f"{store.path}: cannot roll back row 5: it is pending, expected created"
    )
    with pytest.raises(StateError) as other:
        store.roll_back([(2, "user_other")])
    assert str(other.value) == (
        f"{store.path}: cannot roll back rows [2]: a row is repeated or its Clerk user id "
        "differs from the one recorded"
    )
    assert store.counts()[RowState.CREATED] == 2
    assert store.roll_back([]) == 0


def test_moves_survive_reopening_the_file_and_keep_the_schema(store: StateStore) -> None:
    """Both moves are committed to the file and add no column to the rows table."""
    store.roll_back([(2, "user_2")])
    store.revalidate([PlanRow(4, "k4", "k4", "d@x.io")], "fixed.csv")
    path = store.path
    store.close()
    with StateStore.open(path) as reopened:
        assert reopened.counts()[RowState.PENDING] == 3
        assert reopened.count_rolled_back() == 1
        columns = [r[1] for r in reopened._conn.execute("PRAGMA table_info(rows)")]
        assert len(columns) == 13


def test_requeue_corrected_records_the_corrected_key_data(store: StateStore) -> None:
    """A failed row requeued from a corrected file gets its email (what reconciliation looks
    up); a row that is not failed is left alone."""
    store.claim([5])
    store.record_many([Failed(5, "form_identifier_exists", "email_address", "taken")])
    moved = store.requeue_corrected(
        [PlanRow(5, "k5", "k5", "new@x.io"), PlanRow(1, "k1", "k1", "z@x.io")]
    )
    assert moved == 1
    record = store.get(5)
    assert record is not None
    assert (record.state, record.email, record.code, record.attempts) == (
        RowState.PENDING, "new@x.io", None, 1,
    )  # fmt: skip
    first = store.get(1)
    assert first is not None
    assert (first.state, first.email) == (RowState.CREATED, "a@x.io")
    assert store.requeue_corrected([]) == 0
