"""Clerk's JSON for organizations, memberships and roles, and the paging of their lists.

Shapes per SPEC ``components.schemas``: ``Organization``, ``OrganizationMembership`` (with the
organization and ``public_user_data``), ``Role``; lists are ``{"data": [...], "total_count"}``.
Timestamps are epoch milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from migrate.sandbox.orgstore import MemberRecord, OrgRecord
from migrate.sandbox.problems import Problem, form_problem
from migrate.sandbox.store import BANNED, UserStore

if TYPE_CHECKING:
    from migrate.sandbox.config import SandboxConfig

__all__ = [
    "Paging",
    "parse_paging",
    "render_membership",
    "render_org",
    "render_org_settings",
    "render_role",
    "role_name",
]

_LOGO_URL: Final = "https://img.clerk.com/sandbox-default-logo"
_IMAGE_URL: Final = "https://img.clerk.com/sandbox-default-avatar"
_MAX_LIMIT: Final = 500
_DEFAULT_NAMES: Final = {"org:admin": "Admin", "org:member": "Member"}


@dataclass(frozen=True)
class Paging:
    """``limit`` / ``offset`` and the order a list asks for."""

    limit: int = 10
    offset: int = 0
    order_field: str = "created_at"
    descending: bool = True


def parse_paging(pairs: Sequence[tuple[str, str]], orders: Sequence[str]) -> Paging | Problem:
    """Read ``limit`` (1-500, default 10), ``offset`` and ``order_by`` (one of ``orders``,
    ``+``/``-`` prefixed; default ``-created_at``) from a query string."""
    first: dict[str, str] = {}
    for key, value in pairs:
        first.setdefault(key, value)
    limit, offset = 10, 0
    for name in ("limit", "offset"):
        if name not in first:
            continue
        text = first[name]
        number = int(text) if text.isascii() and text.isdigit() else None
        if name == "limit" and (number is None or not 1 <= number <= _MAX_LIMIT):
            return _invalid("limit", f"limit must be between 1 and {_MAX_LIMIT}.")
        if number is None:
            return _invalid("offset", "offset must be greater or equal to zero.")
        if name == "limit":
            limit = number
        else:
            offset = number
    order = first.get("order_by") or "-created_at"
    name = order[1:] if order[0] in "+-" else order
    if name not in orders:
        return _invalid(
            "order_by",
            f"{order} does not match the allowed values for parameter order_by. "
            f"Allowed values: {', '.join(orders)}",
        )
    return Paging(limit, offset, name, order[0] == "-")


def _invalid(param: str, text: str) -> Problem:
    return form_problem("form_param_value_invalid", param, text)


def _metadata(text: str | None) -> dict[str, Any]:
    return json.loads(text) if text else {}


def render_org(store: UserStore, rec: OrgRecord, *, members_count: bool = False) -> dict[str, Any]:
    """The ``Organization`` object for ``rec`` (``members_count`` when asked for)."""
    body: dict[str, Any] = {
        "object": "organization",
        "id": store.orgs.org_id(rec.seq),
        "name": rec.name,
        "slug": rec.slug,
        "image_url": _LOGO_URL,
        "has_image": False,
        "max_allowed_memberships": rec.max_memberships,
        "admin_delete_enabled": True,
        "public_metadata": _metadata(rec.public_metadata),
        "private_metadata": _metadata(rec.private_metadata),
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
        "role_set_key": None,
    }
    if rec.created_by is not None:
        body["created_by"] = rec.created_by
    if members_count:
        body["members_count"] = len(rec.members)
        body["pending_invitations_count"] = 0
    return body


def render_membership(store: UserStore, org: OrgRecord, member: MemberRecord) -> dict[str, Any]:
    """The ``OrganizationMembership`` object: the role, the organization, the user's public data."""
    user = store.get(member.user_seq)
    public: dict[str, Any] = {
        "user_id": store.user_id(member.user_seq),
        "first_name": None,
        "last_name": None,
        "profile_image_url": _IMAGE_URL,
        "image_url": _IMAGE_URL,
        "has_image": False,
        "identifier": None,
        "username": None,
        "banned": False,
    }
    if user is not None:
        identifier = next(iter((*user.emails, *user.phones, *user.wallets)), user.username)
        public.update(
            first_name=user.first_name,
            last_name=user.last_name,
            identifier=identifier,
            username=user.username,
            banned=bool(user.flags & BANNED),
        )
    return {
        "object": "organization_membership",
        "id": store.orgs.membership_id(member.seq),
        "role": member.role,
        "role_name": role_name(member.role),
        "permissions": [],
        "public_metadata": _metadata(member.public_metadata),
        "private_metadata": _metadata(member.private_metadata),
        "organization": render_org(store, org),
        "public_user_data": public,
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    }


def role_name(key: str) -> str:
    """A role's display name: ``Admin`` / ``Member`` for the defaults, else from its key."""
    return _DEFAULT_NAMES.get(key) or key.removeprefix("org:").replace("_", " ").capitalize()


def render_role(store: UserStore, index: int, key: str, creator: bool) -> dict[str, Any]:
    """The ``Role`` object of the instance's ``index``-th role (no permissions modelled)."""
    return {
        "object": "role",
        "id": store.orgs.role_id(index),
        "name": role_name(key),
        "key": key,
        "description": None,
        "is_creator_eligible": creator,
        "permissions": [],
        "created_at": 0,
        "updated_at": 0,
    }


def render_org_settings(config: SandboxConfig) -> dict[str, Any]:
    """The instance's ``OrganizationSettings`` (``GET /v1/instance/organization_settings``):
    the required fields of the schema, from the sandbox's organization switches."""
    return {
        "object": "organization_settings",
        "enabled": config.organizations_enabled,
        "max_allowed_memberships": config.org_max_memberships,
        # UNVERIFIED: an instance's role and domain limits; nothing here reads them
        "max_allowed_roles": 10,
        "max_allowed_domains": 10,
        "creator_role": config.org_roles[0],
        "admin_delete_enabled": True,
        "domains_enabled": False,
        "domains_enrollment_modes": [],
        "domains_default_role": config.org_roles[-1],
        "slug_disabled": config.org_slugs_disabled,
    }
