"""The state DB's tables per kind of row: users (``rows``), ``organizations``, ``memberships``.

Every kind has the columns of ``rows`` and the same state machine, so one ``StateStore`` works
on any of them: ``store.kind("organizations")`` is a ``StateStore`` over the same connection
whose SQL names that table (``TableConnection`` rewrites the table name in each statement).
What the shared columns hold per kind:

==============  ====================  =================  =============  =======================
kind            ``row``               ``key``            ``external_id``  ``clerk_user_id``
==============  ====================  =================  =============  =======================
users           the input row         the user key       external_id    the Clerk user id
organizations   the input row         the legacy key     the slug       the organization id
memberships     1, 2, … (ordinal)     ``org/user`` keys  None           the membership id
==============  ====================  =================  =============  =======================

``email`` is the user's primary email, None for the other kinds. The tenant tables have four
more columns: ``user_key``, ``organization_key`` and ``role`` (a membership's user, its
organization and its Clerk role key; None for organizations) and ``input_row`` (the input row
a person sees: a membership read from its organization's member list or from the users file
shares its row with others, so its ``row`` is its position instead).

``migrate_v2`` brings a version-2 file to version 3: the two tables are added, empty.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from migrate._internal.state.model import RowState

__all__ = [
    "KINDS",
    "TABLES",
    "TENANT_SCHEMA",
    "MemberLink",
    "MemberPlanRow",
    "TableConnection",
    "TenantRecords",
    "migrate_v2",
    "planned_meta",
]

KINDS: Final = ("users", "organizations", "memberships")
TABLES: Final = {"users": "rows", "organizations": "organizations", "memberships": "memberships"}

_TENANT_TABLE: Final = """CREATE TABLE IF NOT EXISTS {table} (
    row              INTEGER PRIMARY KEY,
    key              TEXT NOT NULL,
    external_id      TEXT,
    email            TEXT,
    state            TEXT NOT NULL,
    clerk_user_id    TEXT,
    code             TEXT,
    param            TEXT,
    message          TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    retryable        INTEGER NOT NULL DEFAULT 0,
    updated_at       REAL NOT NULL,
    details          TEXT,
    user_key         TEXT,
    organization_key TEXT,
    role             TEXT,
    input_row        INTEGER
)"""
TENANT_SCHEMA: Final = tuple(
    statement
    for table in ("organizations", "memberships")
    for statement in (
        _TENANT_TABLE.format(table=table),
        f"CREATE INDEX IF NOT EXISTS {table}_state ON {table} (state, row)",
        f"CREATE INDEX IF NOT EXISTS {table}_key ON {table} (key)",
    )
)
# the table name where a statement names the users' table or its indexes (not ``sync_rows``)
_TABLE_WORD: Final = re.compile(r"\brows(_state|_key)?\b")


def planned_meta(kind: str) -> str:
    """The meta record saying when ``kind`` was planned."""
    return "planned_at" if kind == "users" else f"planned_at:{kind}"


def migrate_v2(conn: sqlite3.Connection) -> None:
    """Version 2 -> 3 in one transaction: add the (empty) organizations and memberships."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in TENANT_SCHEMA:
            conn.execute(statement)
        conn.execute("UPDATE schema_version SET version = 3")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@functools.lru_cache(maxsize=512)
def _rename(sql: str, table: str) -> str:
    return _TABLE_WORD.sub(lambda m: table + (m.group(1) or ""), sql)


