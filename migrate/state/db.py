"""Opening the state DB file: WAL, the synchronous level, the optional exclusive lock.

Durability: a committed WAL transaction has been written to the OS, so it survives ``kill -9``
of the process; ``synchronous=FULL`` also fsyncs each commit, so it survives power loss.
``lock=True`` sets ``locking_mode=EXCLUSIVE`` before the first WAL access and writes once, so
the file is held until the connection closes (or the process dies: the OS drops the lock).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from migrate.errors import StateError

__all__ = ["connect"]


def connect(
    path: Path, synchronous: str, *, create: bool, lock: bool, busy_timeout: float
) -> sqlite3.Connection:
    """Open (or create) ``path`` in WAL mode; ``StateError`` when it cannot be used or is locked."""
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError("synchronous must be FULL or NORMAL")
    try:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so DDL is transactional too.
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout
        )
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot open the state DB: {exc}") from exc
    try:
        if lock:
            # Must precede the first WAL access; the write below takes the lock for good.
            conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != "wal":
            raise StateError(f"{path}: the state DB cannot use WAL mode (got {mode!r})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        if lock:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        conn.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise StateError(
                f"{path}: the state DB is in use by another clerk-migrate process"
            ) from exc
        verb = "create" if create else "open"
        raise StateError(f"{path}: cannot {verb} the state DB: {exc}") from exc
    except sqlite3.DatabaseError as exc:
        conn.close()
        verb = "create" if create else "open"
        raise StateError(f"{path}: cannot {verb} the state DB: {exc}") from exc
    except StateError:
        conn.close()
        raise
    return conn
