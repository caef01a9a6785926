"""``clerk-migrate verify``: check that every migrated user is in Clerk, and canary passwords."""

from __future__ import annotations

import csv
from pathlib import Path

import anyio
import click

from migrate.cli._common import EXIT_FAILED_ROWS, EXIT_OK, handle_errors
from migrate.cli._loader import default_rate_for, resolve_target
from migrate.cli._options import pacing_options, target_options
from migrate.reports.atomic import atomic_open
from migrate.runner.aftercare import (
    PasswordCheck,
    VerifyResult,
    check_passwords,
    read_password_file,
    verify_users,
)
from migrate.runner.pacing import Pacer
from migrate.runner.session import RunPlan, Target, bind_target, check_rate, read_run
from migrate.secrets import Secret


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
    """Look every created or existing user of RUN_DIR up in Clerk (100 per request).

    Reports users that are missing or whose external_id / primary email differ from the run's
    record, in RUN_DIR/verify.csv. With --passwords, calls verify_password for each canary
    (the passwords are never printed or stored). Exit 0 when everything matches, 3 otherwise.
    """
    with handle_errors():
        check_rate(rate, concurrency)
        canaries = read_password_file(passwords) if passwords else []
        plan = read_run(run_dir)
        try:
            with resolve_target(sandbox, api_url, secret_key_file, proxy) as target:
                bind_target(plan.store, target)
                pacer_rate = rate or default_rate_for(target)
                result, checks = anyio.run(_verify, target, plan, pacer_rate, concurrency, canaries)
            _write_report(run_dir / "verify.csv", result)
        finally:
            plan.store.close()
        click.echo(f"Checked {result.checked:,} users: {len(result.mismatches):,} problems.")
        for problem in result.mismatches[:20]:
            detail = ""
            if problem.problem != "missing":
                detail = f" expected {problem.expected!r}, found {problem.found!r}"
            click.echo(f"  row {problem.row} ({problem.key}): {problem.problem}{detail}")
        if len(result.mismatches) > 20:
            click.echo(f"  … see {run_dir / 'verify.csv'}")
        for check in checks:
            mark = "ok " if check.verified else "BAD"
            click.echo(f"  password {mark} {check.key}: {check.reason}")
        bad = bool(result.mismatches) or any(not c.verified for c in checks)
    raise click.exceptions.Exit(EXIT_FAILED_ROWS if bad else EXIT_OK)


async def _verify(
    target: Target,
    plan: RunPlan,
    rate: float,
    concurrency: int | None,
    canaries: list[tuple[str, Secret]],
) -> tuple[VerifyResult, list[PasswordCheck]]:
    pacer = Pacer(rate, fixed_concurrency=concurrency)
    async with target.client() as client:
        result = await verify_users(client, pacer, plan.store)
        checks = await check_passwords(client, pacer, plan.store, canaries) if canaries else []
    return result, checks


def _write_report(path: Path, result: VerifyResult) -> None:
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["row", "key", "clerk_user_id", "problem", "expected", "found"])
        for m in result.mismatches:
            writer.writerow([m.row, m.key, m.clerk_user_id, m.problem, m.expected or "",
                             m.found or ""])  # fmt: skip
