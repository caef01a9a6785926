"""The runner's plain data: a row to send, and what the recorder is told about it.

Workers turn a ``Job`` and Clerk's answers (``clerk.outcomes``) into ``Event``s; only the
recorder turns events into state moves. The request body holds secrets (password digests,
TOTP secrets), so it never appears in a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Event", "EventKind", "Job"]


@dataclass(slots=True)
class Job:
    """One row on its way to Clerk. ``body`` is exactly what is sent and is never printed."""

    row: int
    key: str
    external_id: str | None
    email: str | None
    body: dict[str, Any] = field(repr=False)
    sent: bool = False  # a POST of it has left (so an abandoned pass cannot hand it back)


class EventKind(StrEnum):
    """What a worker tells the recorder about a row."""

    CREATED = "created"
    EXISTS = "exists"
    FAILED = "failed"
    RELEASED = "released"  # never sent (Ctrl-C, abort): back to pending
    UNRESOLVED = "unresolved"  # stopped after an ambiguous attempt: stays in_flight, reconciled
    RETRYING = "retrying"  # progress only: an attempt failed and the row will be retried


@dataclass(frozen=True, slots=True)
class Event:
    """One fact about one row, for the recorder. Never carries a secret."""

    kind: EventKind
    row: int
    user_id: str | None = None
    code: str | None = None
    param: str | None = None
    message: str | None = None
    attempts: int = 0
    retryable: bool = False
    config_suspect: bool = False
    found_by_lookup: bool = False  # created, as proved by a lookup after an ambiguous attempt
