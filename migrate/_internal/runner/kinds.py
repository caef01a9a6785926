"""What differs between the kinds of row a run sends: users, organizations, memberships.

A worker's retries, reconciliation and give-ups are the same for every kind (``workers``); a
``Kind`` supplies the rest: how a payload becomes a ``Job``, the create call, the lookup after
an ambiguous answer or a conflict, which object found is this row, and the conflict message.

- ``UserKind``: ``POST /v1/users``; found by external_id (or primary email); ours after an
  ambiguous POST unless Clerk last changed it well before the POST (``Existed``).
- ``OrganizationKind``: ``POST /v1/organizations`` with the body of
  ``PreparedTenants.organization_payloads``; found by slug (``GET /v1/organizations/{slug}``):
  ours when ``private_metadata.legacy_key`` is the row's key, else a conflict naming the slug.
- ``MembershipKind``: ``POST /v1/organizations/{org}/memberships``; found in the organization's
  memberships by user id. The ids come from the users' and organizations' rows at send time
  (``membership_payloads``); when either is missing the row fails without a request, with a
  retryable code (``user_not_migrated`` / ``organization_not_migrated``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from migrate._internal.clerk.organizations import (
    create_membership,
    create_organization,
    get_organization,
    list_memberships,
)
from migrate._internal.clerk.outcomes import (
    ClerkMembership,
    ClerkOrganization,
    ClerkUser,
    Created,
    Membership,
    Memberships,
    Organization,
    Rejected,
    Transient,
)
from migrate._internal.mapping.organizations import LEGACY_KEY
from migrate._internal.runner.calls import UsersApi, find_users
from migrate._internal.runner.jobs import Job
from migrate._internal.state import Existed, Failed, Reconciled, StateStore, membership_key

if TYPE_CHECKING:
    from migrate._internal.clerk.client import ClerkClient

__all__ = [
    "MISSING",
    "Kind",
    "MembershipKind",
    "MembershipPayload",
    "OrganizationKind",
    "OrganizationPayload",
    "UserKind",
    "conflict_message",
    "membership_payloads",
    "organization_payloads",
]

Failure = Rejected | Transient
MISSING: Final = "_missing"  # a membership body's note: the id it lacks (never sent)


class Payload(Protocol):
    """A row's body (``prepare.RowPayload`` for users)."""

    @property
    def row(self) -> int: ...

    @property
    def body(self) -> dict[str, Any]: ...

    @property
    def key(self) -> str: ...


class Kind(Protocol):
    """The calls and rules of one kind of row (see the module docstring)."""

    name: str

    def job(self, payload: Payload) -> Job:
        """The ``Job`` of one payload."""
        ...

    def refuse(self, job: Job) -> Failed | None:
        """A failure decided before any request (None: send it)."""
        ...

    async def create(self, job: Job) -> str | Failure:
        """Send the create; the new object's Clerk id, or Clerk's refusal."""
        ...

    async def find(self, job: Job) -> list[Any] | Failure:
        """Look up what may be this row in Clerk (one request)."""
        ...

    def match(self, job: Job, found: Sequence[Any]) -> Any | None:
        """The object among ``found`` that is this row (it has an ``id``), or None."""
        ...

    def ours(self, job: Job, found: Any, attempts: int) -> Reconciled | Existed:
        """After an ambiguous create: the object found is ours, or was there before."""
        ...

    def conflict(self, job: Job, reply: Failure) -> str:
        """What to say when the identifier belongs to another object."""
        ...


# --- users ---------------------------------------------------------------------------------


def conflict_message(param: str | None, body: dict[str, Any]) -> str:
    """Name the identifier already taken by another Clerk user (never a secret field)."""
    value: object = body.get(param) if param else None
    if isinstance(value, list):
        value = value[0] if value else None
    shown = f" {value}" if isinstance(value, str) and param in _SHOWABLE else ""
    what = param or "identifier"
    return (
        f"{what}{shown} already belongs to another Clerk user whose external_id differs; "
        "fix the row or remove that user"
    )


_SHOWABLE = frozenset({"email_address", "phone_number", "username", "web3_wallet", "external_id"})


