"""After a run: verify organizations and memberships in Clerk, and delete them for a rollback.

The Clerk side only: each function takes plain inputs (Clerk ids, the roles the run meant) and
the run's one ``Pacer``, every call through ``calls.until_answered`` (429s pause every caller,
other transient failures back off, an abort code raises). The caller reads the state DB and
records what was deleted, through ``record`` (called once per batch, also when the batch is
cancelled midway, so an interrupted rollback resumes where it stopped).

- ``verify_organizations``: 100 organization ids per ``GET /organizations``; missing ones, and
  ones whose ``private_metadata.legacy_key`` is not the row's key.
- ``verify_memberships``: each organization's memberships listed (500 a page); missing
  memberships and wrong roles.
- ``delete_memberships`` / ``delete_organizations``: one DELETE each, a 404 counted as already
  gone (deleted by an earlier, interrupted rollback).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import islice
from typing import Generic, TypeVar

from migrate._internal.clerk import organizations as orgs_api
from migrate._internal.clerk.client import MAX_FILTER_VALUES, MAX_LIST_LIMIT, ClerkClient
from migrate._internal.clerk.outcomes import (
    ClerkMembership,
    Membership,
    Memberships,
    OrganizationDeleted,
    Organizations,
    Rejected,
    Transient,
)
from migrate._internal.runner.aftercare import Mismatch, run_together
from migrate._internal.runner.calls import until_answered
from migrate._internal.runner.pacing import Pacer
from migrate._internal.state import RowState, StateStore
from migrate.errors import ClerkError

__all__ = [
    "DeleteResult",
    "ExpectedMembership",
    "ExpectedOrganization",
    "TenantCheck",
    "TenantRollback",
    "delete_memberships",
    "delete_organizations",
    "expected_memberships",
    "expected_organizations",
    "rollback_tenants",
    "verify_memberships",
    "verify_organizations",
    "verify_tenants",
]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class ExpectedOrganization:
    """An organization a run created or found: its row, legacy key and Clerk id."""

    row: int
    key: str
    organization_id: str


@dataclass(frozen=True)
class ExpectedMembership:
    """A membership a run created or found, with the Clerk role it should have."""

    row: int
    key: str  # "<organization key>/<user key>"
    organization_id: str
    user_id: str
    role: str


def _chunks(items: Iterable[T], size: int) -> Iterable[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _failed(doing: str, outcome: Rejected) -> ClerkError:
    return ClerkError(f"{doing} failed: {outcome.error_code}: {outcome.text}")


async def verify_organizations(
    client: ClerkClient, pacer: Pacer, expected: Iterable[ExpectedOrganization]
) -> tuple[int, list[Mismatch]]:
    """Look every organization up, 100 ids a request: (how many were checked, what is off).

    An organization whose ``private_metadata.legacy_key`` is set and is not the row's key is a
    ``legacy_key`` mismatch (the id points at another organization). Raises ``ClerkError`` when
    Clerk refuses the lookup, ``RunAbortedError`` on an abort code.
    """
    checked, problems = 0, []
    for chunk in _chunks(expected, MAX_FILTER_VALUES):
        ids = [e.organization_id for e in chunk]
        call = partial(
            orgs_api.list_organizations, client, organization_id=ids, limit=MAX_FILTER_VALUES
        )
        outcome = await until_answered(pacer, call, doing="verifying organizations")
        if not isinstance(outcome, Organizations):
            raise _failed("looking organizations up", outcome)
        found = {o.id: o for o in outcome.organizations}
        for e in chunk:
            checked += 1
            org = found.get(e.organization_id)
            if org is None:
                problems.append(
                    Mismatch(e.row, e.key, e.organization_id, "missing", None, None, "organization")
                )
                continue
            legacy = org.private_metadata.get("legacy_key")
            if legacy is not None and legacy != e.key:
                problems.append(
                    Mismatch(
                        e.row,
                        e.key,
                        e.organization_id,
                        "legacy_key",
                        e.key,
                        str(legacy),
                        "organization",
                    )
                )
    return checked, problems


async def _members_of(
    client: ClerkClient, pacer: Pacer, organization_id: str
) -> dict[str, ClerkMembership] | None:
    """Every membership of an organization by user id; None when the organization is gone."""
    found: dict[str, ClerkMembership] = {}
    offset = 0
    while True:
        call = partial(
            orgs_api.list_memberships, client, organization_id, limit=MAX_LIST_LIMIT, offset=offset
        )
        outcome = await until_answered(pacer, call, doing="verifying memberships")
        if isinstance(outcome, Rejected):
            if outcome.status == 404:
                return None
            raise _failed("listing an organization's memberships", outcome)
        assert isinstance(outcome, Memberships)
        found.update((m.user_id, m) for m in outcome.memberships)
        offset += len(outcome.memberships)
        if not outcome.memberships or offset >= outcome.total:
            return found


async def verify_memberships(
    client: ClerkClient, pacer: Pacer, expected: Iterable[ExpectedMembership]
) -> tuple[int, list[Mismatch]]:
    """List each organization's memberships once and compare: (how many were checked, what is off).

    ``pacer.max_workers`` organizations are listed at a time. A membership is ``missing`` (its
    organization gone too, or the user not a member) or has another ``role``. Raises
    ``ClerkError`` when Clerk refuses a listing, ``RunAbortedError`` on an abort code.
    """
    by_org: dict[str, list[ExpectedMembership]] = defaultdict(list)
    for e in expected:
        by_org[e.organization_id].append(e)
    found: dict[str, dict[str, ClerkMembership]] = {}

    async def list_one(organization_id: str) -> None:
        found[organization_id] = await _members_of(client, pacer, organization_id) or {}

    for chunk in _chunks(by_org, pacer.max_workers):
        await run_together(partial(list_one, organization_id) for organization_id in chunk)
    checked, problems = 0, []
    for organization_id, wanted in by_org.items():
        members = found[organization_id]
        for e in wanted:
            checked += 1
            clerk_id = f"{e.organization_id}/{e.user_id}"
            member = members.get(e.user_id)
            if member is None:
                problems.append(
                    Mismatch(e.row, e.key, clerk_id, "missing", e.role, None, "membership")
                )
            elif member.role != e.role:
                problems.append(
                    Mismatch(e.row, e.key, clerk_id, "role", e.role, member.role, "membership")
                )
    return checked, problems


@dataclass
class DeleteResult(Generic[T]):
    """What a delete pass did: deleted, already gone (404), refused (item, Clerk's code)."""

    deleted: int = 0
    already_gone: int = 0
    refused: list[tuple[T, str]] = field(default_factory=list)


async def _delete_each(
    pacer: Pacer,
    items: Sequence[T],
    delete: Callable[[T], Awaitable[R | Rejected | Transient]],
    *,
    doing: str,
    record: Callable[[list[T]], None],
) -> DeleteResult[T]:
    """Delete ``items`` ``pacer.max_workers`` at a time; ``record`` each batch of gone ones."""
    result: DeleteResult[T] = DeleteResult()

    async def one(item: T, gone: list[T]) -> None:
        outcome = await until_answered(pacer, partial(delete, item), doing=doing)
        if not isinstance(outcome, Rejected):
            result.deleted += 1
            gone.append(item)
        elif outcome.status == 404:
            result.already_gone += 1
            gone.append(item)
        else:
            result.refused.append((item, outcome.error_code))

    for chunk in _chunks(items, pacer.max_workers):
        gone: list[T] = []
        try:
            await run_together(partial(one, item, gone) for item in chunk)
        finally:
            record(gone)  # what was deleted before a cancel is recorded too
    return result


async def delete_memberships(
    client: ClerkClient,
    pacer: Pacer,
    memberships: Sequence[ExpectedMembership],
    record: Callable[[list[ExpectedMembership]], None],
) -> DeleteResult[ExpectedMembership]:
    """Remove each user from its organization; ``record`` gets each batch removed or gone."""

    async def delete(m: ExpectedMembership) -> Membership | Rejected | Transient:
        return await orgs_api.delete_membership(client, m.organization_id, m.user_id)

    return await _delete_each(
        pacer, memberships, delete, doing="deleting a membership", record=record
    )


async def delete_organizations(
    client: ClerkClient,
    pacer: Pacer,
    organizations: Sequence[ExpectedOrganization],
    record: Callable[[list[ExpectedOrganization]], None],
) -> DeleteResult[ExpectedOrganization]:
    """Delete each organization (its remaining memberships go with it); ``record`` as above."""

    async def delete(o: ExpectedOrganization) -> OrganizationDeleted | Rejected | Transient:
        return await orgs_api.delete_organization(client, o.organization_id)

    return await _delete_each(
        pacer, organizations, delete, doing="deleting an organization", record=record
    )


# --- a run's organizations and memberships, from its state DB ------------------------------


def expected_organizations(
    store: StateStore, states: Iterable[RowState] = (RowState.CREATED, RowState.EXISTS)
) -> list[ExpectedOrganization]:
    """The run's organizations in ``states`` that have a Clerk id."""
    orgs = store.kind("organizations")
    return [
        ExpectedOrganization(r.row, r.key, r.clerk_user_id)
        for r in orgs.iter_rows(states)
        if r.clerk_user_id
    ]


def expected_memberships(
    store: StateStore, states: Iterable[RowState] = (RowState.CREATED, RowState.EXISTS)
) -> tuple[list[ExpectedMembership], list[Mismatch]]:
    """The run's memberships in ``states``, with their organization's and user's Clerk ids.

    A membership whose organization or user has no Clerk id in the run any more (rolled back,
    say) cannot be looked up: it comes back as a ``missing`` mismatch instead.
    """
    members = store.kind("memberships")
    records = [r for r in members.iter_rows(states) if r.clerk_user_id]
    links = members.member_links([r.row for r in records])
    org_ids = store.kind("organizations").clerk_ids(
        link.organization_key for link in links.values()
    )
    user_ids = store.kind("users").user_ids(sorted({link.user_key for link in links.values()}))
    found, unresolved = [], []
    for r in records:
        link = links[r.row]
        row = link.input_row or r.row
        org_id, user_id = org_ids.get(link.organization_key), user_ids.get(link.user_key)
        if org_id is None or user_id is None:
            unresolved.append(
                Mismatch(row, r.key, str(r.clerk_user_id), "missing", link.role, None, "membership")
            )
        else:
            found.append(ExpectedMembership(row, r.key, org_id, user_id, link.role))
    return found, unresolved


@dataclass
class TenantCheck:
    """How many organizations and memberships were checked, and what is off."""

    organizations: int = 0
    memberships: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)


