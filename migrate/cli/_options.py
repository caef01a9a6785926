"""Option groups shared by the loader's commands: source, target (key, URL, sandbox), pacing.

Each group is a plain decorator (sqlite-utils style); the matching ``*_from`` function turns the
parsed values into what the library takes. The secret key is read (by the library) from
``CLERK_SECRET_KEY`` or a file, never from argv.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import click

from migrate._internal.api.connection import KEY_ENV, SANDBOX_KIND
from migrate.errors import ConfigError

__all__ = [
    "KEY_ENV",
    "ca_bundle_option",
    "join_option",
    "pacing_options",
    "parse_joins",
    "parse_rows",
    "redact_option",
    "source_options",
    "source_options_from",
    "target_options",
    "tenant_options",
    "wait_options",
]

F = TypeVar("F", bound=Callable[..., Any])
# sources.FORMATS, repeated so that loading a command does not import polars (or the
# runner) before it runs; a test checks that the two agree.
FORMATS: Final = ("csv", "parquet", "ndjson", "json")
URL_ENV = "CLERK_API_URL"
PROXY_ENV = "CLERK_MIGRATE_PROXY"


def source_options(func: F) -> F:
    """``--format --encoding --delimiter --no-header``: override the mapping's ``[source]``."""
    for option in reversed(
        [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                help="Input format (default: the mapping's, else from the extension).",
            ),
            click.option("--encoding", help="Text encoding of the input (default utf-8)."),
            click.option("--delimiter", help="CSV field delimiter (default ',')."),
            click.option("--no-header", is_flag=True, help="The CSV has no header row."),
        ]
    ):
        func = option(func)
    return func


def source_options_from(
    fmt: str | None, encoding: str | None, delimiter: str | None, no_header: bool
) -> dict[str, Any]:
    """The reading options given on the command line (they override the mapping's).

    Raises ``ConfigError`` for a multi-character delimiter.
    """
    given: dict[str, Any] = {}
    if fmt is not None:
        given["format"] = fmt
    if encoding is not None:
        given["encoding"] = encoding
    if delimiter is not None:
        if len(delimiter) != 1:
            raise ConfigError("--delimiter must be a single character")
        given["delimiter"] = delimiter
    if no_header:
        given["has_header"] = False
    return given


def _keep_ca_bundle(ctx: click.Context, _: click.Parameter, value: Path | None) -> None:
    """Keep ``--ca-bundle`` in the context for ``ca_bundle_option()``."""
    ctx.meta["clerk_migrate.ca_bundle"] = value


def ca_bundle_option() -> Path | None:
    """The current command's ``--ca-bundle`` (None outside a command or when not given)."""
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get("clerk_migrate.ca_bundle") if ctx is not None else None


def target_options(func: F) -> F:
    """``--sandbox | --api-url URL``, ``--secret-key-file FILE``, ``--proxy URL`` and
    ``--ca-bundle FILE`` (read with ``ca_bundle_option()``, so commands need no parameter)."""
    for option in reversed(
        [
            click.option(
                "--sandbox",
                is_flag=True,
                help=f"Rehearse against the built-in sandbox (in-process: {SANDBOX_KIND}).",
            ),
            click.option(
                "--api-url",
                envvar=URL_ENV,
                help="Backend API URL (default https://api.clerk.com; env CLERK_API_URL).",
            ),
            click.option(
                "--secret-key-file",
                type=click.Path(dir_okay=False, path_type=Path),
                help=f"File holding the secret key (default: the {KEY_ENV} variable).",
            ),
            click.option(
                "--proxy",
                envvar=PROXY_ENV,
                metavar="URL",
                help=(
                    "Reach the API through this HTTP proxy: http://[user:password@]host:port "
                    f"(env {PROXY_ENV}; put credentials there, not on the command line). "
                    "Without it, HTTPS_PROXY / NO_PROXY apply."
                ),
            ),
            click.option(
                "--ca-bundle",
                type=click.Path(dir_okay=False, path_type=Path),
                expose_value=False,
                callback=_keep_ca_bundle,
                metavar="FILE",
                help=(
                    "Also trust the CA certificates in this PEM file (a corporate TLS proxy); "
                    "the OS trust store and SSL_CERT_FILE are always trusted."
                ),
            ),
        ]
    ):
        func = option(func)
    return func


