"""clerk-migrate: move users from a legacy auth system into Clerk.

Map an export's columns to Clerk's CreateUser fields with a declarative mapping file, validate every
row offline, then create the users at Clerk's rate limit with a crash-safe checkpoint.

The supported API is what ``__all__`` lists (see docs/library.md)::

    validate(input, mapping, ...)            -> ValidateResult  (offline)
    check(input, mapping, connection=...)    -> CheckReport     (nothing written)
    run(input, mapping, connection=...)      -> RunResult
    retry(run_dir, connection=...)           -> RunResult
    verify(run_dir, connection=...)          -> VerifyResult
    rollback(run_dir, connection=...)        -> RollbackResult
    report(run_dir)                          -> ReportResult
    sync(newer, mapping, run_dir=...)        -> SyncResult

Every other module is internal. Names load on first use, so importing ``migrate`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from migrate._internal.secrets import Secret
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

if TYPE_CHECKING:
    from migrate._internal.api.aftercare import report, rollback, verify
    from migrate._internal.api.checking import check
    from migrate._internal.api.connection import Connection
    from migrate._internal.api.passes import retry, run
    from migrate._internal.api.results import (
        Confirmation,
        ExitCode,
        Progress,
        ReportResult,
        RollbackResult,
        RunResult,
        RunSummary,
        ValidateResult,
        VerifyResult,
    )
    from migrate._internal.api.sync import SyncResult, sync
    from migrate._internal.api.validating import validate
    from migrate._internal.instance.check import CheckReport

__version__ = "0.1.0"

# public name -> the module under migrate._internal.api that defines it
_LAZY = {
    "validate": "validating",
    "check": "checking",
    "CheckReport": "checking",
    "run": "passes",
    "retry": "passes",
    "verify": "aftercare",
    "rollback": "aftercare",
    "report": "aftercare",
    "sync": "sync",
    "SyncResult": "sync",
    "Connection": "connection",
    "Confirmation": "results",
    "ExitCode": "results",
    "Progress": "results",
    "ReportResult": "results",
    "RollbackResult": "results",
    "RunResult": "results",
    "RunSummary": "results",
    "ValidateResult": "results",
    "VerifyResult": "results",
}

__all__ = [
    "CheckReport",
    "ClerkError",
    "ConfigError",
    "Confirmation",
    "Connection",
    "ExitCode",
    "MappingError",
    "MigrateError",
    "Progress",
    "ReportResult",
    "ResumeMismatchError",
    "RollbackResult",
    "RunAbortedError",
    "RunResult",
    "RunSummary",
    "SandboxError",
    "Secret",
    "SourceError",
    "StateError",
    "SyncResult",
    "ValidateResult",
    "VerifyResult",
    "__version__",
    "check",
    "report",
    "retry",
    "rollback",
    "run",
    "sync",
    "validate",
    "verify",
]


def __getattr__(name: str) -> Any:
    """Load a public name from ``migrate._internal.api`` on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'migrate' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"migrate._internal.api.{module}"), name)
    globals()[name] = value
    return value
