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

__all__ = ["FIELDS_META", "FINGERPRINT_SCHEMA", "SYNC_SCHEMA", "FingerprintRecords", "migrate_v1"]

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
# the run's users: created or present, or created by sync, less those sync deleted
_USERS: Final = """
WITH users(key, uid) AS (
    SELECT key, clerk_user_id FROM rows WHERE state IN ('created', 'exists')
    UNION ALL
    SELECT key, clerk_user_id FROM sync_rows WHERE action = 'new' AND state = 'done'
)
SELECT u.key, u.uid, f.whole FROM users u LEFT JOIN fingerprints f ON f.key = u.key
WHERE u.key NOT IN (
    SELECT key FROM sync_rows WHERE action = 'gone' AND state = 'done' AND code = 'deleted'
)"""
_CHUNK: Final = 10_000


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

    def iter_users(self) -> Iterator[list[tuple[str, str, bytes | None]]]:
        """``(key, clerk_user_id, whole print or None)`` of the run's users, in chunks.

        The run's users: rows created or found present, users ``sync`` created, less those
        ``sync`` deleted.
        """
        cursor = self._conn.execute(_USERS)
        try:
            while chunk := cursor.fetchmany(100_000):
                yield chunk
        finally:
            cursor.close()

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
