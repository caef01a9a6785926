"""Instance settings, in-process: user cap, required fields, disabled phones and usernames."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sandbox_helpers import ERRORS_SCHEMA

from migrate.errors import ConfigError
from migrate.sandbox import InProcessSandbox, SandboxConfig

pytestmark = pytest.mark.anyio

Make = Callable[..., InProcessSandbox]


async def post(sandbox: InProcessSandbox, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with sandbox.client() as client:
        response = await client.post("/v1/users", json=body)
    payload = response.json()
    if response.status_code != 200:
        ERRORS_SCHEMA.validate(payload)
    return response.status_code, payload


def first_error(payload: dict[str, Any]) -> tuple[str, str | None]:
    error = payload["errors"][0]
    return error["code"], error["meta"].get("param_name")


async def test_development_cap_is_403_user_quota_exceeded(make_sandbox_asgi: Make) -> None:
    """A development instance refuses the user past its cap with 403 user_quota_exceeded."""
    sandbox = make_sandbox_asgi(SandboxConfig.for_tests(user_cap=3))
    for i in range(3):
        assert (await post(sandbox, {"external_id": f"u{i}"}))[0] == 200
    status, payload = await post(sandbox, {"external_id": "u3"})
    assert status == 403
    assert first_error(payload)[0] == "user_quota_exceeded"
    assert "limit of 3 users" in payload["errors"][0]["long_message"]
    assert len(sandbox.store) == 3


async def test_default_development_cap_is_100(make_sandbox_asgi: Make) -> None:
    """With no cap configured a development instance holds exactly 100 users."""
    sandbox = make_sandbox_asgi(SandboxConfig(rate_limit=0, seed=1))
    async with sandbox.client() as client:
        for i in range(100):
            assert (
                await client.post("/v1/users", json={"external_id": f"u{i}"})
            ).status_code == 200
        refused = await client.post("/v1/users", json={"external_id": "u100"})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "user_quota_exceeded"


async def test_production_has_no_cap(make_sandbox_asgi: Make) -> None:
    """A production instance has no user cap by default."""
    sandbox = make_sandbox_asgi(SandboxConfig(instance="production", rate_limit=0, seed=1))
    async with sandbox.client() as client:
        for i in range(105):
            assert (
                await client.post("/v1/users", json={"external_id": f"u{i}"})
            ).status_code == 200


async def test_required_fields_are_form_data_missing(make_sandbox_asgi: Make) -> None:
    """Missing required identifiers and names give one form_data_missing naming them all."""
    config = SandboxConfig.for_tests(
        required=frozenset({"email_address", "first_name", "last_name"})
    )
    sandbox = make_sandbox_asgi(config)
    status, payload = await post(sandbox, {"first_name": "Ada"})
    assert status == 422
    assert first_error(payload) == ("form_data_missing", None)
    assert payload["errors"][0]["meta"]["param_names"] == ["email_address", "last_name"]
    assert "data doesn't match user requirements" in payload["errors"][0]["long_message"]
    ok = {"email_address": ["ada@example.com"], "first_name": "Ada", "last_name": "Lovelace"}
    assert (await post(sandbox, ok))[0] == 200


async def test_skip_user_requirement_needs_one_identifier(make_sandbox_asgi: Make) -> None:
    """skip_user_requirement waives required identifiers but still wants at least one of them."""
    config = SandboxConfig.for_tests(required=frozenset({"email_address"}))
    sandbox = make_sandbox_asgi(config)
    status, _ = await post(sandbox, {"username": "ada_l", "skip_user_requirement": True})
    assert status == 200
    status, payload = await post(sandbox, {"first_name": "X", "skip_user_requirement": True})
    assert status == 422
    assert first_error(payload)[0] == "form_param_missing"


async def test_required_password_accepts_digest_or_skip(make_sandbox_asgi: Make) -> None:
    """A required password is satisfied by a password, a digest, or skip_password_requirement."""
    sandbox = make_sandbox_asgi(SandboxConfig.for_tests(required=frozenset({"password"})))
    status, payload = await post(sandbox, {"external_id": "a"})
    assert status == 422
    assert payload["errors"][0]["meta"]["param_names"] == ["password"]
    assert (await post(sandbox, {"external_id": "b", "password": "a fine passphrase"}))[0] == 200
    digest = {"password_digest": "5f4dcc3b5aa765d61d8327deb882cf99", "password_hasher": "md5"}
    assert (await post(sandbox, {"external_id": "c", **digest}))[0] == 200
    assert (await post(sandbox, {"external_id": "d", "skip_password_requirement": True}))[0] == 200


async def test_disabled_phones_refuse_phone_number(make_sandbox_asgi: Make) -> None:
    """With phones disabled, phone_number is form_param_unknown and no user is made."""
    sandbox = make_sandbox_asgi(SandboxConfig.for_tests(phone_enabled=False))
    status, payload = await post(sandbox, {"phone_number": ["+14155550123"]})
    assert status == 422
    assert first_error(payload) == ("form_param_unknown", "phone_number")
    assert (await post(sandbox, {"phone_number": []}))[0] == 200


async def test_disabled_usernames_fall_back_to_default_rules(make_sandbox_asgi: Make) -> None:
    """With usernames disabled a username is still stored if it meets Clerk's default rules."""
    config = SandboxConfig.for_tests(username_enabled=False, username_min_length=10)
    sandbox = make_sandbox_asgi(config)
    status, payload = await post(sandbox, {"username": "ada_l"})  # 5 chars: fine by default rules
    assert status == 200
    assert payload["username"] == "ada_l"
    status, payload = await post(sandbox, {"username": "a b"})
    assert status == 422
    assert first_error(payload)[0] == "form_username_invalid_length"


async def test_custom_username_and_password_lengths(make_sandbox_asgi: Make) -> None:
    """Instance username length and password minimum settings are enforced."""
    config = SandboxConfig.for_tests(
        username_min_length=6, username_max_length=8, password_min_length=12
    )
    sandbox = make_sandbox_asgi(config)
    assert (
        first_error((await post(sandbox, {"username": "ada_l"}))[1])[0]
        == "form_username_invalid_length"
    )
    assert (await post(sandbox, {"username": "ada_lov"}))[0] == 200
    _status, payload = await post(sandbox, {"password": "elevenchars"})
    assert first_error(payload) == ("form_password_length_too_short", "password")
    assert "12 characters" in payload["errors"][0]["long_message"]


def test_contradictory_settings_are_refused() -> None:
    """Requiring a disabled identifier, unknown fields or bad limits is a ConfigError."""
    with pytest.raises(ConfigError, match="both required and disabled"):
        SandboxConfig(phone_enabled=False, required=frozenset({"phone_number"}))
    with pytest.raises(ConfigError, match="cannot require"):
        SandboxConfig(required=frozenset({"shoe_size"}))
    with pytest.raises(ConfigError, match="instance"):
        SandboxConfig(instance="staging")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="rate_window"):
        SandboxConfig(rate_window=0)
