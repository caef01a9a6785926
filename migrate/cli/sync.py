"""``clerk-migrate sync``: apply a newer export's changes to the users a run migrated."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import confirm, echo, handle_errors
from migrate.cli._options import (
    join_option,
    pacing_options,
    parse_joins,
    source_options,
    source_options_from,
    target_options,
    wait_options,
)
from migrate.cli._shell import connection_from, interactive, print_notice


@click.command()
@click.argument("newer", metavar="NEWER_EXPORT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", "-m", required=True, help="Mapping file (TOML) or preset name.")
@click.option(
    "--run-dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The run directory of the migration to bring up to date.",
)
@click.option(
    "--dry-run", is_flag=True, help="Only plan: count and list the changes, send nothing."
)
@target_options
@pacing_options
@wait_options()
@click.option(
    "--delete-gone",
    is_flag=True,
    help="Delete the users whose key the newer export lacks (asks first; needs --max-delete).",
)
@click.option(
    "--max-delete",
    type=int,
    metavar="N",
    help="With --delete-gone: refuse, sending nothing, when more than N users are gone.",
)
@click.option("--ban-gone", is_flag=True, help="Ban the gone users instead of deleting them.")
@click.option(
    "--replace-identifiers",
    is_flag=True,
    help="Remove the emails and phones a user no longer has (default: keep them as secondary).",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting or banning.")
@join_option
@source_options
def command(
    *,
    newer: Path,
    mapping: str,
    run_dir: Path,
    dry_run: bool,
    sandbox: bool,
    api_url: str | None,
    secret_key_file: Path | None,
    proxy: str | None,
    rate: float | None,
    concurrency: int | None,
    max_retry_after: float | None,
    outage_limit: float | None,
    delete_gone: bool,
    max_delete: int | None,
    ban_gone: bool,
    replace_identifiers: bool,
    yes: bool,
    joins: tuple[str, ...],
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    no_header: bool,
) -> None:
    """Bring the users of RUN_DIR up to date with NEWER_EXPORT (the cutover step).

    Rows are matched to the run's users by key: new rows are created, changed ones updated
    (only the mapped fields that changed; names, username and external id, the password digest,
    metadata with removed keys set to null, a new primary email or phone), unchanged ones get
    no request. Users whose key the export lacks are reported, or deleted (--delete-gone) or
    banned (--ban-gone). Every request is paced like `run`; a rerun resumes and sends only what
    is still missing. --dry-run prints the counts and writes sync_plan.csv, sending nothing.

    Exit codes: 0 done (or planned); 1 run error; 2 usage; 3 invalid rows or failed keys.
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    def ask(question: str) -> bool:
        if not interactive():
            return False
        return confirm(question)

    with handle_errors():
        connection = connection_from(sandbox, api_url, secret_key_file, proxy)
        result = migrate.sync(
            newer,
            mapping,
            run_dir=run_dir,
            dry_run=dry_run,
            connection=None if dry_run else connection,
            delete_gone=delete_gone,
            ban_gone=ban_gone,
            max_delete=max_delete,
            replace_identifiers=replace_identifiers,
            confirm=ask,
            yes=yes,
            rate=rate,
            concurrency=concurrency,
            max_retry_after=max_retry_after,
            outage_limit=outage_limit,
            source=source_options_from(fmt, encoding, delimiter, no_header),
            joins=parse_joins(joins),
            on_notice=print_notice,
        )
        for notice in result.notices:
            echo(notice, err=True)
        counts = result.counts
        echo(
            f"sync plan: {counts['new']:,} new, {counts['changed']:,} changed, "
            f"{counts['unchanged']:,} unchanged, {counts['unknown']:,} unknown, "
            f"{counts['invalid']:,} invalid, {counts['gone']:,} gone"
        )
        for field, n in result.changed_fields.items():
            echo(f"  changed {field}: {n:,}")
        if result.sent is not None:
            done = ", ".join(f"{n:,} {what}" for what, n in sorted(result.sent.items()))
            echo(f"sent: {done or 'nothing'} ({result.requests:,} requests)")
            for key, row, action, code, message in result.failures[:10]:
                where = f"row {row}" if row is not None else "gone"
                echo(f"  failed: {where} key {key} ({action}): {code}: {message}", err=True)
        echo(f"plan: {result.plan_csv}")
    raise click.exceptions.Exit(result.exit_code)
