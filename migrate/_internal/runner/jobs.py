"""The runner's plain data: a row to send, what Clerk answered, and what the recorder is told.

Workers turn a ``Job`` into ``Event``s; only the recorder turns events into state moves. The
request body holds secrets (password digests, TOTP secrets), so it never appears in a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Event", "EventKind", "Found", "Job", "Reply", "ReplyAction"]


class ReplyAction(StrEnum):
    """What the runner does with one answer from Clerk (from ``clerk.retry.classify``)."""

    OK = "ok"
    RETRY = "retry"
    RECONCILE = "reconcile"
    FAIL_ROW = "fail_row"
    ABORT = "abort"


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer to one request, reduced to what the runner branches on.

    ``ambiguous`` is true when the request may have reached Clerk without us seeing the answer
    (5xx, timeout, dropped connection): a create must then be looked up before it is re-sent.
    """

    action: ReplyAction
    user_id: str | None = None
    status: int | None = None
    code: str | None = None
    param: str | None = None
    message: str | None = None
    retry_after: float | None = None
    rate_limited: bool = False
    ambiguous: bool = False
    config_suspect: bool = False  # may be an instance setting rather than this row's data
    unreachable: bool = False  # no connection to Clerk at all: an outage, not this row's fault


@dataclass(frozen=True, slots=True)
class Found:
    """A Clerk user seen by a lookup: enough to match it to a row."""

    user_id: str
    external_id: str | None
    emails: tuple[str, ...] = ()


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
