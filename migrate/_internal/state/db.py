"""Opening the state DB file: WAL, the synchronous level, the optional exclusive lock.

Durability: a committed WAL transaction has been written to the OS, so it survives ``kill -9``
of the process; ``synchronous=FULL`` also fsyncs each commit, so it survives power loss.
``lock=True`` sets ``locking_mode=EXCLUSIVE`` before the first WAL access and writes once, so
the file is held until the connection closes (or the process dies: the OS drops the lock).
The DB's directory (the run directory) is made 0700 and the DB files 0600 (``make_private``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

from migrate.errors import StateError

__all__ = ["RefusedMoveError", "connect", "make_private"]


def connect(
    path: Path, synchronous: str, *, create: bool, lock: bool, busy_timeout: float
) -> sqlite3.Connection:
    """Open (or create) ``path`` in WAL mode; ``StateError`` when it cannot be used or is locked."""
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError("synchronous must be FULL or NORMAL")
    if create:
        _create_private(path)
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
    make_private(path)
    return conn


def make_private(path: Path) -> None:
    """Make the state DB's directory 0700 and the DB, its WAL and shared-memory files 0600.

    The run directory holds every e-mail and external id, so it is the owner's alone whatever
    the umask, on every platform that has modes; an older, looser run directory is tightened
    when opened. SQLite gives ``-wal`` and ``-shm`` the DB file's mode as it creates them.
    """
    for target, mode in (
        (path.parent, 0o700),
        (path, 0o600),
        (path.with_name(path.name + "-wal"), 0o600),
        (path.with_name(path.name + "-shm"), 0o600),
    ):
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if stat.S_IMODE(target.stat().st_mode) != mode:
                target.chmod(mode)


def _create_private(path: Path) -> None:
    """Create the DB file 0600 before SQLite opens it (its directory must exist)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StateError(f"{path}: cannot open the state DB: {exc.strerror or exc}") from exc
    make_private(path)


class RefusedMoveError(Exception):
    """A move found a row in the wrong state: its transaction rolls back, then the caller
    explains the refusal with a ``StateError`` (never leaves the ``state`` package)."""
