"""``clerk-migrate mapping``: commands about mapping files (``init`` drafts one from an export)."""

from __future__ import annotations

from pathlib import Path

import click

from migrate.cli._common import EXIT_USAGE, echo, echo_verbatim, fail, handle_errors

__all__ = ["command"]


@click.group(name="mapping")
def command() -> None:
    """Work with mapping files (how export columns become Clerk fields)."""


@command.command(name="init")
@click.argument("input_file", metavar="INPUT", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the mapping to this file instead of printing it.",
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists.")
def init(input_file: Path, out: Path | None, force: bool) -> None:
    """Recognise INPUT's source system and print the preset that fits, or a drafted mapping.

    Only the header and first rows are read. A recognised export (Auth0, Firebase, Supabase,
    Cognito, Django, WordPress, Keycloak, Laravel, Devise, ASP.NET Identity, Clerk) gets its
    preset; any other gets a draft matched from column names and value shapes, with a comment on
    every guess. A password hasher is never chosen without a comment saying why.
    """
    from migrate._internal.mapping_init import init_mapping  # noqa: PLC0415 - keep --help fast
    from migrate._internal.reports.atomic import atomic_write_text  # noqa: PLC0415

    if out is not None and out.exists() and not force:
        fail(f"{out} exists; pass --force to overwrite it", EXIT_USAGE)
    with handle_errors():
        result = init_mapping(input_file)
        if out is None:
            echo_verbatim(result.text, nl=False)
        else:
            atomic_write_text(out, result.text)
            echo(f"Wrote {out}", err=True)
    echo(result.summary, err=True)
