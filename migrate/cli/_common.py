"""What every command shares: exit codes and the translation of library errors into messages.

No traceback reaches a user: ``handle_errors`` turns each ``MigrateError`` into a message on stderr
and the design's exit code. Unexpected exceptions propagate (they are bugs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, NoReturn

import click

from migrate.errors import ConfigError, MigrateError
from migrate.secrets import redact

__all__ = [
    "EXIT_FAILED_ROWS",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_RUN_ERROR",
    "EXIT_USAGE",
    "fail",
    "handle_errors",
]

EXIT_OK: Final = 0  # every row created or already present / all valid
EXIT_RUN_ERROR: Final = 1  # bad config, unreadable input, I/O, auth, aborted
EXIT_USAGE: Final = 2  # wrong options
EXIT_FAILED_ROWS: Final = 3  # finished with invalid or failed rows
EXIT_INTERRUPTED: Final = 130  # Ctrl-C; state saved, resumable


def fail(message: str, exit_code: int = EXIT_RUN_ERROR) -> NoReturn:
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
        fail(str(exc), EXIT_RUN_ERROR)
