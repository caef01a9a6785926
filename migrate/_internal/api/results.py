"""What the public API returns: frozen results with counts, report paths and an exit code.

Every result's ``exit_code`` is the one the command line exits with (``ExitCode``), so a
caller can treat a migration step like the CLI does without knowing its rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate._internal.state import RowState

if TYPE_CHECKING:
    from migrate._internal.runner.aftercare import Mismatch, PasswordCheck

__all__ = [
    "CodeCount",
    "Confirmation",
    "ExitCode",
    "KindRollback",
    "PassFigures",
    "Progress",
    "ReportResult",
    "RollbackResult",
    "RowPreview",
    "RunResult",
    "RunSummary",
    "ValidateResult",
    "VerifyResult",
]

_TENANT_KINDS = ("organizations", "memberships")  # summary.json keys of the tenant tables


class ExitCode(IntEnum):
    """The exit statuses of the command line, and of every result."""

    OK = 0  # every row created or already present / all valid
    RUN_ERROR = 1  # bad config, unreadable input, I/O, auth, aborted
    USAGE = 2  # wrong options
    FAILED_ROWS = 3  # finished with invalid or failed rows
    INTERRUPTED = 130  # Ctrl-C or a stop request; state saved, resumable


@dataclass(frozen=True)
class RowPreview:
    """A CreateUser body as it would be sent for input row ``row``, secrets masked."""

    row: int
    key: str
    body: Mapping[str, Any]


@dataclass(frozen=True)
class ValidateResult:
    """An offline check of an input: counts, reasons, where the reports were written."""

    summary: Mapping[str, Any]  # summary.json's content
    errors_csv: Path
    summary_json: Path
    previews: tuple[RowPreview, ...]
    seconds: float
    notices: tuple[str, ...] = ()  # what the input lacks (optional joins, optional columns)

    @property
    def invalid(self) -> int:
        """Rows that Clerk would refuse."""
        return int(self.summary["invalid"])

    @property
    def invalid_tenants(self) -> int:
        """Organizations and memberships that Clerk would refuse (0 when none were checked)."""
        return sum(int(self.summary.get(kind, {}).get("invalid", 0)) for kind in _TENANT_KINDS)

    @property
    def exit_code(self) -> ExitCode:
        """0 when every row (user, organization, membership) is valid, 3 when some are not."""
        return ExitCode.FAILED_ROWS if self.invalid or self.invalid_tenants else ExitCode.OK


@dataclass(frozen=True)
class CodeCount:
    """How many rows of ``kind`` ended ``state`` (failed / invalid) with ``code``."""

    state: str
    code: str
    rows: int
    kind: str = "users"  # or organizations, memberships


@dataclass(frozen=True)
class RunSummary:
    """A run directory now: rows per state, top error codes, the reports written."""

    run_dir: Path
    counts: Mapping[str, int]  # every RowState value -> rows
    codes: tuple[CodeCount, ...]
    reports: tuple[Path, ...]
    # ``run --upsert``: rows whose existing user it brought up to date, per state (done,
    # failed, in_flight, pending); empty when the run never upserted
    upserts: Mapping[str, int] = field(default_factory=dict)
    # organizations and memberships, when the run has them: kind -> RowState value -> rows
    kinds: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """Rows in the plan."""
        return sum(self.counts.values())

    def count(self, state: RowState | str) -> int:
        """Rows in ``state``."""
        return self.counts.get(str(state), 0)

    @property
    def unfinished(self) -> bool:
        """Whether some rows of any kind are failed, invalid or unresolved (in flight), or
        some upserts did not finish."""
        left = any(self.upserts.get(s, 0) for s in ("failed", "in_flight", "pending"))
        bad = (RowState.FAILED, RowState.INVALID, RowState.IN_FLIGHT)
        tenants = any(counts.get(str(s), 0) for counts in self.kinds.values() for s in bad)
        return left or tenants or any(self.count(s) for s in bad)


@dataclass(frozen=True)
class PassFigures:
    """What one sending pass did, and at what pace."""

    created: int
    exists: int
    failed: int
    seconds: float
    requests: int
    achieved_rate: float
    rate: float
    rate_limited: int
    retries: int
    reconciled_found: int
    reconciled_released: int
    rate_in_force: float = 0.0  # the rate when the pass ended (a 429 cuts it)
    outages: int = 0  # times Clerk was unreachable (sending paused meanwhile)
    outage_seconds: float = 0.0
    abandoned: bool = False  # a second Ctrl-C dropped the requests on the wire
    # ``run --upsert``: existing users updated / already matching / failed, and its requests
    upserted: Mapping[str, int] = field(default_factory=dict)
    upsert_requests: int = 0
    # (key, row, code, message) of the upserts Clerk refused or that got no answer
    upsert_failures: tuple[tuple[str, int | None, str | None, str | None], ...] = ()
    # organizations and memberships this pass: kind -> created / exists / failed
    kinds: Mapping[str, Mapping[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    """A ``run`` or ``retry``: the pass (None when stopped before it began) and the run now.

    ``interrupted``: stopped by a signal or ``should_stop`` (resumable). ``abort_code`` /
    ``abort_message``: why the run stopped (a bad key, a quota, an outage): fix it and resume.
    ``notices``: what was said along the way (also given to ``on_notice``).
    """

    summary: RunSummary
    this_pass: PassFigures | None
    resumed: bool
    interrupted: bool
    abort_code: str | None = None
    abort_message: str | None = None
    notices: tuple[str, ...] = ()

    @property
    def run_dir(self) -> Path:
        """The run directory (state DB and reports)."""
        return self.summary.run_dir

    @property
    def exit_code(self) -> ExitCode:
        """130 interrupted, 1 aborted, 3 rows left failed / invalid / unresolved, else 0."""
        if self.interrupted or self.this_pass is None:
            return ExitCode.INTERRUPTED
        if self.abort_code is not None:
            return ExitCode.RUN_ERROR
        return ExitCode.FAILED_ROWS if self.summary.unfinished else ExitCode.OK


@dataclass(frozen=True)
class VerifyResult:
    """Every migrated user looked up in Clerk, and the canary passwords tried."""

    checked: int  # users
    mismatches: tuple[Mismatch, ...]  # row, key, clerk_user_id, problem, expected, found, kind
    passwords: tuple[PasswordCheck, ...]  # key, clerk_user_id, verified, reason
    report: Path  # verify.csv
    organizations: int = 0  # organizations checked
    memberships: int = 0  # memberships checked

    @property
    def exit_code(self) -> ExitCode:
        """0 when everything matches, 3 otherwise."""
        bad = self.mismatches or any(not c.verified for c in self.passwords)
        return ExitCode.FAILED_ROWS if bad else ExitCode.OK


@dataclass(frozen=True)
class KindRollback:
    """One kind's part of a rollback: rows the run had created, deleted, already gone, refused
    (key, Clerk id, Clerk code)."""

    asked: int
    deleted: int
    already_gone: int
    refused: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class RollbackResult:
    """Users the run had created (``asked``), deleted, already gone, refused (key, user id,
    Clerk code); the same for its ``memberships`` and ``organizations`` (``KindRollback``);
    the run now. ``nothing`` is true when the run had created nothing to delete.

    ``summary`` is None when nothing was done or the reports could not be rewritten
    (``report_problem`` says why: typically the input is gone; ``report`` rewrites them once
    it is back).
    """

    asked: int
    deleted: int
    already_gone: int
    refused: tuple[tuple[str, str, str], ...]
    summary: RunSummary | None
    report_problem: str | None = None
    memberships: KindRollback = KindRollback(0, 0, 0)
    organizations: KindRollback = KindRollback(0, 0, 0)

    @property
    def nothing(self) -> bool:
        """The run had created no user, organization or membership."""
        return self.asked + self.memberships.asked + self.organizations.asked == 0

    @property
    def exit_code(self) -> ExitCode:
        """3 when Clerk refused to delete some users, organizations or memberships, else 0."""
        refused = self.refused or self.memberships.refused or self.organizations.refused
        return ExitCode.FAILED_ROWS if refused else ExitCode.OK


@dataclass(frozen=True)
class ReportResult:
    """The reports of a run directory, rewritten from its state DB."""

    summary: RunSummary

    @property
    def exit_code(self) -> ExitCode:
        """Always 0: rewriting reports does not judge the run."""
        return ExitCode.OK


@dataclass(frozen=True)
class Progress:
    """A sending pass so far (given to ``on_progress`` after each batch of state moves)."""

    total: int  # rows this pass may send (rows left in flight included: missing ones are re-sent)
    done: int  # rows that reached a final state in this pass
    created: int
    exists: int
    failed: int
    retrying: int  # rows retrying now (failed an attempt, not settled yet)
    rate: float  # the requests per second in force (the pacer's: lowered after a 429)


@dataclass(frozen=True)
class Confirmation:
    """What a pass is about to do to a production instance (given to ``confirm``)."""

    base_url: str
    rows: int  # in the plan
    to_send: int  # pending (within the window) plus unresolved
    window: str  # e.g. " (rows 2-101, the first 10)", or ""
    invalid: int
    done: int  # created or already there
    rate: float
    seconds: float  # estimated duration
    # organizations and memberships this pass sends (pending or unresolved), by kind
    tenants: Mapping[str, int] = field(default_factory=dict)
