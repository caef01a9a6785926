"""What every command shares: exit codes and the translation of library errors into messages.

No traceback reaches a user: ``handle_errors`` turns each ``MigrateError`` into a message on stderr
and its exit code (``ExitCode``). Unexpected exceptions propagate (they are bugs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, NoReturn

import click

from migrate._internal.api.results import ExitCode
from migrate._internal.secrets import redact
from migrate.errors import ConfigError, MigrateError

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "fail", "handle_errors"]

EXIT_USAGE: Final = ExitCode.USAGE
EXIT_INTERRUPTED: Final = ExitCode.INTERRUPTED


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
