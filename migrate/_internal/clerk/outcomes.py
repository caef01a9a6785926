"""Typed outcomes of Clerk calls: what ``ClerkClient`` returns instead of raising.

Every call returns exactly one of a success type, ``Rejected`` (Clerk answered with an error
status and, usually, a ``ClerkErrors`` body) or ``Transient`` (the answer did not arrive or said
"try again later"). HTTP statuses never become exceptions; ``retry.classify`` decides what each
outcome means for the row and the run.

None of these types holds a secret: users are reduced to the identifiers reconciliation needs,
and error texts are Clerk's, which describe parameters, never their values' secrets. The
organization outcomes (``Organization``, ``Organizations``, ``Membership``, ``Memberships``,
``OrganizationRoles``, ``OrganizationDeleted``) are returned by ``clerk.organizations``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, TypeAlias

__all__ = [
    "SKEW_S",
    "ClerkMembership",
    "ClerkOrganization",
    "ClerkRole",
    "ClerkUser",
    "CountOutcome",
    "Counted",
    "CreateOutcome",
    "Created",
    "DeleteOutcome",
    "Deleted",
    "ErrorDetail",
    "Fetched",
    "GetOutcome",
    "ListOutcome",
    "Membership",
    "Memberships",
    "Organization",
    "OrganizationDeleted",
    "OrganizationRoles",
    "Organizations",
    "PasswordChecked",
    "Rejected",
    "Transient",
    "TransientKind",
    "Users",
    "VerifyOutcome",
]


# How far our clock and Clerk's may disagree: a user last changed more than this before our
# request was sent is taken to have existed before it.
SKEW_S: Final = 600.0


@dataclass(frozen=True, slots=True)
class ClerkUser:
    """The parts of a Clerk ``User`` the tool uses: identity, identifiers, creation time.

    ``email_addresses`` / ``phone_numbers`` list the primary one first when Clerk marks one.
    ``created_at`` and ``updated_at`` are Clerk's epoch milliseconds (or None when absent); a
    migration sets ``created_at`` from the legacy system, ``updated_at`` is when Clerk last
    changed the user (its creation, for a user a run just made).
    """

    id: str
    external_id: str | None = None
    email_addresses: tuple[str, ...] = ()
    phone_numbers: tuple[str, ...] = ()
    username: str | None = None
    created_at: int | None = None
    password_enabled: bool = False
    updated_at: int | None = None

    def untouched_since_before(self, moment: float) -> bool:
        """True when Clerk last changed this user well before ``moment`` (epoch seconds, less
        ``SKEW_S`` for clocks that disagree): it existed before a request sent at ``moment``,
        so that request did not create it. False when Clerk did not say."""
        return self.updated_at is not None and self.updated_at / 1000 < moment - SKEW_S

    @property
    def primary_email(self) -> str | None:
        """The primary email address, if the user has one."""
        return self.email_addresses[0] if self.email_addresses else None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClerkUser:
        """Reduce a BAPI ``User`` object to a ``ClerkUser``.

        Raises ``KeyError`` / ``TypeError`` / ``ValueError`` when ``data`` is not a user object;
        the client turns that into a ``Transient("protocol")``.
        """
        user_id = data["id"]
        if not isinstance(user_id, str) or not user_id:
            raise ValueError("user object without an id")
        emails = _identifiers(
            data.get("email_addresses"), "email_address", data.get("primary_email_address_id")
        )
        phones = _identifiers(
            data.get("phone_numbers"), "phone_number", data.get("primary_phone_number_id")
        )
        created_at = data.get("created_at")
        updated_at = data.get("updated_at")
        external_id = data.get("external_id")
        username = data.get("username")
        return cls(
            id=user_id,
            external_id=external_id if isinstance(external_id, str) else None,
            email_addresses=emails,
            phone_numbers=phones,
            username=username if isinstance(username, str) else None,
            created_at=created_at if isinstance(created_at, int) else None,
            password_enabled=data.get("password_enabled") is True,
            updated_at=updated_at if isinstance(updated_at, int) else None,
        )


def _identifiers(items: object, key: str, primary_id: object) -> tuple[str, ...]:
    """Pull identifier strings out of a list of objects, the primary one first."""
    if not isinstance(items, list):
        return ()
    primary: list[str] = []
    others: list[str] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        value = item.get(key)
        if not isinstance(value, str):
            continue
        (primary if primary_id is not None and item.get("id") == primary_id else others).append(
            value
        )
    return (*primary, *others)


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One entry of a ``ClerkErrors`` body. ``param`` is ``meta.param_name`` when present."""

    code: str
    message: str = ""
    long_message: str = ""
    param: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    """Clerk refused the request (a 4xx, or any status with an unusable body).

    ``code``, ``param``, ``message`` and ``long_message`` come from the first error of the body;
    ``errors`` holds all of them. A body that is not ``ClerkErrors`` gives ``code`` =
    ``http_<status>``. ``status`` is 0 when the request could not even be built (a body that is
    not JSON-serialisable); then ``code`` is ``request_body_invalid``.
    """

    status: int
    code: str
    param: str | None = None
    message: str = ""
    long_message: str = ""
    trace_id: str | None = None
    errors: tuple[ErrorDetail, ...] = ()

    # Read like ``Transient``'s, so a caller branches on either without a type test.
    ambiguous: ClassVar[bool] = False  # Clerk answered: it did not act
    rate_limited: ClassVar[bool] = False
    unreachable: ClassVar[bool] = False
    retry_after: ClassVar[float | None] = None

    @property
    def error_code(self) -> str:
        """Clerk's code (``http_<status>`` when the body had none)."""
        return self.code

    @property
    def text(self) -> str:
        """Clerk's longest description of the problem."""
        return self.long_message or self.message


