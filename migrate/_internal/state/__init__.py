"""The checkpoint: one SQLite file per run directory, with named, transactional state moves.

A row's life::

    invalid                                      planned with validation errors; never sent
    pending ──claim──▶ in_flight ──Completed──▶ created   (Clerk said 200)
                           │      ──Reconciled─▶ created   (a lookup found our lost create)
                           │      ──Existed────▶ exists    (same external_id already there)
                           │      ──Failed─────▶ failed    (code, param, message, retryable)
                           │      ──Released───▶ pending   (never sent, or lookup found nothing)
    failed ──requeue_failed──▶ pending                     (the ``retry`` command)
    invalid ──revalidate──▶ pending | invalid              (``retry --input``: corrected row
                                                            valid, or new reasons)
    created ──roll_back──▶ pending (note ``rolled_back``)  (``rollback`` deleted the user)

The moves out of ``in_flight`` are values (``Completed`` …) applied in batches by
``StateStore.record_many``. Every call is one transaction and refuses rows that are not in the
expected state (a ``StateError`` naming the row, its state and the move; nothing of the batch is
applied).

Durability. The file runs in WAL mode. ``claim`` commits before it returns, and a committed
WAL transaction has been handed to the OS with ``write()``, so it survives ``kill -9`` of the
process at any moment (the OS still holds the pages). With ``synchronous=FULL`` (the default
here) each commit is also fsync'ed, so it survives power loss too: that costs one fsync per
*batch* of claims or completions (a handful per second at Clerk's rate), which is cheap.
``synchronous="NORMAL"`` is enough for the process-crash guarantee if fsync is ever a cost.
``lock=True`` holds the file exclusively, so a second process cannot resume the same run at the
same time (it would reconcile and re-send rows the first one has in flight).

Modules: ``model`` (states, rows, moves, schema), ``db`` (opening the file), ``store``
(``StateStore``), ``aftermoves`` (the moves of ``retry`` and ``rollback``), ``kinds`` (the
organizations' and memberships' tables: ``store.kind(name)``, same states and moves).

Kinds. Users, organizations and memberships are rows of the same state machine, each kind in
its own table of the one file; a move's ``user_id`` is the Clerk id of the object created
(a user, an organization, a membership). See ``state.kinds`` for what each column holds.

What is stored: row numbers, keys, external ids, primary emails, states, Clerk user ids, error
code / param / message, attempt counts, timestamps, the input and mapping fingerprints and run
options. Never a password, digest, TOTP secret or backup code: no move takes one.

One ``StateStore`` belongs to one thread of control at a time (the runner's recorder task; the
connection may be handed to a worker thread, never shared concurrently). Iterators stream with
``fetchmany`` so reports over 10 M rows stay flat in memory.
"""

from migrate._internal.state.aftermoves import RETRY_NOTE, ROLLED_BACK
from migrate._internal.state.kinds import KINDS, MemberLink, MemberPlanRow, membership_key
from migrate._internal.state.model import (
    SCHEMA_VERSION,
    Completed,
    Existed,
    Failed,
    Fingerprints,
    Move,
    PlanRow,
    Reconciled,
    Released,
    RowRecord,
    RowState,
)
from migrate._internal.state.store import StateStore

__all__ = [
    "KINDS",
    "RETRY_NOTE",
    "ROLLED_BACK",
    "SCHEMA_VERSION",
    "Completed",
    "Existed",
    "Failed",
    "Fingerprints",
    "MemberLink",
    "MemberPlanRow",
    "Move",
    "PlanRow",
    "Reconciled",
    "Released",
    "RowRecord",
    "RowState",
    "StateStore",
    "membership_key",
]
