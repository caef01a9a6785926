"""Workers: send one row at a time to Clerk, retry, reconcile, and tell the recorder.

A worker takes a ``Job`` from the bounded work queue and owns it until it reaches its outcome
(``jobs.Outcome``: a state move, or ``Unresolved``); it hands every update to the recorder and
never touches the state DB.

Per attempt: wait for the pacer (global 429 pause, the shared limiter) and a concurrency slot,
POST the body, then branch on the classified reply:

- created -> ``created``;
- 429 -> every worker pauses for Retry-After (the pacer, capped), the row is re-sent afterwards;
- no connection at all (refused, connect timeout) -> an outage: the pacer stops every worker and
  probes with backoff; the row waits and is re-sent, and the attempt does not count. Past
  ``outage_limit`` seconds the run aborts (``clerk_unreachable``), resumable;
- 5xx / timeout / dropped connection -> backoff with jitter; the user may exist, so before the
  next POST the row is looked up by external_id (or primary email) and, if found, is ``created``;
- ``form_identifier_exists`` -> reconcile: the same external_id found -> ``exists`` (or ``created``
  when one of our own earlier attempts was ambiguous); otherwise ``failed`` as a conflict naming
  the identifier;
- another 4xx -> ``failed``; an abort code -> the run stops (``Stopper.abort``), the row released.

The create, the lookup, which object found is the row and the conflict message come from the
worker's ``Kind`` (``runner.kinds``: users by default, organizations, memberships); a kind may
also fail a row before any request (``Kind.refuse``: a membership whose user is not in Clerk).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio import EndOfStream
from anyio.streams.memory import MemoryObjectReceiveStream

from migrate._internal.clerk.outcomes import Rejected, Transient
from migrate._internal.clerk.retry import Action, ConfigStreak, classify, config_suspect
from migrate._internal.clerk.retry import backoff as jittered_backoff
from migrate._internal.runner.calls import UsersApi, paced
from migrate._internal.runner.jobs import Job, Outcome, Retrying, Unresolved, Update
from migrate._internal.runner.kinds import Kind, UserKind, conflict_message
from migrate._internal.runner.pacing import Pacer, Stopped, say_duration
from migrate._internal.state import Completed, Existed, Failed, Released

Failure = Rejected | Transient  # an answer that is not a success

__all__ = [
    "Kind",
    "OutageStreak",
    "Record",
    "Stopper",
    "UsersApi",
    "Worker",
    "WorkerSettings",
    "conflict_message",
]


Record = Callable[[Update], None]  # where a worker's updates go: ``Recorder.put``


@dataclass(frozen=True)
class WorkerSettings:
    """Retry policy. ``max_attempts`` counts failed attempts other than 429s."""

    max_attempts: int = 5
    max_rate_limited: int = 30
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    outage_rows: int = 10  # rows in a row giving up on transient errors: Clerk is unreachable
    outage_limit: float = 300.0  # seconds of no connection at all before the run aborts


class OutageStreak:
    """Counts rows in a row that gave up on transient errors (shared by every worker)."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.count = 0

    def observe(self, gave_up: bool) -> bool:
        """Record one finished row; True once ``threshold`` rows in a row gave up."""
        self.count = self.count + 1 if gave_up else 0
        return self.count >= self.threshold


