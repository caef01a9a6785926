"""What a pass's progress shows: how many rows it may send, and the rate in force.

``bar_total`` counts the rows a pass may send (rows left in flight included: reconciliation
re-sends the missing ones); ``LiveRate`` is the configured rate until the pass starts, then the
pacer's rate in force (lowered after a 429). The display itself is the caller's.
"""

from __future__ import annotations

from migrate._internal.runner.engine import RowWindow
from migrate._internal.runner.pacing import Pacer
from migrate._internal.state import RowState, StateStore

__all__ = ["LiveRate", "bar_total"]


def bar_total(store: StateStore, window: RowWindow) -> int:
    """Rows this pass may send: pending and in_flight rows within ``--rows``, capped by
    ``--limit`` / ``--sample`` (in_flight rows are looked up first; missing ones are sent)."""
    states = (RowState.PENDING, RowState.IN_FLIGHT)
    if window.first is None and window.last is None:
        counts = store.counts()
        rows = counts[RowState.PENDING] + counts[RowState.IN_FLIGHT]
    else:
        rows = sum(1 for r in store.row_numbers(states) if window.holds(r))
    return window.cap(rows)


class LiveRate:
    """The rate to show: the configured one until the pass starts, then the pacer's rate in
    force (lowered after a 429, recovering after). Pass ``started`` as ``on_started``."""

    def __init__(self, configured: float) -> None:
        self.configured = configured
        self.pacer: Pacer | None = None

    def started(self, pacer: Pacer) -> None:
        """The pass's pacer (``execute``'s ``on_started``)."""
        self.pacer = pacer

    def __call__(self) -> float:
        return self.pacer.current_rate if self.pacer is not None else self.configured