class UserKind:
    """Users: ``POST /v1/users``, found by external_id or primary email."""

    name = "users"

    def __init__(self, api: UsersApi) -> None:
        self.api = api

    def job(self, payload: Payload) -> Job:
        """A user row's ``Job``: its external_id and primary email come from the body."""
        body = payload.body
        emails = body.get("email_address")
        email = emails[0] if isinstance(emails, list) and emails else None
        ext = body.get("external_id")
        return Job(payload.row, payload.key, ext if isinstance(ext, str) and ext else None,
                   email, body)  # fmt: skip

    def refuse(self, job: Job) -> Failed | None:
        """Nothing is decided before a user's create."""
        return None

    async def create(self, job: Job) -> str | Failure:
        """``POST /v1/users``."""
        reply = await self.api.create_user(job.body)
        return reply.user_id if isinstance(reply, Created) else reply

    async def find(self, job: Job) -> list[Any] | Failure:
        """The users with the row's external_id (else its primary email); none without."""
        if job.external_id:
            return await find_users(self.api, external_ids=[job.external_id])
        if job.email:
            return await find_users(self.api, emails=[job.email])
        return []

    def match(self, job: Job, found: Sequence[Any]) -> ClerkUser | None:
        """Same external_id; without one, same primary email and no external_id."""
        for user in found:
            if job.external_id:
                if user.external_id == job.external_id:
                    return user  # type: ignore[no-any-return]
            elif (
                job.email
                and user.external_id is None
                and job.email.lower() in (e.lower() for e in user.email_addresses)
            ):
                return user  # type: ignore[no-any-return]
        return None

    def ours(self, job: Job, found: Any, attempts: int) -> Reconciled | Existed:
        """Ours (``Reconciled``), unless Clerk last changed the user well before our first POST:
        then it existed already (``Existed``), and a rollback must never delete it."""
        return _ours(job, found, attempts)

    def conflict(self, job: Job, reply: Failure) -> str:
        """The identifier another user holds."""
        return conflict_message(reply.param, job.body)


def _ours(job: Job, found: Any, attempts: int) -> Reconciled | Existed:
    """What was found after our ambiguous create: ours, unless Clerk last changed it well
    before our first POST (it has ``untouched_since_before``)."""
    if job.first_sent_at and found.untouched_since_before(job.first_sent_at):
        return Existed(job.row, found.id, attempts)
    return Reconciled(job.row, found.id, attempts)


# --- organizations -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrganizationPayload:
    """One organization's CreateOrganization body (its legacy key in private metadata)."""

    row: int
    key: str
    body: dict[str, Any]


def organization_payloads(
    source: Iterable[tuple[int, str, dict[str, Any]]],
) -> Callable[[Sequence[int]], Iterator[OrganizationPayload]]:
    """A payload source over ``PreparedTenants.organization_payloads()`` (read once: small)."""
    bodies = {row: (key, body) for row, key, body in source}

    def payloads(rows: Sequence[int]) -> Iterator[OrganizationPayload]:
        for row in rows:
            if row in bodies:
                key, body = bodies[row]
                yield OrganizationPayload(row, key, body)

    return payloads


class OrganizationKind:
    """Organizations: created with a deterministic slug, found by it."""

    name = "organizations"

    def __init__(self, client: ClerkClient) -> None:
        self.client = client

    def job(self, payload: Payload) -> Job:
        """An organization's ``Job``: ``external_id`` is its slug."""
        slug = payload.body.get("slug")
        return Job(payload.row, payload.key, slug if isinstance(slug, str) else None, None,
                   payload.body)  # fmt: skip

    def refuse(self, job: Job) -> Failed | None:
        """Nothing is decided before an organization's create."""
        return None

    async def create(self, job: Job) -> str | Failure:
        """``POST /v1/organizations``."""
        reply = await create_organization(self.client, job.body)
        return reply.organization.id if isinstance(reply, Organization) else reply

    async def find(self, job: Job) -> list[Any] | Failure:
        """The organization holding the row's slug (none: an empty list)."""
        if not job.external_id:
            return []
        reply = await get_organization(self.client, job.external_id)
        if isinstance(reply, Organization):
            return [reply.organization]
        if isinstance(reply, Rejected) and reply.status == 404:
            return []
        return reply

    def match(self, job: Job, found: Sequence[Any]) -> ClerkOrganization | None:
        """The organization whose private metadata holds the row's legacy key."""
        for org in found:
            if org.private_metadata.get(LEGACY_KEY) == job.key:
                return org  # type: ignore[no-any-return]
        return None

    def ours(self, job: Job, found: Any, attempts: int) -> Reconciled | Existed:
        """The organization found after our ambiguous POST carries our legacy key: ours, unless
        Clerk last changed it well before our first POST (an earlier run made it: ``Existed``,
        never ours to roll back)."""
        return _ours(job, found, attempts)

    def conflict(self, job: Job, reply: Failure) -> str:
        """The slug another organization holds."""
        return (
            f"slug {job.external_id} already belongs to another Clerk organization (its "
            f"private_metadata.{LEGACY_KEY} is not {job.key}); change the slug or remove that "
            "organization"
        )


