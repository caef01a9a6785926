"""What every command shares: exit codes and the translation of library errors into messages.

No traceback reaches a user: ``handle_errors`` turns each ``MigrateError`` into a message on stderr
and its exit code (``ExitCode``). Unexpected exceptions propagate (they are bugs).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, NoReturn

import click

from migrate._internal.api.results import ExitCode
from migrate._internal.secrets import redact
from migrate.errors import ConfigError, MigrateError

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "confirm",
    "echo",
    "echo_document",
    "echo_verbatim",
    "fail",
    "handle_errors",
]

EXIT_USAGE: Final = ExitCode.USAGE
EXIT_INTERRUPTED: Final = ExitCode.INTERRUPTED


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print ``message`` for a person (stderr with ``err``) through ``secrets.redact``: secret-
    shaped values masked, each line bounded. Every notice, warning, hint and summary line."""
    click.echo(redact(message), err=err, nl=nl)


def echo_document(text: str) -> None:
    """Print a document asked for on stdout (JSON): secret-shaped values masked, lines kept
    whole so that it still parses."""
    click.echo(redact(text, limit=sys.maxsize))


def echo_verbatim(text: str, *, nl: bool = True) -> None:
    """Print text the tool wrote itself, unchanged: a drafted mapping file (masking would break
    it) and the sandbox's own test key to export. Never a message quoting input values."""
    click.echo(text, nl=nl)


def confirm(question: str) -> bool:
    """Ask ``question`` (redacted) on stderr; the answer, default no."""
    return click.confirm(redact(question), default=False, err=True)


def fail(message: str, exit_code: int = ExitCode.RUN_ERROR) -> NoReturn:
    """Print ``Error: message`` (through ``secrets.redact``) on stderr; exit with ``exit_code``."""
    click.echo(f"Error: {redact(message)}", err=True)
    raise click.exceptions.Exit(exit_code)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn library errors into a message and exit 1 (a ``ConfigError`` is usage: exit 2)."""
    try:
        yield
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)
    except MigrateError as exc:
        fail(str(exc), ExitCode.RUN_ERROR)
