"""``clerk-migrate rollback``: delete the users a run created (e.g. after a rehearsal)."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import confirm, echo, handle_errors
from migrate.cli._options import pacing_options, target_options
from migrate.cli._shell import connection_from, interactive, print_summary
from migrate.errors import ConfigError


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
    """Delete from Clerk every user this run created, and its memberships and organizations.

    Memberships go first, then organizations, then users. Those that already existed before
    the run (state `exists`) are never touched. Asks first
    unless --yes; without a terminal and without --yes it refuses. Each deleted user's row goes
    back to pending, noted `rolled_back` (reports list it; id_map.csv no longer does), so
    rerunning `run` creates it again. An interrupted rollback resumes when run again.
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    def ask(where: str, objects: int) -> bool:
        what = "users, organizations and memberships"
        echo(f"About to DELETE {objects:,} {what} created by this run from {where}.", err=True)
        if yes:
            return True
        if not interactive():
            raise ConfigError("refusing to delete users without confirmation: pass --yes")
        return confirm("Delete them?")

    with handle_errors():
        result = migrate.rollback(
            run_dir,
            connection=connection_from(sandbox, api_url, secret_key_file, proxy),
            confirm=ask,
            rate=rate,
            concurrency=concurrency,
        )
    if result.nothing:
        echo("Nothing to roll back: this run created no users.")
        raise click.exceptions.Exit(result.exit_code)
    for name, kind in (
        ("memberships", result.memberships),
        ("organizations", result.organizations),
    ):
        if kind.asked:
            echo(
                f"Deleted {kind.deleted:,} {name}; {kind.already_gone:,} were already gone; "
                f"{len(kind.refused):,} refused."
            )
        for key, clerk_id, code in kind.refused[:20]:
            echo(f"  {key} ({clerk_id}): {code}")
    echo(
        f"Deleted {result.deleted:,} users; {result.already_gone:,} were already gone; "
        f"{len(result.refused):,} refused."
    )
    for key, user_id, code in result.refused[:20]:
        echo(f"  {key} ({user_id}): {code}")
    back = result.deleted + result.already_gone
    for kind in (result.memberships, result.organizations):
        back += kind.deleted + kind.already_gone
    if back:
        echo(
            f"{back:,} rows are pending again (rolled_back in the reports); "
            "running the same `clerk-migrate run` command again creates them again."
        )
    if result.summary is not None:
        print_summary(result.summary, None)
    else:
        echo(
            f"Warning: the reports were not rewritten ({result.report_problem}); "
            f"run `clerk-migrate report {run_dir}` once the input is back.",
            err=True,
        )
    raise click.exceptions.Exit(result.exit_code)
