"""``clerk-migrate retry``: send a run's failed rows again, optionally from a corrected file."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import handle_errors
from migrate.cli._options import (
    pacing_options,
    redact_option,
    target_options,
    tenant_options,
    wait_options,
)
from migrate.cli._shell import connection_from, finish_pass, interruptible, terminal_pass


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
@tenant_options
@target_options
@pacing_options
@wait_options()
@click.option("--yes", "-y", is_flag=True, help="Do not ask before writing to production.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@redact_option
def command(
    *,
    run_dir: Path,
    codes: str | None,
    fixed: Path | None,
    orgs_path: Path | None,
    members_path: Path | None,
    sandbox: bool,
    api_url: str | None,
    secret_key_file: Path | None,
    proxy: str | None,
    rate: float | None,
    concurrency: int | None,
    max_retry_after: float | None,
    outage_limit: float | None,
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
    unchanged). A run with organizations and memberships has their failed rows sent again
    too (give --organizations / --memberships as for the run), in the run's order, so a
    membership whose user failed is sent once that user is created. Exit codes as for `run`.
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    code_list = [c.strip() for c in codes.split(",") if c.strip()] if codes else None
    with handle_errors(), interruptible():
        waits = {"outage_limit": outage_limit, "max_retry_after": max_retry_after}
        with terminal_pass(rate, concurrency, yes, quiet, **waits) as how:
            result = migrate.retry(
                run_dir,
                connection=connection_from(sandbox, api_url, secret_key_file, proxy),
                codes=code_list,
                fixed=fixed,
                redact_emails=redact_emails,
                organizations=orgs_path,
                memberships=members_path,
                **how,
            )
        # the same command: --input because `run` would read the requeued rows from the
        # original input; --codes so no other failed row is requeued on resume
        hint = (
            f"clerk-migrate retry {run_dir}"
            + (f" --codes {','.join(code_list)}" if code_list else "")
            + (f" --input {fixed}" if fixed else "")
            + (f" --organizations {orgs_path}" if orgs_path else "")
            + (f" --memberships {members_path}" if members_path else "")
        )
        code = finish_pass(result, hint)
    raise click.exceptions.Exit(code)
