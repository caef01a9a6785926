"""``clerk-migrate run``: create every valid row as a Clerk user, resumably."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from migrate.cli._common import handle_errors
from migrate.cli._options import (
    ca_bundle_option,
    join_option,
    pacing_options,
    parse_joins,
    parse_rows,
    redact_option,
    source_options,
    source_options_from,
    target_options,
    tenant_options,
    wait_options,
)
from migrate.cli._shell import (
    connection_from,
    finish_pass,
    interruptible,
    proxy_for_hint,
    terminal_pass,
)
from migrate.cli.check import read_settings


@click.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--mapping", "-m", required=True, help="Mapping file (TOML) or preset name.")
@target_options
@click.option(
    "--run-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=(
        "Where the state DB and reports live (default: <input stem>.clerk-migrate next to it; "
        "<input stem>.sandbox.clerk-migrate with --sandbox)."
    ),
)
@pacing_options
@wait_options()
@click.option("--limit", type=int, help="Send at most N rows this time (a canary run).")
@click.option(
    "--sample",
    type=int,
    metavar="N",
    help="Send N rows spread evenly over the pending rows (a canary that sees the whole file).",
)
@click.option("--rows", "rows", metavar="A-B", help="Send only input rows A to B (inclusive).")
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --sandbox: a sandbox that behaves like the instance whose settings "
    "'check --save-settings' saved.",
)
@click.option(
    "--publishable-key",
    envvar="CLERK_PUBLISHABLE_KEY",
    help="The instance's publishable key (env CLERK_PUBLISHABLE_KEY): the checks before the "
    "first create read its settings.",
)
@click.option(
    "--frontend-api-url",
    envvar="CLERK_FRONTEND_API_URL",
    help="The Frontend API origin instead of the key's (env CLERK_FRONTEND_API_URL).",
)
@click.option(
    "--no-check",
    is_flag=True,
    help="Skip the instance checks before the first create (kept for the run directory).",
)
@click.option(
    "--accept-findings",
    is_flag=True,
    help="Start even when the instance checks find a whole-file problem.",
)
@click.option(
    "--upsert",
    is_flag=True,
    help="A row whose user is already in Clerk (same external id) updates that user to the "
    "row, as 'sync' does, instead of only counting it as exists.",
)
@tenant_options
@click.option("--yes", "-y", is_flag=True, help="Do not ask before writing to production.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@redact_option
@join_option
@source_options
def command(
    *,
    input_path: Path,
    mapping: str,
    sandbox: bool,
    api_url: str | None,
    secret_key_file: Path | None,
    proxy: str | None,
    run_dir: Path | None,
    rate: float | None,
    concurrency: int | None,
    max_retry_after: float | None,
    outage_limit: float | None,
    limit: int | None,
    sample: int | None,
    rows: str | None,
    settings_file: Path | None,
    publishable_key: str | None,
    frontend_api_url: str | None,
    no_check: bool,
    accept_findings: bool,
    upsert: bool,
    orgs_path: Path | None,
    members_path: Path | None,
    yes: bool,
    quiet: bool,
    redact_emails: bool,
    joins: tuple[str, ...],
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    no_header: bool,
) -> None:
    """Create every valid row of INPUT as a Clerk user, at the instance's rate, exactly once.

    Validation runs first: invalid rows are recorded and never sent. Then the checks of
    'check' (instance settings through the publishable key, existing users): a whole-file
    finding stops the run before the first create unless --accept-findings (--no-check skips
    them for this run directory). A mapping with [organizations] / [memberships] (or
    --organizations FILE) has them planned in the same run directory and sent in the same pass:
    organizations, then users, then memberships (not with --rows / --limit / --sample, which
    send users only). With --upsert, a row whose user is already there is
    updated to the row (names, metadata, password digest, identifiers). The run directory holds a
    checkpoint, so running the same command again resumes (after Ctrl-C, a crash or kill -9);
    it refuses when the input or the mapping changed. The key comes from CLERK_SECRET_KEY or
    --secret-key-file. A production key (sk_live_) asks before the first request unless --yes.

    Exit codes: 0 every row created or already present; 1 run error; 2 usage; 3 invalid or
    failed rows; 130 interrupted (resumable).
    """
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help

    with handle_errors(), interruptible():
        waits = {"outage_limit": outage_limit, "max_retry_after": max_retry_after}
        with terminal_pass(rate, concurrency, yes, quiet, **waits) as how:
            result = migrate.run(
                input_path,
                mapping,
                connection=replace(
                    connection_from(sandbox, api_url, secret_key_file, proxy),
                    sandbox_settings=read_settings(settings_file) if settings_file else None,
                ),
                run_dir=run_dir,
                source=source_options_from(fmt, encoding, delimiter, no_header),
                joins=parse_joins(joins),
                rows=parse_rows(rows),
                limit=limit,
                sample=sample,
                redact_emails=redact_emails,
                check=not no_check,
                accept_findings=accept_findings,
                publishable_key=publishable_key,
                frontend_api_url=frontend_api_url,
                upsert=upsert,
                organizations=orgs_path,
                memberships=members_path,
                **how,
            )
        hint = ["clerk-migrate", "run", str(input_path), "--mapping", mapping]
        if upsert:
            hint.append("--upsert")
        if run_dir:
            hint += ["--run-dir", str(run_dir)]
        for join in joins:
            hint += ["--join", join]
        if orgs_path:
            hint += ["--organizations", str(orgs_path)]
        if members_path:
            hint += ["--memberships", str(members_path)]
        if sandbox:
            hint.append("--sandbox")
        if settings_file:
            hint += ["--settings", str(settings_file)]
        if (shown := proxy_for_hint(proxy)) is not None:
            hint += ["--proxy", shown]
        if (ca_bundle := ca_bundle_option()) is not None:
            hint += ["--ca-bundle", str(ca_bundle)]
        code = finish_pass(result, " ".join(hint))
    raise click.exceptions.Exit(code)
