"""The recorder: updates are counted as they are put, moves committed in batches by its task."""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from migrate._internal.runner.jobs import Retrying
from migrate._internal.runner.recorder import InFlightRow, Recorder
from migrate._internal.state import Completed, Existed, Failed, Move, Released


class ListLedger:
    """A ledger that keeps the rows of each committed batch of moves."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def pending_rows(
        self, *, first: int | None, last: int | None, limit: int | None
    ) -> Sequence[int]:
        return []

    def claim(self, rows: Sequence[int]) -> None:
        pass

    def record(self, moves: Sequence[Move]) -> None:
        self.batches.append([m.row for m in moves])

    def in_flight(self) -> list[InFlightRow]:
        return []

    def counts(self) -> dict[str, int]:
        return {}


def test_moves_are_committed_by_batch_and_the_rest_on_close() -> None:
    """A full batch wakes the recorder task for one commit; close commits what is left; progress
    only events are counted but never recorded."""
    ledger = ListLedger()
    recorder = Recorder(ledger, batch=3, interval=3600.0)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await anyio.sleep(0)
            recorder.put(Retrying(1))
            for row in (1, 2):
                recorder.put(Completed(row, "u"))
            await anyio.sleep(0.01)
            assert ledger.batches == []  # neither full nor old: nothing committed yet
            recorder.put(Failed(3, "x"))
            await anyio.sleep(0.01)
            assert ledger.batches == [[1, 2, 3]]
            recorder.put(Released(4))
            recorder.close()
        assert ledger.batches == [[1, 2, 3], [4]]

    anyio.run(main)
    assert (recorder.tally.created, recorder.tally.failed, recorder.tally.retrying) == (2, 1, 1)
    assert recorder.commits == 2


def test_an_old_buffer_is_committed_on_the_next_update() -> None:
    """Once ``interval`` has passed since the last commit, the next update makes the task commit."""
    ledger = ListLedger()
    now = [0.0]
    recorder = Recorder(ledger, batch=100, interval=0.5, clock=lambda: now[0])

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await anyio.sleep(0)
            recorder.put(Completed(1, "u"))
            await anyio.sleep(0.01)
            assert ledger.batches == []
            now[0] = 0.6
            recorder.put(Completed(2, "u"))
            await anyio.sleep(0.01)
            assert ledger.batches == [[1, 2]]
            recorder.close()

    anyio.run(main)


def test_a_cancelled_recorder_still_commits_what_it_was_given() -> None:
    """When the run's task group is cancelled, buffered moves are committed on the way out."""
    ledger = ListLedger()
    recorder = Recorder(ledger, batch=100, interval=3600.0)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            await anyio.sleep(0)
            recorder.put(Existed(7, "u"))
            tg.cancel_scope.cancel()

    anyio.run(main)
    assert ledger.batches == [[7]]
