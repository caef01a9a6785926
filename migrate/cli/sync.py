"""``clerk-migrate sync``: apply a newer export's changes to the users a run migrated."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import handle_errors
from migrate.cli._options import join_option, parse_joins, source_options, source_options_from


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
@join_option
@source_options
def command(
    *,
    newer: Path,
    mapping: str,
    run_dir: Path,
    dry_run: bool,
    joins: tuple[str, ...],
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    no_header: bool,
) -> None:
    """Match NEWER_EXPORT's rows to the run's users by key and plan what changed.

    Each row is new, changed (by field), unchanged, unknown (the run has no fingerprints),
    invalid, or gone (a user of the run whose key the export lacks). --dry-run prints the
    counts, writes sync_plan.csv and the counts into summary.json, and sends nothing.

    Exit codes: 0 planned; 1 run error; 2 usage; 3 the export has invalid rows.
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    with handle_errors():
        result = migrate.sync(
            newer,
            mapping,
            run_dir=run_dir,
            dry_run=dry_run,
            source=source_options_from(fmt, encoding, delimiter, no_header),
            joins=parse_joins(joins),
        )
        for notice in result.notices:
            click.echo(notice, err=True)
        counts = result.counts
        click.echo(
            f"sync plan: {counts['new']:,} new, {counts['changed']:,} changed, "
            f"{counts['unchanged']:,} unchanged, {counts['unknown']:,} unknown, "
            f"{counts['invalid']:,} invalid, {counts['gone']:,} gone"
        )
        for field, n in result.changed_fields.items():
            click.echo(f"  changed {field}: {n:,}")
        click.echo(f"plan: {result.plan_csv}")
    raise click.exceptions.Exit(result.exit_code)
