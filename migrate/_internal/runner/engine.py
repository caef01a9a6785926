"""``execute``: one pass of the loader over a planned state DB.

One anyio task group: a producer claims pending rows in batches (durably ``in_flight`` before
they are queued) and feeds their payloads into a bounded memory object stream; N workers send
them through one shared ``Pacer``; the recorder owns the ledger and the progress display.
Before anything is sent, rows left ``in_flight`` by an earlier process are reconciled.

Stopping: ``Stopper.interrupt()`` (Ctrl-C) or an abort code stops claiming and ends every
pacer wait (a Retry-After pause, an outage); queued rows, and rows whose worker was still
waiting for the pacer, are handed back unsent (``pending``): nothing new leaves. Requests
already on the wire finish, and everything received is committed. ``Stopper.abandon()`` (a
second Ctrl-C) also drops the requests on the wire (only their rows stay ``in_flight``; every
claimed row never sent goes back to pending); the pass still returns its outcome. The caller
turns
``RunOutcome.interrupted`` / ``abort_code`` into an exit code.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice

import anyio

from migrate._internal.clerk.retry import ConfigStreak
from migrate._internal.runner.jobs import Job, Retrying, Update
from migrate._internal.runner.kinds import Kind, Payload, UserKind
from migrate._internal.runner.pacing import MAX_CONCURRENCY, MAX_RETRY_AFTER, Pacer, PacingStats
from migrate._internal.runner.reconcile import ReconcileResult, reconcile_in_flight, reconcile_rows
from migrate._internal.runner.recorder import Ledger, Progress, Recorder, RunTally
from migrate._internal.runner.workers import OutageStreak, Stopper, UsersApi, Worker, WorkerSettings
from migrate._internal.state import Released
from migrate.errors import RunAbortedError

__all__ = [
    "EngineSettings",
    "Payload",
    "PayloadSource",
    "RowWindow",
    "RunOutcome",
    "execute",
    "make_pacer",
]


PayloadSource = Callable[[Sequence[int]], Iterable[Payload]]


@dataclass(frozen=True)
class RowWindow:
    """Which pending rows this pass may send: ``--rows A-B``, ``--limit N``, ``--sample N``.

    ``limit`` takes the first N pending rows of the window; ``sample`` takes N spread evenly over
    it (the middle row of each of N equal stretches), so a canary meets every era of the export
    (old hashers, old addresses) rather than its first page. At most one of the two is set.
    """

    first: int | None = None
    last: int | None = None
    limit: int | None = None
    sample: int | None = None

    def holds(self, row: int) -> bool:
        """Whether input row ``row`` lies within ``--rows``."""
        return (self.first is None or row >= self.first) and (self.last is None or row <= self.last)

    def cap(self, pending: int) -> int:
        """How many of ``pending`` rows in the window this pass sends."""
        most = self.limit if self.limit is not None else self.sample
        return pending if most is None else min(pending, most)

    def choose(self, rows: Sequence[int]) -> Sequence[int]:
        """The rows of ``rows`` (pending, in the window, in file order) that this pass sends."""
        n, total = self.sample, len(rows)
        if n is None or n >= total:
            return rows
        return array("q", (rows[(2 * i + 1) * total // (2 * n)] for i in range(n)))


@dataclass(frozen=True)
class EngineSettings:
    """Knobs of one pass. ``rate`` in requests per second over every call."""

    rate: float
    concurrency: int | None = None
    max_concurrency: int = MAX_CONCURRENCY
    claim_batch: int = 100
    payload_chunk: int = 50_000  # rows per payloads() call: bounds memory on huge inputs
    queue_size: int = 64
    worker: WorkerSettings = field(default_factory=WorkerSettings)
    record_batch: int = 500
    record_interval: float = 0.5
    config_streak: int = 25  # rows in a row failing with one config-suspect code -> abort
    max_retry_after: float = MAX_RETRY_AFTER  # the longest 429 pause honoured, in seconds
    probe_first: float = 1.0  # an outage's first probe after this many seconds (then doubling)
    probe_max: float = 30.0


@dataclass
class RunOutcome:
    """What one pass did. ``interrupted`` / ``abort_*`` say why it stopped early."""

    tally: RunTally
    pacing: PacingStats
    reconciled: ReconcileResult
    retries: int
    duration: float
    interrupted: bool = False
    abandoned: bool = False  # a second Ctrl-C dropped the requests on the wire
    abort_code: str | None = None
    abort_message: str | None = None
    commits: int = 0
    started_at: float = 0.0  # the monotonic clock when the pass began (the pacer's clock)
    kinds: dict[str, RunTally] = field(default_factory=dict)  # per kind sent (``phases``)

    @property
    def startup(self) -> float:
        """Seconds from the start of the pass to the first request (reconciliation included)."""
        first = self.pacing.first_request_at
        return first - self.started_at if first is not None else self.duration

    @property
    def drain(self) -> float:
        """Seconds from the last request let through to the end of the pass (its answer)."""
        last = self.pacing.last_request_at
        return self.started_at + self.duration - last if last is not None else 0.0

    @property
    def achieved_rate(self) -> float:
        """Requests per second over the whole pass (every call, lookups included)."""
        return self.pacing.requests / self.duration if self.duration > 0 else 0.0


def make_pacer(settings: EngineSettings, notice: Callable[[str], None] | None = None) -> Pacer:
    """The run's one ``Pacer``, from the pass's settings."""
    return Pacer(
        settings.rate,
        fixed_concurrency=settings.concurrency,
        max_concurrency=settings.max_concurrency,
        max_retry_after=settings.max_retry_after,
        probe_first=settings.probe_first,
        probe_max=settings.probe_max,
        notice=notice,
    )


def _chunked(source: PayloadSource, rows: Sequence[int], size: int) -> Iterator[Payload]:
    """Payloads of ``rows`` asked for ``size`` rows at a time (each call streams the input)."""
    for start in range(0, len(rows), size):
        yield from source(rows[start : start + size])


def _jobs(kind: Kind, payloads: Iterable[Payload]) -> Iterator[Job]:
    for p in payloads:
        yield kind.job(p)


class _Claims:
    """The rows this pass claimed and that have not settled yet (their ``Job``, which says
    whether a POST of it left): when the requests on the wire are abandoned (a second Ctrl-C),
    those never sent go back to pending and only those on the wire stay in_flight."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.open: dict[int, Job] = {}

    def claim(self, batch: Sequence[Job]) -> None:
        """Claim the jobs' rows (durably, through the recorder) and keep them until settled."""
        self.recorder.claim([j.row for j in batch])
        self.open.update((j.row, j) for j in batch)

    def put(self, update: Update) -> None:
        """``Recorder.put``, noting the rows that settled (any update but a retry)."""
        if not isinstance(update, Retrying):
            self.open.pop(update.row, None)
        self.recorder.put(update)

    def unsent(self) -> list[int]:
        """Rows claimed, not settled, and never sent."""
        return [row for row, job in self.open.items() if not job.sent]


