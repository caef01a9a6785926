"""clerk-migrate: move users from a legacy auth system into Clerk.

Map an export's columns to Clerk's CreateUser fields with a declarative mapping file, validate every
row offline, then create the users concurrently at Clerk's rate limit with a crash-safe checkpoint.
The public API grows as the layers land; the CLI (``clerk-migrate``) is a thin shell over it.
"""

from migrate.errors import (
    ClerkError,
    ConfigError,
    MappingError,
    MigrateError,
    ResumeMismatchError,
    RunAbortedError,
    SandboxError,
    SourceError,
    StateError,
)

__version__ = "0.1.0"

__all__ = [
    "ClerkError",
    "ConfigError",
    "MappingError",
    "MigrateError",
    "ResumeMismatchError",
    "RunAbortedError",
    "SandboxError",
    "SourceError",
    "StateError",
    "__version__",
]