def pacing_options(func: F) -> F:
    """``--rate R --concurrency N``."""
    for option in reversed(
        [
            click.option(
                "--rate",
                type=float,
                help="Requests per second over every call (default: 90 % of the instance's "
                "documented limit: 90 on production, 9 on development).",
            ),
            click.option(
                "--concurrency",
                type=int,
                help="Requests in flight (default: derived from the rate and observed latency).",
            ),
        ]
    ):
        func = option(func)
    return func


def wait_options() -> Callable[[F], F]:
    """``--max-retry-after SECONDS`` and ``--outage-limit SECONDS``."""
    options = [
        click.option(
            "--max-retry-after",
            type=float,
            metavar="SECONDS",
            help="The longest 429 pause honoured (default 600): an instance asking for longer "
            "gets this, and the operator is told.",
        ),
        click.option(
            "--outage-limit",
            type=float,
            metavar="SECONDS",
            help="How long Clerk may stay unreachable (sending paused, probing with "
            "backoff) before the run stops, resumably (default 300).",
        ),
    ]

    def decorate(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def parse_rows(rows: str | None) -> tuple[int | None, int | None] | None:
    """``--rows A-B`` as (first, last); ``ConfigError`` when it is not such a range."""
    if rows is None:
        return None
    left, sep, right = rows.partition("-")
    try:
        first = int(left) if left else None
        last = int(right) if right else None
    except ValueError:
        first = last = -1
    if (
        not sep
        or (first is not None and first < 1)
        or (last is not None and last < 1)
        or (first is not None and last is not None and last < first)
    ):
        raise ConfigError(f"--rows {rows!r}: expected A-B with 1 <= A <= B (e.g. 2-101)")
    return first, last


def redact_option(func: F) -> F:
    """``--redact-emails``: mask email addresses in the run's error reports, from now on."""
    return click.option(
        "--redact-emails",
        is_flag=True,
        help=(
            "Mask email addresses in errors.csv and errors.jsonl (p…@example.com), in this and "
            "every later report of the run directory. failed_rows and id_map keep them."
        ),
    )(func)


def join_option(func: F) -> F:
    """``--join [NAME=]FILE`` (repeatable): the file of each ``[[join]]`` in the mapping."""
    return click.option(
        "--join",
        "joins",
        multiple=True,
        metavar="[NAME=]FILE",
        help="The file of a [[join]] in the mapping (repeatable; NAME= picks the join).",
    )(func)


def tenant_options(func: F) -> F:
    """``--organizations FILE`` / ``--memberships FILE`` (``orgs_path`` / ``members_path``):
    the tenant tables' files, instead of the mapping's ``input``."""
    func = click.option(
        "--memberships",
        "members_path",
        type=click.Path(path_type=Path),
        help="The memberships file of the mapping's [memberships] (default: its input).",
    )(func)
    return click.option(
        "--organizations",
        "orgs_path",
        type=click.Path(path_type=Path),
        help="The organizations file of the mapping's [organizations] (default: its input).",
    )(func)


def parse_joins(values: tuple[str, ...]) -> dict[str, Path] | list[Path]:
    """``--join NAME=FILE`` values as a dict, or bare ``--join FILE`` values as a list.

    Raises ``ConfigError`` when both forms are mixed.
    """
    named = [v for v in values if "=" in v and not Path(v).exists()]
    if named and len(named) != len(values):
        raise ConfigError("--join: give every join as NAME=FILE, or only bare FILE values")
    if named:
        pairs = [v.split("=", 1) for v in named]
        return {name: Path(path) for name, path in pairs}
    return [Path(v) for v in values]
