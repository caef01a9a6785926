"""Sending a sync plan: create the new users, update the changed ones, delete or ban the gone.

``send_sync`` takes the plan's rows to act on a batch at a time. Each batch is claimed
``in_flight`` in ``sync_rows`` (one committed transaction) before any of its requests leaves;
its keys are then handled concurrently (one task each, every request through the run's one
``Pacer``: its limiter, its 429 pause, its concurrency gate), and the batch's outcomes and the
new fingerprints of the users now matching the export are committed together. Only the main
task touches the state DB.

- **new**: ``POST /users`` with the row's CreateUser body. A key found ``in_flight`` (a pass
  died after claiming it) or an ambiguous failure (5xx, lost answer) is first looked up by
  ``external_id``: a user found is ours, nothing is sent again.
- **changed / unknown**: the user is read, ``delta.changes.next_step`` gives the next write, it
  is sent, and so on until the user matches (each step computed from what Clerk holds now, so
  a lost answer or a crash never repeats a write blindly; the password, which Clerk never
  shows, is sent once per pass).
- **gone**: with ``delete_gone`` ``DELETE /users/{id}`` (404: already gone), with ``ban_gone``
  ``POST /users/{id}/ban``; else only reported.

Transient failures (429, 5xx, timeouts) wait with jittered backoff and try again, up to
``max_attempts`` per key; then the key is ``failed`` and the next ``sync`` tries it again. No
connection at all is an outage: sending pauses while the pacer probes, and after
``outage_limit`` seconds the sync stops (``clerk_unreachable``), its batch's finished keys
recorded and the rest left ``in_flight`` for the next sync.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

import anyio

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import Created, Deleted, Rejected, Transient, Users
from migrate._internal.clerk.retry import backoff
from migrate._internal.clerk.updates import (
    Answered,
    add_email,
    add_phone,
    ban_user,
    read_user,
    remove_email,
    remove_phone,
    update_metadata,
    update_user,
)
from migrate._internal.delta.changes import Step, next_step
from migrate._internal.delta.plan import Action
from migrate._internal.runner.pacing import Pacer, say_duration
from migrate._internal.state import StateStore
from migrate.errors import RunAbortedError

__all__ = ["SyncOptions", "SyncTally", "send_sync"]

_MAX_STEPS: Final = 20  # writes for one user in one pass: far above any real need
T = TypeVar("T")


@dataclass(frozen=True)
class SyncOptions:
    """How a sync sends: gone users deleted or banned, old addresses removed, batching."""

    delete_gone: bool = False
    ban_gone: bool = False
    replace_identifiers: bool = False
    batch: int = 64
    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    outage_limit: float = 300.0  # seconds of no connection at all before the sync stops


@dataclass
class SyncTally:
    """What one pass did, per outcome (``created``, ``updated``, ``matched``, ``deleted``,
    ``banned``, ``failed``) and the requests it sent."""

    counts: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def add(self, what: str) -> None:
        """Count one key's outcome."""
        self.counts[what] = self.counts.get(what, 0) + 1


@dataclass(frozen=True)
class SyncItem:
    """One key to act on: its plan row, the body (new / changed), fields, prints to store."""

    key: str
    row: int | None
    action: str
    clerk_user_id: str | None
    fields: tuple[str, ...]
    body: Mapping[str, Any]
    prints: tuple[bytes, bytes] | None

    def __repr__(self) -> str:
        return f"SyncItem({self.key!r}, {self.action})"


@dataclass(frozen=True)
class _Outcome:
    state: str  # done | failed
    tally: str
    user_id: str | None = None
    code: str | None = None
    message: str | None = None


