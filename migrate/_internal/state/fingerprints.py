"""Per-key fingerprints of the mapped payload a user was created or last synced from.

A mixin of ``StateStore``. The ``fingerprints`` table (schema version 2) holds, per key, a keyed
hash of the whole mapped row (``whole``) and one short keyed hash per mapped field (``fields``,
laid out in the order the meta record ``fingerprint_fields`` names). The hash key lives in the
run directory, never here; no payload and no digest is stored. ``sync`` compares a newer
export's fingerprints with these to find what changed, field by field.

``migrate_v1`` brings a version-1 file (made before fingerprints existed) to version 2: the
table is added empty, so every row of such a run is "unknown" to ``sync`` (and the
``sync_rows`` table, where ``sync`` records its own moves, is added).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

__all__ = [
    "FIELDS_META",
    "FINGERPRINT_SCHEMA",
    "SYNC_SCHEMA",
    "FingerprintRecords",
    "SyncMoves",
    "migrate_v1",
]

FIELDS_META: Final = "fingerprint_fields"  # meta: the field names, in the layout of ``fields``
FINGERPRINT_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS fingerprints ("
    "key TEXT PRIMARY KEY, whole BLOB NOT NULL, fields BLOB NOT NULL) WITHOUT ROWID"
)
# sync's own rows, by key: what it does (new / changed / unknown / gone) and how far it got
SYNC_SCHEMA: Final = """CREATE TABLE IF NOT EXISTS sync_rows (
    key           TEXT PRIMARY KEY,
    row           INTEGER,               -- the row of the newer export (null: gone)
    action        TEXT NOT NULL,
    state         TEXT NOT NULL,         -- pending, in_flight, done, failed
    clerk_user_id TEXT,
    code          TEXT,                  -- done: what was done; failed: Clerk's code
    message       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    updated_at    REAL NOT NULL
) WITHOUT ROWID"""
# the run's users: created or present, or created by sync, less those sync deleted (``keys``
# narrows both parts to some keys; ``+state`` then keeps SQLite on the key index)
_USERS: Final = """
SELECT key, clerk_user_id FROM sync_rows WHERE clerk_user_id IS NOT NULL
    AND NOT (action = 'gone' AND state = 'done' AND code = 'deleted') {keys}
UNION ALL
SELECT key, clerk_user_id FROM rows WHERE {plus}state IN ('created', 'exists')
    AND key NOT IN (SELECT key FROM sync_rows WHERE clerk_user_id IS NOT NULL) {keys}"""
# their keys: one table scan (no two rows of a run that share a key are both sent)
_USER_KEYS: Final = """
SELECT key FROM sync_rows WHERE clerk_user_id IS NOT NULL
    AND NOT (action = 'gone' AND state = 'done' AND code = 'deleted')
UNION ALL
SELECT key FROM rows NOT INDEXED WHERE state IN ('created', 'exists')
    AND key NOT IN (SELECT key FROM sync_rows WHERE clerk_user_id IS NOT NULL)"""
_CHUNK: Final = 10_000
_READ: Final = 100_000  # rows per fetchmany when reading a column out
_JOINED: Final = 250_000  # keys per joined chunk: one string, not a Python object per key
# the run's users' keys, joined: sync's users, then the rows' a range of rows at a time (the
# order of ``_USER_KEYS``)
_SYNC_USER_KEYS: Final = """
SELECT group_concat(key, char(0)), count(*) FROM sync_rows WHERE clerk_user_id IS NOT NULL
    AND NOT (action = 'gone' AND state = 'done' AND code = 'deleted')"""
_ROW_USER_KEYS: Final = """
SELECT group_concat(key, char(0)), count(*) FROM rows
    WHERE row > ? AND row <= ? AND +state IN ('created', 'exists')
    AND key NOT IN (SELECT key FROM sync_rows WHERE clerk_user_id IS NOT NULL)"""
# keys (in key order) and the first bytes of their whole prints, joined, between two bounds
_PRINT_PREFIXES: Final = """
SELECT group_concat(key, char(0)), CAST(group_concat(substr(whole, 1, :size), '') AS BLOB),
    count(*)
