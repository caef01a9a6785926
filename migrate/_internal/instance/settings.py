"""A Clerk instance's user settings, as its Frontend API serves them (pure: data in, data out).

``InstanceSettings.from_environment(doc)`` reads the ``GET /v1/environment`` document; field names
are those of clerk-js ``UserSettingsJSON`` and clerk-ios/clerk-android
``Environment.UserSettings`` (docs/instance-settings.md lists them with sources).
``frontend_api_url`` turns a publishable key (``pk_test_``/``pk_live_`` + base64 of ``<host>$``)
or an explicit URL into the Frontend API's origin.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from migrate.errors import ConfigError

__all__ = [
    "ATTRIBUTES",
    "Attribute",
    "InstanceSettings",
    "decode_publishable_key",
    "frontend_api_url",
    "is_loopback",
    "saved_settings",
]

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
_KEY_PREFIXES: Final = ("pk_test_", "pk_live_")


@dataclass(frozen=True)
class Attribute:
    """One ``user_settings.attributes`` entry."""

    enabled: bool = False
    required: bool = False
    used_for_first_factor: bool = False
    used_for_second_factor: bool = False


@dataclass(frozen=True)
class InstanceSettings:
    """What an instance allows and requires, reduced to what decides a create's fate.

    ``social``: the enabled social strategies (``oauth_google`` …). ``allowlist`` /
    ``blocklist`` / ``block_email_subaddresses``: whether each restriction is on (the Frontend
    API does not list the entries). ``environment_type``: ``development`` / ``production`` when
    the document says. ``document``: the parts of the environment this was read from (for
    ``--save-settings``; nothing secret is in it).
    """

    attributes: Mapping[str, Attribute]
    social: frozenset[str] = frozenset()
    allowlist: bool = False
    blocklist: bool = False
    block_email_subaddresses: bool = False
    username_min_length: int | None = None
    username_max_length: int | None = None
    password_min_length: int | None = None
    organizations_enabled: bool = False
    environment_type: str | None = None
    document: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def attribute(self, name: str) -> Attribute:
        """The attribute's settings; one the document lacks counts as disabled."""
        return self.attributes.get(name, Attribute())

    def enabled(self, name: str) -> bool:
        """Whether the attribute is switched on."""
        return self.attribute(name).enabled

    def required(self, name: str) -> bool:
        """Whether the attribute is switched on and required."""
        attribute = self.attribute(name)
        return attribute.enabled and attribute.required

    @classmethod
    def from_environment(
        cls, data: Any, *, where: str = "the Frontend API's /v1/environment"
    ) -> InstanceSettings:
        """Read an environment document; ``ConfigError`` naming ``where`` if it is not one."""
        user = data.get("user_settings") if isinstance(data, Mapping) else None
        raw = user.get("attributes") if isinstance(user, Mapping) else None
        if not isinstance(user, Mapping) or not isinstance(raw, Mapping):
            raise ConfigError(f"{where}: not a Clerk environment (no user_settings.attributes)")
        attributes = {
            str(name): Attribute(
                enabled=item.get("enabled") is True,
                required=item.get("required") is True,
                used_for_first_factor=item.get("used_for_first_factor") is True,
                used_for_second_factor=item.get("used_for_second_factor") is True,
            )
            for name, item in raw.items()
            if isinstance(item, Mapping)
        }
        restrictions = _mapping(user.get("restrictions"))
        usernames = _mapping(user.get("username_settings"))
        passwords = _mapping(user.get("password_settings"))
        organizations = _mapping(data.get("organization_settings"))
        display = _mapping(data.get("display_config"))
        kind = display.get("instance_environment_type")
        return cls(
            attributes=attributes,
            social=frozenset(
                str(name)
                for name, item in _mapping(user.get("social")).items()
                if isinstance(item, Mapping) and item.get("enabled") is True
            ),
            allowlist=_switch(restrictions, "allowlist"),
            blocklist=_switch(restrictions, "blocklist"),
            block_email_subaddresses=_switch(restrictions, "block_email_subaddresses"),
            username_min_length=_positive(usernames.get("min_length")),
            username_max_length=_positive(usernames.get("max_length")),
            password_min_length=_positive(passwords.get("min_length")),
            organizations_enabled=organizations.get("enabled") is True,
            environment_type=kind if kind in ("development", "production") else None,
            document=saved_settings(data),
        )


def saved_settings(data: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an environment document that describe users (what ``--save-settings``
    writes): ``user_settings``, ``organization_settings`` and the instance type."""
    out: dict[str, Any] = {"object": "environment"}
    display = _mapping(data.get("display_config"))
    if "instance_environment_type" in display:
        out["display_config"] = {"instance_environment_type": display["instance_environment_type"]}
    for key in ("user_settings", "organization_settings"):
        if isinstance(data.get(key), Mapping):
            out[key] = data[key]
    return out


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _switch(restrictions: Mapping[str, Any], name: str) -> bool:
    item = restrictions.get(name)
    # clerk-js and the SDK fixtures nest {"enabled": bool}; the Backend API uses a bare bool.
    if isinstance(item, Mapping):
        return item.get("enabled") is True
    return item is True


def _positive(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def decode_publishable_key(key: str) -> str:
    """The Frontend API host a publishable key names; ``ConfigError`` if it is not one."""
    key = key.strip()
    prefix = next((p for p in _KEY_PREFIXES if key.startswith(p)), None)
    if prefix is None:
        raise ConfigError("the publishable key must start with pk_test_ or pk_live_")
    body = key[len(prefix) :]
    try:
        text = base64.b64decode(body + "=" * (-len(body) % 4), validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        raise ConfigError("the publishable key is not base64 after its prefix") from None
    if not text.endswith("$") or len(text) < 2 or any(c in text[:-1] for c in "/$ @?#"):
        raise ConfigError("the publishable key does not encode a Frontend API host")
    return text[:-1]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (no port) is this machine: ``localhost`` or a loopback address."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def frontend_api_url(publishable_key: str | None, url: str | None) -> str | None:
    """The Frontend API origin: ``url`` if given, else the publishable key's host; None without
    either. ``https://`` only, except ``http://`` to a loopback host (a local stand-in).

    Raises ``ConfigError`` naming the option at fault.
    """
    if url:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--frontend-api-url must be an http(s) URL, not {url!r}")
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ConfigError(
                "--frontend-api-url must use https:// (http:// only for 127.0.0.1 or localhost)"
            )
        return f"{parts.scheme}://{parts.netloc}"
    if not publishable_key:
        return None
    host = decode_publishable_key(publishable_key)
    hostname = urlsplit(f"//{host}").hostname or ""
    scheme = "http" if is_loopback(hostname) else "https"
    return f"{scheme}://{host}"


def is_development_key(publishable_key: str | None) -> bool | None:
    """True for ``pk_test_``, False for ``pk_live_``, None without a key."""
    if not publishable_key:
        return None
    return publishable_key.strip().startswith("pk_test_")