class _Sender:
    """The requests of one key, paced, retried and reconciled."""

    def __init__(
        self, client: ClerkClient, pacer: Pacer, options: SyncOptions, tally: SyncTally
    ) -> None:
        self.client = client
        self.pacer = pacer
        self.options = options
        self.tally = tally
        self.rng = random.Random()

    async def call(self, request: Callable[[], Awaitable[T]]) -> T:
        """One request through the pacer (gate, limiter, 429 pause, latency).

        No connection at all is an outage, not an attempt: the request never left, so it is
        sent again once the pacer's probes reach Clerk; past ``outage_limit`` seconds it raises
        ``RunAbortedError("clerk_unreachable")`` (keys in flight are reconciled on the next
        sync)."""
        while True:
            async with self.pacer.gate:
                await self.pacer.acquire()
                started = time.perf_counter()
                outcome = await request()
            self.tally.requests += 1
            self.pacer.on_response(time.perf_counter() - started)
            if isinstance(outcome, Transient) and outcome.unreachable:
                lasted = self.pacer.on_unreachable()
                if lasted >= self.options.outage_limit:
                    raise RunAbortedError(
                        "clerk_unreachable",
                        f"Clerk has been unreachable for {say_duration(lasted)} "
                        f"({outcome.text}); the sync stopped: check the network, the API URL "
                        "and the proxy, then run the same sync again",
                    )
                continue
            self.pacer.on_reachable()
            if isinstance(outcome, Transient) and outcome.kind == "rate_limited":
                self.pacer.on_rate_limited(outcome.retry_after)
            return outcome

    async def wait(self, attempt: int) -> None:
        """Back off before trying a key again."""
        opts = self.options
        await anyio.sleep(backoff(attempt, self.rng, opts.backoff_base, opts.backoff_cap))

    async def handle(self, item: SyncItem, was_in_flight: bool) -> _Outcome:
        """Bring one key to its target state; never raises for a Clerk answer."""
        if item.action == Action.NEW:
            return await self._create(item, was_in_flight)
        if item.action == Action.GONE:
            return await self._gone(item)
        return await self._update(item)

    async def _create(self, item: SyncItem, reconcile: bool) -> _Outcome:
        external_id = item.body.get("external_id")
        for attempt in range(1, self.options.max_attempts + 1):
            if reconcile and external_id:
                found = await self.call(
                    lambda: self.client.list_users(external_id=[str(external_id)])
                )
                if isinstance(found, Users) and found.users:
                    return _Outcome("done", "created", found.users[0].id, "created")
            outcome = await self.call(lambda: self.client.create_user(item.body))
            if isinstance(outcome, Created):
                return _Outcome("done", "created", outcome.user.id, "created")
            if isinstance(outcome, Rejected):
                return _failed(outcome)
            reconcile = outcome.ambiguous
            await self.wait(attempt)
        return _gave_up(self.options.max_attempts)

    async def _gone(self, item: SyncItem) -> _Outcome:
        user_id = item.clerk_user_id or ""
        for attempt in range(1, self.options.max_attempts + 1):
            if self.options.delete_gone:
                outcome: Any = await self.call(lambda: self.client.delete_user(user_id))
                if isinstance(outcome, Deleted) or (
                    isinstance(outcome, Rejected) and outcome.status == 404
                ):
                    return _Outcome("done", "deleted", None, "deleted")
            else:
                outcome = await self.call(lambda: ban_user(self.client, user_id))
                if isinstance(outcome, Answered):
                    return _Outcome("done", "banned", None, "banned")
            if isinstance(outcome, Rejected):
                return _failed(outcome)
            await self.wait(attempt)
        return _gave_up(self.options.max_attempts)

    async def _update(self, item: SyncItem) -> _Outcome:
        user_id = item.clerk_user_id or ""
        password_sent = False
        wrote = False
        failures = 0
        current: Mapping[str, Any] | None = None
        for _ in range(_MAX_STEPS + self.options.max_attempts):
            if current is None:
                read = await self.call(lambda: read_user(self.client, user_id))
                if isinstance(read, Rejected):
                    return _failed(read)
                if isinstance(read, Transient):
                    failures += 1
                    if failures >= self.options.max_attempts:
                        return _gave_up(failures)
                    await self.wait(failures)
                    continue
                current = read.data
            step = next_step(item.body, current, item.fields, password_sent=password_sent,
                             replace_identifiers=self.options.replace_identifiers)  # fmt: skip
            if step is None:
                return _Outcome("done", "updated" if wrote else "matched", user_id, "updated")
            outcome = await self.call(lambda s=step: _send_step(self.client, user_id, s))  # type: ignore[misc]
            if isinstance(outcome, Rejected):
                return _failed(outcome)
            if isinstance(outcome, Transient):
                # the write may have been applied: read the user back before deciding again
                failures += 1
                if failures >= self.options.max_attempts:
                    return _gave_up(failures)
                current = None
                await self.wait(failures)
                continue
            wrote = True
            if step.kind == "user" and any(k in step.body for k in ("password", "password_digest")):
                password_sent = True
            is_user = outcome.data.get("object") == "user"
            current = outcome.data if is_user else None
        return _Outcome("failed", "failed", None, "sync_not_converging",
                        "the user still differs after every step was sent")  # fmt: skip