# --- memberships ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MembershipPayload:
    """One membership: its organization's and user's Clerk ids (None: not migrated) and role."""

    row: int
    key: str
    body: dict[str, Any]


def membership_payloads(store: StateStore) -> Callable[[Sequence[int]], list[MembershipPayload]]:
    """A payload source reading each membership's ids from the run's users and organizations
    (created or exists) at send time; a missing one is noted in the body (``MISSING``)."""
    members, orgs = store.kind("memberships"), store.kind("organizations")

    def payloads(rows: Sequence[int]) -> list[MembershipPayload]:
        links = members.member_links(rows)
        users = store.kind("users").user_ids(sorted({link.user_key for link in links.values()}))
        org_ids = orgs.clerk_ids(link.organization_key for link in links.values())
        out = []
        for row in rows:
            if (link := links.get(row)) is None:
                continue
            body: dict[str, Any] = {
                "organization_id": org_ids.get(link.organization_key),
                "user_id": users.get(link.user_key),
                "role": link.role,
            }
            if body["organization_id"] is None:
                body[MISSING] = ("organization_not_migrated", link.organization_key)
            elif body["user_id"] is None:
                body[MISSING] = ("user_not_migrated", link.user_key)
            out.append(
                MembershipPayload(row, membership_key(link.organization_key, link.user_key), body)
            )
        return out

    return payloads


_NOT_MIGRATED: Final[Mapping[str, str]] = {
    "organization_not_migrated": (
        "organization {} is not in Clerk (its row failed, is invalid or was not sent); fix it, "
        "then `retry` sends this membership"
    ),
    "user_not_migrated": (
        "user {} is not in Clerk (its row failed, is invalid or was not sent); fix it, then "
        "`retry` sends this membership"
    ),
}


class MembershipKind:
    """Memberships: created in their organization, found among its members by user id."""

    name = "memberships"

    def __init__(self, client: ClerkClient) -> None:
        self.client = client

    def job(self, payload: Payload) -> Job:
        """A membership's ``Job`` (no external_id or email: the body holds the ids)."""
        return Job(payload.row, payload.key, None, None, payload.body)

    def refuse(self, job: Job) -> Failed | None:
        """``user_not_migrated`` / ``organization_not_migrated`` when an id is missing:
        retryable, so a later ``run`` or ``retry`` sends it once the user or organization is
        in Clerk."""
        missing = job.body.get(MISSING)
        if missing is None:
            return None
        code, key = missing
        param = "membership.organization" if code == "organization_not_migrated" else (
            "membership.user"
        )  # fmt: skip
        return Failed(
            job.row, code, param, _NOT_MIGRATED[code].format(key), retryable=True, attempts=0
        )

    async def create(self, job: Job) -> str | Failure:
        """``POST /v1/organizations/{org}/memberships``."""
        body = job.body
        reply = await create_membership(
            self.client, body["organization_id"], body["user_id"], body["role"]
        )
        return reply.membership.id if isinstance(reply, Membership) else reply

    async def find(self, job: Job) -> list[Any] | Failure:
        """The organization's memberships of the row's user."""
        body = job.body
        reply = await list_memberships(
            self.client, body["organization_id"], user_id=[body["user_id"]], limit=10
        )
        return list(reply.memberships) if isinstance(reply, Memberships) else reply

    def match(self, job: Job, found: Sequence[Any]) -> ClerkMembership | None:
        """The membership of the row's user in the row's organization."""
        for member in found:
            if (member.user_id, member.organization_id) == (
                job.body["user_id"],
                job.body["organization_id"],
            ):
                return member  # type: ignore[no-any-return]
        return None

    def ours(self, job: Job, found: Any, attempts: int) -> Reconciled | Existed:
        """The membership found after our ambiguous POST: ours, unless Clerk last changed it
        well before our first POST (``Existed``)."""
        return _ours(job, found, attempts)

    def conflict(self, job: Job, reply: Failure) -> str:
        """Clerk says the user is a member, yet no membership was found."""
        return (
            "Clerk answered already_a_member_in_organization but lists no membership of user "
            f"{job.body.get('user_id')} in organization {job.body.get('organization_id')}"
        )
