"""What check learns about organizations: settings, roles, and the findings they give."""

from __future__ import annotations

import asyncio

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import Rejected
from migrate._internal.instance.organizations import (
    DISABLED_CODE,
    OrganizationSettings,
    fetch_instance_settings,
    fetch_roles,
    organization_findings,
)
from migrate._internal.instance.settings import InstanceSettings
from migrate._internal.runner.pacing import Pacer
from migrate._internal.secrets import Secret
from migrate.sandbox.config import SandboxConfig
from migrate.sandbox.environment import render_environment
from migrate.sandbox.inprocess import in_process_sandbox

ROLES = frozenset({"org:admin", "org:member"})


def roles_of(config: SandboxConfig) -> frozenset[str] | Rejected:
    """fetch_roles against an in-process sandbox with ``config``."""
    sb = in_process_sandbox(config)

    async def main() -> frozenset[str] | Rejected:
        async with ClerkClient(sb.url, Secret(sb.secret_key), transport=sb.transport) as clerk:
            return await fetch_roles(clerk, Pacer(1000.0))

    return asyncio.run(main())


def codes(settings: OrganizationSettings, roles: set[str], **kwargs: object) -> list[str]:
    return [f.code for f in organization_findings(settings, roles, **kwargs)]  # type: ignore[arg-type]


def test_settings_come_from_the_environment() -> None:
    """enabled, the default membership limit and slugs-off are read from the environment."""
    doc = render_environment(
        SandboxConfig(organizations_enabled=True, org_max_memberships=25, org_slugs_disabled=True)
    )
    assert OrganizationSettings.from_environment(doc) == OrganizationSettings(
        enabled=True, max_memberships=25, slugs_disabled=True
    )
    assert OrganizationSettings.from_environment({"user_settings": {}}) == OrganizationSettings()
    kept = InstanceSettings.from_environment(doc).document  # what --save-settings writes
    assert OrganizationSettings.from_environment(kept).max_memberships == 25


def test_roles_are_read_in_pages_from_the_instance() -> None:
    """fetch_roles pages through every role key the instance has."""
    assert roles_of(SandboxConfig.for_tests()) == ROLES
    many = tuple(f"org:r{i}" for i in range(503))
    assert roles_of(SandboxConfig.for_tests(org_roles=many)) == frozenset(many)


def test_organizations_off_learnt_from_the_backend_api() -> None:
    """The roles list refused for organizations being off turns them off in the settings."""
    refused = roles_of(SandboxConfig.for_tests(organizations_enabled=False))
    assert isinstance(refused, Rejected)
    assert refused.code == DISABLED_CODE
    settings = OrganizationSettings(enabled=None).with_roles(refused)
    assert settings.enabled is False
    assert codes(settings, {"org:admin"}) == ["organizations_disabled"]
    other = Rejected(status=403, code="authorization_invalid")
    assert OrganizationSettings(enabled=True).with_roles(other).roles is None


def test_a_missing_target_role_blocks_and_names_it() -> None:
    """A role the mapping targets but the instance lacks blocks the run, named with the others."""
    settings = OrganizationSettings(enabled=True).with_roles(ROLES)
    (finding,) = organization_findings(settings, ["org:member", "org:owner", "org:owner"])
    assert (finding.code, finding.level) == ("organization_role_missing", "block")
    assert "org:owner" in finding.message
    assert finding.details == {"missing": ["org:owner"], "available": sorted(ROLES)}
    assert codes(settings, {"org:admin", "org:member"}) == []


def test_unknown_roles_slugs_off_and_a_full_organization() -> None:
    """Unread roles inform, slugs off blocks when slugs are used, a big organization warns."""
    unknown = OrganizationSettings(enabled=True)
    assert codes(unknown, {"org:admin"}) == ["organization_roles_unknown"]
    slugless = OrganizationSettings(enabled=True, roles=ROLES, slugs_disabled=True)
    assert codes(slugless, {"org:admin"}) == ["organization_slugs_disabled"]
    assert codes(slugless, {"org:admin"}, slugs=False) == []
    capped = OrganizationSettings(enabled=True, roles=ROLES, max_memberships=5)
    assert codes(capped, {"org:admin"}, largest=5) == []
    (warn,) = organization_findings(capped, {"org:admin"}, largest=6)
    assert (warn.code, warn.level, warn.details) == (
        "organization_membership_limit", "warn", {"largest": 6, "limit": 5},
    )  # fmt: skip


def instance_settings_of(config: SandboxConfig) -> dict[str, object] | Rejected:
    """fetch_instance_settings against an in-process sandbox with ``config``."""
    sb = in_process_sandbox(config)

    async def main() -> dict[str, object] | Rejected:
        async with ClerkClient(sb.url, Secret(sb.secret_key), transport=sb.transport) as clerk:
            return await fetch_instance_settings(clerk, Pacer(1000.0))

    return asyncio.run(main())


def test_the_secret_key_alone_reads_the_organization_switches() -> None:
    """GET /v1/instance/organization_settings gives enabled, the default limit and slugs off,
    organizations on or not, and its answer wins over the Frontend API's view."""
    config = SandboxConfig.for_tests(org_slugs_disabled=True, org_max_memberships=7)
    data = instance_settings_of(config)
    assert not isinstance(data, Rejected)
    assert (data["object"], data["enabled"], data["slug_disabled"]) == (
        "organization_settings", True, True,
    )  # fmt: skip
    assert OrganizationSettings().with_instance(data) == OrganizationSettings(
        enabled=True, max_memberships=7, slugs_disabled=True
    )
    off = instance_settings_of(SandboxConfig.for_tests(organizations_enabled=False))
    assert not isinstance(off, Rejected)
    assert OrganizationSettings(enabled=True).with_instance(off).enabled is False
    refused = Rejected(status=402, code="payment_required")
    assert OrganizationSettings(enabled=True).with_instance(refused).enabled is True
