"""The state DB's organizations and memberships: one file, the same state machine per kind."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from migrate._internal.state import (
    SCHEMA_VERSION,
    Completed,
    Existed,
    Failed,
    Fingerprints,
    MemberPlanRow,
    PlanRow,
    Released,
    RowRecord,
    RowState,
    StateStore,
)
from migrate.errors import StateError

FP = Fingerprints({"users.csv": "a" * 64}, "c" * 64)
NO_NAME = {"field": "organization.name", "reason": "missing", "message": "no name"}
NO_USER = {"field": "membership.user", "reason": "unknown_user", "message": "no such user"}


def rec(store: StateStore, row: int) -> RowRecord:
    """Row ``row`` of ``store``'s kind, which must exist."""
    found = store.get(row)
    assert found is not None
    return found


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    """Users 2-4 pending; organizations 2-3 pending and 4 invalid; four memberships, one invalid."""
    s = StateStore.create(tmp_path / "state.sqlite", FP, {}, clock=lambda: 1000.0)
    s.plan([PlanRow(r, f"u{r}", f"ext{r}", f"u{r}@example.com") for r in range(2, 5)])
    s.kind("organizations").plan(
        [PlanRow(2, "acme", "acme"), PlanRow(3, "globex", "globex-inc"),
         PlanRow(4, "nameless", "nameless", None, [NO_NAME])]
    )  # fmt: skip
    s.kind("memberships").plan_memberships(
        [
            MemberPlanRow(1, 2, "u2", "acme", "org:admin"),
            MemberPlanRow(2, 2, "u3", "acme", "org:member"),
            MemberPlanRow(3, 3, "u2", "globex", "org:member"),
            MemberPlanRow(4, 4, "ghost", "globex", "org:member", [NO_USER]),
        ]
    )
    yield s
    s.close()


def test_each_kind_counts_its_own_rows(store: StateStore) -> None:
    """Users, organizations and memberships are planned and counted apart, in one file."""
    orgs, members = store.kind("organizations"), store.kind("memberships")
    assert store.counts()[RowState.PENDING] == 3
    assert orgs.counts()[RowState.PENDING] == 2
    assert orgs.counts()[RowState.INVALID] == 1
    assert members.counts()[RowState.PENDING] == 3
    assert members.counts()[RowState.INVALID] == 1
    assert [store.planned, orgs.planned, members.planned] == [True, True, True]


def test_moves_on_a_kind_leave_the_other_kinds_alone(store: StateStore) -> None:
    """Claiming and completing organization row 2 moves that organization, not user row 2."""
    orgs = store.kind("organizations")
    claimed = orgs.claim([2, 3])
    assert [(p.row, p.key, p.external_id) for p in claimed] == [
        (2, "acme", "acme"),
        (3, "globex", "globex-inc"),
    ]
    orgs.record_many([Completed(2, "org_1"), Failed(3, "form_identifier_exists", "slug")])
    assert rec(store, 2).state is RowState.PENDING
    assert (rec(orgs, 2).state, rec(orgs, 2).clerk_user_id) == (RowState.CREATED, "org_1")
    assert rec(orgs, 3).code == "form_identifier_exists"
    assert list(orgs.iter_id_map()) == [("acme", "acme", "org_1")]
    assert orgs.clerk_ids(["acme", "globex", "nope"]) == {"acme": "org_1"}


def test_a_kind_refuses_an_illegal_move_by_its_own_states(store: StateStore) -> None:
    """A move on an organization that is not in_flight raises, even when the user row of that
    number is in_flight."""
    store.claim([2])
    with pytest.raises(StateError, match="cannot complete row 2: it is pending"):
        store.kind("organizations").record_many([Completed(2, "org_1")])


def test_memberships_keep_their_user_organization_and_role(store: StateStore) -> None:
    """A membership's user key, organization key, role and input row are read back."""
    members = store.kind("memberships")
    links = members.member_links([1, 3, 9])
    assert sorted(links) == [1, 3]
    assert links[1] == (1, 2, "u2", "acme", "org:admin")
    assert links[3].organization_key == "globex"
    assert [link.row for link in members.iter_member_links()] == [1, 2, 3, 4]
    invalid = rec(members, 4)
    assert invalid.key == "globex/ghost"
    assert (invalid.state, invalid.code, invalid.param) == (
        RowState.INVALID,
        "unknown_user",
        "membership.user",
    )


def test_after_run_moves_apply_per_kind(store: StateStore) -> None:
    """requeue_failed and roll_back work on a kind's table."""
    members = store.kind("memberships")
    members.claim([1, 2])
    members.record_many([Failed(1, "user_not_migrated", retryable=True), Existed(2, "orgmem_2")])
    assert members.requeue_failed(retryable_only=True) == 1
    assert rec(members, 1).state is RowState.PENDING
    orgs = store.kind("organizations")
    orgs.claim([2])
    orgs.record_many([Completed(2, "org_1")])
    assert orgs.roll_back([(2, "org_1")]) == 1
    assert orgs.count_rolled_back() == 1
    assert store.count_rolled_back() == 0


def test_a_kind_is_planned_once(store: StateStore) -> None:
    """Planning organizations twice is refused; planning users does not plan the others."""
    with pytest.raises(StateError, match="already planned"):
        store.kind("organizations").plan([PlanRow(9, "x", "x")])
    with pytest.raises(StateError, match="already planned"):
        store.kind("memberships").plan_memberships([])


def test_unknown_kind_is_refused(store: StateStore) -> None:
    """kind() names the kinds it knows."""
    with pytest.raises(ValueError, match="expected one of users, organizations, memberships"):
        store.kind("teams")


def test_views_share_one_connection_and_the_owner_closes_it(tmp_path: Path) -> None:
    """Closing a kind's view leaves the store usable; a view's view is the same object."""
    s = StateStore.create(tmp_path / "state.sqlite", FP)
    orgs = s.kind("organizations")
    assert orgs.kind("memberships") is s.kind("memberships")
    assert orgs.kind("users") is s
    orgs.close()
    assert s.counts()[RowState.PENDING] == 0
    s.close()


def test_a_version_2_run_directory_gains_the_tenant_tables(tmp_path: Path) -> None:
    """Opening a state DB made before organizations adds their tables and keeps its users."""
    path = tmp_path / "state.sqlite"
    with StateStore.create(path, FP) as s:
        s.plan([PlanRow(2, "u2", "ext2", None), PlanRow(3, "u3", "ext3", None)])
        s.claim([2])
        s.record_many([Completed(2, "user_2")])
    conn = sqlite3.connect(path)
    with conn:
        for table in ("organizations", "memberships"):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("UPDATE schema_version SET version = 2")
    conn.close()
    with StateStore.open(path) as s:
        assert rec(s, 2).clerk_user_id == "user_2"
        assert s.counts()[RowState.PENDING] == 1
        orgs = s.kind("organizations")
        assert not orgs.planned
        orgs.plan([PlanRow(2, "acme", "acme")])
        orgs.claim([2])
        orgs.record_many([Released(2)])
        assert orgs.counts()[RowState.PENDING] == 1
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT version FROM schema_version").fetchone() == (SCHEMA_VERSION,)
    conn.close()


def test_sync_rows_is_not_renamed_for_a_kind(store: StateStore) -> None:
    """A statement naming sync_rows or rows_state reaches the right tables from a kind's view."""
    orgs = store.kind("organizations")
    # row_numbers on the view reads organizations; sync_states (users only) reads sync_rows
    assert list(orgs.row_numbers([RowState.INVALID])) == [4]
    assert orgs.sync_states("upsert") == {}
