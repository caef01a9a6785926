"""The recorder: events are counted as they are put, committed in batches by its own task."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from migrate._internal.runner.jobs import Event, EventKind
from migrate._internal.runner.recorder import InFlightRow, Recorder


class ListLedger:
    """A ledger that keeps each committed batch of events."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def pending_rows(
        self, *, first: int | None, last: int | None, limit: int | None
    ) -> Sequence[int]:
        return []

    def claim(self, rows: Sequence[int]) -> None:
        pass

    def record(self, events: Sequence[Event]) -> None:
        self.batches.append([e.row for e in events])

    def in_flight(self) -> list[InFlightRow]:
        return []

    def counts(self) -> dict[str, int]:
        return {}


def test_events_are_committed_by_batch_and_the_rest_on_close() -> None:
    """A full batch wakes the recorder task for one commit; close commits what is left; progress
    only events are counted but never recorded."""
    ledger = ListLedger()
    recorder = Recorder(ledger, batch=3, interval=3600.0)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await anyio.sleep(0)
            recorder.put(Event(EventKind.RETRYING, 1))
            for row in (1, 2):
                recorder.put(Event(EventKind.CREATED, row, "u"))
            await anyio.sleep(0.01)
            assert ledger.batches == []  # neither full nor old: nothing committed yet
            recorder.put(Event(EventKind.FAILED, 3, code="x"))
            await anyio.sleep(0.01)
            assert ledger.batches == [[1, 2, 3]]
            recorder.put(Event(EventKind.RELEASED, 4))
            recorder.close()
        assert ledger.batches == [[1, 2, 3], [4]]

    anyio.run(main)
    assert (recorder.tally.created, recorder.tally.failed, recorder.tally.retrying) == (2, 1, 1)
    assert recorder.commits == 2


def test_an_old_buffer_is_committed_on_the_next_event() -> None:
    """Once ``interval`` has passed since the last commit, the next event makes the task commit."""
    ledger = ListLedger()
    now = [0.0]
    recorder = Recorder(ledger, batch=100, interval=0.5, clock=lambda: now[0])

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await anyio.sleep(0)
            recorder.put(Event(EventKind.CREATED, 1, "u"))
            await anyio.sleep(0.01)
            assert ledger.batches == []
            now[0] = 0.6
            recorder.put(Event(EventKind.CREATED, 2, "u"))
            await anyio.sleep(0.01)
            assert ledger.batches == [[1, 2]]
            recorder.close()

    anyio.run(main)


def test_a_cancelled_recorder_still_commits_what_it_was_given() -> None:
    """When the run's task group is cancelled, buffered events are committed on the way out."""
    ledger = ListLedger()
    recorder = Recorder(ledger, batch=100, interval=3600.0)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await anyio.sleep(0)
            recorder.put(Event(EventKind.EXISTS, 7, "u"))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert ledger.batches == [[7]]