FROM fingerprints"""
_PRINT_BOUND: Final = "SELECT key FROM fingerprints {after} ORDER BY key LIMIT 1 OFFSET ?"


def migrate_v1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2 in one transaction: add the (empty) fingerprints table."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(FINGERPRINT_SCHEMA)
        conn.execute(SYNC_SCHEMA)
        conn.execute("UPDATE schema_version SET version = 2")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class FingerprintRecords:
    """``put_fingerprints``, ``fingerprint_fields``, ``iter_fingerprints``, ``field_prints``."""

    if TYPE_CHECKING:  # provided by StateStore
        _conn: sqlite3.Connection
        path: Path
        _clock: Callable[[], float]

        def _transaction(self) -> AbstractContextManager[None]: ...
        def get_meta(self, key: str, default: Any = None) -> Any: ...

    def put_fingerprints(
        self,
        fields: Sequence[str],
        rows: Iterable[tuple[str, bytes, bytes]],
        *,
        replace: bool = True,
    ) -> int:
        """Store ``(key, whole, fields)`` per key in one transaction.

        ``fields`` names the layout of each ``fields`` blob and becomes the recorded layout.
        ``replace=False`` keeps a key's first fingerprint (a plan: a repeated key's later rows
        are invalid duplicates). Returns how many rows were given.
        """
        written = 0
        with self._transaction():
            self._conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (FIELDS_META, json.dumps(list(fields))),
            )
            batch: list[tuple[str, bytes, bytes]] = []
            for item in rows:
                batch.append(item)
                if len(batch) >= _CHUNK:
                    written += self._put(batch, replace)
                    batch = []
            written += self._put(batch, replace)
        return written

    def _put(self, batch: list[tuple[str, bytes, bytes]], replace: bool) -> int:
        conflict = (
            "DO UPDATE SET whole = excluded.whole, fields = excluded.fields"
            if replace
            else "DO NOTHING"
        )
        self._conn.executemany(
            f"INSERT INTO fingerprints (key, whole, fields) VALUES (?, ?, ?) "  # noqa: S608
            f"ON CONFLICT (key) {conflict}",
            batch,
        )
        return len(batch)

    def fingerprint_fields(self) -> tuple[str, ...]:
        """The field layout of the stored ``fields`` blobs (empty when none was stored)."""
        return tuple(self.get_meta(FIELDS_META, []))

    def count_fingerprints(self) -> int:
        """How many keys have a fingerprint."""
        return int(self._conn.execute("SELECT count(*) FROM fingerprints").fetchone()[0])

    def iter_fingerprints(self) -> Iterator[list[tuple[str, bytes]]]:
        """``(key, whole)`` of every key, in chunks (for building one frame fast)."""
        cursor = self._conn.execute("SELECT key, whole FROM fingerprints")
        try:
            while chunk := cursor.fetchmany(100_000):
                yield chunk
        finally:
            cursor.close()

    def iter_print_prefixes(self, size: int) -> Iterator[tuple[tuple[str, ...], tuple[bytes, ...]]]:
        """``(keys, first size bytes of their whole prints)`` of every key, in chunks (columns,
        for building a frame without a Python tuple per row)."""
        cursor = self._conn.execute("SELECT key, substr(whole, 1, ?) FROM fingerprints", (size,))
        try:
            while chunk := cursor.fetchmany(_READ):
                keys, prints = zip(*chunk, strict=True)
                yield keys, prints
        finally:
            cursor.close()

    def iter_print_prefixes_joined(self, size: int) -> Iterator[tuple[str, bytes, int]]:
        """Every key and the first ``size`` bytes of its whole print, in key order, in chunks:
        ``(the keys joined by "\\x00", their prefixes concatenated, how many keys)``.

        One string and one blob per chunk, not a Python object per key; a key that holds
        ``"\\x00"`` makes the split count differ from the count (the caller checks).
        """
        bounds: list[str] = []
        while True:
            after = "WHERE key > ?" if bounds else ""
            params = (*bounds[-1:], _JOINED - 1)
            row = self._conn.execute(_PRINT_BOUND.format(after=after), params).fetchone()
            if row is None:
                break
            bounds.append(row[0])
        low: str | None = None
        for high in [*bounds, None]:
            where = [("key > :low", low), ("key <= :high", high)]
            terms = " AND ".join(term for term, bound in where if bound is not None)
            sql = _PRINT_PREFIXES + (f" WHERE {terms}" if terms else "")
            named = {"size": size, "low": low, "high": high}
            keys, prints, count = self._conn.execute(sql, named).fetchone()
            if count:
                yield keys, prints, count
            low = high

    def iter_user_keys_joined(self) -> Iterator[tuple[str, int]]:
        """The run's users' keys (as ``iter_user_keys``, in its order), in chunks:
        ``(the keys joined by "\\x00", how many)``."""
        keys, count = self._conn.execute(_SYNC_USER_KEYS).fetchone()
        if count:
            yield keys, count
        low, high = self._conn.execute("SELECT min(row), max(row) FROM rows").fetchone()
        if low is None:
            return
        for start in range(low - 1, high, _JOINED):
            keys, count = self._conn.execute(_ROW_USER_KEYS, (start, start + _JOINED)).fetchone()
            if count:
                yield keys, count

    def iter_user_keys(self) -> Iterator[list[str]]:
        """The keys of the run's users, in chunks.

        The run's users: rows created or found present, users ``sync`` created, less those
        ``sync`` deleted.
        """
        cursor = self._conn.execute(_USER_KEYS)
        try:
            while chunk := cursor.fetchmany(_READ):
                yield list(next(zip(*chunk, strict=True)))
        finally:
            cursor.close()

    def user_ids(self, keys: Sequence[str]) -> dict[str, str]:
        """The Clerk user id of each of ``keys`` that is one of the run's users."""
        found: dict[str, str] = {}
        for start in range(0, len(keys), 400):
            part = list(keys[start : start + 400])
            sql = _USERS.format(keys=f"AND key IN ({', '.join('?' * len(part))})", plus="+")
            for key, uid in self._conn.execute(sql, part + part):
                found.setdefault(key, uid)
        return found

    def field_prints(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The ``fields`` blob of each of ``keys`` that has one."""
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), 500):
            part = list(keys[start : start + 500])
            sql = (
                f"SELECT key, fields FROM fingerprints WHERE key IN ({', '.join('?' * len(part))})"  # noqa: S608
            )
            found.update(self._conn.execute(sql, part).fetchall())
        return found


class SyncMoves:
    """``sync``'s moves on ``sync_rows``: queue, claim (durable before a request), finish."""

    if TYPE_CHECKING:  # provided by StateStore
        _conn: sqlite3.Connection
        path: Path
        _clock: Callable[[], float]

        def _transaction(self) -> AbstractContextManager[None]: ...
        def _put(self, batch: list[tuple[str, bytes, bytes]], replace: bool) -> int: ...

    def sync_queue(self, rows: Iterable[tuple[str, int | None, str, str | None]]) -> int:
        """Queue ``(key, row, action, clerk_user_id)`` as ``pending`` in one transaction.

        A key already ``in_flight`` (a request may have left before a crash) stays so, for the
        sender to reconcile it first. Returns how many keys were given.
        """
        now = self._clock()
        given = [(k, r, a, u, now) for k, r, a, u in rows]
        with self._transaction():
            self._conn.executemany(
                "INSERT INTO sync_rows (key, row, action, state, clerk_user_id, updated_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (key) DO UPDATE SET "
                "row = excluded.row, action = excluded.action, "
                "clerk_user_id = coalesce(excluded.clerk_user_id, sync_rows.clerk_user_id), "
                "state = CASE sync_rows.state WHEN 'in_flight' THEN 'in_flight' ELSE 'pending' END, "  # noqa: E501
                "code = NULL, message = NULL, updated_at = excluded.updated_at",
                given,
            )
        return len(given)

    def sync_claim(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """Mark ``keys`` ``in_flight`` (committed before any request leaves).

        Returns, per key, its state before the claim (``in_flight`` means a request of an
        earlier pass may have reached Clerk: reconcile first) and its Clerk user id.
        """
        before: dict[str, tuple[str, str | None]] = {}
        with self._transaction():
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ", ".join("?" * len(part))
                before.update(
                    (k, (s, u))
                    for k, s, u in self._conn.execute(
                        f"SELECT key, state, clerk_user_id FROM sync_rows WHERE key IN ({marks})",  # noqa: S608
                        part,
                    )
                )
                self._conn.execute(
                    f"UPDATE sync_rows SET state = 'in_flight', attempts = attempts + 1, "  # noqa: S608
                    f"updated_at = ? WHERE key IN ({marks})",
                    [self._clock(), *part],
                )
        return before

    def sync_finish(
        self,
        outcomes: Iterable[tuple[str, str, str | None, str | None, str | None]],
        prints: Iterable[tuple[str, bytes, bytes]] = (),
    ) -> None:
        """Record ``(key, state, clerk_user_id, code, message)`` per key and the prints of the
        users now matching the newer export, in one transaction."""
        now = self._clock()
        with self._transaction():
            self._conn.executemany(
                "UPDATE sync_rows SET state = ?, clerk_user_id = coalesce(?, clerk_user_id), "
                "code = ?, message = ?, updated_at = ? WHERE key = ?",
                [(s, u, c, m, now, k) for k, s, u, c, m in outcomes],
            )
            self._put(list(prints), True)

    def sync_counts(self) -> dict[tuple[str, str], int]:
        """Keys per ``(action, state)``."""
        return {
            (a, s): n
            for a, s, n in self._conn.execute(
                "SELECT action, state, count(*) FROM sync_rows GROUP BY action, state"
            )
        }

    def upsert_waiting(self, action: str) -> list[tuple[str, int, str]]:
        """``(key, row, clerk_user_id)`` of rows found already in Clerk (``exists``) whose user
        ``action`` has not brought up to date yet (its ``sync_rows`` entry, if any, not ``done``).

        A key a ``sync`` has taken over (an entry of another action) is left to it: its user
        follows a newer export. One row per key (the first), by row.
        """
        return list(
            self._conn.execute(
                "SELECT r.key, min(r.row), r.clerk_user_id FROM rows r WHERE r.state = 'exists' "
                "AND r.clerk_user_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sync_rows s "
                "WHERE s.key = r.key AND (s.state = 'done' OR s.action != ?)) "
                "GROUP BY r.key ORDER BY min(r.row)",
                (action,),
            )
        )

    def sync_states(self, action: str) -> dict[str, int]:
        """Keys of ``action`` per state (``pending``, ``in_flight``, ``done``, ``failed``)."""
        sql = "SELECT state, count(*) FROM sync_rows WHERE action = ? GROUP BY state"
        return dict(self._conn.execute(sql, (action,)))

    def sync_failures(self) -> list[tuple[str, int | None, str, str | None, str | None]]:
        """``(key, row, action, code, message)`` of failed keys, by row."""
        return list(
            self._conn.execute(
                "SELECT key, row, action, code, message FROM sync_rows WHERE state = 'failed' "
                "ORDER BY row"
            )
        )
