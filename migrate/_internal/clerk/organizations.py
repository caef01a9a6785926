"""The organization calls: organizations, their memberships, and the instance's roles.

Functions over a ``ClerkClient`` (its one ``httpx.AsyncClient`` and its outcome rules), like
``clerk.updates``: each sends one request and returns a success outcome, ``Rejected`` or
``Transient``, never raising for a status or a transport failure. They do not pace: the
caller's limiter counts each call, as it does a user create (``runner.calls.paced`` /
``until_answered``).

- ``create_organization``: ``POST /organizations`` with the body as given (``name``, ``slug``,
  ``created_by``, metadata, ``max_allowed_memberships``, ``created_at``);
- ``get_organization``: ``GET /organizations/{id or slug}`` (how a lost create is found);
- ``list_organizations``, ``delete_organization``;
- ``create_membership``, ``list_memberships`` (paged), ``delete_membership``;
- ``list_organization_roles``: ``GET /organization_roles`` (paged);
- ``get_organization_settings``: ``GET /instance/organization_settings`` (the instance's
  organization switches, as a JSON object).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

import httpx

from migrate._internal.clerk.client import (
    MAX_FILTER_VALUES,
    MAX_LIST_LIMIT,
    ClerkClient,
    _failure,
    _garbled,
    _json,
    _segment,
)
from migrate._internal.clerk.outcomes import (
    ClerkMembership,
    ClerkOrganization,
    ClerkRole,
    Membership,
    Memberships,
    Organization,
    OrganizationDeleted,
    OrganizationRoles,
    Organizations,
    Rejected,
    Transient,
)

__all__ = [
    "MembershipOutcome",
    "MembershipsOutcome",
    "OrganizationDeleteOutcome",
    "OrganizationOutcome",
    "OrganizationsOutcome",
    "RolesOutcome",
    "SettingsOutcome",
    "create_membership",
    "create_organization",
    "delete_membership",
    "delete_organization",
    "get_organization",
    "get_organization_settings",
    "list_memberships",
    "list_organization_roles",
    "list_organizations",
]

OrganizationOutcome: TypeAlias = Organization | Rejected | Transient
OrganizationsOutcome: TypeAlias = Organizations | Rejected | Transient
OrganizationDeleteOutcome: TypeAlias = OrganizationDeleted | Rejected | Transient
MembershipOutcome: TypeAlias = Membership | Rejected | Transient
MembershipsOutcome: TypeAlias = Memberships | Rejected | Transient
RolesOutcome: TypeAlias = OrganizationRoles | Rejected | Transient
SettingsOutcome: TypeAlias = dict[str, Any] | Rejected | Transient

T = TypeVar("T")
Params = list[tuple[str, str | int | float | bool | None]]


async def _call(
    client: ClerkClient,
    method: str,
    path: str,
    read: Callable[[Any], T],
    *,
    body: Mapping[str, Any] | None = None,
    params: Params | None = None,
) -> T | Rejected | Transient:
    """Send one request; a 2xx body goes through ``read`` (unreadable: ``Transient``)."""
    response = await client._send(method, path, body=body, params=params)
    if not isinstance(response, httpx.Response):
        return response
    if not response.is_success:
        return _failure(response)
    try:
        return read(_json(response))
    except (KeyError, TypeError, ValueError, AttributeError):
        return _garbled(response)


def _organization(data: Any) -> Organization:
    return Organization(ClerkOrganization.from_json(data))


def _membership(data: Any) -> Membership:
    return Membership(ClerkMembership.from_json(data))


def _page(data: Any) -> tuple[list[Any], int]:
    items, total = data["data"], data["total_count"]
    if not isinstance(items, list) or not isinstance(total, int) or isinstance(total, bool):
        raise ValueError("not a paged list")
    return items, total


def _paging(limit: int, offset: int) -> Params:
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ValueError(f"limit must be 1..{MAX_LIST_LIMIT}")
    if offset < 0:
        raise ValueError("offset must be >= 0")
    return [("limit", limit), ("offset", offset)]


def _repeated(name: str, values: Sequence[str], prefix: str = "") -> Params:
    if isinstance(values, str):
        raise TypeError(f"{name} must be a sequence of strings, not a string")
    if len(values) > MAX_FILTER_VALUES:
        raise ValueError(
            f"{name}: {len(values)} values; Clerk takes at most {MAX_FILTER_VALUES} per call"
        )
    return [(name, prefix + value) for value in values]


async def create_organization(client: ClerkClient, body: Mapping[str, Any]) -> OrganizationOutcome:
    """``POST /organizations`` with ``body`` exactly as given.

    A taken slug is ``Rejected`` ``form_identifier_exists`` on ``slug``: look the slug up
    (``get_organization``) to tell an earlier attempt of ours from a stranger's organization.
    """
    return await _call(client, "POST", "/organizations", _organization, body=body)


async def get_organization(client: ClerkClient, id_or_slug: str) -> OrganizationOutcome:
    """``GET /organizations/{id or slug}``; a missing one is ``Rejected(404, ...)``."""
    return await _call(client, "GET", f"/organizations/{_segment(id_or_slug)}", _organization)


async def list_organizations(
    client: ClerkClient,
    *,
    query: str | None = None,
    organization_id: Sequence[str] = (),
    user_id: Sequence[str] = (),
    include_members_count: bool = False,
    limit: int = MAX_LIST_LIMIT,
    offset: int = 0,
) -> OrganizationsOutcome:
    """``GET /organizations``: newest first, filtered; ``Organizations(page, total)``.

    Ids are sent ``+`` prefixed (include). Raises ``ValueError`` for more than 100 values of a
    filter or a bad ``limit`` / ``offset``.
    """
    params = _repeated("organization_id", organization_id, "+")
    params += _repeated("user_id", user_id, "+")
    if query:
        params.append(("query", query))
    if include_members_count:
        params.append(("include_members_count", "true"))
    params += _paging(limit, offset)

    def read(data: Any) -> Organizations:
        items, total = _page(data)
        return Organizations(tuple(ClerkOrganization.from_json(i) for i in items), total)

    return await _call(client, "GET", "/organizations", read, params=params)


async def delete_organization(
    client: ClerkClient, organization_id: str
) -> OrganizationDeleteOutcome:
    """``DELETE /organizations/{id}`` (its memberships go too); missing: ``Rejected(404, ...)``."""
    return await _call(
        client,
        "DELETE",
        f"/organizations/{_segment(organization_id)}",
        lambda _: OrganizationDeleted(organization_id),
    )


async def create_membership(
    client: ClerkClient,
    organization_id: str,
    user_id: str,
    role: str,
    *,
    public_metadata: Mapping[str, Any] | None = None,
    private_metadata: Mapping[str, Any] | None = None,
) -> MembershipOutcome:
    """``POST /organizations/{id}/memberships``: ``user_id`` joins with ``role``.

    A user who is a member already is ``Rejected`` ``already_a_member_in_organization``; the
    organization's limit is ``organization_membership_quota_exceeded``.
    """
    body: dict[str, Any] = {"user_id": user_id, "role": role}
    if public_metadata:
        body["public_metadata"] = dict(public_metadata)
    if private_metadata:
        body["private_metadata"] = dict(private_metadata)
    path = f"/organizations/{_segment(organization_id)}/memberships"
    return await _call(client, "POST", path, _membership, body=body)


async def list_memberships(
    client: ClerkClient,
    organization_id: str,
    *,
    user_id: Sequence[str] = (),
    role: Sequence[str] = (),
    limit: int = MAX_LIST_LIMIT,
    offset: int = 0,
) -> MembershipsOutcome:
    """One page of an organization's memberships (``Memberships(page, total)``).

    Page with ``offset`` until ``offset + len(page) >= total``. Raises ``ValueError`` for more
    than 100 values of a filter or a bad ``limit`` / ``offset``.
    """
    params = _repeated("user_id", user_id, "+") + _repeated("role", role)
    params += _paging(limit, offset)

    def read(data: Any) -> Memberships:
        items, total = _page(data)
        return Memberships(tuple(ClerkMembership.from_json(i) for i in items), total)

    path = f"/organizations/{_segment(organization_id)}/memberships"
    return await _call(client, "GET", path, read, params=params)


async def delete_membership(
    client: ClerkClient, organization_id: str, user_id: str
) -> MembershipOutcome:
    """``DELETE /organizations/{id}/memberships/{user_id}``: the removed ``Membership``."""
    path = f"/organizations/{_segment(organization_id)}/memberships/{_segment(user_id)}"
    return await _call(client, "DELETE", path, _membership)


async def list_organization_roles(
    client: ClerkClient, *, limit: int = MAX_LIST_LIMIT, offset: int = 0
) -> RolesOutcome:
    """One page of the instance's organization roles (``OrganizationRoles(page, total)``).

    With organizations off Clerk refuses it: ``Rejected`` ``organization_not_enabled_in_instance``.
    """

    def read(data: Any) -> OrganizationRoles:
        items, total = _page(data)
        roles = []
        for item in items:
            key = item["key"]
            if not isinstance(key, str) or not key:
                raise ValueError("role without a key")
            roles.append(ClerkRole(key, str(item.get("name") or ""), str(item.get("id") or "")))
        return OrganizationRoles(tuple(roles), total)

    return await _call(client, "GET", "/organization_roles", read, params=_paging(limit, offset))


async def get_organization_settings(client: ClerkClient) -> SettingsOutcome:
    """The instance's ``OrganizationSettings`` object (``enabled``, ``max_allowed_memberships``,
    ``slug_disabled``, ...), with the secret key alone."""

    def read(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict) or not isinstance(data.get("enabled"), bool):
            raise ValueError("not organization settings")
        return data

    return await _call(client, "GET", "/instance/organization_settings", read)
