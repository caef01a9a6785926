"""``clerk-migrate verify``: check that every migrated user is in Clerk, and canary passwords."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import echo, handle_errors
from migrate.cli._options import pacing_options, target_options
from migrate.cli._shell import connection_from


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--passwords",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="CSV of key,password for a few canary accounts: each must sign in after migration.",
)
@target_options
@pacing_options
def command(
    *,
    run_dir: Path,
    passwords: Path | None,
    sandbox: bool,
    api_url: str | None,
    secret_key_file: Path | None,
    proxy: str | None,
    rate: float | None,
    concurrency: int | None,
) -> None:
    """Look every created or existing user of RUN_DIR up in Clerk (100 per request), and its
    organizations and memberships.

    Reports users that are missing or whose external_id / primary email differ from the run's
    record, organizations that are missing and memberships that are missing or have another
    role, in RUN_DIR/verify.csv. With --passwords, calls verify_password for each canary
    (the passwords are never printed or stored). Exit 0 when everything matches, 3 otherwise.
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    with handle_errors():
        result = migrate.verify(
            run_dir,
            connection=connection_from(sandbox, api_url, secret_key_file, proxy),
            passwords=passwords,
            rate=rate,
            concurrency=concurrency,
        )
    checked = f"{result.checked:,} users"
    if result.organizations or result.memberships:
        checked += f", {result.organizations:,} organizations, {result.memberships:,} memberships"
    echo(f"Checked {checked}: {len(result.mismatches):,} problems.")
    for problem in result.mismatches[:20]:
        detail = ""
        if problem.problem != "missing":
            detail = f" expected {problem.expected!r}, found {problem.found!r}"
        kind = "" if problem.kind == "user" else f"{problem.kind} "
        echo(f"  {kind}row {problem.row} ({problem.key}): {problem.problem}{detail}")
    if len(result.mismatches) > 20:
        echo(f"  … see {result.report}")
    for check in result.passwords:
        mark = "ok " if check.verified else "BAD"
        echo(f"  password {mark} {check.key}: {check.reason}")
    raise click.exceptions.Exit(result.exit_code)
