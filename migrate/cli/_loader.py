"""What ``run`` and ``retry`` share: the target, the production question, Ctrl-C, the summary.

The library (``migrate.runner``) never prints; this module is where a pass is started from a
terminal: it resolves the key and the target (or starts the sandbox), asks before production,
turns SIGINT / SIGTERM into a clean stop, prints the one-screen summary and picks the exit code.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import anyio
import click
from click.core import ParameterSource

from migrate.clerk.client import DEFAULT_BASE_URL
from migrate.clerk.tunnel import Proxy
from migrate.cli._common import (
    EXIT_FAILED_ROWS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUN_ERROR,
)
from migrate.cli._options import parse_joins, read_secret_key, row_window, source_options_from
from migrate.errors import ConfigError
from migrate.reports.run import ReportPaths
from migrate.runner.engine import EngineSettings, PayloadSource, RowWindow, RunOutcome
from migrate.runner.pacing import default_rate
from migrate.runner.progress import BarProgress
from migrate.runner.session import (
    DEVELOPMENT_USER_CAP,
    RunPlan,
    Target,
    bind_target,
    check_rate,
    default_run_dir,
    development_room,
    open_run,
    pass_stats,
    prepare_input,
    record_pass,
    redact_reports,
    run_pass,
    write_reports,
)
from migrate.runner.workers import Stopper
from migrate.secrets import Secret
from migrate.state import RowState

__all__ = ["RunArgs", "execute_pass", "execute_run", "interruptible", "resolve_target"]

# The sandbox a rehearsal starts: production's rate limit (so the rehearsal paces like the real
# run) on a development key, and no user cap (a rehearsal of a large file must not stop at 100).
SANDBOX_LIMIT_PER_WINDOW = 1000


@dataclass(frozen=True)
class RunArgs:
    """The ``run`` command's options, parsed."""

    input_path: Path
    mapping: str
    sandbox: bool
    api_url: str | None
    secret_key_file: Path | None
    proxy: str | None
    run_dir: Path | None
    rate: float | None
    concurrency: int | None
    limit: int | None
    rows: str | None
    sample: int | None
    yes: bool
    quiet: bool
    redact_emails: bool
    joins: tuple[str, ...]
    fmt: str | None
    encoding: str | None
    delimiter: str | None
    no_header: bool


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C outside the sending pass (while reading, planning, writing reports): exit 130.

    Every state move is a transaction, so whatever was interrupted left the state consistent.
    """
    try:
        yield
    except KeyboardInterrupt:
        click.echo("\nInterrupted; the state is saved. Run the same command again.", err=True)
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None


@contextmanager
def resolve_target(
    sandbox: bool, api_url: str | None, secret_key_file: Path | None, proxy: str | None = None
) -> Iterator[Target]:
    """The Clerk instance to talk to; with ``sandbox``, a sandbox running for the duration.

    A ``CLERK_API_URL`` from the environment is ignored with ``--sandbox`` (it is often left
    over from ``clerk-migrate sandbox``); an explicit ``--api-url`` is a usage error. ``proxy``
    (``--proxy``) is checked here and applies to an https API only.
    """
    check_target(sandbox, api_url, secret_key_file, proxy)
    if sandbox:
        from migrate.sandbox import SandboxConfig, running_sandbox  # noqa: PLC0415 - lazy: heavy

        config = SandboxConfig(
            instance="development", rate_limit=SANDBOX_LIMIT_PER_WINDOW, user_cap=0
        )
        with running_sandbox(config) as handle:
            yield Target(handle.url, Secret(handle.secret_key), sandbox=True)
        return
    url = api_url or DEFAULT_BASE_URL
    yield Target(url, read_secret_key(secret_key_file), proxy=_proxy(proxy, url))


def check_target(
    sandbox: bool, api_url: str | None, secret_key_file: Path | None, proxy: str | None
) -> None:
    """Refuse target options that cannot work together, and a missing key (``ConfigError``),
    before any work is done."""
    if sandbox:
        if _explicit_api_url(api_url) or secret_key_file:
            raise ConfigError("--sandbox starts its own server: drop --api-url / --secret-key-file")
        if proxy:
            raise ConfigError("--proxy is for the real API; the sandbox runs on this machine")
        return
    _proxy(proxy, api_url or DEFAULT_BASE_URL)
    read_secret_key(secret_key_file)


def _proxy(value: str | None, api_url: str) -> Proxy | None:
    """``--proxy`` parsed; ``ConfigError`` naming the option when it cannot be used."""
    if not value:
        return None
    if not api_url.lower().startswith("https://"):
        raise ConfigError(f"--proxy applies to an https API URL, not {api_url}")
    try:
        return Proxy.parse(value)
    except ValueError as exc:
        raise ConfigError(f"--proxy: {exc}") from None


def _explicit_api_url(api_url: str | None) -> str | None:
    """``api_url`` unless it came from the environment rather than the command line."""
    return None if _from_environment("api_url") else api_url


def _from_environment(parameter: str) -> bool:
    """Whether the current command's ``parameter`` came from an environment variable."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(parameter) is ParameterSource.ENVIRONMENT


