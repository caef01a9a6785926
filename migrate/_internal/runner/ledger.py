"""``StoreLedger``: the runner's ``Ledger`` over ``migrate._internal.state.StateStore``.

Applies the workers' state moves (one ``record_many`` transaction per batch) and reads pending
row numbers as a compact ``array`` so a 10 M-row plan stays small.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import islice

from migrate._internal.runner.recorder import InFlightRow
from migrate._internal.state import Move, RowState, StateStore

__all__ = ["StoreLedger"]


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

    def record(self, moves: Sequence[Move]) -> None:
        """Apply the moves in one transaction."""
        if moves:
            self.store.record_many(moves)

    def in_flight(self) -> list[InFlightRow]:
        """Rows a previous process left in_flight."""
        return [
            InFlightRow(row, key, external_id, email, since)
            for row, key, external_id, email, since in self.store.in_flight_since()
        ]

    def counts(self) -> dict[str, int]:
        """Rows per state."""
        return {str(k): v for k, v in self.store.counts().items()}
