"""``run`` and ``retry``: plan or reopen a run directory, then one sending pass over it.

A pass can be watched (``on_progress``), told things (``on_notice``: one line each, for a
person), asked to stop from another thread (``should_stop``, a ``threading.Event``: requests in
flight finish, the state is saved) and, with ``handle_signals``, stopped by SIGINT / SIGTERM
(the first stops cleanly, a second abandons the requests in flight: their rows stay
``in_flight`` and the next pass reconciles them). A production instance is written to only
when ``confirm`` says yes (or ``yes=True``). ``outage_limit`` bounds how long Clerk may stay
unreachable before the pass stops (resumably), ``max_retry_after`` the longest 429 pause honoured.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypedDict, Unpack

import anyio

from migrate._internal.api.confirming import confirm_production, row_window, to_send
from migrate._internal.api.connection import (
    SANDBOX_KIND,
    Connection,
    check_connection,
    connect,
    default_rate_for,
)
from migrate._internal.api.preflight import preflight
from migrate._internal.api.results import (
    CodeCount,
    Confirmation,
    PassFigures,
    Progress,
    RunResult,
    RunSummary,
)
from migrate._internal.api.tenant_retry import retry_tenants
from migrate._internal.api.validating import read_tenants
from migrate._internal.delta.fingerprint import fingerprinted_fields
from migrate._internal.prepare import Prepared, prepare_input
from migrate._internal.reports.run import write_warnings
from migrate._internal.runner.engine import EngineSettings, PayloadSource, RowWindow, RunOutcome
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.phases import (
    TENANT_KINDS,
    TenantSource,
    plan_tenants,
    requeue_tenants,
    tenant_source,
)
from migrate._internal.runner.progress import LiveRate, bar_total
from migrate._internal.runner.recorder import RunTally
from migrate._internal.runner.retrying import KeyedPayloads, RequeueResult, check_fixed, requeue
from migrate._internal.runner.session import (
    DEVELOPMENT_USER_CAP,
    RunPlan,
    Target,
    bind_target,
    check_rate,
    check_waits,
    default_run_dir,
    development_room,
    input_fingerprints,
    open_run,
    original_payloads,
    pass_stats,
    read_run,
    record_pass,
    redact_reports,
    run_pass,
    write_reports,
)
from migrate._internal.runner.sync_send import SyncTally
from migrate._internal.runner.upserting import UPSERT, upsert_existing
from migrate._internal.runner.workers import Stopper
from migrate._internal.state import RowState

__all__ = ["PassControl", "PassOptions", "retry", "run", "run_summary", "signals_supported"]

Notice = Callable[[str], None]
# How often a pass looks at ``should_stop`` (an event set from another thread).
_STOP_POLL = 0.05


class PassOptions(TypedDict, total=False):
    """The keyword arguments ``run`` and ``retry`` share (see the module docstring)."""

    rate: float | None  # requests per second (default: 90 % of the instance's limit)
    concurrency: int | None  # requests in flight (default: derived from rate and latency)
    outage_limit: float | None  # seconds Clerk may be unreachable before the pass stops (300)
    max_retry_after: float | None  # the longest 429 pause honoured, in seconds (600)
    yes: bool  # write to production without ``confirm``
    confirm: Callable[[Confirmation], bool] | None
    on_progress: Callable[[Progress], None] | None
    on_notice: Notice | None
    should_stop: threading.Event | None
    handle_signals: bool


@dataclass(frozen=True)
class PassControl:
    """The callbacks and knobs of a sending pass (see the module docstring)."""

    rate: float | None = None
    concurrency: int | None = None
    outage_limit: float | None = None
    max_retry_after: float | None = None
    yes: bool = False
    confirm: Callable[[Confirmation], bool] | None = None
    on_progress: Callable[[Progress], None] | None = None
    on_notice: Notice | None = None
    should_stop: threading.Event | None = None
    handle_signals: bool = False

    def notice(self, line: str, said: list[str]) -> None:
        """Tell the caller ``line`` (and keep it for the result)."""
        said.append(line)
        if self.on_notice is not None:
            self.on_notice(line)


def run(
    input: str | Path,
    mapping: str | Path,
    *,
    connection: Connection,
    run_dir: str | Path | None = None,
    source: Mapping[str, Any] | None = None,
    joins: Mapping[str, Path] | Sequence[Path] = (),
    rows: tuple[int | None, int | None] | None = None,
    limit: int | None = None,
    sample: int | None = None,
    redact_emails: bool = False,
    check: bool = True,
    accept_findings: bool = False,
    publishable_key: str | None = None,
    frontend_api_url: str | None = None,
    upsert: bool = False,
    organizations: str | Path | None = None,
    memberships: str | Path | None = None,
    **options: Unpack[PassOptions],
) -> RunResult:
    """Create every valid row of ``input`` as a Clerk user, exactly once, resumably.

    Validates first (invalid rows are recorded, never sent), plans the run directory
    (``run_dir``, default ``<input stem>.clerk-migrate`` beside the input) or resumes it, then
    sends the pending rows within ``rows`` (first, last), ``limit`` or ``sample``. Raises
    ``ConfigError`` (bad options, before anything is created), ``MappingError``,
    ``SourceError``, ``StateError`` (``ResumeMismatchError`` when the input or mapping changed),
    ``ClerkError``; rows Clerk refuses are data in the result, not exceptions. ``options``:
    ``PassOptions`` (pace, confirmation, callbacks, stopping). Before the first create of a run
    directory, ``check``'s checks run (settings through ``publishable_key`` /
    ``frontend_api_url``, existing users through the connection): a whole-file finding raises
    ``CheckFailedError`` unless ``accept_findings``; ``check=False`` skips them for good
    (``migrate._internal.api.preflight``). ``upsert``: a row whose user is already in Clerk
    (same external id) updates that user to the row, as ``sync`` would, instead of only
    recording ``exists`` (``migrate._internal.runner.upserting``). A mapping with
    ``[organizations]`` / ``[memberships]`` (their files: ``organizations`` / ``memberships``,
    else the mapping's ``input``) has them planned in the same run directory and sent in the
    same pass: organizations, then users, then memberships (``migrate._internal.runner.phases``;
    not with ``rows`` / ``limit`` / ``sample``, which send users only).
    """
    control = PassControl(**options)
    input_path = Path(input)
    check_rate(control.rate, control.concurrency)
    check_waits(control.outage_limit, control.max_retry_after)
    window = row_window(rows, limit, sample)
    connection = check_connection(connection)
    overrides = dict(source or {})
    prepared = prepare_input(input_path, mapping, overrides, joins)
    tenants = read_tenants(prepared, input_path, organizations, memberships)
    folder = Path(run_dir) if run_dir else default_run_dir(input_path, sandbox=connection.sandbox)
    has_tenants = tenants.organizations is not None
    plan = open_run(folder, input_path, str(mapping), overrides, prepared,
                    tenants=tenants if has_tenants else None)  # fmt: skip
    said: list[str] = []
    try:
        for line in prepared.notices(sum(plan.counts().values())):
            control.notice(line, said)
        for line in tenants.notices:
            control.notice(line, said)
        sending: TenantSource | None = None
        if has_tenants:
            plan_tenants(plan.store, tenants)
            requeue_tenants(plan.store)
            sending = tenant_source(tenants)
            if window != RowWindow():
                control.notice(
                    "Note: --rows, --limit and --sample send users only; organizations and "
                    "memberships are sent by a run without them",
                    said,
                )
        if not plan.resumed:
            # Warnings are not in the state DB: written once, from the input, at planning.
            write_warnings(folder, prepared.warnings(), redact=redact_emails)
        if redact_emails:
            redact_reports(plan)
        checks = partial(
            preflight,
            plan,
            prepared,
            check=check,
            accept_findings=accept_findings,
            publishable_key=publishable_key,
            frontend_api_url=frontend_api_url,
            notice=lambda line: control.notice(line, said),
            tenants=tenants if has_tenants else None,
        )
        payloads = original_payloads(plan.store, prepared)
        fields = fingerprinted_fields(prepared.mapped().collect_schema().names())
        return _send(plan, payloads, connection, control, window=window, said=said, before=checks,
                     upsert=fields if upsert else None, tenants=sending)  # fmt: skip
    finally:
        plan.store.close()


def retry(
    run_dir: str | Path,
    *,
    connection: Connection,
    codes: Sequence[str] | None = None,
    fixed: str | Path | None = None,
    redact_emails: bool = False,
    organizations: str | Path | None = None,
    memberships: str | Path | None = None,
    **options: Unpack[PassOptions],
) -> RunResult:
    """Put a run's failed rows (of ``codes``, default all) back in the queue and send them.

    Without ``fixed`` the rows are re-read from the run's input, which must be unchanged. With
    ``fixed`` (a corrected file, same mapping) rows are matched by key: failed rows are sent
    with the corrected data and invalid rows validated again. A run with organizations and
    memberships has theirs requeued and sent too (their files: ``organizations`` /
    ``memberships`` as for ``run``; ``migrate._internal.api.tenant_retry``). Raises as ``run``
    does.
    """
    control = PassControl(**options)
    check_rate(control.rate, control.concurrency)
    check_waits(control.outage_limit, control.max_retry_after)
    connection = check_connection(connection)
    plan = read_run(Path(run_dir), lock=True)
    said: list[str] = []
    try:
        if redact_emails:
            redact_reports(plan)
        payloads, result, original = _requeue(plan, codes, Path(fixed) if fixed else None)
        gone = plan.input if original is None else None
        for line in _requeue_notices(result, Path(fixed) if fixed else None, gone):
            control.notice(line, said)
        for line in _corrected_notices(plan, Path(fixed) if fixed else None):
            control.notice(line, said)
        tenants = retry_tenants(plan, original, codes, organizations, memberships)
        for line in tenants.notices:
            control.notice(line, said)
        return _send(plan, payloads, connection, control, window=RowWindow(), said=said,
                     tenants=tenants.source)  # fmt: skip
    finally:
        plan.store.close()


def _requeue(
    plan: RunPlan, codes: Sequence[str] | None, fixed: Path | None
) -> tuple[PayloadSource, RequeueResult, Prepared | None]:
    """Put the chosen failed rows back in the queue; their bodies' source; the original input
    (None when it is gone)."""
    if fixed is None:
        prepared = prepare_input(plan.input, plan.mapping, plan.overrides, plan.joins)
        plan.store.check_fingerprints(input_fingerprints(prepared))
        return original_payloads(plan.store, prepared), requeue(plan.store, codes), prepared
    fixed_input = prepare_input(fixed, plan.mapping, plan.overrides, plan.joins)
    check_fixed(plan.store, fixed_input)
    original: Prepared | None = None
    if plan.input.is_file():
        original = prepare_input(plan.input, plan.mapping, plan.overrides, plan.joins)
        plan.store.check_fingerprints(input_fingerprints(original))
    keyed = KeyedPayloads(plan.store, fixed_input, original)
    result = requeue(plan.store, codes, keyed, fixed.name, str(fixed.resolve()))
    return keyed.payloads, result, original


def _requeue_notices(result: RequeueResult, fixed: Path | None, gone: Path | None) -> list[str]:
    """What went back in the queue and what was left, and why."""
    lines = [f"{result.requeued:,} failed rows back in the queue."]
    if fixed is None:
        return lines
    if result.not_in_fixed or result.still_invalid:
        lines.append(
            f"Left as failed: {result.not_in_fixed:,} not in {fixed}, "
            f"{result.still_invalid:,} still invalid there."
        )
    lines.append(
        f"{result.revalidated:,} invalid rows now pass validation and are back in the queue; "
        f"{result.invalid_again:,} are still invalid (new reasons in errors.csv)."
    )
    if result.shared_key:
        lines.append(
            f"Left as invalid: {result.shared_key:,} rows whose key other rows of the run share "
            "(sending them could create a user twice)."
        )
    if result.unmatched:
        lines.append(_unmatched_notice(result.unmatched, fixed))
    if gone is not None:
        lines.append(
            f"The original input {gone} is not there: only rows found in {fixed} are sent; "
            "other pending rows wait for it."
        )
    return lines


def _unmatched_notice(rows: tuple[int, ...], fixed: Path) -> str:
    """Rows of the corrected file whose key no run row has: by count and row, with a path."""
    n = len(rows)
    one = n == 1
    shown = ", ".join(str(r) for r in rows[:10]) + (", …" if n > 10 else "")
    return (
        f"{n:,} {'row' if one else 'rows'} of {fixed} {'has' if one else 'have'} a key no row "
        f"of the run has ({'row' if one else 'rows'} {shown}), so retry did not send "
        f"{'it' if one else 'them'}: retry matches rows by key. Send rows with new keys as a "
        "new run: put them in a file of their own and `clerk-migrate run FILE --mapping "
        "MAPPING --run-dir NEW_DIR`."
    )


def _corrected_notices(plan: RunPlan, fixed: Path | None) -> list[str]:
    """The rows this pass leaves alone because another corrected file holds their data."""
    return [
        f"{count:,} rows take their data from {file} and are not sent from {plan.input}: "
        f"send them with `clerk-migrate retry {plan.run_dir} --input {file}`."
        for file, count in sorted(plan.store.corrected_waiting().items())
        if fixed is None or file != str(fixed.resolve())
    ]


def _send(
    plan: RunPlan,
    payloads: PayloadSource,
    connection: Connection,
    control: PassControl,
    *,
    window: RowWindow,
    said: list[str],
    before: Callable[[Target, float], None] | None = None,
    upsert: tuple[str, ...] | None = None,
    tenants: TenantSource | None = None,
) -> RunResult:
    """Connect, confirm, (``before``: the instance checks), run one pass, (``upsert``: update
    the users found already there on these fields), record it and rewrite the reports."""
    with connect(connection, run_dir=plan.run_dir) as target:
        bind_target(plan.store, target)
        settings = _engine_settings(control, default_rate_for(target))
        confirm_production(
            target, plan, window, settings.rate, control.confirm,
            yes=control.yes, tenants=tenants is not None,
        )  # fmt: skip
        verb = "resuming" if plan.resumed else "planned"
        where = (
            f"the built-in sandbox at {target.base_url} ({SANDBOX_KIND})"
            if target.sandbox
            else f"{target.instance} instance"
        )
        control.notice(
            f"{verb} {plan.run_dir} · {where} · rate {settings.rate:g}/s"
            f"{'' if target.sandbox else ' · route ' + target.route()}",
            said,
        )
        if before is not None:
            before(target, settings.rate)
        stopper = Stopper()
        outcome = anyio.run(
            partial(
                _guarded_pass, target, plan, payloads, settings,
                window=window, stopper=stopper, control=control, said=said, tenants=tenants,
            )
        )  # fmt: skip
        finished = outcome is not None and not outcome.interrupted and outcome.abort_code is None
        upserted = None
        if upsert is not None and finished:
            upserted = _upsert(target, plan, payloads, upsert, settings, control.should_stop)
    figures = None if outcome is None else _figures(outcome, settings)
    if outcome is not None:
        stats = pass_stats(outcome, target, settings)
        if upserted is not None:
            stats["upserted"] = dict(upserted.counts)
            stats["upsert_requests"] = upserted.requests
        record_pass(plan.store, stats)
    if figures is not None and upserted is not None:
        failures = tuple(
            (key, row, code, message)
            for key, row, action, code, message in plan.store.sync_failures()
            if action == UPSERT
        )
        figures = replace(figures, upserted=dict(upserted.counts),
                          upsert_requests=upserted.requests, upsert_failures=failures)  # fmt: skip
    summary = run_summary(plan)
    return RunResult(
        summary,
        figures,
        plan.resumed,
        interrupted=outcome is None or outcome.interrupted,
        abort_code=None if outcome is None else outcome.abort_code,
        abort_message=None if outcome is None else outcome.abort_message,
        notices=tuple(said),
    )


def _engine_settings(control: PassControl, default_rate: float) -> EngineSettings:
    """The pass's pace, concurrency and waits: the caller's, else the defaults."""
    settings = EngineSettings(rate=control.rate or default_rate, concurrency=control.concurrency)
    if control.max_retry_after is not None:
        settings = replace(settings, max_retry_after=control.max_retry_after)
    if control.outage_limit is not None:
        worker = replace(settings.worker, outage_limit=control.outage_limit)
        settings = replace(settings, worker=worker)
    return settings


def run_summary(plan: RunPlan) -> RunSummary:
    """Rewrite the run directory's reports; the run's counts, top codes and report paths."""
    paths = write_reports(plan)
    counts = plan.counts()
    views = [(kind, view) for kind in TENANT_KINDS if (view := plan.store.kind(kind)).planned]
    found = [CodeCount(str(s), c, n) for (s, c), n in plan.store.code_counts().items()]
    found += [
        CodeCount(str(s), c, n, kind)
        for kind, view in views
        for (s, c), n in view.code_counts().items()
    ]
    codes = tuple(sorted(found, key=lambda c: -c.rows))  # stable: users first on a tie
    kinds = {kind: {str(s): n for s, n in view.counts().items()} for kind, view in views}
    return RunSummary(
        plan.run_dir, {str(s): counts[s] for s in RowState}, codes, tuple(paths.all()),
        plan.store.sync_states(UPSERT), kinds,
    )  # fmt: skip


def _upsert(  # noqa: PLR0917 - one private call site
    target: Target,
    plan: RunPlan,
    payloads: PayloadSource,
    fields: tuple[str, ...],
    settings: EngineSettings,
    event: threading.Event | None,
) -> SyncTally:
    """Bring the users the pass found already in Clerk up to their rows, at the pass's pace."""
    pacer = Pacer(settings.rate, fixed_concurrency=settings.concurrency)

    async def go() -> SyncTally:
        async with target.client() as client:
            return await upsert_existing(
                client, pacer, plan.store, payloads, fields,
                should_stop=lambda: event is not None and event.is_set(),
            )  # fmt: skip

    return anyio.run(go)


def _figures(outcome: RunOutcome, settings: EngineSettings) -> PassFigures:
    return PassFigures(
        created=outcome.tally.created,
        exists=outcome.tally.exists,
        failed=outcome.tally.failed,
        seconds=outcome.duration,
        requests=outcome.pacing.requests,
        achieved_rate=outcome.achieved_rate,
        rate=settings.rate,
        rate_limited=outcome.pacing.rate_limited,
        retries=outcome.retries,
        reconciled_found=outcome.reconciled.found,
        reconciled_released=outcome.reconciled.released,
        rate_in_force=outcome.pacing.rate_in_force,
        outages=outcome.pacing.outages,
        outage_seconds=outcome.pacing.outage_seconds,
        abandoned=outcome.abandoned,
        kinds={
            name: {"created": t.created, "exists": t.exists, "failed": t.failed}
            for name, t in outcome.kinds.items()
            if name != "users"
        },
    )


def signals_supported() -> bool:
    """Whether a pass can watch SIGINT/SIGTERM itself (anyio cannot on Windows).

    Without it, Ctrl-C during a pass raises ``KeyboardInterrupt`` out of the event loop: the
    requests in flight are abandoned (their rows stay ``in_flight`` and are reconciled by the
    next run, as after a second Ctrl-C).
    """
    return sys.platform != "win32"


class _ProgressFeed:
    """The recorder's ``Progress`` turned into ``Progress`` snapshots for ``on_progress``."""

    def __init__(
        self, total: int, rate: Callable[[], float], callback: Callable[[Progress], None]
    ) -> None:
        self.total, self.rate, self.callback = total, rate, callback
        self.done = 0

    def update(self, tally: RunTally, done: int) -> None:
        self.done += done
        self.callback(
            Progress(self.total, self.done, tally.created, tally.exists, tally.failed,
                     tally.retrying_now, self.rate())
        )  # fmt: skip

    def close(self) -> None:
        """Nothing to finish: the caller owns the display."""


async def _guarded_pass(
    target: Target,
    plan: RunPlan,
    payloads: PayloadSource,
    settings: EngineSettings,
    *,
    window: RowWindow,
    stopper: Stopper,
    control: PassControl,
    said: list[str],
    tenants: TenantSource | None = None,
) -> RunOutcome | None:
    """Run one pass, stopping on request (a second signal drops the requests on the wire and
    still returns the outcome); None only if the pass never returned."""
    result: list[RunOutcome] = []
    pending = to_send(plan, window)
    crowded = await development_room(target, pending)
    if crowded is not None:
        there, room = crowded
        control.notice(
            f"Warning: development instances usually hold at most {DEVELOPMENT_USER_CAP} users; "
            f"this one has {there:,} and this pass sends {pending:,}, so Clerk will likely stop "
            f"the run with user_quota_exceeded after about {room:,} more (nothing is lost; the "
            "run can resume where it stopped). Rehearse a few rows with --limit or --sample, or "
            "the whole file with --sandbox.",
            said,
        )
    progress = None
    live = LiveRate(settings.rate)
    if control.on_progress is not None:
        progress = _ProgressFeed(bar_total(plan.store, window), live, control.on_progress)
    async with anyio.create_task_group() as tg:

        async def watch_signals() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    if stopper.stopping:
                        stopper.abandon()  # second signal: drop what is on the wire
                        return
                    control.notice(
                        "Stopping: finishing requests in flight (Ctrl-C again to abandon "
                        "them; they are reconciled on the next run)…",
                        said,
                    )
                    stopper.interrupt()

        async def watch_event(event: threading.Event) -> None:
            while not event.is_set():
                await anyio.sleep(_STOP_POLL)
            stopper.interrupt()

        if control.handle_signals and signals_supported():
            tg.start_soon(watch_signals)
        if control.should_stop is not None:
            tg.start_soon(watch_event, control.should_stop)
        outcome = await run_pass(
            target, plan, payloads, settings, window=window, stopper=stopper, progress=progress,
            notice=partial(control.notice, said=said), on_started=live.started, tenants=tenants,
        )  # fmt: skip
        result.append(outcome)
        tg.cancel_scope.cancel()
    return result[0] if result else None
