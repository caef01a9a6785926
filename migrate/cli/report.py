"""``clerk-migrate report``: rewrite a run directory's reports from its state DB."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import handle_errors
from migrate.cli._loader import print_summary
from migrate.cli._options import redact_option
from migrate.runner.session import read_run, redact_reports, write_reports


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@redact_option
def command(run_dir: Path, redact_emails: bool) -> None:
    """Rewrite errors.csv, errors.jsonl, failed_rows.<ext>, id_map.csv and summary.json.

    Reads only the state DB (and the input, for failed_rows); talks to no server. Safe to run
    while nothing else uses the run directory.
    """
    with handle_errors():
        plan = read_run(run_dir)
        try:
            if redact_emails:
                redact_reports(plan)
            paths = write_reports(plan)
            print_summary(plan, None, paths, None)
        finally:
            plan.store.close()
