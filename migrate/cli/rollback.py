"""``clerk-migrate rollback``: delete the users a run created (e.g. after a rehearsal)."""

from __future__ import annotations

from pathlib import Path

import anyio
import click

from migrate.cli._common import EXIT_FAILED_ROWS, EXIT_OK, handle_errors
from migrate.cli._loader import default_rate_for, interactive, print_summary, resolve_target
from migrate.cli._options import pacing_options, target_options
from migrate.errors import ConfigError, MigrateError
from migrate.runner.aftercare import RollbackResult, rollback_users
from migrate.runner.pacing import Pacer
from migrate.runner.session import (
    RunPlan,
    Target,
    bind_target,
    check_rate,
    read_run,
    write_reports,
)
from migrate.state import RowState


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@target_options
@pacing_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def command(
    *,
    run_dir: Path,
    sandbox: bool,
    api_url: str | None,
    secret_key_file: Path | None,
    proxy: str | None,
    rate: float | None,
    concurrency: int | None,
    yes: bool,
) -> None:
    """Delete from Clerk every user this run created.

    Users that already existed before the run (state `exists`) are never touched. Asks first
    unless --yes; without a terminal and without --yes it refuses. Each deleted user's row goes
    back to pending, noted `rolled_back` (reports list it; id_map.csv no longer does), so
    rerunning `run` creates it again. An interrupted rollback resumes when run again.
    """
    with handle_errors():
        check_rate(rate, concurrency)
        plan = read_run(run_dir, lock=True)
        try:
            created = plan.counts()[RowState.CREATED]
            if created == 0:
                click.echo("Nothing to roll back: this run created no users.")
                raise click.exceptions.Exit(EXIT_OK)
            with resolve_target(sandbox, api_url, secret_key_file, proxy) as target:
                bind_target(plan.store, target)
                _confirm(target, created, yes=yes)
                result = anyio.run(
                    _rollback, target, plan, rate or default_rate_for(target), concurrency
                )
            _note(plan, result)
            click.echo(
                f"Deleted {result.deleted:,} users; {result.already_gone:,} were already gone; "
                f"{len(result.refused):,} refused."
            )
            for key, user_id, code in result.refused[:20]:
                click.echo(f"  {key} ({user_id}): {code}")
            back = result.deleted + result.already_gone
            if back:
                click.echo(
                    f"{back:,} rows are pending again (rolled_back in the reports); "
                    "running the same `clerk-migrate run` command again creates them again."
                )
            _rewrite_reports(plan)
        finally:
            plan.store.close()
    raise click.exceptions.Exit(EXIT_FAILED_ROWS if result.refused else EXIT_OK)


def _confirm(target: Target, created: int, *, yes: bool) -> None:
    click.echo(
        f"About to DELETE {created:,} users created by this run from the {target.instance} "
        f"instance at {target.base_url}.",
        err=True,
    )
    if yes:
        return
    if not interactive():
        raise ConfigError("refusing to delete users without confirmation: pass --yes")
    if not click.confirm("Delete them?", default=False, err=True):
        raise click.exceptions.Exit(1)


async def _rollback(
    target: Target, plan: RunPlan, rate: float, concurrency: int | None
) -> RollbackResult:
    pacer = Pacer(rate, fixed_concurrency=concurrency)
    async with target.client() as client:
        return await rollback_users(client, pacer, plan.store)


def _note(plan: RunPlan, result: RollbackResult) -> None:
    """Add this rollback to the run's totals in the state DB (several if one was resumed)."""
    before = plan.store.get_meta("rolled_back") or {}
    plan.store.set_meta(
        "rolled_back",
        {
            "deleted": int(before.get("deleted", 0)) + result.deleted,
            "already_gone": int(before.get("already_gone", 0)) + result.already_gone,
            "refused": len(result.refused),
            "rollbacks": int(before.get("rollbacks", 0)) + 1,
        },
    )


def _rewrite_reports(plan: RunPlan) -> None:
    """Rewrite the reports so id_map.csv drops the deleted users; a missing input only warns."""
    try:
        paths = write_reports(plan)
    except MigrateError as exc:
        click.echo(
            f"Warning: the reports were not rewritten ({exc}); "
            f"run `clerk-migrate report {plan.run_dir}` once the input is back.",
            err=True,
        )
        return
    print_summary(plan, None, paths, None)
