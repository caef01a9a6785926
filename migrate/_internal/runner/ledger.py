"""``StoreLedger``: the runner's ``Ledger`` over ``migrate._internal.state.StateStore``.

Translates worker events into the store's named moves (one ``record_many`` transaction per
batch) and reads pending row numbers as a compact ``array`` so a 10 M-row plan stays small.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import islice

from migrate._internal.runner.jobs import Event, EventKind
from migrate._internal.runner.recorder import InFlightRow
from migrate._internal.state import (
    Completed,
    Existed,
    Failed,
    Move,
    Reconciled,
    Released,
    RowState,
    StateStore,
)

__all__ = ["StoreLedger", "move_for"]


def move_for(event: Event) -> Move | None:
    """The state move an event stands for (None for progress-only events)."""
    kind = event.kind
    if kind is EventKind.CREATED:
        assert event.user_id is not None
        cls = Reconciled if event.found_by_lookup else Completed
        return cls(event.row, event.user_id, event.attempts)
    if kind is EventKind.EXISTS:
        assert event.user_id is not None
        return Existed(event.row, event.user_id, event.attempts)
    if kind is EventKind.FAILED:
        return Failed(
            event.row,
            event.code or "unknown",
            event.param,
            event.message or "",
            event.retryable,
            event.attempts,
        )
    if kind is EventKind.RELEASED:
        return Released(event.row, event.attempts)
    return None


class StoreLedger:
    """The ``Ledger`` the engine writes through; owns nothing but the store it wraps."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def pending_rows(
        self, *, first: int | None = None, last: int | None = None, limit: int | None = None
    ) -> Sequence[int]:
        """Pending row numbers in file order, within ``first..last``, at most ``limit``."""
        rows = (
            r
            for r in self.store.row_numbers([RowState.PENDING])
            if (first is None or r >= first) and (last is None or r <= last)
        )
        return array("q", islice(rows, limit) if limit is not None else rows)

    def claim(self, rows: Sequence[int]) -> None:
        """pending -> in_flight, durable before it returns."""
        self.store.claim(rows)

    def record(self, events: Sequence[Event]) -> None:
        """Apply the events' moves in one transaction."""
        moves = [m for e in events if (m := move_for(e)) is not None]
        if moves:
            self.store.record_many(moves)

    def in_flight(self) -> list[InFlightRow]:
        """Rows a previous process left in_flight."""
        return [
            InFlightRow(p.row, p.key, p.external_id, p.email) for p in self.store.in_flight_rows()
        ]

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        return {str(k): v for k, v in self.store.counts().items()}
