"""``clerk-migrate check``: what the target instance will do with INPUT, before the first create.

A thin shell over ``migrate.check``: options in, one report out (text or ``--json``),
exit 0 when clean, 3 on findings or invalid rows, 1 when the check cannot be done, 2 on wrong
options.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from migrate.cli._common import EXIT_INTERRUPTED, echo, echo_document, fail, handle_errors
from migrate.cli._options import (
    join_option,
    parse_joins,
    source_options,
    source_options_from,
    tenant_options,
)
from migrate.errors import ConfigError

__all__ = ["command", "read_settings", "render_report"]

PUBLISHABLE_KEY_ENV = "CLERK_PUBLISHABLE_KEY"
FRONTEND_API_ENV = "CLERK_FRONTEND_API_URL"


@click.command(name="check")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--mapping", "-m", required=True, help="Mapping file (TOML) or preset name.")
@click.option(
    "--publishable-key",
    envvar=PUBLISHABLE_KEY_ENV,
    help=f"The instance's publishable key, pk_test_/pk_live_ (not a secret; env "
    f"{PUBLISHABLE_KEY_ENV}): where its settings are read.",
)
@click.option(
    "--frontend-api-url",
    envvar=FRONTEND_API_ENV,
    help=f"The Frontend API origin instead of the key's (https://; http:// only to "
    f"127.0.0.1/localhost; env {FRONTEND_API_ENV}).",
)
@click.option(
    "--settings",
    "settings_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check against settings saved by --save-settings instead of the Frontend API.",
)
@click.option(
    "--save-settings",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the instance's settings to this JSON file (no secret in it), for "
    "'sandbox --settings' and 'run --sandbox --settings'.",
)
@click.option(
    "--api-url",
    envvar="CLERK_API_URL",
    help="Backend API URL for the existing-user lookups (default https://api.clerk.com; env "
    "CLERK_API_URL).",
)
@click.option(
    "--secret-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File holding the secret key (default: CLERK_SECRET_KEY); without a key the "
    "existing-user lookups are skipped.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    help="Lookups per second (default: 90 % of the instance's documented limit).",
)
@click.option(
    "--providers-column",
    metavar="COLUMN",
    help="An input column naming each user's legacy sign-in providers (Auth0 identities, "
    "Firebase providerUserInfo, ...): rows whose provider has no enabled social connection "
    "are reported.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@tenant_options
@join_option
@source_options
def command(
    *,
    input_path: Path,
    mapping: str,
    publishable_key: str | None,
    frontend_api_url: str | None,
    settings_file: Path | None,
    save_settings: Path | None,
    api_url: str | None,
    secret_key_file: Path | None,
    rate: float | None,
    providers_column: str | None,
    as_json: bool,
    orgs_path: Path | None,
    members_path: Path | None,
    joins: tuple[str, ...],
    fmt: str | None,
    encoding: str | None,
    delimiter: str | None,
    no_header: bool,
) -> None:
    """Check INPUT against the target Clerk instance before the first create.

    Validates every row (as validate does), then reads the instance's settings from its
    Frontend API (publishable key) and reports every row the instance would refuse and every
    whole-file problem (password sign-in off with digests, TOTP with authenticator apps off, a
    required field the mapping never fills, restrictions...), naming the setting and where to
    change it. With the secret key it looks the rows' external ids, emails, phones and usernames
    up (100 values per request, paced): rows already migrated, identifiers another user holds, a
    development instance's headroom. A mapping with [organizations] has them checked too:
    organizations and organization slugs on, and every role key the memberships use there
    (with the secret key). What it cannot check without a key, it says. Exit status:
    0 clean, 3 findings or invalid rows, 1 the check could not be done, 2 wrong options.
    """
    try:
        with handle_errors():
            code = _check(
                input_path,
                mapping,
                publishable_key=publishable_key,
                frontend_api_url=frontend_api_url,
                settings_file=settings_file,
                save_settings=save_settings,
                api_url=api_url,
                secret_key_file=secret_key_file,
                rate=rate,
                providers_column=providers_column,
                as_json=as_json,
                tenants=(orgs_path, members_path),
                joins=joins,
                source=source_options_from(fmt, encoding, delimiter, no_header),
            )
    except KeyboardInterrupt:
        fail("interrupted; nothing was written to Clerk", EXIT_INTERRUPTED)
    raise click.exceptions.Exit(code)


def _check(
    input_path: Path,
    mapping: str,
    *,
    publishable_key: str | None,
    frontend_api_url: str | None,
    settings_file: Path | None,
    save_settings: Path | None,
    api_url: str | None,
    secret_key_file: Path | None,
    rate: float | None,
    providers_column: str | None,
    as_json: bool,
    tenants: tuple[Path | None, Path | None],
    joins: tuple[str, ...],
    source: dict[str, Any],
) -> int:
    import migrate  # noqa: PLC0415 - the library loads polars: not for --help
    from migrate._internal.api.connection import KEY_ENV, Connection  # noqa: PLC0415

    if settings_file is not None and (publishable_key or frontend_api_url):
        if _given("publishable_key") or _given("frontend_api_url"):
            raise ConfigError(
                "--settings replaces the Frontend API: drop --publishable-key / --frontend-api-url"
            )
        publishable_key = frontend_api_url = None
    if save_settings is not None and not (settings_file or publishable_key or frontend_api_url):
        raise ConfigError("--save-settings needs the instance's publishable key")
    settings = read_settings(settings_file) if settings_file is not None else None
    connection = None
    if secret_key_file is not None or os.environ.get(KEY_ENV, "").strip():
        connection = Connection(api_url=api_url, secret_key_file=secret_key_file)
    report = migrate.check(
        input_path,
        mapping,
        connection=connection,
        publishable_key=publishable_key,
        frontend_api_url=frontend_api_url,
        settings=settings,
        source=source,
        joins=parse_joins(joins),
        rate=rate,
        providers_column=providers_column,
        organizations=tenants[0],
        memberships=tenants[1],
    )
    if save_settings is not None and report.settings is not None:
        _write_settings(save_settings, dict(report.settings.document))
    if as_json:
        echo_document(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        echo(render_report(report))
        if save_settings is not None:
            echo(f"\nSettings saved to {save_settings}")
    return report.exit_code


def _given(parameter: str) -> bool:
    from click.core import ParameterSource  # noqa: PLC0415

    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.get_parameter_source(parameter) is ParameterSource.COMMANDLINE


def read_settings(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read --settings {path}: {exc.strerror or exc}") from None
    except ValueError:
        raise ConfigError(f"--settings {path}: not JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--settings {path}: not a Clerk environment (a JSON object)")
    return data


def _write_settings(path: Path, document: dict[str, Any]) -> None:
    from migrate._internal.reports.atomic import atomic_write_text  # noqa: PLC0415

    try:
        atomic_write_text(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    except OSError as exc:
        fail(f"{path}: cannot write the settings: {exc.strerror or exc}")


def render_report(report: Any) -> str:
    """The human report: counts, what was skipped, findings by level, a table of row reasons."""
    lines = [
        f"Checked {report.input} with mapping {report.mapping}",
        f"  rows read        {report.read:>10,}",
        f"  valid            {report.valid:>10,}",
        f"  invalid          {report.invalid:>10,}   (run validate for the reasons)",
        f"  refused by the instance (predicted) {len(report.refused_rows()):>10,}",
        f"  already in Clerk {len(report.existing_rows()):>10,}",
    ]
    for kind, c in report.tenants.items():
        lines.append(
            f"  {kind:<16} {c.read:>10,}   {c.valid:,} valid, {c.invalid:,} invalid"
            + ("   (run validate for the reasons)" if c.invalid else "")
        )
    if report.frontend_api:
        kind = report.settings.environment_type if report.settings else None
        lines.append(f"  settings from    {report.frontend_api}{f' ({kind})' if kind else ''}")
    for item in report.skipped:
        lines.append(f"  skipped: {item}")
    order = {"block": 0, "refuse": 1, "warn": 2, "info": 3}
    findings = sorted(report.findings, key=lambda f: order[f.level])
    if findings:
        lines.append("")
    for f in findings:
        examples = ", ".join(str(x) for x in f.examples)
        more = f" (rows {examples}{', …' if f.rows > len(f.examples) else ''})" if examples else ""
        lines.append(f"  [{f.level}] {f.message}{more}")
    if report.clean:
        lines += ["", "  Clean: the instance should accept every row."]
    return "\n".join(lines)
