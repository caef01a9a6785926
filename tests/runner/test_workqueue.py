"""WorkQueue: a bounded FIFO that yields only when it must wait; a full producer wakes at half."""

from __future__ import annotations

import anyio
import pytest

from migrate.runner.workqueue import WorkQueue


def test_put_and_get_do_not_yield_when_they_need_not_wait() -> None:
    """An item with room to go, and an item already queued, pass without another task running."""

    async def main() -> None:
        ran: list[str] = []

        async def other() -> None:
            ran.append("other")

        queue = WorkQueue[int](2)
        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            await queue.put(1)
            await queue.put(2)
            assert [await queue.get(), await queue.get()] == [1, 2]
            assert ran == []  # anyio's memory streams would have let `other` run on each call
        assert ran == ["other"]

    anyio.run(main)


def test_a_full_queue_wakes_its_producer_once_drained_to_half() -> None:
    """A producer blocked on a full queue resumes only when the consumers took it down to half."""

    async def main() -> None:
        queue = WorkQueue[int](4)
        done: list[int] = []

        async def produce() -> None:
            for i in range(5):
                await queue.put(i)
                done.append(i)

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            await anyio.sleep(0.01)
            assert done == [0, 1, 2, 3]  # the fifth waits for room
            assert await queue.get() == 0
            await anyio.sleep(0.01)
            assert done == [0, 1, 2, 3]  # 3 left: above half, still waiting
            assert await queue.get() == 1
            await anyio.sleep(0.01)
            assert done == [0, 1, 2, 3, 4]
        assert [await queue.get() for _ in range(3)] == [2, 3, 4]

    anyio.run(main)


def test_waiting_consumers_share_the_items_and_end_after_close() -> None:
    """Consumers blocked on an empty queue each take distinct items; after close they drain it,
    then get EndOfStream; a put after close is refused."""

    async def main() -> None:
        queue = WorkQueue[int](8)
        got: dict[str, list[int]] = {"a": [], "b": []}

        async def consume(name: str) -> None:
            while True:
                try:
                    got[name].append(await queue.get())
                except anyio.EndOfStream:
                    return
                await anyio.sleep(0)  # let the other consumer take a turn

        async with anyio.create_task_group() as tg:
            tg.start_soon(consume, "a")
            tg.start_soon(consume, "b")
            await anyio.sleep(0.01)  # both wait on the empty queue
            for i in range(6):
                await queue.put(i)
            queue.close()
        assert sorted(got["a"] + got["b"]) == list(range(6))
        assert got["a"]
        assert got["b"]
        with pytest.raises(anyio.ClosedResourceError):
            await queue.put(7)

    anyio.run(main)