def default_rate_for(target: Target) -> float:
    """90 % of the instance's limit (the rehearsal sandbox paces like production)."""
    return default_rate(target.production or target.sandbox)


def confirm_production(
    target: Target, plan: RunPlan, window: RowWindow, rate: float, *, yes: bool
) -> None:
    """Show what is about to happen on a production instance and ask; refuse without a TTY."""
    if not target.production or target.sandbox:
        return
    counts = plan.counts()
    pending = _to_send(plan, window) + counts[RowState.IN_FLIGHT]
    seconds = pending / rate if rate else 0
    click.echo(
        f"About to write to a PRODUCTION Clerk instance ({target.base_url}).\n"
        f"  rows: {sum(counts.values()):,} in the plan, {pending:,} to send"
        f"{_window_note(window)}, "
        f"{counts[RowState.INVALID]:,} invalid (not sent), "
        f"{counts[RowState.CREATED] + counts[RowState.EXISTS]:,} already done\n"
        f"  rate: {rate:g} requests/s; estimated duration: {_duration(seconds)}",
        err=True,
    )
    if yes:
        return
    if not interactive():
        raise ConfigError(
            "refusing to write to a production instance without confirmation: "
            "no terminal to ask on; pass --yes to proceed"
        )
    if not click.confirm("Proceed?", default=False, err=True):
        raise click.exceptions.Exit(EXIT_RUN_ERROR)


def _to_send(plan: RunPlan, window: RowWindow) -> int:
    """How many pending rows this pass will send (within ``--rows``, capped by the window)."""
    if window.first is None and window.last is None:
        pending = plan.counts()[RowState.PENDING]
    else:
        pending = sum(1 for r in plan.store.row_numbers([RowState.PENDING]) if window.holds(r))
    return window.cap(pending)


def _window_note(window: RowWindow) -> str:
    parts = [f"rows {window.first or 1}-{window.last or ''}"] if window.first or window.last else []
    if window.limit is not None:
        parts.append(f"the first {window.limit:,}")
    if window.sample is not None:
        parts.append(f"{window.sample:,} spread over the file")
    return f" ({', '.join(parts)})" if parts else ""


def signals_supported() -> bool:
    """Whether a pass can watch SIGINT/SIGTERM itself (anyio cannot on Windows).

    Without it, Ctrl-C during a pass raises ``KeyboardInterrupt`` out of the event loop: the
    requests in flight are abandoned (their rows stay ``in_flight`` and are reconciled by the
    next run, as after a second Ctrl-C) and ``interruptible`` exits 130.
    """
    return sys.platform != "win32"


def interactive() -> bool:
    """Whether a person can answer a question on stdin."""
    return sys.stdin.isatty()


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


async def _guarded_pass(
    *,
    target: Target,
    plan: RunPlan,
    payloads: PayloadSource,
    settings: EngineSettings,
    window: RowWindow,
    stopper: Stopper,
    quiet: bool,
) -> RunOutcome | None:
    """Run one pass; first SIGINT/SIGTERM stops cleanly, a second abandons in-flight requests."""
    result: list[RunOutcome] = []
    pending = _to_send(plan, window)
    crowded = await development_room(target, pending)
    if crowded is not None:
        there, room = crowded
        click.echo(
            f"Warning: development instances usually hold at most {DEVELOPMENT_USER_CAP} users; "
            f"this one has {there:,} and this pass sends {pending:,}, so Clerk will likely stop "
            f"the run with user_quota_exceeded after about {room:,} more (nothing is lost; the "
            "run can resume where it stopped). Rehearse a few rows with --limit or --sample, or "
            "the whole file with --sandbox.",
            err=True,
        )
    progress = None
    if not quiet and sys.stderr.isatty():
        progress = BarProgress(pending, rate=lambda: settings.rate)
    async with anyio.create_task_group() as tg:

        async def watch() -> None:
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    if stopper.stopping:
                        tg.cancel_scope.cancel()  # second Ctrl-C: abandon what is on the wire
                        return
                    click.echo(
                        "\nStopping: finishing requests in flight (Ctrl-C again to abandon "
                        "them; they are reconciled on the next run)…",
                        err=True,
                    )
                    stopper.interrupt()

        if signals_supported():
            tg.start_soon(watch)
        outcome = await run_pass(
            target, plan, payloads, settings, window=window, stopper=stopper, progress=progress
        )
        result.append(outcome)
        tg.cancel_scope.cancel()
    return result[0] if result else None


