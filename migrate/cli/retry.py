"""``clerk-migrate retry``: send a run's failed rows again, optionally from a corrected file."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import handle_errors
from migrate.cli._loader import (
    confirm_production,
    default_rate_for,
    execute_pass,
    interruptible,
    resolve_target,
)
from migrate.cli._options import pacing_options, redact_option, target_options
from migrate.runner.engine import EngineSettings, PayloadSource, RowWindow
from migrate.runner.retrying import KeyedPayloads, RequeueResult, check_fixed, requeue
from migrate.runner.session import (
    PreparedRun,
    RunPlan,
    bind_target,
    check_rate,
    original_payloads,
    prepare_input,
    read_run,
    redact_reports,
)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--codes",
    help="Only rows that failed with these Clerk codes (comma-separated), e.g. "
    "form_password_pwned,internal_clerk_error.",
)
@click.option(
    "--input",
    "fixed",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A corrected input (same mapping and columns); its rows are matched by key.",
)
@target_options
@pacing_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask before writing to production.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@redact_option
def command(
    *,
    run_dir: Path,
    codes: str | None,
    fixed: Path | None,
    sandbox: bool,
    api_url: str | None,
    secret_key_file: Path | None,
    proxy: str | None,
    rate: float | None,
    concurrency: int | None,
    yes: bool,
    quiet: bool,
    redact_emails: bool,
) -> None:
    """Put the failed rows of RUN_DIR back in the queue and send them (and any pending rows).

    Without --input the rows are re-read from the original input, which must be unchanged;
    invalid rows stay invalid (their data did not change). With --input FIXED (e.g. an edited
    failed_rows.csv, validated with the run's mapping) rows are matched by key: a failed row
    whose corrected version passes validation is sent with the corrected data, and an invalid
    row is validated again: sent if it passes now, else kept invalid with the new reasons.
    Other pending rows are read from the original input (when it is there; it must be
    unchanged). Exit codes as for `run`.
    """
    with handle_errors(), interruptible():
        check_rate(rate, concurrency)
        code_list = [c.strip() for c in codes.split(",") if c.strip()] if codes else None
        plan = read_run(run_dir, lock=True)
        try:
            if redact_emails:
                redact_reports(plan)
            payloads: PayloadSource
            original: PreparedRun | None
            if fixed is None:
                prepared = prepare_input(plan.input, plan.mapping, plan.overrides, plan.joins)
                plan.store.check_fingerprints(prepared.fingerprints)
                payloads = original_payloads(plan.store, prepared)
                result = requeue(plan.store, code_list)
                original = prepared
            else:
                fixed_input = prepare_input(fixed, plan.mapping, plan.overrides, plan.joins)
                check_fixed(plan.store, fixed_input)
                original = None
                if plan.input.is_file():
                    original = prepare_input(plan.input, plan.mapping, plan.overrides, plan.joins)
                    plan.store.check_fingerprints(original.fingerprints)
                keyed = KeyedPayloads(plan.store, fixed_input, original)
                payloads = keyed.payloads
                result = requeue(plan.store, code_list, keyed, fixed.name, str(fixed.resolve()))
            _report(result, fixed, plan.input if fixed is not None and original is None else None)
            _report_corrected(plan, fixed)
            with resolve_target(sandbox, api_url, secret_key_file, proxy) as target:
                bind_target(plan.store, target)
                settings = EngineSettings(
                    rate=rate or default_rate_for(target), concurrency=concurrency
                )
                confirm_production(target, plan, RowWindow(), settings.rate, yes=yes)
                # the same command: --input because `run` would read the requeued rows from
                # the original input; --codes so no other failed row is requeued on resume
                hint = (
                    f"clerk-migrate retry {run_dir}"
                    + (f" --codes {','.join(code_list)}" if code_list else "")
                    + (f" --input {fixed}" if fixed else "")
                )
                code = execute_pass(
                    target, plan, payloads, settings, RowWindow(), quiet=quiet, resume_hint=hint
                )
        finally:
            plan.store.close()
    raise click.exceptions.Exit(code)


def _report(result: RequeueResult, fixed: Path | None, gone: Path | None) -> None:
    """Say what went back in the queue and what was left, and why."""
    click.echo(f"{result.requeued:,} failed rows back in the queue.", err=True)
    if fixed is None:
        return
    if result.not_in_fixed or result.still_invalid:
        click.echo(
            f"Left as failed: {result.not_in_fixed:,} not in {fixed}, "
            f"{result.still_invalid:,} still invalid there.",
            err=True,
        )
    click.echo(
        f"{result.revalidated:,} invalid rows now pass validation and are back in the queue; "
        f"{result.invalid_again:,} are still invalid (new reasons in errors.csv).",
        err=True,
    )
    if result.shared_key:
        click.echo(
            f"Left as invalid: {result.shared_key:,} rows whose key other rows of the run share "
            "(sending them could create a user twice).",
            err=True,
        )
    if gone is not None:
        click.echo(
            f"The original input {gone} is not there: only rows found in {fixed} are sent; "
            "other pending rows wait for it.",
            err=True,
        )


def _report_corrected(plan: RunPlan, fixed: Path | None) -> None:
    """Name the rows this pass leaves alone because another corrected file holds their data."""
    waiting = plan.store.corrected_waiting()
    for file, count in sorted(waiting.items()):
        if fixed is None or file != str(fixed.resolve()):
            click.echo(
                f"{count:,} rows take their data from {file} and are not sent from "
                f"{plan.input}: send them with "
                f"`clerk-migrate retry {plan.run_dir} --input {file}`.",
                err=True,
            )
