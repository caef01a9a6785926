"""What the loader's commands share at the terminal: the connection from the options, the
production question, the progress bar, Ctrl-C outside a pass, and the one-screen summary.

The library (``migrate.run`` …) never prints; this module turns its callbacks and results into
lines on stderr / stdout and the exit code.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from migrate._internal.api.connection import Connection, masked_proxy
from migrate._internal.api.results import ExitCode
from migrate.cli._common import confirm, echo
from migrate.cli._options import ca_bundle_option
from migrate.errors import ConfigError

if TYPE_CHECKING:
    from tqdm import tqdm

    from migrate._internal.api.passes import PassOptions
    from migrate._internal.api.results import (
        Confirmation,
        PassFigures,
        Progress,
        RunResult,
        RunSummary,
    )

__all__ = [
    "ProgressBar",
    "ask_production",
    "connection_from",
    "finish_pass",
    "interactive",
    "interruptible",
    "print_notice",
    "print_summary",
    "proxy_for_hint",
    "terminal_pass",
]


def connection_from(
    sandbox: bool, api_url: str | None, secret_key_file: Path | None, proxy: str | None
) -> Connection:
    """The ``--sandbox / --api-url / --secret-key-file / --proxy`` options as a ``Connection``.

    A ``CLERK_API_URL`` from the environment is ignored with ``--sandbox`` (it is often left
    over from ``clerk-migrate sandbox``); an explicit ``--api-url`` is a usage error then.
    """
    if sandbox and _from_environment("api_url"):
        api_url = None
    return Connection(sandbox, api_url, None, secret_key_file, proxy, ca_bundle_option())


def _from_environment(parameter: str) -> bool:
    """Whether the current command's ``parameter`` came from an environment variable."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(parameter) is ParameterSource.ENVIRONMENT


def proxy_for_hint(proxy: str | None) -> str | None:
    """``--proxy`` as a resume hint may show it: only when typed, credentials masked."""
    if not proxy or _from_environment("proxy"):
        return None
    return masked_proxy(proxy)


@contextmanager
def interruptible() -> Iterator[None]:
    """Ctrl-C outside the sending pass (while reading, planning, writing reports): exit 130.

    Every state move is a transaction, so whatever was interrupted left the state consistent.
    """
    try:
        yield
    except KeyboardInterrupt:
        echo("\nInterrupted; the state is saved. Run the same command again.", err=True)
        raise click.exceptions.Exit(ExitCode.INTERRUPTED) from None


def interactive() -> bool:
    """Whether a person can answer a question on stdin."""
    return sys.stdin.isatty()


def print_notice(line: str) -> None:
    """A line the library wants a person to see, on stderr."""
    echo(line, err=True)


def ask_production(*, yes: bool) -> Callable[[Confirmation], bool]:
    """The question before writing to a production instance; refuses without a terminal."""

    def ask(c: Confirmation) -> bool:
        echo(
            f"About to write to a PRODUCTION Clerk instance ({c.base_url}).\n"
            f"  rows: {c.rows:,} in the plan, {c.to_send:,} to send{c.window}, "
            f"{c.invalid:,} invalid (not sent), {c.done:,} already done\n"
            + "".join(f"  {kind}: {n:,} to send\n" for kind, n in c.tenants.items())
            + f"  rate: {c.rate:g} requests/s; estimated duration: {_duration(c.seconds)}",
            err=True,
        )
        if yes:
            return True
        if not interactive():
            raise ConfigError(
                "refusing to write to a production instance without confirmation: "
                "no terminal to ask on; pass --yes to proceed"
            )
        return confirm("Proceed?")

    return ask


class ProgressBar:
    """``on_progress`` drawn as a tqdm bar on stderr: created / exists / failed / retrying."""

    def __init__(self, file: IO[str] | None = None) -> None:
        self._file = file
        self._bar: tqdm[Any] | None = None
        self._done = 0

    def __call__(self, p: Progress) -> None:
        if self._bar is None:
            from tqdm import tqdm  # noqa: PLC0415 - only when a bar is drawn

            self._bar = tqdm(
                total=p.total, unit="user", file=self._file, dynamic_ncols=True, smoothing=0.1,
                mininterval=0.5,
            )  # fmt: skip
        postfix = {"created": p.created, "exists": p.exists, "failed": p.failed,
                   "retrying": p.retrying, "limit/s": round(p.rate)}  # fmt: skip
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(p.done - self._done)
        self._done = p.done

    def close(self) -> None:
        """Leave the final bar on screen."""
        if self._bar is not None:
            self._bar.close()