async def _reconcile(  # noqa: PLR0917 - one private call site
    api: UsersApi,
    kind: Kind,
    payloads: PayloadSource,
    pacer: Pacer,
    ledger: Ledger,
    stopper: Stopper,
    outage_limit: float,
) -> ReconcileResult:
    """Reconcile the in_flight rows; an abort code or a long outage stops the pass instead."""
    try:
        with stopper.attach(anyio.CancelScope()):
            if isinstance(kind, UserKind):  # users: looked up 100 a request
                return await reconcile_in_flight(api, pacer, ledger, outage_limit=outage_limit)
            return await reconcile_rows(kind, payloads, pacer, ledger, outage_limit=outage_limit)
        return ReconcileResult()  # abandoned (a second Ctrl-C) while looking rows up
    except RunAbortedError as exc:  # nothing is sent after it; the rows stay in_flight
        stopper.abort(exc.code, str(exc))
        return ReconcileResult()


async def execute(
    api: UsersApi,
    ledger: Ledger,
    payloads: PayloadSource,
    settings: EngineSettings,
    *,
    window: RowWindow | None = None,
    stopper: Stopper | None = None,
    progress: Progress | None = None,
    on_started: Callable[[Pacer], None] | None = None,
    notice: Callable[[str], None] | None = None,
    kind: Kind | None = None,
    pacer: Pacer | None = None,
) -> RunOutcome:
    """Reconcile in_flight rows, then send every pending row in ``window``; return the outcome.

    ``notice`` receives what the operator should know while the pass runs (a long Retry-After
    pause and when it ends, an outage and its end). ``kind`` says what the rows are (users by
    default: ``runner.kinds``); ``pacer`` (one per run) lets several kinds' phases share one
    limiter, one 429 pause and one outage (``settings``' pacing knobs then go unused).

    An abort code (or an outage past ``outage_limit``) met while reconciling or sending is
    reported in ``RunOutcome.abort_code`` after the state is saved; nothing is sent after it.
    Raises ``ClerkError`` when in_flight rows cannot be reconciled (nothing is sent then).
    """
    window = window or RowWindow()
    stopper = stopper or Stopper()
    kind = kind or UserKind(api)
    started = time.monotonic()
    if pacer is None:
        pacer = make_pacer(settings, notice)
        stopper.on_stop(pacer.stop)
    if on_started is not None:
        on_started(pacer)
    reconciled = await _reconcile(
        api, kind, payloads, pacer, ledger, stopper, settings.worker.outage_limit
    )
    recorder = Recorder(
        ledger, progress, batch=settings.record_batch, interval=settings.record_interval
    )
    streak = ConfigStreak(settings.config_streak)
    outage = OutageStreak(settings.worker.outage_rows)
    workers = [
        Worker(api, pacer, stopper, settings.worker, streak=streak, outage=outage, kind=kind)
        for _ in range(pacer.max_workers)
    ]
    pending = window.choose(
        array("q", ledger.pending_rows(first=window.first, last=window.last, limit=window.limit))
    )
    send, receive = anyio.create_memory_object_stream[Job](settings.queue_size)
    claims = _Claims(recorder)

    async def produce() -> None:
        async with send:
            jobs = _jobs(kind, _chunked(payloads, pending, settings.payload_chunk))
            while not stopper.stopping:
                batch = list(islice(jobs, settings.claim_batch))
                if not batch:
                    break
                claims.claim(batch)  # durable before any is queued
                for index, job in enumerate(batch):
                    if stopper.event.is_set():  # a stop may arrive while we wait to queue
                        for unsent in batch[index:]:
                            claims.put(Released(unsent.row))
                        break
                    await send.send(job)

    async def send_rows() -> None:
        try:
            with stopper.attach(anyio.CancelScope()):
                async with receive, anyio.create_task_group() as tg:
                    for worker in workers:
                        tg.start_soon(worker.run, receive, claims.put)
                    tg.start_soon(produce)
        finally:
            recorder.close()  # every update is in: the recorder commits the rest and returns

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(recorder.run)
            tg.start_soon(send_rows)
    finally:
        # plain synchronous calls, after the recorder's last commit: done even when cancelled
        if unsent := claims.unsent():
            ledger.record([Released(row) for row in unsent])
        if progress is not None:
            progress.close()
    pacer.stats.rate_in_force = pacer.current_rate
    return RunOutcome(
        tally=recorder.tally,
        pacing=pacer.stats,
        reconciled=reconciled,
        retries=sum(w.retries for w in workers),
        duration=time.monotonic() - started,
        interrupted=stopper.interrupted and stopper.abort_code is None,
        abandoned=stopper.abandoned,
        abort_code=stopper.abort_code,
        abort_message=stopper.abort_message,
        commits=recorder.commits,
        started_at=started,
    )
