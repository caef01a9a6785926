"""The state DB's data: row states, plan rows and stored rows, the moves, the schema.

Plain types with no I/O; ``migrate._internal.state.store`` does the SQL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, NamedTuple

__all__ = [
    "SCHEMA_VERSION",
    "Completed",
    "Existed",
    "Failed",
    "Fingerprints",
    "Move",
    "PlanRow",
    "Reconciled",
    "Released",
    "RowRecord",
    "RowState",
]

SCHEMA_VERSION: Final = 3


class RowState(StrEnum):
    """Where a row is in its life; stored as-is in the ``rows.state`` column."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    CREATED = "created"
    EXISTS = "exists"
    FAILED = "failed"
    INVALID = "invalid"
    SKIPPED = "skipped"  # the source marks the account deleted (or disabled): never sent


@dataclass(frozen=True, slots=True)
class Fingerprints:
    """What a run was planned from: sha256 of each input file (by name) and of the mapping.

    ``tenants``: sha256 of each tenant input, keyed ``<kind>:<file name>`` (``organizations``,
    ``memberships``); None when not taken into account (a run directory planned before tenant
    inputs were fingerprinted, or a command that reads only the users input).
    """

    inputs: Mapping[str, str]
    mapping: str
    tenants: Mapping[str, str] | None = None

    def to_json(self) -> str:
        """Serialise for the meta table."""
        data: dict[str, Any] = {"inputs": dict(self.inputs), "mapping": self.mapping}
        if self.tenants is not None:
            data["tenants"] = dict(self.tenants)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Fingerprints:
        """Read back what ``to_json`` wrote."""
        data = json.loads(text)
        tenants = data.get("tenants")
        return cls(
            inputs=dict(data["inputs"]),
            mapping=str(data["mapping"]),
            tenants=dict(tenants) if isinstance(tenants, dict) else None,
        )

    def tenant_changes(self, current: Fingerprints) -> list[str]:
        """How ``current``'s tenant inputs differ from these (``organizations file orgs.csv
        changed``, ``... was added``, ``... is no longer given``); [] when ``current`` does not
        take them into account."""
        if current.tenants is None:
            return []
        planned = self.tenants or {}
        changes = []
        for name in sorted(planned.keys() | current.tenants.keys()):
            kind, _, file = name.partition(":")
            before, now = planned.get(name), current.tenants.get(name)
            if before != now:
                what = (
                    "was added"
                    if before is None
                    else "is no longer given"
                    if now is None
                    else "changed"
                )
                changes.append(f"{kind} file {file} {what}")
        return changes

    def mapping_changes(self, other: Fingerprints) -> list[str]:
        """The parts of the mapping that differ (``fields.email_address``, ``[source]``, …, in
        name order), from two ``mapping.fingerprint`` values; ``["the mapping"]`` when one of
        them is another kind (e.g. a hash of the file's text); ``[]`` when equal."""
        before, after = self.mapping, other.mapping
        if before == after:
            return []
        prefix = "spec1:"
        if not (before.startswith(prefix) and after.startswith(prefix)):
            return ["the mapping"]
        old = json.loads(before[len(prefix) :])
        new = json.loads(after[len(prefix) :])
        return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


class PlanRow(NamedTuple):
    """One input row as the planner sees it (``Prepared.plan()``): keys only, no payload.

    ``errors`` holds validation problems as mappings with ``field``, ``reason``, ``message``
    (and ``value``, the offending value with secrets masked, when the planner looked it up);
    a row with any is planned ``invalid``, else ``pending``. ``skip`` (a reason such as
    ``deleted_in_source``) plans it ``skipped`` instead.
    """

    row: int
    key: str
    external_id: str | None = None
    email: str | None = None
    errors: Sequence[Mapping[str, Any]] = ()
    skip: str | None = None


class RowRecord(NamedTuple):
    """One row of the state DB, as the reports read it."""

    row: int
    key: str
    external_id: str | None
    email: str | None
    state: RowState
    clerk_user_id: str | None
    code: str | None
    param: str | None
    message: str | None
    attempts: int
    retryable: bool
    updated_at: float
    details: tuple[Mapping[str, Any], ...]


# --- moves (for StateStore.record_many) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Completed:
    """in_flight -> created: Clerk answered 200 with ``user_id``."""

    row: int
    user_id: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Reconciled:
    """in_flight -> created: a lookup after an ambiguous attempt found our user."""

    row: int
    user_id: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Existed:
    """in_flight -> exists: the identifier was taken by a user with the same external_id."""

    row: int
    user_id: str
    attempts: int = 1


@dataclass(frozen=True, slots=True)
class Failed:
    """in_flight -> failed, with Clerk's code / param / message; ``retryable`` for transients."""

    row: int
    code: str
    param: str | None = None
    message: str = ""
    retryable: bool = False
    attempts: int = 1
    details: Sequence[Mapping[str, Any]] = field(default=())


@dataclass(frozen=True, slots=True)
class Released:
    """in_flight -> pending: never sent (Ctrl-C, abort), or a lookup proved it was not created."""

    row: int
    attempts: int = 0


Move = Completed | Reconciled | Existed | Failed | Released

MOVE_NAMES: Final[dict[type[Any], str]] = {
    Completed: "complete",
    Reconciled: "reconciled",
    Existed: "mark_exists",
    Failed: "fail",
    Released: "release",
}

SCHEMA: Final = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE rows (
    row           INTEGER PRIMARY KEY,   -- the input row number a person sees (_row)
    key           TEXT NOT NULL,         -- stable identity across runs (_key)
    external_id   TEXT,
    email         TEXT,                  -- primary email, for reconciliation and reports
    state         TEXT NOT NULL,
    clerk_user_id TEXT,
    code          TEXT,
    param         TEXT,
    message       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,   -- requests sent for this row, across runs
    retryable     INTEGER NOT NULL DEFAULT 0,
    updated_at    REAL NOT NULL,
    details       TEXT                   -- JSON list of every error (validation or Clerk)
);
"""
INDEX_STATE: Final = "CREATE INDEX rows_state ON rows (state, row)"
INDEX_KEY: Final = "CREATE INDEX rows_key ON rows (key)"

COLUMNS: Final = (
    "row, key, external_id, email, state, clerk_user_id, code, param, message, attempts, "
    "retryable, updated_at, details"
)


_STATE_OF: Final = {str(s): s for s in RowState}  # a dict lookup is ~5x faster than RowState()


def record_from_row(r: tuple[Any, ...]) -> RowRecord:
    """Build a ``RowRecord`` from a ``SELECT {COLUMNS}`` result row."""
    details = tuple(json.loads(r[12])) if r[12] else ()
    return RowRecord(
        r[0], r[1], r[2], r[3], _STATE_OF[r[4]], r[5], r[6], r[7], r[8], r[9], r[10] == 1,
        r[11], details,
    )  # fmt: skip
