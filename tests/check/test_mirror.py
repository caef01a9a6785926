"""The sandbox mirrors an instance: it serves /v1/environment from its settings, enforces them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from migrate._internal.instance.fapi import fetch_settings
from migrate._internal.instance.settings import (
    InstanceSettings,
    decode_publishable_key,
    frontend_api_url,
)
from migrate.errors import ConfigError
from migrate.sandbox import SandboxConfig, SandboxHandle
from migrate.sandbox.environment import (
    config_from_environment,
    publishable_key,
    render_environment,
)

HEADERS = {"Clerk-API-Version": "2025-11-10"}


def _create(handle: SandboxHandle, body: dict[str, Any]) -> httpx.Response:
    headers = {**HEADERS, "Authorization": f"Bearer {handle.secret_key}"}
    return httpx.post(f"{handle.url}/v1/users", json=body, headers=headers)


def test_publishable_key_round_trip() -> None:
    """A publishable key names its Frontend API host; loopback hosts are reached over http."""
    key = publishable_key("127.0.0.1:8123", "development")
    assert key.startswith("pk_test_")
    assert decode_publishable_key(key) == "127.0.0.1:8123"
    assert frontend_api_url(key, None) == "http://127.0.0.1:8123"
    live = publishable_key("clerk.example.com", "production")
    assert live.startswith("pk_live_")
    assert frontend_api_url(live, None) == "https://clerk.example.com"


@pytest.mark.parametrize(
    ("key", "url", "message"),
    [
        ("sk_test_abc", None, "must start with pk_test_ or pk_live_"),
        ("pk_test_%%%", None, "not base64"),
        ("pk_test_" + "aG9zdA==", None, "does not encode a Frontend API host"),
        (None, "http://clerk.example.com", "must use https://"),
        (None, "ftp://127.0.0.1", "must be an http(s) URL"),
    ],
)
def test_bad_keys_and_urls_are_usage_errors(key: str | None, url: str | None, message: str) -> None:
    """A key that is not a publishable key, or plain http to a remote host, is refused by name."""
    with pytest.raises(ConfigError, match=re.escape(message)):
        frontend_api_url(key, url)


def test_environment_mirrors_the_config() -> None:
    """Every sandbox setting appears in /v1/environment, and reads back into the same config."""
    config = SandboxConfig(
        phone_enabled=False,
        username_enabled=False,
        totp_enabled=False,
        required=frozenset({"email_address", "first_name"}),
        social=frozenset({"oauth_google"}),
        block_email_subaddresses=True,
        blocklist=frozenset({"@spam.test"}),
        username_min_length=6,
        password_min_length=12,
        instance="production",
    )
    doc = render_environment(config)
    settings = InstanceSettings.from_environment(doc)
    assert not settings.enabled("phone_number")
    assert not settings.enabled("username")
    assert not settings.enabled("authenticator_app")
    assert settings.enabled("backup_code")
    assert settings.required("email_address")
    assert settings.required("first_name")
    assert not settings.required("last_name")
    assert settings.social == {"oauth_google"}
    assert settings.block_email_subaddresses
    assert settings.blocklist
    assert not settings.allowlist
    assert (settings.username_min_length, settings.password_min_length) == (6, 12)
    assert settings.environment_type == "production"
    again = config_from_environment(settings.document, SandboxConfig(blocklist=config.blocklist))
    assert render_environment(again) == doc


def test_a_document_without_user_settings_is_refused() -> None:
    """Reading settings from something that is not an environment names the file."""
    with pytest.raises(ConfigError, match=r"s\.json: not a Clerk environment"):
        config_from_environment({"user_settings": {}}, where="s.json")
    with pytest.raises(ConfigError, match="not a Clerk environment"):
        InstanceSettings.from_environment([])


def test_settings_are_read_over_http_through_a_dev_browser(
    make_sandbox: Callable[..., SandboxHandle],
) -> None:
    """check reads a development sandbox's settings over a real socket, dev browser first."""
    handle = make_sandbox(SandboxConfig.for_tests(phone_enabled=False))
    assert httpx.get(f"{handle.url}/v1/environment").status_code == 401  # no dev browser
    url = frontend_api_url(handle.publishable_key, None)
    assert url == handle.url
    settings = anyio.run(lambda: fetch_settings(url))
    assert not settings.enabled("phone_number")
    assert settings.enabled("email_address")
    counters = handle.counters()
    assert counters["fapi_requests"] == 3
    assert counters["requests"] == 0


@pytest.mark.parametrize(
    ("config", "body", "status", "code"),
    [
        ({"totp_enabled": False}, {"totp_secret": "JBSWY3DPEHPK3PXP"}, 422, "form_param_unknown"),
        ({"backup_codes_enabled": False}, {"backup_codes": ["a1b2c3"]}, 422, "form_param_unknown"),
        ({"email_enabled": False}, {"email_address": ["a@example.com"]}, 422, "form_param_unknown"),
        ({"web3_enabled": False}, {"web3_wallet": ["0x" + "a" * 40]}, 422, "form_param_unknown"),
        (
            {"block_email_subaddresses": True},
            {"email_address": ["a+x@example.com"]},
            403,
            "not_allowed_access",
        ),
        (
            {"blocklist": frozenset({"@example.com"})},
            {"email_address": ["a@example.com"]},
            403,
            None,
        ),
        (
            {"allowlist": frozenset({"ok@example.com"})},
            {"email_address": ["a@example.com"]},
            403,
            None,
        ),
    ],
)
def test_the_sandbox_enforces_its_settings(
    make_sandbox: Callable[..., SandboxHandle],
    config: dict[str, Any],
    body: dict[str, Any],
    status: int,
    code: str | None,
) -> None:
    """A create the instance's settings forbid is refused with Clerk's status and code."""
    handle = make_sandbox(SandboxConfig.for_tests(**config))
    response = _create(handle, {"external_id": "u1", "skip_password_requirement": True, **body})
    assert response.status_code == status, response.text
    assert response.json()["errors"][0]["code"] == (code or "not_allowed_access")
    lists = {"allowlist", "blocklist", "block_email_subaddresses"} & set(config)
    other = {"email_address": ["ok@example.com"]} if lists else {"username": "allowed_user"}
    allowed = _create(handle, {"external_id": "u2", **other})
    assert allowed.status_code == (403 if "blocklist" in config else 200), allowed.text
