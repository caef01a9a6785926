"""After a run: verify users in Clerk, prove canary passwords, roll a run back.

Every call goes through one ``Pacer`` (the run's rate and 429 pause) and is retried on
transient failures (``calls.until_answered``). Nothing here prints; results are data for the CLI.

- ``verify_users``: every created / exists row is fetched back (100 Clerk ids per GET) and
  compared with the state DB: missing users and mismatched external_id / primary email.
- ``check_passwords``: ``verify_password`` for a few (key, plaintext) canaries, to prove the
  migrated digests sign users in. Plaintexts are ``Secret`` from the moment they are read.
- ``rollback_users``: delete the users this run *created* (never those that already existed)
  and put their rows back to pending (noted ``rolled_back``), batch by batch.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import anyio

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import ClerkUser, Deleted, PasswordChecked, Users
from migrate._internal.runner.calls import until_answered
from migrate._internal.runner.pacing import Pacer
from migrate._internal.secrets import Secret
from migrate._internal.state import RowRecord, RowState, StateStore
from migrate.errors import ClerkError, ConfigError, MigrateError

__all__ = [
    "Mismatch",
    "PasswordCheck",
    "RollbackResult",
    "VerifyResult",
    "check_passwords",
    "read_password_file",
    "rollback_users",
    "run_together",
    "verify_users",
]

T = TypeVar("T")
_BATCH = 100


async def run_together(calls: Iterable[Callable[[], Coroutine[Any, Any, None]]]) -> None:
    """Run ``calls`` at once; when one raises a ``MigrateError`` (an abort code, Clerk refusing
    a lookup) that error is raised as itself, not inside the task group's exception group."""
    try:
        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(call)
    except BaseExceptionGroup as group:
        ours = _first(group)
        if ours is None:
            raise
        raise ours from group


def _first(group: BaseExceptionGroup[BaseException]) -> MigrateError | None:
    """The first ``MigrateError`` in ``group`` (nested groups searched in order)."""
    for exc in group.exceptions:
        found = _first(exc) if isinstance(exc, BaseExceptionGroup) else exc
        if isinstance(found, MigrateError):
            return found
    return None