async def _send_step(client: ClerkClient, user_id: str, step: Step) -> Any:
    """Send one ``Step``."""
    if step.kind == "user":
        return await update_user(client, user_id, step.body)
    if step.kind == "metadata":
        return await update_metadata(client, user_id, step.body)
    if step.kind == "add_email":
        return await add_email(client, user_id, step.value, primary=step.primary)
    if step.kind == "add_phone":
        return await add_phone(client, user_id, step.value, primary=step.primary)
    if step.kind == "remove_email":
        return await remove_email(client, step.value)
    return await remove_phone(client, step.value)


def _failed(outcome: Rejected) -> _Outcome:
    return _Outcome("failed", "failed", None, outcome.code, outcome.message or outcome.long_message)


def _gave_up(attempts: int) -> _Outcome:
    return _Outcome("failed", "failed", None, "gave_up",
                    f"no answer after {attempts} attempts; run sync again")  # fmt: skip


async def _run_batch(
    sender: _Sender, batch: Sequence[SyncItem], before: Mapping[str, tuple[str, str | None]]
) -> dict[str, _Outcome]:
    """Handle a batch's keys concurrently (the pacer bounds what is in flight)."""
    results: dict[str, _Outcome] = {}
    aborted: list[RunAbortedError] = []

    async def one(item: SyncItem) -> None:
        was = before.get(item.key, ("pending", None))[0] == "in_flight"
        try:
            results[item.key] = await sender.handle(item, was)
        except RunAbortedError as exc:  # the key stays in_flight, for the next sync
            aborted.append(exc)

    async with anyio.create_task_group() as group:
        for item in batch:
            group.start_soon(one, item)
    if aborted:
        raise _Aborted(results, aborted[0])
    return results


class _Aborted(Exception):  # noqa: N818 - carries the finished keys out of a stopped batch
    def __init__(self, results: dict[str, _Outcome], cause: RunAbortedError) -> None:
        super().__init__(str(cause))
        self.results, self.cause = results, cause


async def send_sync(
    client: ClerkClient,
    pacer: Pacer,
    store: StateStore,
    items: Iterable[Sequence[SyncItem]],
    options: SyncOptions,
    *,
    on_batch: Callable[[SyncTally], None] | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SyncTally:
    """Send ``items`` (batches of keys) and record each batch; see the module docstring."""
    tally = SyncTally()
    sender = _Sender(client, pacer, options, tally)
    for batch in items:
        if should_stop():
            break
        store.sync_queue((i.key, i.row, i.action, i.clerk_user_id) for i in batch)
        before = store.sync_claim([i.key for i in batch])  # durable before any request
        stop: RunAbortedError | None = None
        try:
            results = await _run_batch(sender, batch, before)
        except _Aborted as exc:  # record what finished, then stop
            results, stop = exc.results, exc.cause
        prints = []
        outcomes = []
        for item in batch:
            if item.key not in results:
                continue
            result = results[item.key]
            tally.add(result.tally)
            outcomes.append((item.key, result.state, result.user_id, result.code, result.message))
            if result.state == "done" and item.prints is not None:
                prints.append((item.key, *item.prints))
        store.sync_finish(outcomes, prints)
        if on_batch is not None:
            on_batch(tally)
        if stop is not None:
            raise stop
    return tally
