"""Sending and receiving on anyio memory streams without a scheduling hop when none is needed.

``MemoryObjectSendStream.send`` and ``MemoryObjectReceiveStream.receive`` start with a
checkpoint: every call goes once round the event loop, even when the item is already buffered
or there is room for it. Per row that is several trips round the loop (job queued, job taken,
event sent, event taken) for nothing: the runner's own CPU per row is mostly such trips. These
helpers try the non-blocking call first and only ``await`` (and so yield) when they must wait.

A task using them yields only where it really waits (the network, a full or empty stream, the
limiter), which is where it can be cancelled, as before; nothing else changes.
"""

from __future__ import annotations

from typing import TypeVar

from anyio import WouldBlock
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

__all__ = ["receive", "send"]

T = TypeVar("T")


async def send(stream: MemoryObjectSendStream[T], item: T) -> None:
    """Queue ``item``: at once when a receiver waits or the buffer has room, else wait for room."""
    try:
        stream.send_nowait(item)
    except WouldBlock:
        await stream.send(item)


async def receive(stream: MemoryObjectReceiveStream[T]) -> T:
    """The next item: at once when one is buffered, else wait. Raises ``EndOfStream``."""
    try:
        return stream.receive_nowait()
    except WouldBlock:
        return await stream.receive()