@contextmanager
def terminal_pass(
    rate: float | None,
    concurrency: int | None,
    yes: bool,
    quiet: bool,
    *,
    outage_limit: float | None = None,
    max_retry_after: float | None = None,
) -> Iterator[PassOptions]:
    """``run`` / ``retry``'s pass options at a terminal: the pace and waits, the production
    question, a progress bar (stderr is a terminal and no ``--quiet``; closed on the way out),
    notices on stderr, and Ctrl-C / SIGTERM watched."""
    bar = None if quiet or not sys.stderr.isatty() else ProgressBar()
    try:
        yield {
            "rate": rate,
            "concurrency": concurrency,
            "outage_limit": outage_limit,
            "max_retry_after": max_retry_after,
            "confirm": ask_production(yes=yes),
            "on_progress": bar,
            "on_notice": print_notice,
            "handle_signals": True,
        }
    finally:
        if bar is not None:
            bar.close()


def finish_pass(result: RunResult, resume_hint: str) -> int:
    """Print a pass's summary and what to do next; the exit code."""
    print_summary(result.summary, result.this_pass)
    if result.exit_code == ExitCode.INTERRUPTED:
        echo(f"Interrupted; the state is saved. Resume with:\n  {resume_hint}", err=True)
    elif result.abort_code is not None:
        echo(
            f"Error: the run stopped ({result.abort_code}): {result.abort_message}\n"
            f"Nothing is lost: fix the cause, then resume with:\n  {resume_hint}",
            err=True,
        )
    return int(result.exit_code)


def print_summary(summary: RunSummary, this_pass: PassFigures | None) -> None:
    """The one-screen summary: counts, this pass's pace, top error codes, where reports are."""
    line = " · ".join(f"{n:,} {s}" for s, n in summary.counts.items() if n)
    echo(f"Rows: {summary.total:,} ({line or 'none'})")
    for kind, counts in summary.kinds.items():
        line = " · ".join(f"{n:,} {s}" for s, n in counts.items() if n)
        echo(f"{kind.capitalize()}: {sum(counts.values()):,} ({line or 'none'})")
    if this_pass is not None:
        p = this_pass
        echo(
            f"This pass: {p.created:,} created, {p.exists:,} exists, {p.failed:,} failed in "
            f"{_duration(p.seconds)}; {p.requests:,} requests at {p.achieved_rate:.1f}/s "
            f"(paced at {p.rate:g}/s, {p.rate_in_force:.3g}/s in force at the end); "
            f"429s: {p.rate_limited}; retries: {p.retries}"
        )
        for kind, did in p.kinds.items():
            echo(
                f"  {kind}: {did.get('created', 0):,} created, {did.get('exists', 0):,} exists, "
                f"{did.get('failed', 0):,} failed"
            )
        if p.outages:
            echo(
                f"Clerk was unreachable {p.outages} time(s), {_duration(p.outage_seconds)} in "
                "all; sending paused meanwhile"
            )
        if p.upserted or p.upsert_requests:
            done = ", ".join(f"{n:,} {what}" for what, n in sorted(p.upserted.items()))
            echo(
                f"Upsert of users already there: {done or 'nothing to do'} "
                f"({p.upsert_requests:,} requests)"
            )
            for key, row, code, message in p.upsert_failures[:10]:
                echo(f"  upsert failed: row {row} key {key}: {code}: {message}", err=True)
        if p.reconciled_found or p.reconciled_released:
            echo(
                f"Reconciled {p.reconciled_found + p.reconciled_released:,} rows left in flight: "
                f"{p.reconciled_found:,} found in Clerk, {p.reconciled_released:,} re-sent"
            )
    if summary.codes:
        echo("Top error codes:")
        for c in summary.codes[:5]:
            kind = "" if c.kind == "users" else f", {c.kind}"
            echo(f"  {c.code:<40} {c.rows:>8,}  ({c.state}{kind})")
    left = sum(summary.upserts.get(s, 0) for s in ("failed", "in_flight", "pending"))
    if summary.upserts:
        echo(
            f"Upserted: {summary.upserts.get('done', 0):,} existing users up to date"
            + (f", {left:,} not yet (run again with --upsert)" if left else "")
        )
    pending, unresolved = summary.count("pending"), summary.count("in_flight")
    if pending:
        echo(f"{pending:,} rows still pending (run again to send them).")
    if unresolved:
        echo(
            f"{unresolved:,} rows unresolved: Clerk did not answer whether they were created; "
            "run again to look them up (nothing is sent twice)."
        )
    names = ", ".join(p.name for p in summary.reports)
    echo(f"Reports in {summary.run_dir}: {names}")


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
