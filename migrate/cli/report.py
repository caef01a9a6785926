"""``clerk-migrate report``: rewrite a run directory's reports from its state DB."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import handle_errors
from migrate.cli._options import redact_option
from migrate.cli._shell import print_summary


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@redact_option
def command(run_dir: Path, redact_emails: bool) -> None:
    """Rewrite errors.csv, errors.jsonl, failed_rows.<ext>, id_map.csv and summary.json.

    Reads only the state DB (and the input, for failed_rows); talks to no server. Safe to run
    while nothing else uses the run directory.
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    with handle_errors():
        result = migrate.report(run_dir, redact_emails=redact_emails)
        print_summary(result.summary, None)
