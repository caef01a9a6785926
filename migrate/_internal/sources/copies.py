"""Decoded copies of inputs that polars cannot scan as they are, which no crash leaves behind.

A gzipped or re-encoded input (plaintext passwords, digests, TOTP secrets) is decoded into a
copy polars can scan. Where the platform allows (``/proc/self/fd``), the copy is a file without
a name: created unlinked (``O_TMPFILE``), reached through its descriptor's path, and gone when
the process ends, however it ends (``kill -9`` included). Elsewhere it is a 0600 file in a 0700
directory ``clerk-migrate-<pid>-*`` under the temporary directory, removed at exit; a directory
left by a process that no longer exists is removed by the next start.

``LineEnds`` turns a lone CR (old Mac, some Excel exports) outside quotes into LF, chunk by
chunk, so that CR-only and mixed line endings read like LF (polars only splits on LF and CRLF).
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import IO, Final

__all__ = ["LineEnds", "has_lone_cr", "new_copy"]

_PREFIX: Final = "clerk-migrate-"
_LONE_CR: Final = re.compile(r"\r(?!\n)")
_LONE_CR_BYTES: Final = re.compile(rb"\r(?!\n)")
_handles: list[IO[bytes]] = []  # unnamed copies stay open (and so exist) until the process ends
atexit.register(lambda: [h.close() for h in _handles])
_private: list[Path] = []


def new_copy(suffix: str) -> tuple[IO[bytes], Path]:
    """A new empty file open for writing, and the path polars can read it by."""
    if _proc_fd_works():
        handle = tempfile.TemporaryFile()  # noqa: SIM115  # kept open on purpose: see module
        _handles.append(handle)
        return handle, Path(f"/proc/self/fd/{handle.fileno()}")
    fd, name = tempfile.mkstemp(dir=_private_dir(), suffix=suffix)
    return os.fdopen(fd, "wb"), Path(name)


def _proc_fd_works() -> bool:
    return Path("/proc/self/fd").is_dir()


def _private_dir() -> Path:
    if not _private:
        _sweep_stale(Path(tempfile.gettempdir()))
        d = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))  # mkdtemp: mode 0700
        atexit.register(shutil.rmtree, d, True)
        _private.append(d)
    return _private[0]


def _sweep_stale(root: Path) -> None:
    """Remove copy directories of processes that no longer exist (killed before their exit)."""
    for d in root.glob(f"{_PREFIX}*-*"):
        pid = d.name.removeprefix(_PREFIX).split("-", 1)[0]
        if pid.isdigit() and d.is_dir() and not _alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def has_lone_cr(chunk: bytes, carry_cr: bool) -> tuple[bool, bool]:
    """(a CR not followed by LF was seen, the chunk ends in CR) for a chunk of a byte stream.

    ``carry_cr`` says the previous chunk ended in CR (its fate depends on this chunk's start).
    """
    if carry_cr and chunk and not chunk.startswith(b"\n"):
        return True, False
    if b"\r" not in chunk:
        return False, False
    ends = chunk.endswith(b"\r")
    body = chunk[:-1] if ends else chunk
    return _LONE_CR_BYTES.search(body) is not None, ends


class LineEnds:
    """Turn lone CRs outside quoted values into LF, over text fed chunk by chunk.

    A quoted value keeps its CRs (they are data). RFC 4180 doubles a quote inside a quoted
    value, so a CR is outside quotes when the quote characters before it are even in number.
    """

    def __init__(self, quote: str | None) -> None:
        self._quote = quote
        self._inside = False
        self._held_cr = False

    def feed(self, text: str, *, final: bool) -> str:
        """The text with line ends fixed (a trailing CR is held until the next chunk)."""
        if self._held_cr:
            text = "\r" + text
            self._held_cr = False
        if not final and text.endswith("\r"):
            text = text[:-1]
            self._held_cr = True
        if "\r" not in text:
            if self._quote is not None:
                self._inside ^= bool(text.count(self._quote) & 1)
            return text
        if self._quote is None:
            return _LONE_CR.sub("\n", text)
        parts = text.split(self._quote)
        for i, part in enumerate(parts):
            if i:
                self._inside = not self._inside
            if not self._inside and "\r" in part:
                parts[i] = _LONE_CR.sub("\n", part)
        return self._quote.join(parts)
