"""Whether an instance can take a mapping's organizations: settings, roles, findings.

``OrganizationSettings`` is what ``check`` and ``run`` learn about organizations: from the
Frontend API's environment (``enabled``, the default membership limit, whether slugs are off),
from the Backend API's ``GET /v1/instance/organization_settings`` (the same with the secret key
alone, and it wins: ``fetch_instance_settings``) and ``GET /v1/organization_roles`` (the role
keys, ``fetch_roles``; Clerk refuses that list with ``organization_not_enabled_in_instance``
when organizations are off). ``organization_findings`` turns them and the mapping's target
role keys into findings (pure), ``tenant_findings`` does so for a run's tenant tables (the roles
its valid memberships use, its largest organization without a limit of its own). Every read is
paced like every other call.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import polars as pl

from migrate._internal.clerk.client import MAX_LIST_LIMIT, ClerkClient
from migrate._internal.clerk.organizations import (
    get_organization_settings,
    list_organization_roles,
)
from migrate._internal.clerk.outcomes import Rejected
from migrate._internal.instance.findings import Finding
from migrate._internal.runner.calls import until_answered
from migrate._internal.runner.pacing import Pacer
from migrate._internal.tenancy import PreparedTenants
from migrate.errors import RunAbortedError

__all__ = [
    "DISABLED_CODE",
    "OrganizationSettings",
    "fetch_instance_settings",
    "fetch_roles",
    "organization_findings",
    "tenant_findings",
]

DISABLED_CODE: Final = "organization_not_enabled_in_instance"
_DASH: Final = "Configure → Organizations"
_DASH_ROLES: Final = "Configure → Organizations → Roles & permissions"
_MAX_ATTEMPTS: Final = 8


@dataclass(frozen=True)
class OrganizationSettings:
    """What the instance says about organizations; None where it was not learnt.

    ``enabled``: organizations on. ``roles``: the instance's role keys. ``max_memberships``:
    the default membership limit of a new organization (0: none). ``slugs_disabled``: a create
    naming a slug is refused.
    """

    enabled: bool | None = None
    roles: frozenset[str] | None = None
    max_memberships: int | None = None
    slugs_disabled: bool = False

    @classmethod
    def from_environment(cls, data: Mapping[str, Any]) -> OrganizationSettings:
        """Read ``organization_settings`` of a Frontend API environment (absent: all unknown)."""
        orgs = data.get("organization_settings")
        if not isinstance(orgs, Mapping):
            return cls()
        limit = orgs.get("max_allowed_memberships")
        slug = orgs.get("slug")
        return cls(
            enabled=orgs.get("enabled") is True,
            max_memberships=limit
            if isinstance(limit, int) and not isinstance(limit, bool)
            else None,
            slugs_disabled=isinstance(slug, Mapping) and slug.get("disabled") is True,
        )

    def with_instance(self, data: Mapping[str, Any] | Rejected) -> OrganizationSettings:
        """These settings overridden by the Backend API's ``OrganizationSettings`` (what the
        instance says with the secret key wins over the Frontend API's view; a refusal changes
        nothing)."""
        if isinstance(data, Rejected):
            return self
        limit = data.get("max_allowed_memberships")
        return dataclasses.replace(
            self,
            enabled=data.get("enabled") is True,
            max_memberships=limit
            if isinstance(limit, int) and not isinstance(limit, bool)
            else self.max_memberships,
            slugs_disabled=data.get("slug_disabled") is True,
        )

    def with_roles(self, roles: frozenset[str] | Rejected) -> OrganizationSettings:
        """These settings plus what ``fetch_roles`` answered (a refusal for organizations
        being off means they are off)."""
        if isinstance(roles, Rejected):
            if roles.code == DISABLED_CODE:
                return dataclasses.replace(self, enabled=False)
            return self
        return dataclasses.replace(self, roles=roles, enabled=True)


async def fetch_roles(client: ClerkClient, pacer: Pacer) -> frozenset[str] | Rejected:
    """Every organization role key of the instance (paged, each page paced and retried).

    Returns Clerk's refusal (``organization_not_enabled_in_instance`` when organizations are
    off). Raises ``RunAbortedError`` for a refusal that stops everything (a bad key) and
    ``ClerkError`` when Clerk keeps failing.
    """
    keys: set[str] = set()
    offset = 0
    while True:
        try:
            outcome = await until_answered(
                pacer,
                partial(list_organization_roles, client, limit=MAX_LIST_LIMIT, offset=offset),
                doing="listing the instance's organization roles",
                attempts=_MAX_ATTEMPTS,
            )
        except RunAbortedError as exc:
            if exc.code != DISABLED_CODE:  # a bad key and the like stop check as they stop run
                raise
            return Rejected(status=403, code=DISABLED_CODE, message=str(exc))
        if isinstance(outcome, Rejected):
            return outcome
        keys |= outcome.keys
        offset += len(outcome.roles)
        if not outcome.roles or offset >= outcome.total:
            return frozenset(keys)


async def fetch_instance_settings(client: ClerkClient, pacer: Pacer) -> dict[str, Any] | Rejected:
    """The instance's organization settings (``GET /v1/instance/organization_settings``), paced
    and retried; Clerk's refusal is returned. Raises as ``fetch_roles`` does."""
    try:
        return await until_answered(
            pacer,
            partial(get_organization_settings, client),
            doing="reading the instance's organization settings",
            attempts=_MAX_ATTEMPTS,
        )
    except RunAbortedError as exc:
        if exc.code != DISABLED_CODE:
            raise
        return Rejected(status=403, code=DISABLED_CODE, message=str(exc))