TransientKind: TypeAlias = Literal[
    "rate_limited", "server_error", "timeout", "connection", "protocol"
]


@dataclass(frozen=True, slots=True)
class Transient:
    """The request may succeed later: 429, 5xx, a timeout, a dropped connection, a garbled reply.

    ``ambiguous`` is True when the request may have reached Clerk and been acted on (a 5xx, a
    read timeout, a connection dropped after sending, an unreadable 2xx). For a create that
    means the user may exist: look it up by ``external_id`` before sending it again. It is
    False when Clerk certainly did nothing (a 429, a connect error or connect/pool timeout).
    ``retry_after`` is the parsed ``Retry-After`` in seconds, when the response carried one.
    """

    kind: TransientKind
    status: int | None = None
    retry_after: float | None = None
    code: str | None = None
    ambiguous: bool = True
    trace_id: str | None = None

    param: ClassVar[str | None] = None  # no parameter is at fault

    @property
    def rate_limited(self) -> bool:
        """A 429: every caller pauses for ``retry_after``."""
        return self.kind == "rate_limited"

    @property
    def unreachable(self) -> bool:
        """No connection to Clerk at all (refused, connect timeout): an outage, not the row."""
        return self.kind in ("connection", "timeout") and not self.ambiguous

    @property
    def error_code(self) -> str:
        """Clerk's code when it sent one, else the kind (``timeout``, ``server_error``...)."""
        return self.code or self.kind

    @property
    def text(self) -> str:
        """What went wrong, in words."""
        return _TRANSIENT_TEXT[self.kind].format(status=self.status)


_TRANSIENT_TEXT: dict[str, str] = {
    "rate_limited": "rate limited by Clerk (429)",
    "server_error": "Clerk answered HTTP {status}",
    "timeout": "no answer from Clerk before the timeout",
    "connection": "the connection to Clerk failed or was dropped",
    "protocol": "Clerk's answer could not be read",
}


@dataclass(frozen=True, slots=True)
class Created:
    """``POST /users`` succeeded."""

    user: ClerkUser

    @property
    def user_id(self) -> str:
        """The new Clerk user id."""
        return self.user.id

    @property
    def external_id(self) -> str | None:
        """The external id Clerk echoed back."""
        return self.user.external_id


@dataclass(frozen=True, slots=True)
class Users:
    """``GET /users`` answered: the users matching the filters (values not found are absent)."""

    users: tuple[ClerkUser, ...]

    def by_external_id(self) -> dict[str, ClerkUser]:
        """Index the users by external id (users without one are skipped)."""
        return {u.external_id: u for u in self.users if u.external_id is not None}


@dataclass(frozen=True, slots=True)
class Counted:
    """``GET /users/count`` answered."""

    total: int


@dataclass(frozen=True, slots=True)
class Fetched:
    """``GET /users/{id}`` found the user (a missing one is ``Rejected(404, ...)``)."""

    user: ClerkUser


@dataclass(frozen=True, slots=True)
class Deleted:
    """``DELETE /users/{id}`` deleted the user."""

    user_id: str