def execute_pass(
    target: Target,
    plan: RunPlan,
    payloads: PayloadSource,
    settings: EngineSettings,
    window: RowWindow,
    *,
    quiet: bool,
    resume_hint: str,
) -> int:
    """Run one pass from the terminal, write the reports, print the summary; the exit code."""
    stopper = Stopper()
    outcome = anyio.run(
        partial(
            _guarded_pass,
            target=target,
            plan=plan,
            payloads=payloads,
            settings=settings,
            window=window,
            stopper=stopper,
            quiet=quiet,
        )
    )
    if outcome is not None:
        record_pass(plan.store, pass_stats(outcome, target, settings))
    paths = write_reports(plan)
    print_summary(plan, outcome, paths, settings)
    if outcome is None or outcome.interrupted:
        click.echo(f"Interrupted; the state is saved. Resume with:\n  {resume_hint}", err=True)
        return EXIT_INTERRUPTED
    if outcome.abort_code is not None:
        click.echo(
            f"Error: Clerk refused the run with {outcome.abort_code}: {outcome.abort_message}\n"
            f"Nothing is lost: fix the cause, then resume with:\n  {resume_hint}",
            err=True,
        )
        return EXIT_RUN_ERROR
    counts = plan.counts()
    if counts[RowState.FAILED] or counts[RowState.INVALID] or counts[RowState.IN_FLIGHT]:
        return EXIT_FAILED_ROWS
    return EXIT_OK


def print_summary(
    plan: RunPlan,
    outcome: RunOutcome | None,
    paths: ReportPaths,
    settings: EngineSettings | None,
) -> None:
    """The one-screen summary: counts, this pass's pace, top error codes, where reports are."""
    counts = plan.counts()
    total = sum(counts.values())
    line = " · ".join(f"{counts[s]:,} {s}" for s in RowState if counts[s])
    click.echo(f"Rows: {total:,} ({line or 'none'})")
    if outcome is not None and settings is not None:
        click.echo(
            f"This pass: {outcome.tally.created:,} created, {outcome.tally.exists:,} exists, "
            f"{outcome.tally.failed:,} failed in {_duration(outcome.duration)}; "
            f"{outcome.pacing.requests:,} requests at {outcome.achieved_rate:.1f}/s "
            f"(paced at {settings.rate:g}/s); 429s: {outcome.pacing.rate_limited}; "
            f"retries: {outcome.retries}"
        )
        if outcome.reconciled.found or outcome.reconciled.released:
            click.echo(
                f"Reconciled {outcome.reconciled.found + outcome.reconciled.released:,} rows "
                f"left in flight: {outcome.reconciled.found:,} found in Clerk, "
                f"{outcome.reconciled.released:,} re-sent"
            )
    codes = plan.store.code_counts()
    if codes:
        click.echo("Top error codes:")
        for (state, code), n in list(codes.items())[:5]:
            click.echo(f"  {code:<40} {n:>8,}  ({state})")
    if counts[RowState.PENDING]:
        click.echo(f"{counts[RowState.PENDING]:,} rows still pending (run again to send them).")
    if counts[RowState.IN_FLIGHT]:
        click.echo(
            f"{counts[RowState.IN_FLIGHT]:,} rows unresolved: Clerk did not answer whether they "
            "were created; run again to look them up (nothing is sent twice)."
        )
    names = ", ".join(p.name for p in paths.all())
    click.echo(f"Reports in {plan.run_dir}: {names}")


def execute_run(args: RunArgs) -> int:
    """The ``run`` command: prepare, plan or resume, confirm, run a pass; the exit code."""
    check_rate(args.rate, args.concurrency)
    window = row_window(args.limit, args.rows, args.sample)
    overrides = source_options_from(args.fmt, args.encoding, args.delimiter, args.no_header)
    check_target(args.sandbox, args.api_url, args.secret_key_file, args.proxy)

    prepared = prepare_input(args.input_path, args.mapping, overrides, parse_joins(args.joins))
    run_dir = args.run_dir or default_run_dir(args.input_path, sandbox=args.sandbox)
    plan = open_run(run_dir, args.input_path, args.mapping, overrides, prepared)
    for line in prepared.prepared.notices(sum(plan.counts().values())):
        click.echo(line, err=True)
    try:
        if args.redact_emails:
            redact_reports(plan)
        with resolve_target(args.sandbox, args.api_url, args.secret_key_file, args.proxy) as target:
            bind_target(plan.store, target)
            rate = args.rate or default_rate_for(target)
            settings = EngineSettings(rate=rate, concurrency=args.concurrency)
            confirm_production(target, plan, window, rate, yes=args.yes)
            verb = "resuming" if plan.resumed else "planned"
            click.echo(
                f"{verb} {run_dir} · {target.instance} instance"
                f"{' (sandbox ' + target.base_url + ')' if target.sandbox else ''} · "
                f"rate {rate:g}/s",
                err=True,
            )
            return execute_pass(
                target, plan, prepared.payloads, settings, window,
                quiet=args.quiet, resume_hint=_resume_hint(args),
            )  # fmt: skip
    finally:
        plan.store.close()


def _resume_hint(args: RunArgs) -> str:
    parts = ["clerk-migrate", "run", str(args.input_path), "--mapping", args.mapping]
    if args.run_dir:
        parts += ["--run-dir", str(args.run_dir)]
    for join in args.joins:
        parts += ["--join", join]
    if args.sandbox:
        parts.append("--sandbox")
    if args.proxy and not _from_environment("proxy"):
        proxy = Proxy.parse(args.proxy)  # already checked by resolve_target
        login = "USER:PASSWORD@" if proxy.authorization else ""  # never echo credentials
        parts += ["--proxy", f"http://{login}{proxy.host}:{proxy.port}"]
    return " ".join(parts)
