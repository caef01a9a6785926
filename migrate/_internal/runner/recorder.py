"""The recorder: the single owner of the state DB and of the progress bar during a run.

Workers hand their updates (``jobs.Update``: state moves, ``Retrying``, ``Unresolved``) to
``Recorder.put`` (a plain call: counted and buffered, no trip round the event loop per update);
the recorder task (``run``) applies the moves to the ``Ledger`` in batches
(one transaction per batch, at most ``interval`` seconds apart) and updates the progress
display, woken only when a batch is due. Claims go through it too, so every write to the state
DB happens in one place. A crash between a move and its batch commit loses nothing: the row
is still ``in_flight`` and the next start reconciles it against Clerk.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import anyio

from migrate._internal.runner.jobs import Retrying, Unresolved, Update
from migrate._internal.state import Completed, Existed, Failed, Move, Reconciled, Released

__all__ = ["InFlightRow", "Ledger", "Progress", "Recorder", "RunTally"]


@dataclass(frozen=True, slots=True)
class InFlightRow:
    """A row left ``in_flight`` by an earlier process: what reconciliation needs."""

    row: int
    key: str
    external_id: str | None
    email: str | None
    since: float = 0.0  # epoch seconds it went in_flight (before its request left); 0: unknown


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

    def record(self, moves: Sequence[Move]) -> None:
        """Apply state moves in one transaction."""
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
    """What happened during this process's run, by kind of update."""

    created: int = 0
    exists: int = 0
    failed: int = 0
    released: int = 0
    unresolved: int = 0
    retrying: int = 0  # retries so far (every ``Retrying``)
    codes: Counter[str] | None = None
    retrying_rows: set[int] = field(default_factory=set)  # rows between a retry and their end

    def __post_init__(self) -> None:
        if self.codes is None:
            self.codes = Counter()

    @property
    def retrying_now(self) -> int:
        """Rows that failed an attempt and have not settled yet."""
        return len(self.retrying_rows)

    def note(self, update: Update) -> bool:
        """Count ``update``; True when it is final for its row."""
        if isinstance(update, Retrying):
            self.retrying += 1
            self.retrying_rows.add(update.row)
            return False
        if self.retrying_rows:
            self.retrying_rows.discard(update.row)
        match update:
            case Completed() | Reconciled():
                self.created += 1
            case Existed():
                self.exists += 1
            case Failed(code=code):
                self.failed += 1
                assert self.codes is not None
                self.codes[code] += 1
            case Released():
                self.released += 1
                return False
            case Unresolved():
                self.unresolved += 1
                return False
        return True


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
        self._buffer: list[Move] = []
        self._done_since_update = 0
        self._last_flush = clock()
        self._wake: anyio.Event | None = None  # set by ``put`` when a commit is due
        self._closed = False
        self.tally = RunTally()
        self.commits = 0

    def claim(self, rows: Sequence[int]) -> None:
        """Mark rows in_flight durably; called by the producer before the rows are queued."""
        self.ledger.claim(rows)

    def put(self, update: Update) -> None:
        """Take one update: count it, buffer it if it is a state move, and wake the recorder
        task when a commit is due (the batch is full, or ``interval`` seconds passed since the
        last one)."""
        if self.tally.note(update):
            self._done_since_update += 1
        if not isinstance(update, Retrying | Unresolved):
            self._buffer.append(update)
        wake = self._wake
        if wake is not None and (
            len(self._buffer) >= self.batch or self._clock() - self._last_flush >= self.interval
        ):
            wake.set()
            self._wake = None  # set once; ``run`` arms a new one after it flushed

    def flush(self) -> None:
        """Commit buffered moves in one transaction and refresh the display."""
        if self._buffer:
            self.ledger.record(self._buffer)
            self._buffer = []
            self.commits += 1
        self._last_flush = self._clock()
        if self.progress is not None:
            self.progress.update(self.tally, self._done_since_update)
        self._done_since_update = 0

    def close(self) -> None:
        """Every update has been put: ``run`` commits what is left and returns."""
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