class Stopper:
    """The run's stop flag: set by Ctrl-C or by an abort code; workers stop claiming work.

    ``on_stop`` callbacks run at the first stop (the pacer ends its waits); ``abandon()`` (a
    second Ctrl-C) also cancels the scopes the engine attached: requests on the wire are
    dropped, and their rows stay ``in_flight`` for the next start to reconcile.
    """

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.interrupted = False
        self.abandoned = False
        self.abort_code: str | None = None
        self.abort_message: str | None = None
        self._callbacks: list[Callable[[], None]] = []
        self._scopes: list[anyio.CancelScope] = []

    def on_stop(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` when the run stops (at once if it already has)."""
        self._callbacks.append(callback)
        if self.stopping:
            callback()

    def attach(self, scope: anyio.CancelScope) -> anyio.CancelScope:
        """Cancel ``scope`` on ``abandon()`` (at once if already abandoned); return it."""
        self._scopes.append(scope)
        if self.abandoned:
            scope.cancel()
        return scope

    def _stop(self) -> None:
        if not self.event.is_set():
            self.event.set()
            for callback in self._callbacks:
                callback()

    @property
    def stopping(self) -> bool:
        """True once the run has been asked to stop."""
        return self.event.is_set()

    def interrupt(self) -> None:
        """Stop after in-flight requests finish (Ctrl-C)."""
        self.interrupted = True
        self._stop()

    def abandon(self) -> None:
        """Stop now, dropping the requests in flight (a second Ctrl-C)."""
        self.interrupted = self.abandoned = True
        self._stop()
        for scope in self._scopes:
            scope.cancel()

    def abort(self, code: str, message: str) -> None:
        """Stop because Clerk answered with an error that dooms every row (first one wins)."""
        if self.abort_code is None:
            self.abort_code, self.abort_message = code, message
        self._stop()


class Worker:
    """One worker task; all workers of a run share the api, the pacer and the stopper."""

    def __init__(
        self,
        api: UsersApi,
        pacer: Pacer,
        stopper: Stopper,
        settings: WorkerSettings,
        *,
        rng: random.Random | None = None,
        backoff: Callable[[int, random.Random], float] | None = None,
        streak: ConfigStreak | None = None,
        outage: OutageStreak | None = None,
        kind: Kind | None = None,
    ) -> None:
        self.api = api
        self.kind: Kind = kind or UserKind(api)
        self.pacer = pacer
        self.stopper = stopper
        self.settings = settings
        self.rng = rng or random.Random()
        self._backoff = backoff or (
            lambda attempt, rng: jittered_backoff(
                attempt, rng, settings.backoff_base, settings.backoff_cap
            )
        )
        self.retries = 0
        # shared by every worker: N rows in a row failing with the same config-suspect code
        # mean an instance setting dooms every row, so the run stops instead of failing them all
        self.streak = streak or ConfigStreak()
        # shared too: a network outage must stop the run, not fail every remaining row
        self.outage = outage or OutageStreak(settings.outage_rows)
        # the code of the row's failure when it may be an instance setting (``_failed``)
        self._suspect: str | None = None

    async def run(self, jobs: MemoryObjectReceiveStream[Job], record: Record) -> None:
        """Process jobs until the stream ends; after a stop, hand remaining jobs back unsent.

        ``record`` takes every update (the recorder's ``put``).
        """
        while True:
            try:
                job = await jobs.receive()
            except EndOfStream:
                return
            if self.stopper.stopping:
                record(Released(job.row))
                continue
            self._suspect = None
            refused = self.kind.refuse(job)
            if refused is not None:  # decided without a request: no streak learns from it
                record(refused)
                continue
            outcome = await self.process(job, record)
            self._observe(outcome)
            record(outcome)

    def _observe(self, outcome: Outcome) -> None:
        """Feed a row's outcome (a release aside) to the outage and config-suspect streaks."""
        if isinstance(outcome, Released):
            return
        if isinstance(outcome, Failed | Unresolved):
            retryable, code, message = outcome.retryable, outcome.code, outcome.message
        else:
            retryable, code, message = False, None, None
        if self.outage.observe(retryable):
            self.stopper.abort(
                "clerk_unreachable",
                f"{self.outage.count} rows in a row gave up after retries ({code}: "
                f"{message}); Clerk is not answering: check the network and the API URL",
            )
        if self.streak.observe(self._suspect):
            self.stopper.abort(
                self._suspect or "config",
                f"{self.streak.count} rows in a row failed with {code} "
                f"({message}); this looks like an instance setting, not the data: "
                "check the instance's settings in the Clerk Dashboard",
            )

    async def _call_create(self, job: Job) -> str | Failure:
        started = 0.0

        async def create() -> str | Failure:
            nonlocal started
            if self.stopper.stopping:  # stopped while it waited: nothing new leaves
                raise Stopped
            job.sent = True
            job.first_sent_at = job.first_sent_at or time.time()
            started = time.perf_counter()
            return await self.kind.create(job)

        reply = await paced(self.pacer, create)
        if isinstance(reply, str) or not reply.unreachable:
            self.pacer.on_reachable()
        self.pacer.on_response(time.perf_counter() - started)
        return reply

    async def _call_find(self, job: Job) -> list[Any] | Failure:
        async def find() -> list[Any] | Failure:
            if self.stopper.stopping:
                raise Stopped
            return await self.kind.find(job)

        found = await paced(self.pacer, find)
        if isinstance(found, list) or not found.unreachable:
            self.pacer.on_reachable()
        return found

    async def process(self, job: Job, record: Record) -> Outcome:
        """Drive one row to its outcome (a release when the run stops before it was sent)."""
        tried = _Tried()
        try:
            return await self._process(job, record, tried)
        except Stopped:  # the run stopped while this row waited for the pacer
            return _stopped(job, tried.failures, tried.ours_maybe)

    async def _process(self, job: Job, record: Record, tried: _Tried) -> Outcome:
        failures = 0  # failed attempts other than 429 and outages
        limited = 0
        ours_maybe = False  # an earlier POST of ours may have created the user
        last: Failure | None = None
        while True:
            tried.failures, tried.ours_maybe = failures, ours_maybe
            if self.stopper.stopping and last is not None:
                # between retries of a stopping run: never re-send. A row whose earlier POST
                # may have landed stays in_flight, for the next start's reconciliation.
                return _stopped(job, failures, ours_maybe)
            if ours_maybe:
                found = await self._call_find(job)
                if isinstance(found, list):
                    match = self.kind.match(job, found)
                    if match is not None:
                        return self.kind.ours(job, match, failures)
                else:
                    last = found
                    if classify(found) is Action.ABORT:
                        return self._abort(job, found, ours_maybe)
                    failures, limited, done = self._note_failure(found, failures, limited)
                    if done:
                        return self._give_up(job, found, failures, ours_maybe=True)
                    await self._wait_before_retry(found, failures, job, record)
                    continue
            reply = await self._call_create(job)
            if isinstance(reply, str):
                return Completed(job.row, reply, failures + 1)
            action = classify(reply)
            if action is Action.FAIL_ROW:
                if config_suspect(reply):
                    self._suspect = reply.error_code
                return _failed(job, reply, failures + 1)
            if action is Action.ABORT:
                return self._abort(job, reply, ours_maybe)
            if action is Action.RECONCILE:
                return await self._reconcile_conflict(job, reply, ours_maybe, failures + 1)
            # RETRY
            last = reply
            ours_maybe = ours_maybe or reply.ambiguous
            failures, limited, done = self._note_failure(reply, failures, limited)
            if done:
                if ours_maybe:
                    # the last ambiguous POST may have landed: leave the verdict to a lookup
                    found = await self._call_find(job)
                    match = self.kind.match(job, found) if isinstance(found, list) else None
                    if match is not None:
                        return self.kind.ours(job, match, failures)
                    # the lookup answered "not there": a plain give-up; otherwise nobody knows
                    ours_maybe = not isinstance(found, list)
                return self._give_up(job, reply, failures, ours_maybe=ours_maybe)
            await self._wait_before_retry(reply, failures, job, record)

    def _note_failure(self, reply: Failure, failures: int, limited: int) -> tuple[int, int, bool]:
        self.retries += 1
        if reply.unreachable:
            lasted = self.pacer.on_unreachable()
            if lasted >= self.settings.outage_limit:
                self.stopper.abort(
                    "clerk_unreachable",
                    f"Clerk has been unreachable for {say_duration(lasted)} ({reply.text}); "
                    "check the network, the API URL and the proxy",
                )
            return failures, limited, False  # the pacer's probes are the wait
        if reply.rate_limited:
            self.pacer.on_rate_limited(reply.retry_after)
            limited += 1
            return failures, limited, limited >= self.settings.max_rate_limited
        failures += 1
        return failures, limited, failures >= self.settings.max_attempts

    async def _wait_before_retry(
        self, reply: Failure, failures: int, job: Job, record: Record
    ) -> None:
        record(Retrying(job.row, reply.error_code, failures))
        if reply.rate_limited or reply.unreachable:
            return  # the pacer's global pause (or its outage probes) is the wait
        delay = self._backoff(failures, self.rng)
        if reply.retry_after is not None:
            delay = max(delay, reply.retry_after)
        with anyio.move_on_after(delay):
            await self.stopper.event.wait()  # a stop cuts the backoff short

    def _give_up(
        self, job: Job, reply: Failure, attempts: int, *, ours_maybe: bool = False
    ) -> Failed | Unresolved:
        """Out of retries. If an earlier POST may have created the user and no lookup could
        say, the row stays in_flight (``Unresolved``): the next start reconciles it."""
        code = reply.error_code
        message = reply.text or f"gave up after {attempts} attempts (HTTP {reply.status})"
        if ours_maybe:
            return Unresolved(job.row, attempts, code, message, retryable=True)
        return Failed(job.row, code, reply.param, message, retryable=True, attempts=attempts)

    def _abort(self, job: Job, reply: Failure, ours_maybe: bool = False) -> Outcome:
        self.stopper.abort(reply.error_code, reply.text or "Clerk refused the request")
        return _stopped(job, 0, ours_maybe)

    async def _reconcile_conflict(
        self, job: Job, reply: Failure, ours_maybe: bool, attempts: int
    ) -> Outcome:
        """``form_identifier_exists``: is the user holding the identifier this very row?"""
        tries = 0
        while True:
            found = await self._call_find(job)
            if isinstance(found, list):
                break
            if classify(found) is Action.ABORT:
                return self._abort(job, found, ours_maybe)
            if found.unreachable or found.rate_limited:
                self._note_failure(found, 0, 0)  # the pacer waits; the attempt does not count
                if self.stopper.stopping:
                    return _stopped(job, attempts, ours_maybe)
                continue
            tries += 1
            if tries >= self.settings.max_attempts:
                return self._give_up(job, found, attempts + tries, ours_maybe=ours_maybe)
            await anyio.sleep(self._backoff(tries, self.rng))
        match = self.kind.match(job, found)
        if match is not None:
            if ours_maybe:
                return self.kind.ours(job, match, attempts)
            return Existed(job.row, match.id, attempts)
        message = self.kind.conflict(job, reply)
        return Failed(job.row, reply.error_code, reply.param, message, attempts=attempts)


@dataclass(slots=True)
class _Tried:
    """What a row's attempts so far say, for a release when the run stops mid-row."""

    failures: int = 0
    ours_maybe: bool = False


def _failed(job: Job, reply: Failure, attempts: int) -> Failed:
    return Failed(job.row, reply.error_code, reply.param, reply.text, attempts=attempts)


def _stopped(job: Job, attempts: int, ours_maybe: bool) -> Released | Unresolved:
    """A row ended by a stop: back to pending, or left in_flight when an earlier POST of it
    may have created the user."""
    if ours_maybe:
        return Unresolved(job.row, attempts)
    return Released(job.row, attempts)
