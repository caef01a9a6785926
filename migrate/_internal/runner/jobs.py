"""The runner's plain data: a row to send, and what the recorder is told about it.

Workers turn a ``Job`` and Clerk's answers (``clerk.outcomes``) straight into the state moves
the recorder applies (``state.Completed``, ``Reconciled``, ``Existed``, ``Failed``,
``Released``), plus two facts that move nothing: ``Retrying`` (progress) and ``Unresolved``
(the row stays in_flight). The request body holds secrets (password digests, TOTP secrets), so
it never appears in a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migrate._internal.state import Move

__all__ = ["Job", "Outcome", "Retrying", "Unresolved", "Update"]


@dataclass(slots=True)
class Job:
    """One row on its way to Clerk. ``body`` is exactly what is sent and is never printed."""

    row: int
    key: str
    external_id: str | None
    email: str | None
    body: dict[str, Any] = field(repr=False)
    sent: bool = False  # a POST of it has left (so an abandoned pass cannot hand it back)
    first_sent_at: float = 0.0  # epoch seconds of its first POST in this process


@dataclass(frozen=True, slots=True)
class Retrying:
    """Progress only: an attempt at ``row`` failed with ``code`` and the row will be re-sent."""

    row: int
    code: str | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Unresolved:
    """The pass ended a row after an attempt that may have created its user, and nobody could
    say: no state move (any would claim to know), the row stays in_flight for the next start's
    reconciliation. ``retryable``: it ran out of retries on transient errors."""

    row: int
    attempts: int = 0
    code: str | None = None
    message: str | None = None
    retryable: bool = False


Outcome = Move | Unresolved  # how one row's pass ends
Update = Outcome | Retrying  # what a worker tells the recorder
