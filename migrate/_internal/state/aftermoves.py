"""The moves made on a finished run: ``retry`` (failed / invalid -> pending) and ``rollback``.

A mixin of ``StateStore`` (kept apart so ``store.py`` stays small); it uses the store's
connection, clock and transaction helper. Every move is one transaction and applies to every
row it names or to none.

- ``requeue_failed``: failed -> pending (``retry``), optionally only some codes / rows.
- ``requeue_corrected``: failed -> pending with the key data of a corrected row.
- ``revalidate``: invalid rows checked again against a corrected file (``retry --input``):
  now valid -> pending (old errors cleared, key data from the corrected row); still invalid ->
  invalid with the new reasons.
- ``roll_back``: created -> pending once ``rollback`` deleted the user (or found it gone).
  The row keeps a note (code ``rolled_back``, the deleted Clerk id in ``details``) until it is
  sent again, so reports can list it, ``id_map.csv`` no longer does, and rerunning ``run``
  creates the user again. No new state and no new column: the schema version is unchanged.
- ``note_corrected`` / ``corrected_rows`` / ``corrected_waiting``: which rows take their data
  from a corrected file (meta ``corrected_rows``). Such a row is never sent from the original
  input again (it may be invalid there), whatever happens to it later (failure, rollback).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from migrate._internal.state.db import RefusedMoveError
from migrate._internal.state.model import PlanRow, RowState
from migrate.errors import StateError

__all__ = ["RETRY_NOTE", "ROLLED_BACK", "AfterRunMoves"]

ROLLED_BACK: Final = "rolled_back"  # the code a rolled-back pending row carries
RETRY_NOTE: Final = "revalidated"  # the code of an invalid row requeued from a corrected file
CORRECTED_META: Final = "corrected_rows"  # meta: {row: corrected file} for retry --input rows
_NOUNS: Final = {"organizations": "organization", "memberships": "membership"}


class AfterRunMoves:
    """``requeue_failed``, ``revalidate``, ``roll_back`` and the reads that go with them."""

    if TYPE_CHECKING:  # provided by StateStore
        _conn: sqlite3.Connection
        path: Path
        _clock: Callable[[], float]
        kind_name: str

        def _transaction(self) -> AbstractContextManager[None]: ...
        def _select_in(self, sql: str, values: Sequence[int]) -> list[tuple[Any, ...]]: ...
        def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]: ...
        def get_meta(self, key: str, default: Any = None) -> Any: ...
        def set_meta(self, key: str, value: Any) -> None: ...

    def requeue_failed(
        self,
        codes: Iterable[str] | None = None,
        rows: Iterable[int] | None = None,
        *,
        retryable_only: bool = False,
    ) -> int:
        """failed -> pending (the ``retry`` command), optionally only some codes or rows.

        Rows that are not failed are left alone. Returns how many rows were requeued.
        """
        where = ["state = 'failed'"]
        params: list[Any] = []
        code_list = None if codes is None else list(codes)
        if code_list is not None:
            where.append(f"code IN ({', '.join('?' * len(code_list))})" if code_list else "0")
            params += code_list
        if retryable_only:
            where.append("retryable = 1")
        sql = (
            "UPDATE rows SET state = 'pending', code = NULL, param = NULL, message = NULL, "  # noqa: S608
            "retryable = 0, details = NULL, updated_at = ? WHERE " + " AND ".join(where)
        )
        now = self._clock()
        with self._transaction():
            if rows is None:
                return self._conn.execute(sql, [now, *params]).rowcount
            return self._conn.executemany(
                sql + " AND row = ?", [(now, *params, row) for row in dict.fromkeys(rows)]
            ).rowcount

    def requeue_corrected(self, rows: Iterable[PlanRow]) -> int:
        """failed -> pending (``retry --input``) with external_id / email from the corrected row.

        Each ``PlanRow`` has the ORIGINAL row number and the corrected row's key data, so a
        lookup after a lost request (reconciliation) searches for the data actually sent. One
        transaction; rows that are not failed are left alone. Returns how many moved.
        """
        sql = (
            "UPDATE rows SET state = 'pending', external_id = ?, email = ?, code = NULL, "
            "param = NULL, message = NULL, retryable = 0, details = NULL, updated_at = ? "
            "WHERE row = ? AND state = 'failed'"
        )
        now = self._clock()
        params = [(p.external_id, p.email, now, p.row) for p in rows]
        if not params:
            return 0
        with self._transaction():
            return self._conn.executemany(sql, params).rowcount

    def revalidate(self, rows: Iterable[PlanRow], source: str = "") -> dict[RowState, int]:
        """Invalid rows validated again from a corrected file, in one transaction.

        Each ``PlanRow`` carries the ORIGINAL row number with the corrected row's key,
        external_id, email and validation errors. No errors: invalid -> pending, the old errors
        cleared, code ``revalidated`` and ``source`` (the corrected file's name) kept as a note
        until the row is sent. Errors: it stays invalid with the new reasons (first in code /
        param / message, all in details). All or nothing: a row that is not invalid makes it
        raise ``StateError`` naming the row and its state. Returns the rows per resulting state.
        """
        batch = list(rows)
        counts = {RowState.PENDING: 0, RowState.INVALID: 0}
        if not batch:
            return counts
        now = self._clock()
        note = f"corrected in {source}" if source else "corrected"
        params: list[tuple[Any, ...]] = []
        for row, _key, external_id, email, errors, _skip in batch:
            if errors:
                first = errors[0]
                params.append(
                    (external_id, email, "invalid", first.get("reason"), first.get("field"),
                     first.get("message"), json.dumps([dict(e) for e in errors]), now, row)
                )  # fmt: skip
                counts[RowState.INVALID] += 1
            else:
                params.append(
                    (external_id, email, "pending", RETRY_NOTE, None, note, None, now, row)
                )
                counts[RowState.PENDING] += 1
        sql = (
            "UPDATE rows SET external_id = ?, email = ?, state = ?, code = ?, param = ?, "
            "message = ?, details = ?, retryable = 0, updated_at = ? "
            "WHERE row = ? AND state = 'invalid'"
        )
        try:
            with self._transaction():
                if self._conn.executemany(sql, params).rowcount != len(params):
                    raise RefusedMoveError
        except RefusedMoveError:  # rolled back: explain on the stored states
            self._refuse([p[-1] for p in params], "revalidate", RowState.INVALID)
        return counts

    def roll_back(self, rows: Iterable[tuple[int, str]]) -> int:
        """created -> pending for ``(row, clerk_user_id)`` pairs whose user is gone from Clerk.

        One transaction. The row keeps the note code ``rolled_back``, message ``user <id>
        deleted by rollback`` (``organization`` / ``membership`` in those kinds' tables) and the
        id in ``details`` until it is sent again. All or nothing:
        a row that is not created with that user id makes it raise ``StateError``. Returns how
        many rows moved.
        """
        noun = _NOUNS.get(self.kind_name, "user")
        params = [
            (f"{noun} {uid} deleted by rollback",
             json.dumps([{"code": ROLLED_BACK, "clerk_user_id": uid}]), self._clock(), row, uid)
            for row, uid in dict(rows).items()
        ]  # fmt: skip
        if not params:
            return 0
        sql = (
            "UPDATE rows SET state = 'pending', clerk_user_id = NULL, code = 'rolled_back', "
            "param = NULL, message = ?, details = ?, retryable = 0, updated_at = ? "
            "WHERE row = ? AND state = 'created' AND clerk_user_id = ?"
        )
        try:
            with self._transaction():
                if self._conn.executemany(sql, params).rowcount != len(params):
                    raise RefusedMoveError
        except RefusedMoveError:  # rolled back: explain on the stored states
            self._refuse([p[3] for p in params], "roll back", RowState.CREATED)
        return len(params)

    def iter_rolled_back(self) -> Iterator[tuple[int, str, str | None, str]]:
        """``(row, key, external_id, deleted clerk_user_id)`` of rows rolled back, not resent."""
        sql = (
            "SELECT row, key, external_id, details FROM rows "
            "WHERE state = 'pending' AND code = 'rolled_back' ORDER BY row"
        )
        for row, key, external_id, details in self._stream(sql, []):
            notes = json.loads(details) if details else [{}]
            yield row, key, external_id, str(notes[0].get("clerk_user_id") or "")

    def count_rolled_back(self) -> int:
        """How many rows are pending because ``rollback`` deleted their user."""
        found = self._conn.execute(
            "SELECT count(*) FROM rows WHERE state = 'pending' AND code = 'rolled_back'"
        ).fetchone()
        return int(found[0])

    def count_corrected_pending(self) -> int:
        """How many rows wait to be sent from a corrected file (``retry --input``)."""
        found = self._conn.execute(
            "SELECT count(*) FROM rows WHERE state = 'pending' AND code = ?", (RETRY_NOTE,)
        ).fetchone()
        return int(found[0])

    def note_corrected(self, rows: Iterable[int], source: str) -> None:
        """Record that ``rows`` now take their data from the corrected file ``source``."""
        noted = self.corrected_rows()
        noted.update(dict.fromkeys(rows, source))
        self.set_meta(CORRECTED_META, {str(row): path for row, path in sorted(noted.items())})

    def corrected_rows(self) -> dict[int, str]:
        """Row -> the corrected file its data comes from (``retry --input``)."""
        return {int(row): str(path) for row, path in self.get_meta(CORRECTED_META, {}).items()}

    def corrected_waiting(self) -> dict[str, int]:
        """Per corrected file, its rows that a pass would send: pending, or failed on a
        transient error (``run`` requeues those). Only that file's data may be sent for them."""
        corrected = self.corrected_rows()
        waiting: dict[str, int] = {}
        sql = (
            "SELECT row FROM rows WHERE row IN ({}) AND "
            "(state = 'pending' OR (state = 'failed' AND retryable = 1))"
        )
        for (row,) in self._select_in(sql, list(corrected)):
            waiting[corrected[row]] = waiting.get(corrected[row], 0) + 1
        return waiting

    def known_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that some row of the run has."""
        wanted = list(dict.fromkeys(keys))
        known: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            sql = f"SELECT DISTINCT key FROM rows WHERE key IN ({', '.join('?' * len(part))})"  # noqa: S608
            known.update(r[0] for r in self._conn.execute(sql, part))
        return known

    def shared_keys(self, keys: Iterable[str]) -> set[str]:
        """The keys among ``keys`` that more than one row of the run has."""
        wanted = list(dict.fromkeys(keys))
        shared: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            sql = (
                f"SELECT key FROM rows WHERE key IN ({', '.join('?' * len(part))}) "  # noqa: S608
                "GROUP BY key HAVING count(*) > 1"
            )
            shared.update(r[0] for r in self._conn.execute(sql, part))
        return shared

    def _refuse(self, rows: Sequence[int], move: str, expected: RowState) -> None:
        """Raise ``StateError`` for the first row not in ``expected``."""
        found = dict(self._select_in("SELECT row, state FROM rows WHERE row IN ({})", list(rows)))
        for row in rows:
            state = found.get(row)
            if state is None:
                raise StateError(f"{self.path}: cannot {move} row {row}: it is not planned")
            if state != expected:
                raise StateError(
                    f"{self.path}: cannot {move} row {row}: it is {state}, expected {expected}"
                )
        # every row had the expected state: a repeated row, or a created row of another user
        raise StateError(
            f"{self.path}: cannot {move} rows {list(rows)[:5]}: a row is repeated or its "
            "Clerk user id differs from the one recorded"
        )
