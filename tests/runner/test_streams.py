"""Stream and slot fast paths: no trip round the event loop unless the caller must wait."""

from __future__ import annotations

import anyio

from migrate.runner.pacing import Pacer
from migrate.runner.streams import receive, send


def test_send_and_receive_do_not_yield_when_they_need_not_wait() -> None:
    """An item with room to go, and an item already buffered, pass without another task running."""

    async def main() -> None:
        ran: list[str] = []

        async def other() -> None:
            ran.append("other")

        tx, rx = anyio.create_memory_object_stream[int](1)
        async with tx, rx, anyio.create_task_group() as tg:
            tg.start_soon(other)
            await send(tx, 1)
            assert await receive(rx) == 1
            assert ran == []  # anyio's own send/receive would each have let `other` run
        assert ran == ["other"]

    anyio.run(main)


def test_receive_waits_for_an_item_and_ends_with_the_stream() -> None:
    """On an empty stream receive waits for the next send, and raises EndOfStream once closed."""

    async def main() -> list[object]:
        got: list[object] = []
        tx, rx = anyio.create_memory_object_stream[int](0)

        async def consume() -> None:
            while True:
                try:
                    got.append(await receive(rx))
                except anyio.EndOfStream:
                    got.append("end")
                    return

        async with rx, anyio.create_task_group() as tg:
            tg.start_soon(consume)
            async with tx:
                for i in range(3):
                    await send(tx, i)  # buffer 0: each waits for the consumer
        return got

    assert anyio.run(main) == [0, 1, 2, "end"]


def test_a_slot_is_taken_at_once_when_free_and_waited_for_when_not() -> None:
    """``pacer.slot`` admits up to the concurrency at once; one more waits for a release."""

    async def main() -> None:
        pacer = Pacer(1000.0, fixed_concurrency=1)
        ran: list[str] = []
        order: list[str] = []

        async def other() -> None:
            ran.append("other")

        async def second() -> None:
            async with pacer.slot:
                order.append("second")

        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            async with pacer.slot:
                assert ran == []  # a free slot is taken without yielding
                tg.start_soon(second)
                await anyio.sleep(0.01)
                order.append("first")  # `second` is still waiting for the only slot
        assert order == ["first", "second"]

    anyio.run(main)
