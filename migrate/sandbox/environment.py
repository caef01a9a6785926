"""The Frontend API's ``GET /v1/environment`` for a sandbox, and a sandbox built from one.

``render_environment(config)`` answers in the shape of Clerk's Frontend API (field names from
clerk-js ``UserSettingsJSON`` and clerk-ios/clerk-android ``Environment.UserSettings``; see
docs/instance-settings.md): ``user_settings`` (``attributes``, ``social``, ``restrictions``,
``username_settings``, ``password_settings``), ``organization_settings`` and
``display_config.instance_environment_type``. ``config_from_environment(data)`` reads such a
document (``check --save-settings`` writes one) back into a ``SandboxConfig`` that enforces the
same settings (organization roles are not in it: the Backend API lists them).
``publishable_key(host, instance)`` is the key that points at ``host``.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any, Final

from migrate.errors import ConfigError
from migrate.sandbox.config import REQUIRABLE, SandboxConfig

__all__ = ["ATTRIBUTES", "config_from_environment", "publishable_key", "render_environment"]

ATTRIBUTES: Final = (
    "email_address",
    "phone_number",
    "username",
    "web3_wallet",
    "first_name",
    "last_name",
    "password",
    "authenticator_app",
    "backup_code",
    "passkey",
)
_FIRST_FACTORS: Final = {"email_address", "phone_number", "username", "web3_wallet", "password"}
_SECOND_FACTORS: Final = {"authenticator_app", "backup_code"}


def publishable_key(host: str, instance: str) -> str:
    """``pk_test_``/``pk_live_`` + base64 of ``<host>$``: the key whose Frontend API is ``host``."""
    prefix = "pk_live_" if instance == "production" else "pk_test_"
    return prefix + base64.b64encode(f"{host}$".encode()).decode()


def _enabled(config: SandboxConfig, name: str) -> bool:
    if name == "authenticator_app":
        return config.totp_enabled
    if name == "backup_code":
        return config.backup_codes_enabled
    if name == "passkey":
        return False
    return config.enabled(name)


def _attribute(config: SandboxConfig, name: str) -> dict[str, Any]:
    enabled = _enabled(config, name)
    return {
        "enabled": enabled,
        "required": name in config.required,
        "used_for_first_factor": enabled and name in _FIRST_FACTORS,
        "first_factors": [],
        "used_for_second_factor": enabled and name in _SECOND_FACTORS,
        "second_factors": [],
        "verifications": [],
        "verify_at_sign_up": False,
    }


def render_environment(config: SandboxConfig) -> dict[str, Any]:
    """The ``/v1/environment`` document for ``config`` (no key, nothing secret)."""
    return {
        "object": "environment",
        "display_config": {"instance_environment_type": config.instance},
        "user_settings": {
            "attributes": {name: _attribute(config, name) for name in ATTRIBUTES},
            "social": {
                strategy: {
                    "enabled": True,
                    "required": False,
                    "authenticatable": True,
                    "strategy": strategy,
                }
                for strategy in sorted(config.social)
            },
            "restrictions": {
                "allowlist": {"enabled": bool(config.allowlist)},
                "blocklist": {"enabled": bool(config.blocklist)},
                "block_email_subaddresses": {"enabled": config.block_email_subaddresses},
            },
            "username_settings": {
                "min_length": config.username_min_length,
                "max_length": config.username_max_length,
            },
            "password_settings": {"min_length": config.password_min_length, "max_length": 0},
        },
        "organization_settings": {
            "enabled": config.organizations_enabled,
            "max_allowed_memberships": config.org_max_memberships,
            "force_organization_selection": False,
            "actions": {"admin_delete": True},
            "domains": {"enabled": False, "enrollment_modes": [], "default_role": None},
            "slug": {"disabled": config.org_slugs_disabled},
            "organization_creation_defaults": {"enabled": False},
        },
    }


def config_from_environment(
    data: Mapping[str, Any], base: SandboxConfig | None = None, *, where: str = "settings"
) -> SandboxConfig:
    """A ``SandboxConfig`` enforcing the settings of an environment document.

    Fields the document lacks keep ``base``'s values. Raises ``ConfigError`` naming ``where``
    when the document is not an environment (no ``user_settings.attributes`` object).
    """
    base = base or SandboxConfig()
    user = data.get("user_settings") if isinstance(data, Mapping) else None
    attributes = user.get("attributes") if isinstance(user, Mapping) else None
    if not isinstance(user, Mapping) or not isinstance(attributes, Mapping):
        raise ConfigError(f"{where}: not a Clerk environment (no user_settings.attributes)")

    def flag(name: str, key: str, default: bool) -> bool:
        item = attributes.get(name)
        value = item.get(key) if isinstance(item, Mapping) else None
        return value if isinstance(value, bool) else default

    restrictions = user.get("restrictions")
    restrictions = restrictions if isinstance(restrictions, Mapping) else {}

    def restricted(name: str) -> bool:
        item = restrictions.get(name)
        return bool(item.get("enabled")) if isinstance(item, Mapping) else False

    social = user.get("social")
    social = social if isinstance(social, Mapping) else {}
    usernames = user.get("username_settings")
    usernames = usernames if isinstance(usernames, Mapping) else {}
    passwords = user.get("password_settings")
    passwords = passwords if isinstance(passwords, Mapping) else {}
    orgs = data.get("organization_settings")
    orgs = orgs if isinstance(orgs, Mapping) else {}
    slug = orgs.get("slug")
    display = data.get("display_config")
    kind = display.get("instance_environment_type") if isinstance(display, Mapping) else None
    changes: dict[str, Any] = {
        "required": frozenset(
            n for n in REQUIRABLE if flag(n, "enabled", False) and flag(n, "required", False)
        ),
        "email_enabled": flag("email_address", "enabled", base.email_enabled),
        "phone_enabled": flag("phone_number", "enabled", base.phone_enabled),
        "username_enabled": flag("username", "enabled", base.username_enabled),
        "web3_enabled": flag("web3_wallet", "enabled", base.web3_enabled),
        "password_enabled": flag("password", "enabled", base.password_enabled),
        "totp_enabled": flag("authenticator_app", "enabled", base.totp_enabled),
        "backup_codes_enabled": flag("backup_code", "enabled", base.backup_codes_enabled),
        "social": frozenset(
            str(name)
            for name, item in social.items()
            if isinstance(item, Mapping) and item.get("enabled") is True
        ),
        "block_email_subaddresses": restricted("block_email_subaddresses"),
    }
    if orgs:  # a document without organization settings keeps base's
        changes["organizations_enabled"] = orgs.get("enabled") is True
        changes["org_slugs_disabled"] = isinstance(slug, Mapping) and slug.get("disabled") is True
    limit = orgs.get("max_allowed_memberships")
    if isinstance(limit, int) and not isinstance(limit, bool) and limit >= 0:
        changes["org_max_memberships"] = limit
    # The Frontend API says whether the lists are on, not what they hold: keep base's entries.
    if not restricted("allowlist"):
        changes["allowlist"] = frozenset()
    if not restricted("blocklist"):
        changes["blocklist"] = frozenset()
    for key, source, field in (
        ("min_length", usernames, "username_min_length"),
        ("max_length", usernames, "username_max_length"),
        ("min_length", passwords, "password_min_length"),
    ):
        value = source.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            changes[field] = value
    if kind in ("development", "production"):
        changes["instance"] = kind
    return dataclasses.replace(base, **changes)