def _chunks(items: Iterable[T], size: int) -> Iterable[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


@dataclass(frozen=True)
class Mismatch:
    """A created / exists row whose Clerk object is missing or differs from the state DB.

    ``kind`` is ``user``, ``organization`` or ``membership``; ``clerk_user_id`` the Clerk id
    of that object (a membership's: ``<organization id>/<user id>``).
    """

    row: int
    key: str
    clerk_user_id: str
    problem: str  # "missing", "external_id", "email"; "legacy_key", "role" for the tenants
    expected: str | None
    found: str | None
    kind: str = "user"


@dataclass
class VerifyResult:
    """How many users were checked and what did not match."""

    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


def _compare(record: RowRecord, user: ClerkUser | None) -> Mismatch | None:
    assert record.clerk_user_id is not None
    if user is None:
        return Mismatch(record.row, record.key, record.clerk_user_id, "missing", None, None)
    if record.external_id and user.external_id != record.external_id:
        return Mismatch(record.row, record.key, record.clerk_user_id, "external_id",
                        record.external_id, user.external_id)  # fmt: skip
    emails = {e.lower() for e in user.email_addresses}
    if record.email and record.email.lower() not in emails:
        return Mismatch(record.row, record.key, record.clerk_user_id, "email",
                        record.email, user.primary_email)  # fmt: skip
    return None


async def verify_users(client: ClerkClient, pacer: Pacer, store: StateStore) -> VerifyResult:
    """Fetch every created / exists user back, 100 ids per GET; list what is off."""
    result = VerifyResult()
    records = (r for r in store.iter_rows((RowState.CREATED, RowState.EXISTS)) if r.clerk_user_id)
    for chunk in _chunks(records, _BATCH):
        ids = [r.clerk_user_id for r in chunk if r.clerk_user_id]
        outcome = await until_answered(
            pacer, partial(client.list_users, user_id=ids, limit=_BATCH), doing="verifying users"
        )
        if not isinstance(outcome, Users):
            raise ClerkError(f"looking users up failed: {outcome.code}: {outcome.message}")
        by_id = {u.id: u for u in outcome.users}
        for record in chunk:
            result.checked += 1
            problem = _compare(record, by_id.get(record.clerk_user_id or ""))
            if problem is not None:
                result.mismatches.append(problem)
    return result


def read_password_file(path: Path) -> list[tuple[str, Secret]]:
    """``key,password`` rows (a header line ``key,password`` is optional) as masked secrets.

    Raises ``ConfigError`` when the file cannot be read or a line is malformed (by line number;
    the password itself is never shown).
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            lines = list(csv.reader(handle))
    except OSError as exc:
        raise ConfigError(f"cannot read --passwords {path}: {exc}") from exc
    pairs: list[tuple[str, Secret]] = []
    for number, line in enumerate(lines, start=1):
        if not line or (number == 1 and [c.strip().lower() for c in line] == ["key", "password"]):
            continue
        if len(line) != 2 or not line[0].strip():
            raise ConfigError(f"{path} line {number}: expected two columns: key,password")
        pairs.append((line[0].strip(), Secret(line[1])))
    return pairs


@dataclass(frozen=True)
class PasswordCheck:
    """One canary: did Clerk accept the known password for the migrated user?"""

    key: str
    clerk_user_id: str | None
    verified: bool
    reason: str  # "verified", "incorrect_password", "not_migrated", a Clerk code


async def check_passwords(
    client: ClerkClient, pacer: Pacer, store: StateStore, canaries: Sequence[tuple[str, Secret]]
) -> list[PasswordCheck]:
    """``verify_password`` for each (key, plaintext) canary whose row was created / exists."""
    by_key = {
        r.key: r.clerk_user_id
        for r in store.iter_rows((RowState.CREATED, RowState.EXISTS))
        if r.key in {k for k, _ in canaries}
    }
    checks = []
    for key, password in canaries:
        user_id = by_key.get(key)
        if user_id is None:
            checks.append(PasswordCheck(key, None, False, "not_migrated"))
            continue
        outcome = await until_answered(
            pacer, partial(client.verify_password, user_id, password), doing="checking a password"
        )
        if isinstance(outcome, PasswordChecked):
            reason = "verified" if outcome.verified else (outcome.code or "incorrect_password")
            checks.append(PasswordCheck(key, user_id, outcome.verified, reason))
        else:
            checks.append(PasswordCheck(key, user_id, False, outcome.code))
    return checks


@dataclass
class RollbackResult:
    """Users deleted, already gone, and refused (with Clerk's code)."""

    deleted: int = 0
    already_gone: int = 0
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # key, user id, code


async def rollback_users(
    client: ClerkClient,
    pacer: Pacer,
    store: StateStore,
    on_progress: Callable[[RollbackResult], None] | None = None,
) -> RollbackResult:
    """Delete every user the run created (rows in ``created``; ``exists`` ones are kept).

    Each deleted (or already gone, 404) user's row moves created -> pending with the note
    ``rolled_back`` (``StateStore.roll_back``), one transaction per batch of deletes, recorded
    even when the batch is cancelled midway. So an interrupted rollback is resumed by running it
    again: the rows still ``created`` are the users not yet deleted (one deleted just before a
    crash answers 404 next time and is recorded then). Refused rows stay ``created``.
    """
    result = RollbackResult()
    records = [r for r in store.iter_rows((RowState.CREATED,)) if r.clerk_user_id]

    async def delete(record: RowRecord, gone: list[tuple[int, str]]) -> None:
        assert record.clerk_user_id is not None
        uid = record.clerk_user_id
        outcome = await until_answered(
            pacer, partial(client.delete_user, uid), doing="deleting a user"
        )
        if isinstance(outcome, Deleted):
            result.deleted += 1
            gone.append((record.row, uid))
        elif outcome.status == 404:
            result.already_gone += 1
            gone.append((record.row, uid))
        else:
            result.refused.append((record.key, uid, outcome.code))
        if on_progress is not None:
            on_progress(result)

    for chunk in _chunks(records, pacer.max_workers):
        gone: list[tuple[int, str]] = []
        try:
            await run_together(partial(delete, record, gone) for record in chunk)
        finally:
            store.roll_back(gone)  # what was deleted before a cancel is recorded too
    return result