@dataclass(frozen=True, slots=True)
class PasswordChecked:
    """``POST /users/{id}/verify_password`` answered: 200 → verified, 422 → not verified.

    ``code`` is Clerk's error code when the password was refused.
    """

    verified: bool
    code: str | None = None


@dataclass(frozen=True, slots=True)
class ClerkOrganization:
    """The parts of a Clerk ``Organization`` the tool uses.

    ``private_metadata`` holds the legacy key a migration stores; it is customer data, so the
    ``repr`` leaves it out. ``members_count`` is None unless the call asked for it.
    """

    id: str
    slug: str | None = None
    name: str = ""
    max_allowed_memberships: int | None = None
    created_at: int | None = None
    members_count: int | None = None
    private_metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)
    updated_at: int | None = None  # when Clerk last changed it (epoch ms)

    def untouched_since_before(self, moment: float) -> bool:
        """As ``ClerkUser.untouched_since_before``: Clerk last changed it well before
        ``moment`` (epoch seconds), so a request sent then did not create it."""
        return self.updated_at is not None and self.updated_at / 1000 < moment - SKEW_S

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClerkOrganization:
        """Reduce a BAPI ``Organization`` object; ``ValueError`` etc. when it is not one."""
        org_id = data["id"]
        if not isinstance(org_id, str) or not org_id:
            raise ValueError("organization object without an id")
        private = data.get("private_metadata")
        return cls(
            id=org_id,
            slug=_text(data.get("slug")),
            name=_text(data.get("name")) or "",
            max_allowed_memberships=_count(data.get("max_allowed_memberships")),
            created_at=_count(data.get("created_at")),
            members_count=_count(data.get("members_count")),
            private_metadata=private if isinstance(private, dict) else {},
            updated_at=_count(data.get("updated_at")),
        )


@dataclass(frozen=True, slots=True)
class ClerkMembership:
    """A user's membership in an organization, with its role."""

    id: str
    organization_id: str
    user_id: str
    role: str
    updated_at: int | None = None  # when Clerk last changed it (epoch ms)

    def untouched_since_before(self, moment: float) -> bool:
        """As ``ClerkUser.untouched_since_before``, for a membership."""
        return self.updated_at is not None and self.updated_at / 1000 < moment - SKEW_S

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClerkMembership:
        """Reduce a BAPI ``OrganizationMembership``; ``ValueError`` etc. when it is not one."""
        org = data["organization"]
        user = data["public_user_data"]
        values = (data["id"], org["id"], user["user_id"], data["role"])
        if not all(isinstance(v, str) and v for v in values):
            raise ValueError("membership object without its ids or role")
        return cls(*values, updated_at=_count(data.get("updated_at")))


@dataclass(frozen=True, slots=True)
class ClerkRole:
    """One of the instance's organization roles (``key`` such as ``org:admin``)."""

    key: str
    name: str = ""
    id: str = ""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class Organization:
    """An organization call succeeded: created, or found by id or slug."""

    organization: ClerkOrganization


@dataclass(frozen=True, slots=True)
class Organizations:
    """A page of ``GET /organizations``; ``total`` counts every match."""

    organizations: tuple[ClerkOrganization, ...]
    total: int


@dataclass(frozen=True, slots=True)
class Membership:
    """A membership call succeeded: created, or deleted (the membership that was removed)."""

    membership: ClerkMembership


@dataclass(frozen=True, slots=True)
class Memberships:
    """A page of an organization's memberships; ``total`` counts every match."""

    memberships: tuple[ClerkMembership, ...]
    total: int


@dataclass(frozen=True, slots=True)
class OrganizationRoles:
    """A page of the instance's organization roles; ``total`` counts them all."""

    roles: tuple[ClerkRole, ...]
    total: int

    @property
    def keys(self) -> frozenset[str]:
        """The role keys on this page."""
        return frozenset(role.key for role in self.roles)


@dataclass(frozen=True, slots=True)
class OrganizationDeleted:
    """``DELETE /organizations/{id}`` deleted it (and its memberships)."""

    organization_id: str


CreateOutcome: TypeAlias = Created | Rejected | Transient
ListOutcome: TypeAlias = Users | Rejected | Transient
CountOutcome: TypeAlias = Counted | Rejected | Transient
GetOutcome: TypeAlias = Fetched | Rejected | Transient
DeleteOutcome: TypeAlias = Deleted | Rejected | Transient
VerifyOutcome: TypeAlias = PasswordChecked | Rejected | Transient