async def verify_tenants(client: ClerkClient, pacer: Pacer, store: StateStore) -> TenantCheck:
    """Verify every created / exists organization and membership of the run."""
    check = TenantCheck()
    check.organizations, problems = await verify_organizations(
        client, pacer, expected_organizations(store)
    )
    check.mismatches += problems
    wanted, unresolved = expected_memberships(store)
    check.memberships, problems = await verify_memberships(client, pacer, wanted)
    check.memberships += len(unresolved)
    check.mismatches += sorted(problems + unresolved, key=lambda m: m.row)
    return check


@dataclass
class TenantRollback:
    """What a rollback of the run's memberships and organizations did."""

    memberships: DeleteResult[ExpectedMembership] = field(default_factory=DeleteResult)
    organizations: DeleteResult[ExpectedOrganization] = field(default_factory=DeleteResult)


async def rollback_tenants(client: ClerkClient, pacer: Pacer, store: StateStore) -> TenantRollback:
    """Delete the memberships, then the organizations, this run created (``created`` rows;
    ``exists`` ones are kept); each deleted (or already gone) row goes back to pending, noted
    ``rolled_back``, one transaction per batch, so an interrupted rollback resumes.

    A created membership whose organization or user has no Clerk id any more is gone with it
    and is only recorded.
    """
    done = TenantRollback()
    members = store.kind("memberships")
    records = {r.row: r for r in members.iter_rows((RowState.CREATED,)) if r.clerk_user_id}
    wanted, unresolved = expected_memberships(store, (RowState.CREATED,))
    by_key = {r.key: r for r in records.values()}

    def record_members(gone: list[ExpectedMembership]) -> None:
        members.roll_back((by_key[m.key].row, str(by_key[m.key].clerk_user_id)) for m in gone)

    members.roll_back((by_key[m.key].row, str(by_key[m.key].clerk_user_id)) for m in unresolved)
    done.memberships = await delete_memberships(client, pacer, wanted, record_members)
    done.memberships.already_gone += len(unresolved)
    orgs = store.kind("organizations")
    created = expected_organizations(store, (RowState.CREATED,))

    def record_orgs(gone: list[ExpectedOrganization]) -> None:
        orgs.roll_back((o.row, o.organization_id) for o in gone)

    done.organizations = await delete_organizations(client, pacer, created, record_orgs)
    return done