def organization_findings(
    settings: OrganizationSettings,
    target_roles: Collection[str],
    *,
    slugs: bool = True,
    largest: int = 0,
) -> list[Finding]:
    """What stops or endangers migrating organizations into this instance.

    ``target_roles``: the Clerk role keys the mapping's memberships use. ``slugs``: the
    organizations are created with a slug (the exactly-once lookup needs one). ``largest``:
    the most members one organization of the input will have (0: unknown), compared with the
    instance's default limit. Blocks: organizations off, a target role the instance lacks,
    slugs off. Warns: an organization over the default limit. Informs: what was not learnt.
    """
    findings: list[Finding] = []
    if settings.enabled is False:
        findings.append(
            Finding(
                "organizations_disabled",
                "block",
                "the mapping migrates organizations but the instance has Organizations turned "
                "off; turn them on in the Clerk Dashboard before the run",
                setting="organization_settings.enabled",
                dashboard=_DASH,
            )
        )
        return findings
    wanted = sorted(set(target_roles))
    if settings.roles is None:
        findings.append(
            Finding(
                "organization_roles_unknown",
                "info",
                "the instance's organization roles were not read (no secret key, or Clerk "
                f"refused the list); the mapping needs {', '.join(wanted) or 'no role'}",
                setting="organization roles",
                dashboard=_DASH_ROLES,
            )
        )
    else:
        missing = [key for key in wanted if key not in settings.roles]
        if missing:
            findings.append(
                Finding(
                    "organization_role_missing",
                    "block",
                    f"the instance has no organization role {', '.join(missing)} "
                    f"(it has {', '.join(sorted(settings.roles)) or 'none'}); create the role "
                    "in the Clerk Dashboard or map the legacy role to an existing one",
                    setting="organization roles",
                    dashboard=_DASH_ROLES,
                    details={"missing": missing, "available": sorted(settings.roles)},
                )
            )
    if slugs and settings.slugs_disabled:
        findings.append(
            Finding(
                "organization_slugs_disabled",
                "block",
                "the instance has organization slugs turned off (Clerk's default for "
                "applications created after 2025-10-07), and each organization is created with "
                "a slug so that a lost answer can be looked up: turn them on in the Clerk "
                "Dashboard (Configure → Organizations, organization slugs) or with PATCH "
                '/v1/instance/organization_settings {"slug_disabled": false}',
                setting="organization_settings.slug.disabled",
                dashboard=_DASH,
            )
        )
    limit = settings.max_memberships
    if limit and largest > limit:
        findings.append(
            Finding(
                "organization_membership_limit",
                "warn",
                f"an organization of the input has {largest} members but the instance's default "
                f"membership limit is {limit}; set max_allowed_memberships for it, or raise the "
                "default, or the memberships past the limit fail",
                setting="organization_settings.max_allowed_memberships",
                dashboard=_DASH,
                details={"largest": largest, "limit": limit},
            )
        )
    return findings


def tenant_findings(tenants: PreparedTenants, settings: OrganizationSettings) -> list[Finding]:
    """``organization_findings`` for the valid records of a run's tenant tables (none: [])."""
    if tenants.organizations is None:
        return []
    members = tenants.membership_plan().filter("valid")
    roles = set(members["role"].drop_nulls().to_list())
    own = pl.col("max_allowed_memberships").str.strip_chars()
    defaulted = tenants.organizations.filter(own.is_null() | (own == ""))["key"].implode()
    sizes = members.filter(pl.col("organization").is_in(defaulted))["organization"].value_counts()
    largest = int(sizes["count"].max() or 0) if sizes.height else 0  # type: ignore[arg-type]
    return organization_findings(settings, roles, largest=largest)
