"""``WorkQueue``: the bounded queue of jobs between the producer and the workers.

It does what an anyio memory object stream does for the engine, at a fraction of the cost per
item. A memory stream's ``send`` and ``receive`` each go once round the event loop even when
they need not wait, and a full stream wakes its sender once for every item taken, so a
producer feeding busy workers is woken once per row. Here ``put`` and ``get`` return at once
when they can, and a producer that found the queue full is woken once the workers have taken
it down to half: one wake-up per half a queue of rows.

A task using it yields only where it really waits (the network, an empty or full queue, the
limiter), which is also where it can be cancelled.
"""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

import anyio
from anyio import ClosedResourceError, EndOfStream

__all__ = ["WorkQueue"]

T = TypeVar("T")


class WorkQueue(Generic[T]):
    """Bounded FIFO from one producer to many consumers.

    ``close()`` (the producer is done) lets consumers take what is left, then ``get`` raises
    ``EndOfStream``; ``put`` after ``close`` raises ``ClosedResourceError``.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._items: deque[T] = deque()
        self._size = size
        self._low = size // 2
        self._closed = False
        self._room: anyio.Event | None = None  # the producer waits for the low-water mark
        self._ready: anyio.Event | None = None  # consumers wait for an item (or the close)

    def __len__(self) -> int:
        return len(self._items)

    async def put(self, item: T) -> None:
        """Append ``item``: at once when there is room, else after the queue drained to half."""
        if self._closed:
            raise ClosedResourceError
        while len(self._items) >= self._size:
            if self._room is None:
                self._room = anyio.Event()
            await self._room.wait()
            if self._closed:
                raise ClosedResourceError
        self._items.append(item)
        if self._ready is not None:
            self._ready.set()  # every waiting consumer wakes; those too late wait again
            self._ready = None

    async def get(self) -> T:
        """The oldest item: at once when there is one, else wait. Raises ``EndOfStream``."""
        while not self._items:
            if self._closed:
                raise EndOfStream
            if self._ready is None:
                self._ready = anyio.Event()
            await self._ready.wait()
        item = self._items.popleft()
        if self._room is not None and len(self._items) <= self._low:
            self._room.set()
            self._room = None
        return item

    def close(self) -> None:
        """No more items: consumers drain what is queued, then get ``EndOfStream``."""
        self._closed = True
        for event in (self._ready, self._room):
            if event is not None:
                event.set()
        self._ready = self._room = None
