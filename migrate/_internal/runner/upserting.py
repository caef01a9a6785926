"""``run --upsert``: bring the users a run found already in Clerk up to its rows, as ``sync`` does.

A row whose user was already in Clerk (same external id: made by an earlier tool or by hand)
is recorded ``exists`` by the pass. With ``--upsert`` each such user is then updated through
``sync``'s own sender (``runner.sync_send``) as a ``sync`` of a changed row over every mapped
field: names, username and external id (``PATCH /users/{id}``), metadata (merged: a key the
row lacks is sent as ``null``), the row's password digest, its email addresses and phone
numbers added (and made primary) where missing. Each key is ``in_flight`` in ``sync_rows``
(action ``upsert``) before its first request leaves, and every write is computed from the
user read back, so a lost answer or a kill is reconciled and nothing is applied twice; a rerun
finishes what is not ``done``. The fingerprints of the rows, recorded when the run was
planned, stay: a later ``sync`` of the same export finds these users unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Final

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.runner.engine import PayloadSource
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.sync_send import SyncItem, SyncOptions, SyncTally, send_sync
from migrate._internal.state import StateStore

__all__ = ["UPSERT", "upsert_existing", "upsert_items"]

UPSERT: Final = "upsert"  # the ``sync_rows`` action of ``run --upsert``
_GROUP: Final = 5_000  # rows whose bodies are read from the input at once


def upsert_items(
    store: StateStore, payloads: PayloadSource, fields: tuple[str, ...], batch: int
) -> Iterator[Sequence[SyncItem]]:
    """The ``exists`` rows still to bring up to date, as ``SyncItem`` batches of ``batch``."""
    waiting = store.upsert_waiting(UPSERT)
    out: list[SyncItem] = []
    for start in range(0, len(waiting), _GROUP):
        group = waiting[start : start + _GROUP]
        bodies = {p.row: p.body for p in payloads([row for _, row, _ in group])}
        for key, row, user_id in group:
            body = bodies.get(row)
            if body is None:  # not readable from the input now (a corrected row): left as is
                continue
            out.append(SyncItem(key, row, UPSERT, user_id, fields, body, None))
            if len(out) >= batch:
                yield out
                out = []
    if out:
        yield out


async def upsert_existing(
    client: ClerkClient,
    pacer: Pacer,
    store: StateStore,
    payloads: PayloadSource,
    fields: tuple[str, ...],
    *,
    options: SyncOptions | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SyncTally:
    """Update every ``exists`` row's user to the row (``updated``, ``matched`` or ``failed``)."""
    opts = options or SyncOptions()
    items = upsert_items(store, payloads, fields, opts.batch)
    return await send_sync(client, pacer, store, items, opts, should_stop=should_stop)
