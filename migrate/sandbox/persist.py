"""A sandbox's users kept in a file between processes (a ``--sandbox`` run directory's
``sandbox.json``), so every command of a rehearsal meets the same instance.

The file holds what the sandbox holds, password digests included (as Clerk's own database
does), so it is written owner-only (0600), atomically, and read back whole.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from migrate.errors import SandboxError
from migrate.sandbox.store import UserStore

__all__ = ["load_store", "save_store"]


def save_store(store: UserStore, path: Path) -> None:
    """Write ``store`` to ``path`` (mode 0600) atomically: a crash leaves the old file or the
    new one. Raises ``SandboxError`` when it cannot be written."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(store.dump(), handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SandboxError(f"cannot save the sandbox's users to {path}: {exc}") from exc


def load_store(path: Path) -> UserStore:
    """The store saved in ``path``. Raises ``SandboxError`` naming the file when it cannot be
    read or is not a saved store."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return UserStore.restore(data)
    except (OSError, ValueError) as exc:
        raise SandboxError(
            f"cannot read the sandbox's users from {path}: {exc}; move the file away to "
            "rehearse against an empty sandbox"
        ) from exc
