"""The exception tree: only what stops a whole command is raised.

Per-row problems are data (a state and a reason in the state DB and the reports), never exceptions.
Foreign exceptions (OSError, polars, httpx, sqlite3) are translated at one boundary into these,
with ``raise XError(...) from exc``; the CLI turns them into a message and an exit code.

    MigrateError                      base; ``str(err)`` is the operator-facing message
    ├── ConfigError                   bad option or combination of options (exit 2 or 1)
    ├── MappingError                  a mapping file is invalid; carries every problem found
    ├── SourceError                   an input file cannot be read at all
    ├── StateError                    the run directory / state DB cannot be used
    │   └── ResumeMismatchError       inputs or mapping changed since the run was planned
    ├── ClerkError                    talking to Clerk failed in a way that stops the run
    │   └── RunAbortedError           an error code that dooms every row (bad key, quota, version)
    ├── CheckFailedError              run's instance checks found a whole-file problem
    └── SandboxError                  the built-in sandbox could not start

No message may contain a secret: the secret key, plaintext passwords, digests, TOTP secrets or
backup codes. Build messages from keys, row numbers, field names and codes only; every message
also passes through ``secrets.redact`` (masks secret-shaped values, bounds each line) in case it
quotes input after all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from migrate._internal.secrets import redact

__all__ = [
    "CheckFailedError",
    "ClerkError",
    "ConfigError",
    "MappingError",
    "MappingProblem",
    "MigrateError",
    "ResumeMismatchError",
    "RunAbortedError",
    "SandboxError",
    "SourceError",
    "StateError",
]


class MigrateError(Exception):
    """Base of every error this package raises on purpose.

    Its message passes through ``secrets.redact``: a message that quotes input (a parser's
    complaint, a header's "columns", a path that is really a key) cannot show a secret or a
    50 MB line.
    """

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (redact(args[0]), *args[1:])
        super().__init__(*args)


class ConfigError(MigrateError):
    """An option, or a combination of options, is not allowed."""


@dataclass(frozen=True)
class MappingProblem:
    """One problem in a mapping file: where it is and what is allowed."""

    path: str  # dotted key path inside the file, e.g. "fields.phone_number.transform"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class MappingError(MigrateError):
    """A mapping file is invalid. Holds every problem found, so all are reported at once."""

    def __init__(self, file: str, problems: Sequence[MappingProblem]) -> None:
        self.file = file
        self.problems = tuple(problems)
        lines = [f"{file}: {len(self.problems)} problem(s) in the mapping"]
        lines += [f"  {file}: {p}" for p in self.problems]
        super().__init__("\n".join(lines))


class SourceError(MigrateError):
    """An input file cannot be read at all (missing, unknown format, corrupt)."""


class StateError(MigrateError):
    """The run directory or its state DB cannot be used."""


class ResumeMismatchError(StateError):
    """The inputs or the mapping changed since the run was planned."""


class ClerkError(MigrateError):
    """Talking to Clerk failed in a way that stops the command."""


class RunAbortedError(ClerkError):
    """Clerk answered with an error that dooms every row; the state stays resumable."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


class CheckFailedError(MigrateError):
    """``run``'s instance checks found a whole-file problem; nothing was sent."""


class SandboxError(MigrateError):
    """The built-in sandbox could not start."""
