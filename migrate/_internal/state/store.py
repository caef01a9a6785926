"""``StateStore``: the state DB of one run, with named, transactional state moves.

See ``migrate._internal.state`` for the state machine and the durability guarantees.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self, cast

from migrate._internal.state.aftermoves import AfterRunMoves
from migrate._internal.state.db import RefusedMoveError, connect
from migrate._internal.state.fingerprints import (
    FINGERPRINT_SCHEMA,
    SYNC_SCHEMA,
    FingerprintRecords,
    SyncMoves,
    migrate_v1,
)
from migrate._internal.state.kinds import (
    KINDS,
    TABLES,
    TENANT_SCHEMA,
    TableConnection,
    TenantRecords,
    migrate_v2,
    planned_meta,
)
from migrate._internal.state.model import (
    COLUMNS,
    INDEX_KEY,
    INDEX_STATE,
    MOVE_NAMES,
    SCHEMA,
    SCHEMA_VERSION,
    Completed,
    Existed,
    Failed,
    Fingerprints,
    Move,
    PlanRow,
    Reconciled,
    Released,
    RowRecord,
    RowState,
    record_from_row,
)
from migrate.errors import ResumeMismatchError, StateError

__all__ = ["StateStore"]

_CHUNK: Final = 10_000  # rows per executemany / fetchmany
_CLAIM: Final = (
    "UPDATE rows SET state = 'in_flight', updated_at = ? "
    "WHERE row IN ({}) AND state = 'pending' RETURNING row, key, external_id, email"
)


class StateStore(AfterRunMoves, FingerprintRecords, SyncMoves, TenantRecords):
    """The state DB of one run. Build with ``StateStore.create`` or ``StateStore.open``.

    The store's rows are users; ``kind("organizations")`` / ``kind("memberships")`` is a store
    over the same connection bound to that kind's table (``state.kinds``), with the same moves.

    The moves on a finished run (``requeue_failed``, ``revalidate``, ``roll_back``) come from
    ``AfterRunMoves`` (``state.aftermoves``); the fingerprints ``sync`` compares from
    ``FingerprintRecords`` (``migrate._internal.state.fingerprints``).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        clock: Callable[[], float] = time.time,
        *,
        kind: str = "users",
    ) -> None:
        self._conn = conn
        self.path = path
        self._clock = clock
        self.kind_name = kind
        self._views: dict[str, StateStore] = {}
        self._owner: StateStore = self  # the users' store, which owns the connection

    def kind(self, name: str) -> StateStore:
        """This run's store of ``name`` rows (``users``, ``organizations``, ``memberships``):
        the same connection and moves, on that kind's table. Raises ``ValueError`` for
        another name."""
        if name not in KINDS:
            raise ValueError(f"no kind {name!r}; expected one of {', '.join(KINDS)}")
        if name == self.kind_name:
            return self
        if self.kind_name != "users":
            return self._owner.kind(name)
        if name not in self._views:
            conn = cast("sqlite3.Connection", TableConnection(self._conn, TABLES[name]))
            view = StateStore(conn, self.path, self._clock, kind=name)
            view._owner = self
            self._views[name] = view
        return self._views[name]

    # --- opening -----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: str | Path,
        fingerprints: Fingerprints,
        options: Mapping[str, Any] | None = None,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        lock: bool = False,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> StateStore:
        """Create a new state DB at ``path`` (which must not exist) and record what it is for.

        ``options`` (JSON-serialisable, no secrets) is kept for ``options()``. Raises
        ``StateError`` when the file exists or cannot be created.
        """
        target = Path(path)
        if target.exists():
            raise StateError(f"{target}: a state DB already exists; open it to resume")
        conn = connect(target, synchronous, create=True, lock=lock, busy_timeout=busy_timeout)
        store = cls(conn, target, clock)
        try:
            with store._transaction():
                for statement in [
                    *SCHEMA.split(";"),
                    INDEX_STATE,
                    INDEX_KEY,
                    FINGERPRINT_SCHEMA,
                    SYNC_SCHEMA,
                    *TENANT_SCHEMA,
                ]:
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
                conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("fingerprints", fingerprints.to_json()),
                        ("created_at", json.dumps(clock())),
                        ("options", json.dumps(dict(options or {}), sort_keys=True)),
                    ],
                )
        except (sqlite3.Error, TypeError, ValueError) as exc:
            conn.close()
            target.unlink(missing_ok=True)
            raise StateError(f"{target}: cannot create the state DB: {exc}") from exc
        return store

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
        lock: bool = False,
        busy_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> StateStore:
        """Open an existing state DB to resume.

        ``lock=True`` (for ``run``, ``retry``, ``rollback``) holds the file exclusively until
        ``close``: a second process, even a reader, gets ``StateError`` ("in use") after
        ``busy_timeout`` seconds instead of sending rows twice. The OS drops the lock when the
        process dies, kill -9 included. Raises ``StateError`` when the file is missing, not a
        state DB, locked, or of a schema version this program does not know. A version-1 file
        (made before fingerprints) is upgraded in place to version 2 (an empty fingerprints
        table: ``sync`` then treats its rows as unknown).
        """
        target = Path(path)
        if not target.is_file():
            raise StateError(f"{target}: no state DB here")
        conn = connect(target, synchronous, create=False, lock=lock, busy_timeout=busy_timeout)
        try:
            row = conn.execute("SELECT version FROM schema_version").fetchone()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StateError(f"{target}: not a clerk-migrate state DB ({exc})") from exc
        if row is not None and row[0] == 1:
            try:
                migrate_v1(conn)  # a run made before fingerprints: add the table, empty
            except sqlite3.Error as exc:
                conn.close()
                raise StateError(f"{target}: cannot upgrade the state DB: {exc}") from exc
            row = (2,)
        if row is not None and row[0] == 2:
            try:
                migrate_v2(conn)  # a run made before organizations: add their tables, empty
            except sqlite3.Error as exc:
                conn.close()
                raise StateError(f"{target}: cannot upgrade the state DB: {exc}") from exc
            row = (SCHEMA_VERSION,)
        if row is None or row[0] != SCHEMA_VERSION:
            conn.close()
            found = "none" if row is None else row[0]
            raise StateError(
                f"{target}: state DB schema version {found}; this clerk-migrate reads version "
                f"{SCHEMA_VERSION}"
            )
        return cls(conn, target, clock)

    def close(self) -> None:
        """Close the connection (every move has already committed)."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"StateStore({str(self.path)!r})"

    # --- meta --------------------------------------------------------------------------

    def fingerprints(self) -> Fingerprints:
        """What the run was planned from."""
        return Fingerprints.from_json(self._meta_text("fingerprints"))

    def options(self) -> dict[str, Any]:
        """The run options recorded at creation."""
        value = self.get_meta("options")
        return dict(value) if isinstance(value, dict) else {}

    def get_meta(self, key: str, default: Any = None) -> Any:
        """A JSON value from the meta table (``default`` when absent)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def set_meta(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable value (run statistics, ...) in the meta table. No secrets."""
        text = json.dumps(value, sort_keys=True)
        with self._transaction():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, text),
            )

    def check_fingerprints(self, current: Fingerprints) -> None:
        """Refuse to resume when an input or the mapping differs from what was planned.

        Raises ``ResumeMismatchError`` naming every change, e.g. ``cannot resume
        runs/a/state.sqlite: input users.csv changed, the mapping changed since the run was
        planned; restore the original files, or start a new run with another --run-dir``.
        """
        planned = self.fingerprints()
        changes: list[str] = []
        for name in sorted(planned.inputs.keys() | current.inputs.keys()):
            before, now = planned.inputs.get(name), current.inputs.get(name)
            if before is None:
                changes.append(f"input {name} was added")
            elif now is None:
                changes.append(f"input {name} is no longer given")
            elif before != now:
                changes.append(f"input {name} changed")
        changes += planned.tenant_changes(current)
        if parts := planned.mapping_changes(current):
            changes.append(
                "the mapping changed"
                if parts == ["the mapping"]
                else f"the mapping changed ({', '.join(parts)})"
            )
        if changes:
            raise ResumeMismatchError(
                f"cannot resume {self.path}: {', '.join(changes)} since the run was planned; "
                "restore the original files, or start a new run with another --run-dir"
            )

    # --- planning ----------------------------------------------------------------------

    @property
    def planned(self) -> bool:
        """Whether ``plan`` has run (it runs once per state DB)."""
        return self.get_meta(planned_meta(self.kind_name)) is not None

    def plan(self, rows: Iterable[PlanRow]) -> dict[RowState, int]:
        """Insert every input row: ``pending``, or ``invalid`` with its validation errors.

        One transaction (a crash mid-plan leaves no partial plan), ``executemany`` in chunks,
        so 10 M rows plan in one pass. The first error is stored in code / param / message, all
        of them in ``details``. Returns how many rows went to each state. Raises ``StateError``
        when the DB was already planned or a row number repeats.
        """
        if self.planned:
            raise StateError(f"{self.path}: already planned; resume it instead")
        now = self._clock()
        counts = {RowState.PENDING: 0, RowState.INVALID: 0, RowState.SKIPPED: 0}
        sql = (
            "INSERT INTO rows (row, key, external_id, email, state, code, param, message, "
            "updated_at, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        try:
            with self._transaction():
                # Building the indexes once after the bulk insert is ~30 % faster than
                # maintaining them row by row (the table is empty: plan runs once).
                self._conn.execute("DROP INDEX rows_state")
                self._conn.execute("DROP INDEX rows_key")
                batch: list[tuple[Any, ...]] = []
                for item in rows:
                    row, key, external_id, email, errors, skip = item
                    if skip:
                        batch.append(
                            (row, key, external_id, email, "skipped", skip, "row",
                             "The source marks this account " + skip.removesuffix("_in_source")
                             + "; it is not created.", now, None)
                        )  # fmt: skip
                        counts[RowState.SKIPPED] += 1
                    elif errors:
                        first = errors[0]
                        batch.append(
                            (row, key, external_id, email, "invalid", first.get("reason"),
                             first.get("field"), first.get("message"), now,
                             json.dumps([dict(e) for e in errors]))
                        )  # fmt: skip
                        counts[RowState.INVALID] += 1
                    else:
                        batch.append(
                            (row, key, external_id, email, "pending", None, None, None, now, None)
                        )
                        counts[RowState.PENDING] += 1
                    if len(batch) >= _CHUNK:
                        self._conn.executemany(sql, batch)
                        batch = []
                if batch:
                    self._conn.executemany(sql, batch)
                self._conn.execute(INDEX_STATE)
                self._conn.execute(INDEX_KEY)
                if self.kind_name != "users":  # an organization's row is its input row
                    self._conn.execute("UPDATE rows SET input_row = row")
                self._mark_planned(now)
        except sqlite3.IntegrityError as exc:
            why = "repeats a row number" if "UNIQUE" in str(exc) else "has a row without a key"
            raise StateError(f"{self.path}: cannot plan: the plan {why} ({exc})") from exc
        return counts

    def _mark_planned(self, now: float) -> None:
        """Record (in the open transaction) that this kind is planned."""
        self._conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)",
            (planned_meta(self.kind_name), json.dumps(now)),
        )

    # --- claiming ----------------------------------------------------------------------

    def claim(self, rows: Sequence[int]) -> list[PlanRow]:
        """pending -> in_flight for every row, committed (durable) before it returns.

        All or nothing: a row that is not pending makes it raise ``StateError`` and claim
        none. Returns the claimed rows' keys, external ids and emails, in the order given.
        """
        wanted = list(dict.fromkeys(rows))
        if not wanted:
            return []
        now = self._clock()
        claimed: dict[int, tuple[Any, ...]] = {}
        try:
            with self._transaction():
                # one UPDATE per 500 rows that says which rows it moved: a row missing from
                # the answer was not pending, and the whole claim rolls back
                for start in range(0, len(wanted), 500):
                    part = wanted[start : start + 500]
                    sql = _CLAIM.format(", ".join("?" * len(part)))
                    claimed.update((r[0], r) for r in self._conn.execute(sql, [now, *part]))
                if len(claimed) != len(wanted):
                    raise RefusedMoveError
        except RefusedMoveError:
            states = dict(self._select_in("SELECT row, state FROM rows WHERE row IN ({})", wanted))
            row = next(r for r in wanted if states.get(r) != RowState.PENDING)
            raise StateError(
                _illegal(self.path, row, "claim", states.get(row), "pending")
            ) from None
        return [PlanRow(*claimed[row]) for row in wanted]

    def in_flight_rows(self) -> list[PlanRow]:
        """Rows left in_flight (by a crash, or by requests still out): reconcile these first."""
        return [
            PlanRow(*r)
            for r in self._conn.execute(
                "SELECT row, key, external_id, email FROM rows WHERE state = 'in_flight' "
                "ORDER BY row"
            )
        ]

    def in_flight_since(self) -> list[tuple[int, str, str | None, str | None, float]]:
        """``in_flight_rows`` with the time (epoch seconds) each went in_flight."""
        return list(
            self._conn.execute(
                "SELECT row, key, external_id, email, updated_at FROM rows "
                "WHERE state = 'in_flight' ORDER BY row"
            )
        )

    # --- finishing ---------------------------------------------------------------------

    def record_many(self, moves: Iterable[Move]) -> None:
        """Apply many moves in ONE transaction, in order (the recorder's batched commit).

        Each move requires its row to be in_flight; otherwise nothing is applied and
        ``StateError`` names the first refused row, the move and the row's actual state.
        """
        batch = list(moves)
        now = self._clock()
        try:
            with self._transaction():
                group: list[Move] = []
                for move in batch:
                    if group and type(move) is not type(group[0]):
                        self._apply(group, now)
                        group = []
                    group.append(move)
                if group:
                    self._apply(group, now)
        except RefusedMoveError:
            self._raise_illegal(batch)  # the transaction rolled back: explain on the old states

    def _apply(self, group: list[Move], now: float) -> None:
        kind = type(group[0])
        params: list[tuple[Any, ...]]
        if kind is Failed:
            sql = (
                "UPDATE rows SET state = 'failed', clerk_user_id = NULL, code = ?, param = ?, "
                "message = ?, retryable = ?, details = ?, attempts = attempts + ?, "
                "updated_at = ? WHERE row = ? AND state = 'in_flight'"
            )
            params = [
                (m.code, m.param, m.message, int(m.retryable),
                 json.dumps([dict(d) for d in m.details]) if m.details else None,
                 m.attempts, now, m.row)
                for m in group
                if isinstance(m, Failed)
            ]  # fmt: skip
        elif kind is Released:
            sql = (
                "UPDATE rows SET state = 'pending', clerk_user_id = NULL, code = NULL, "
                "param = NULL, message = NULL, retryable = 0, details = NULL, "
                "attempts = attempts + ?, updated_at = ? WHERE row = ? AND state = 'in_flight'"
            )
            params = [(m.attempts, now, m.row) for m in group]
        else:
            state = "exists" if kind is Existed else "created"
            sql = (
                f"UPDATE rows SET state = '{state}', clerk_user_id = ?, code = NULL, "  # noqa: S608
                "param = NULL, message = NULL, retryable = 0, details = NULL, "
                "attempts = attempts + ?, updated_at = ? WHERE row = ? AND state = 'in_flight'"
            )
            params = [
                (m.user_id, m.attempts, now, m.row)
                for m in group
                if isinstance(m, Completed | Reconciled | Existed)
            ]
        if self._conn.executemany(sql, params).rowcount != len(group):
            raise RefusedMoveError

    def _raise_illegal(self, batch: list[Move]) -> None:
        """Replay a refused batch on the stored states; raise for the first illegal move."""
        found = self._select_in(
            "SELECT row, state FROM rows WHERE row IN ({})", [m.row for m in batch]
        )
        states: dict[int, str] = dict(found)
        moved: set[int] = set()
        for move in batch:
            state = states.get(move.row)
            if state != RowState.IN_FLIGHT:
                actual = "moved earlier in the same batch" if move.row in moved else state
                raise StateError(
                    _illegal(self.path, move.row, MOVE_NAMES[type(move)], actual, "in_flight")
                )
            moved.add(move.row)
            states[move.row] = "moved"
        raise StateError(f"{self.path}: a batch of moves did not apply")  # pragma: no cover

    # --- reading -----------------------------------------------------------------------

    def counts(self) -> dict[RowState, int]:
        """Rows per state; every state is present (0 when none)."""
        result = dict.fromkeys(RowState, 0)
        for state, count in self._conn.execute("SELECT state, count(*) FROM rows GROUP BY state"):
            result[RowState(state)] = count
        return result

    def code_counts(self) -> dict[tuple[RowState, str], int]:
        """Failed and invalid rows per (state, code), for the summary's top error codes."""
        return {
            (RowState(state), code or "unknown"): count
            for state, code, count in self._conn.execute(
                "SELECT state, code, count(*) FROM rows WHERE state IN ('failed', 'invalid') "
                "GROUP BY state, code ORDER BY count(*) DESC, code"
            )
        }

    def get(self, row: int) -> RowRecord | None:
        """One row's record, or None when no such row was planned."""
        found = self._conn.execute(
            f"SELECT {COLUMNS} FROM rows WHERE row = ?",  # noqa: S608
            (row,),
        ).fetchone()
        return None if found is None else record_from_row(found)

    def iter_rows(self, states: Iterable[RowState] | None = None) -> Iterator[RowRecord]:
        """Stream rows in row order, optionally only some states."""
        sql = f"SELECT {COLUMNS} FROM rows"  # noqa: S608
        params: list[str] = []
        if states is not None:
            params = [str(s) for s in states]
            sql += f" WHERE state IN ({', '.join('?' * len(params))})" if params else " WHERE 0"
        yield from (record_from_row(r) for r in self._stream(sql + " ORDER BY row", params))

    def iter_errors(self) -> Iterator[RowRecord]:
        """Failed and invalid rows in row order: what the error reports list."""
        return self.iter_rows((RowState.FAILED, RowState.INVALID))

    def iter_id_map(self) -> Iterator[tuple[str, str | None, str]]:
        """``(key, external_id, clerk_user_id)`` of created and existing rows, in row order."""
        sql = (
            "SELECT key, external_id, clerk_user_id FROM rows "
            "WHERE state IN ('created', 'exists') ORDER BY row"
        )
        yield from self._stream(sql, [])

    def row_numbers(self, states: Iterable[RowState]) -> Iterator[int]:
        """Row numbers in some states, in order (e.g. failed + invalid for failed_rows.<ext>)."""
        params = [str(s) for s in states]
        if not params:
            return
        sql = f"SELECT row FROM rows WHERE state IN ({', '.join('?' * len(params))}) ORDER BY row"  # noqa: S608
        yield from (r[0] for r in self._stream(sql, params))

    # --- plumbing ----------------------------------------------------------------------

    def _meta_text(self, key: str) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            raise StateError(f"{self.path}: the state DB has no {key!r} record")
        return str(row[0])

    def _stream(self, sql: str, params: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
        cursor = self._conn.execute(sql, params)
        try:
            while chunk := cursor.fetchmany(_CHUNK):
                yield from chunk
        finally:
            cursor.close()

    def _select_in(self, sql: str, values: Sequence[int]) -> list[tuple[Any, ...]]:
        """Run ``sql`` with ``IN ({})`` filled for ``values``, 500 at a time."""
        found: list[tuple[Any, ...]] = []
        for start in range(0, len(values), 500):
            part = values[start : start + 500]
            found += self._conn.execute(sql.format(", ".join("?" * len(part))), part).fetchall()
        return found

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; rollback on any exception; sqlite errors -> StateError."""
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StateError(f"{self.path}: cannot write the state DB: {exc}") from exc
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._conn.execute("ROLLBACK")
            raise StateError(f"{self.path}: cannot commit to the state DB: {exc}") from exc


def _illegal(path: Path, row: int, move: str, actual: object, expected: str) -> str:
    if actual is None:
        actual_text = "not planned"
    elif str(actual).startswith("moved"):
        actual_text = str(actual)
    else:
        actual_text = f"is {actual}"
    return f"{path}: cannot {move} row {row}: it {actual_text}, expected {expected}"
