"""The recorder: the single owner of the state DB and of the progress bar during a run.

Workers hand ``Event``s to ``Recorder.put`` (a plain call: counted and buffered, no trip round
the event loop per event); the recorder task (``run``) applies them to the ``Ledger`` in batches
(one transaction per batch, at most ``interval`` seconds apart) and updates the progress
display, woken only when a batch is due. Claims go through it too, so every write to the state
DB happens in one place. A crash between an event and its batch commit loses nothing: the row
is still ``in_flight`` and the next start reconciles it against Clerk.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from migrate._internal.runner.jobs import Event, EventKind

__all__ = ["InFlightRow", "Ledger", "Progress", "Recorder", "RunTally"]


@dataclass(frozen=True, slots=True)
class InFlightRow:
    """A row left ``in_flight`` by an earlier process: what reconciliation needs."""

    row: int
    key: str
    external_id: str | None
    email: str | None


class Ledger(Protocol):
    """The state moves the runner needs; ``runner.ledger`` adapts ``StateStore``."""

    def pending_rows(
        self, *, first: int | None, last: int | None, limit: int | None
    ) -> Sequence[int]:
        """Row numbers still ``pending`` (in file order), within the bounds."""
        ...

    def claim(self, rows: Sequence[int]) -> None:
        """pending -> in_flight, committed (durable) before it returns."""
        ...

    def record(self, events: Sequence[Event]) -> None:
        """Apply final events (created, exists, failed, released) in one transaction."""
        ...

    def in_flight(self) -> list[InFlightRow]:
        """Rows left ``in_flight`` by an earlier process."""
        ...

    def counts(self) -> dict[str, int]:
        """Rows per state, every state present."""
        ...


class Progress(Protocol):
    """Where the recorder shows progress (a tqdm bar, or nothing)."""

    def update(self, tally: RunTally, done: int) -> None:
        """Show the tally; ``done`` rows reached a final state since the last call."""
        ...

    def close(self) -> None:
        """Finish the display."""
        ...


@dataclass
class RunTally:
    """What happened during this process's run, by event."""

    created: int = 0
    exists: int = 0
    failed: int = 0
    released: int = 0
    unresolved: int = 0
    retrying: int = 0  # retries so far (every RETRYING event)
    codes: Counter[str] | None = None
    retrying_rows: set[int] = field(default_factory=set)  # rows between a retry and their end

    def __post_init__(self) -> None:
        if self.codes is None:
            self.codes = Counter()

    @property
    def retrying_now(self) -> int:
        """Rows that failed an attempt and have not settled yet."""
        return len(self.retrying_rows)

    def note(self, event: Event) -> bool:
        """Count ``event``; True when it is final for its row."""
        kind = event.kind
        if kind is EventKind.RETRYING:
            self.retrying += 1
            self.retrying_rows.add(event.row)
            return False
        if self.retrying_rows:
            self.retrying_rows.discard(event.row)
        if kind is EventKind.CREATED:
            self.created += 1
        elif kind is EventKind.EXISTS:
            self.exists += 1
        elif kind is EventKind.FAILED:
            self.failed += 1
            assert self.codes is not None
            self.codes[event.code or "unknown"] += 1
        elif kind is EventKind.RELEASED:
            self.released += 1
            return False
        elif kind is EventKind.UNRESOLVED:
            self.unresolved += 1
            return False
        return True


_RECORDED = frozenset({EventKind.CREATED, EventKind.EXISTS, EventKind.FAILED, EventKind.RELEASED})


class Recorder:
    """Owns the ledger and the progress display while the run's task group is alive."""

    def __init__(
        self,
        ledger: Ledger,
        progress: Progress | None = None,
        *,
        batch: int = 500,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.progress = progress
        self.batch = batch
        self.interval = interval
        self._clock = clock
        self._buffer: list[Event] = []
        self._done_since_update = 0
        self._last_flush = clock()
        self._wake: anyio.Event | None = None  # set by ``put`` when a commit is due
        self._closed = False
        self.tally = RunTally()
        self.commits = 0

    def claim(self, rows: Sequence[int]) -> None:
        """Mark rows in_flight durably; called by the producer before the rows are queued."""
        self.ledger.claim(rows)

    def put(self, event: Event) -> None:
        """Take one event: count it, buffer it, and wake the recorder task when a commit is due
        (the batch is full, or ``interval`` seconds passed since the last one)."""
        if self.tally.note(event):
            self._done_since_update += 1
        if event.kind in _RECORDED:
            self._buffer.append(event)
        wake = self._wake
        if wake is not None and (
            len(self._buffer) >= self.batch or self._clock() - self._last_flush >= self.interval
        ):
            wake.set()
            self._wake = None  # set once; ``run`` arms a new one after it flushed

    def flush(self) -> None:
        """Commit buffered events in one transaction and refresh the display."""
        if self._buffer:
            self.ledger.record(self._buffer)
            self._buffer = []
            self.commits += 1
        self._last_flush = self._clock()
        if self.progress is not None:
            self.progress.update(self.tally, self._done_since_update)
        self._done_since_update = 0

    def close(self) -> None:
        """Every event has been put: ``run`` commits what is left and returns."""
        self._closed = True
        if self._wake is not None:
            self._wake.set()

    async def run(self) -> None:
        """Commit batches as they fall due until ``close``; always flush what was put."""
        try:
            while not self._closed:
                self._wake = anyio.Event()
                await self._wake.wait()
                self.flush()
        finally:
            # plain synchronous calls: they complete even when the task group is cancelled
            self._wake = None
            self.flush()