class TableConnection:
    """A connection whose statements name ``table`` where they say ``rows``; ``close`` leaves
    the shared connection open (its owner, the users' store, closes it)."""

    def __init__(self, conn: sqlite3.Connection, table: str) -> None:
        self._conn = conn
        self.table = table

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        """``sqlite3.Connection.execute`` on this kind's table."""
        return self._conn.execute(_rename(sql, self.table), params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        """``sqlite3.Connection.executemany`` on this kind's table."""
        return self._conn.executemany(_rename(sql, self.table), params)

    def close(self) -> None:
        """Nothing: a kind's view does not own the connection."""


class MemberPlanRow(NamedTuple):
    """One membership as the planner sees it: its ordinal ``row``, the input row a person sees,
    the user's and the organization's legacy keys and the Clerk role key; ``errors`` as in
    ``PlanRow`` (any: planned ``invalid``)."""

    row: int
    input_row: int
    user_key: str
    organization_key: str
    role: str
    errors: Sequence[Mapping[str, Any]] = ()

    @property
    def key(self) -> str:
        """The membership's key (``membership_key``)."""
        return membership_key(self.organization_key, self.user_key)


def membership_key(organization_key: str, user_key: str) -> str:
    """``<organization key>/<user key>``, the user key's ``%`` and ``/`` written ``%25`` and
    ``%2F``: the last ``/`` splits it, so two memberships never share a key (organization
    ``a/b`` with user ``u1`` and organization ``a`` with user ``b/u1`` would, unescaped).
    ``validation.tenants`` builds the same key for its report lines."""
    escaped = user_key.replace("%", "%25").replace("/", "%2F")
    return f"{organization_key}/{escaped}"


class MemberLink(NamedTuple):
    """A membership's parts from the state DB."""

    row: int
    input_row: int | None
    user_key: str
    organization_key: str
    role: str


class TenantRecords:
    """Planning and reading the tenant tables' own columns (a mixin of ``StateStore``)."""

    if TYPE_CHECKING:  # provided by StateStore
        _conn: sqlite3.Connection
        path: Path
        _clock: Callable[[], float]

        @property
        def planned(self) -> bool: ...
        def _transaction(self) -> AbstractContextManager[None]: ...
        def _select_in(self, sql: str, values: Sequence[int]) -> list[tuple[Any, ...]]: ...
        def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]: ...
        def _mark_planned(self, now: float) -> None: ...

    def plan_memberships(self, rows: Iterable[MemberPlanRow]) -> dict[RowState, int]:
        """Insert every membership (the memberships view): ``pending``, or ``invalid`` with its
        validation errors (the first in code / param / message, all in ``details``). One
        transaction; raises ``StateError`` when already planned or a row number repeats."""
        from migrate.errors import StateError  # noqa: PLC0415 - state's own error

        if self.planned:
            raise StateError(f"{self.path}: memberships already planned; resume it instead")
        now = self._clock()
        counts = {RowState.PENDING: 0, RowState.INVALID: 0, RowState.SKIPPED: 0}
        params: list[tuple[Any, ...]] = []
        for item in rows:
            first: Mapping[str, Any] = item.errors[0] if item.errors else {}
            state = RowState.INVALID if item.errors else RowState.PENDING
            counts[state] += 1
            details = json.dumps([dict(e) for e in item.errors]) if item.errors else None
            params.append(
                (item.row, item.key, str(state), first.get("reason"), first.get("field"),
                 first.get("message"), now, details, item.user_key, item.organization_key,
                 item.role, item.input_row)
            )  # fmt: skip
        sql = (
            "INSERT INTO rows (row, key, state, code, param, message, updated_at, details, "
            "user_key, organization_key, role, input_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)"
        )
        try:
            with self._transaction():
                self._conn.executemany(sql, params)
                self._mark_planned(now)
        except sqlite3.IntegrityError as exc:
            raise StateError(f"{self.path}: cannot plan memberships: {exc}") from exc
        return counts

    def member_links(self, rows: Sequence[int]) -> dict[int, MemberLink]:
        """The user key, organization key and role of each of ``rows`` (the memberships view)."""
        found = self._select_in(
            "SELECT row, input_row, user_key, organization_key, role FROM rows WHERE row IN ({})",
            list(rows),
        )
        return {r[0]: MemberLink(*r) for r in found}

    def iter_member_links(self) -> Iterator[MemberLink]:
        """Every membership's parts, in row order."""
        sql = "SELECT row, input_row, user_key, organization_key, role FROM rows ORDER BY row"
        yield from (MemberLink(*r) for r in self._stream(sql, []))

    def clerk_ids(self, keys: Iterable[str]) -> dict[str, str]:
        """The Clerk id of each of ``keys`` whose row is created or exists (this kind's table)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            sql = (
                f"SELECT key, clerk_user_id FROM rows WHERE key IN ({', '.join('?' * len(part))}) "  # noqa: S608
                "AND state IN ('created', 'exists') AND clerk_user_id IS NOT NULL ORDER BY row"
            )
            for key, clerk_id in self._conn.execute(sql, part):
                found.setdefault(key, clerk_id)
        return found
