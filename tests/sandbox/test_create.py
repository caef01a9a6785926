"""POST /v1/users over a real socket: Clerk's validation rules, codes, params and response shape."""

from __future__ import annotations

from typing import Any

import bcrypt
import httpx
import pytest
from sandbox_helpers import REQUEST_SCHEMA, assert_errors, assert_user

BCRYPT = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(rounds=4)).decode()
OK: dict[str, Any] = {"email_address": ["ada@example.com"], "external_id": "legacy-1"}


def create(api: httpx.Client, **fields: Any) -> httpx.Response:
    return api.post("/v1/users", json=fields)


# (body, status, code, param): one row per rule.
REJECTIONS: list[tuple[dict[str, Any], int, str, str | None]] = [
    ({"emails": ["a@example.com"]}, 422, "form_param_unknown", "emails"),
    ({"first_name": 5}, 422, "form_param_value_invalid", "first_name"),
    ({"email_address": "a@example.com"}, 422, "form_param_value_invalid", "email_address"),
    ({"skip_password_checks": "yes"}, 422, "form_param_value_invalid", "skip_password_checks"),
    (
        {"create_organizations_limit": "5"},
        422,
        "form_param_value_invalid",
        "create_organizations_limit",
    ),
    (
        {"create_organizations_limit": -1},
        422,
        "form_param_value_invalid",
        "create_organizations_limit",
    ),
    (
        {"public_metadata": ["not", "an", "object"]},
        422,
        "form_param_value_invalid",
        "public_metadata",
    ),
    ({"email_address": ["not-an-email"]}, 422, "form_param_format_invalid", "email_address"),
    ({"email_address": ["a..b@example.com"]}, 422, "form_param_format_invalid", "email_address"),
    ({"email_address": ["ada@example.test"]}, 422, "form_param_format_invalid", "email_address"),
    ({"phone_number": ["4155550123"]}, 422, "form_param_format_invalid", "phone_number"),
    ({"phone_number": ["+1 415 555 0123"]}, 422, "form_param_format_invalid", "phone_number"),
    ({"phone_number": ["+10000000000"]}, 422, "form_param_format_invalid", "phone_number"),
    ({"web3_wallet": ["0x1234"]}, 422, "form_param_format_invalid", "web3_wallet"),
    ({"locale": "not a locale"}, 422, "form_param_format_invalid", "locale"),
    ({"username": "abc"}, 422, "form_username_invalid_length", "username"),
    ({"username": "a" * 65}, 422, "form_username_invalid_length", "username"),
    ({"username": "ada lovelace"}, 422, "form_username_invalid_character", "username"),
    ({"username": "ada.lovelace"}, 422, "form_username_invalid_character", "username"),
    ({"username": "12345678"}, 422, "form_username_needs_non_number_char", "username"),
    ({"username": "+14155550123"}, 422, "form_username_cannot_be_phone_number", "username"),
    ({"password": "short1"}, 422, "form_password_length_too_short", "password"),
    ({"password": "password123"}, 422, "form_password_pwned", "password"),
    ({"password": "ä" * 40}, 422, "form_password_size_in_bytes_exceeded", "password"),
    ({"password_digest": BCRYPT}, 422, "form_conditional_param_missing", "password_hasher"),
    ({"password_hasher": "bcrypt"}, 422, "form_conditional_param_missing", "password_digest"),
    (
        {"password": "a fine passphrase", "password_digest": BCRYPT, "password_hasher": "bcrypt"},
        422,
        "form_conditional_param_disallowed",
        "password_digest",
    ),
    (
        {"password_digest": BCRYPT, "password_hasher": "rot13"},
        422,
        "form_param_value_invalid",
        "password_hasher",
    ),
    (
        {"password_digest": "not-bcrypt", "password_hasher": "bcrypt"},
        422,
        "form_password_digest_invalid_code",
        "password_digest",
    ),
    (
        {"password_digest": BCRYPT, "password_hasher": "argon2id"},
        422,
        "form_password_digest_invalid_code",
        "password_digest",
    ),
    ({"created_at": "2020-01-01"}, 422, "form_param_invalid_time", "created_at"),
    ({"created_at": "2020-02-30T00:00:00Z"}, 422, "form_param_invalid_time", "created_at"),
    ({"created_at": "2999-01-01T00:00:00Z"}, 422, "form_disallow_future_date", "created_at"),
    ({"legal_accepted_at": "yesterday"}, 422, "form_param_invalid_time", "legal_accepted_at"),
    (
        {"private_metadata": {"blob": "x" * 9000}},
        422,
        "form_param_exceeds_allowed_size",
        "private_metadata",
    ),
    ({"totp_secret": "not base32!"}, 422, "invalid_totp_secret_code", "totp_secret"),
    ({"totp_secret": "JBSW Y3DP EHPK 3PXP"}, 422, "invalid_totp_secret_code", "totp_secret"),
    ({"totp_secret": "ABC"}, 422, "invalid_totp_secret_code", "totp_secret"),
    (
        {"legal_accepted_at": "2999-01-01T00:00:00Z"},
        422,
        "form_disallow_future_date",
        "legal_accepted_at",
    ),
    (
        {"web3_wallet": ["0x" + "ab" * 20, "0x" + "AB" * 20]},
        422,
        "form_param_duplicate",
        "web3_wallet",
    ),
    (
        {"email_address": ["a@example.com", "A@example.com"]},
        422,
        "form_param_duplicate",
        "email_address",
    ),
    (
        {"phone_number": ["+14155550123", "+14155550123"]},
        422,
        "form_param_duplicate",
        "phone_number",
    ),
    (
        {"email_address": [f"u{i}@example.com" for i in range(101)]},
        422,
        "form_param_array_size_exceeded",
        "email_address",
    ),
    (
        {
            "email_address": ["a@example.com"],
            "email_address_identification_status": ["verified", "reserved"],
        },
        422,
        "form_param_array_length_mismatch",
        "email_address_identification_status",
    ),
    (
        {"email_address": ["a@example.com"], "email_address_identification_status": ["pending"]},
        422,
        "form_param_value_invalid",
        "email_address_identification_status",
    ),
]


@pytest.mark.parametrize(("body", "status", "code", "param"), REJECTIONS)
def test_rejections(
    api: httpx.Client, body: dict[str, Any], status: int, code: str, param: str | None
) -> None:
    """Each bad field gets Clerk's status, code and meta.param_name; nothing is stored."""
    response = create(api, **body)
    assert_errors(response, status, code, param)
    assert api.get("/v1/users/count").json()["total_count"] == 0


def test_every_bad_field_is_reported_at_once(api: httpx.Client) -> None:
    """Field-rule errors are collected: one response names every bad field."""
    response = create(api, email_address=["nope"], username="ab", locale="!!")
    body = assert_errors(response, 422, "form_param_format_invalid", "email_address")
    params = {e["meta"]["param_name"] for e in body["errors"]}
    assert params == {"email_address", "username", "locale"}


def test_unknown_params_stop_before_type_checks(api: httpx.Client) -> None:
    """An unknown key is reported alone, as Clerk's body parser stops there."""
    response = create(api, nickname="x", first_name=5)
    body = assert_errors(response, 422, "form_param_unknown", "nickname")
    assert len(body["errors"]) == 1


def test_malformed_json_is_request_body_invalid(api: httpx.Client) -> None:
    """A body that is not a JSON object (NaN, Infinity are not JSON) is 400 request_body_invalid."""
    for raw in (b"{not json", b"[1, 2]", b'{"public_metadata": {"a": NaN}}', b'{"x": Infinity}'):
        response = api.post("/v1/users", content=raw, headers={"Content-Type": "application/json"})
        assert_errors(response, 400, "request_body_invalid")


def test_wrong_content_type_is_415(api: httpx.Client) -> None:
    """A POST that is not application/json is 415 unsupported_content_type."""
    response = api.post(
        "/v1/users", content=b"email_address=a", headers={"Content-Type": "text/plain"}
    )
    assert_errors(response, 415, "unsupported_content_type")


def test_oversized_body_is_413(api: httpx.Client) -> None:
    """A body over the sandbox's 1 MiB limit is 413 request_body_too_large."""
    response = create(api, public_metadata={"x": "y" * (1024 * 1024)})
    assert_errors(response, 413, "request_body_too_large")


def test_full_user_comes_back(api: httpx.Client) -> None:
    """A rich create returns a schema-valid User with every field echoed and epoch-ms timestamps."""
    body = {
        "external_id": "legacy-42",
        "email_address": ["Ada@Example.com", "ada.work@example.org"],
        "phone_number": ["+14155550123"],
        "web3_wallet": ["0x52908400098527886E0F7030069857D2E4169EE7"],
        "username": "ada_lovelace",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "locale": "en-GB",
        "password_digest": BCRYPT,
        "password_hasher": "bcrypt",
        "totp_secret": "JBSWY3DPEHPK3PXP",
        "backup_codes": ["abc123", "def456"],
        "public_metadata": {"plan": "pro"},
        "private_metadata": {"legacy": {"roles": ["admin"]}},
        "unsafe_metadata": {"theme": "dark"},
        "created_at": "2019-05-06T07:08:09.123Z",
        "legal_accepted_at": "2020-01-01T00:00:00+02:00",
        "banned": True,
        "delete_self_enabled": False,
        "create_organizations_limit": 3,
        "skip_password_checks": True,
    }
    REQUEST_SCHEMA.validate(body)
    response = create(api, **body)
    assert response.status_code == 200, response.text
    user = response.json()
    assert_user(user)
    assert user["id"].startswith("user_")
    assert len(user["id"]) == 32
    assert user["external_id"] == "legacy-42"
    assert [e["email_address"] for e in user["email_addresses"]] == body["email_address"]
    assert user["primary_email_address_id"] == user["email_addresses"][0]["id"]
    assert user["primary_phone_number_id"] == user["phone_numbers"][0]["id"]
    assert user["primary_web3_wallet_id"] == user["web3_wallets"][0]["id"]
    assert user["email_addresses"][0]["verification"]["status"] == "verified"
    assert user["created_at"] == 1557126489123
    assert user["legal_accepted_at"] == 1577829600000
    assert user["password_enabled"]
    assert user["totp_enabled"]
    assert user["backup_code_enabled"]
    assert user["two_factor_enabled"]
    assert user["banned"]
    assert not user["delete_self_enabled"]
    assert user["create_organizations_limit"] == 3
    assert user["private_metadata"] == {"legacy": {"roles": ["admin"]}}
    assert user["updated_at"] >= user["created_at"]
    assert "password_digest" not in response.text
    assert BCRYPT not in response.text
    assert "JBSWY3DPEHPK3PXP" not in response.text
    assert "abc123" not in response.text


def test_minimal_user_is_schema_valid(api: httpx.Client) -> None:
    """An empty body creates a user with every required key present and nulls where unset."""
    response = create(api)
    assert response.status_code == 200, response.text
    user = response.json()
    assert_user(user)
    assert user["email_addresses"] == []
    assert user["primary_email_address_id"] is None
    assert user["password_enabled"] is False
    assert user["public_metadata"] == {}


def test_reserved_identifications_are_unverified(api: httpx.Client) -> None:
    """identification_status "reserved" yields reserved, unverified addresses by position."""
    response = create(
        api,
        email_address=["a@example.com", "b@example.com"],
        email_address_identification_status=["verified", "reserved"],
    )
    user = response.json()
    assert_user(user)
    first, second = user["email_addresses"]
    assert not first["reserved"]
    assert first["verification"]["status"] == "verified"
    assert second["reserved"]
    assert second["verification"]["status"] == "unverified"


def test_skip_password_checks_allows_weak_plaintext(api: httpx.Client) -> None:
    """skip_password_checks lets a short or breached plaintext through (the 72-byte limit stays)."""
    assert create(api, password="password123", skip_password_checks=True).status_code == 200
    assert create(api, password="abc", skip_password_checks=True).status_code == 200
    response = create(api, password="ä" * 40, skip_password_checks=True)
    assert_errors(response, 422, "form_password_size_in_bytes_exceeded", "password")


def test_nulls_and_empty_strings_mean_absent(api: httpx.Client) -> None:
    """null values and empty optional strings are treated as not given."""
    response = create(api, external_id="", username=None, email_address=None, first_name="")
    assert response.status_code == 200, response.text
    user = response.json()
    assert user["external_id"] is None
    assert user["first_name"] is None


@pytest.mark.parametrize(
    "wallet",
    ["0x52908400098527886E0F7030069857D2E4169EE7", "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"],
)
def test_evm_and_solana_wallets_are_accepted(api: httpx.Client, wallet: str) -> None:
    """Both EVM (0x + 40 hex) and Solana (base58) wallet addresses are valid."""
    assert create(api, web3_wallet=[wallet]).status_code == 200


@pytest.mark.parametrize(
    ("param", "first", "second"),
    [
        ("email_address", ["ada@example.com"], ["ADA@EXAMPLE.COM"]),
        ("phone_number", ["+14155550123"], ["+14155550123"]),
        ("username", "Ada_L", "ada_l"),
        (
            "web3_wallet",
            ["0x52908400098527886E0F7030069857D2E4169EE7"],
            ["0x52908400098527886e0f7030069857d2e4169ee7"],
        ),
        ("external_id", "legacy-7", "legacy-7"),
    ],
)
def test_identifiers_are_unique_across_the_instance(
    api: httpx.Client, param: str, first: Any, second: Any
) -> None:
    """A taken identifier is 422 form_identifier_exists (email, username, EVM wallet: any case)."""
    assert create(api, **{param: first}).status_code == 200
    assert_errors(create(api, **{param: second}), 422, "form_identifier_exists", param)
    assert api.get("/v1/users/count").json()["total_count"] == 1


def test_deleting_a_user_frees_its_identifiers(api: httpx.Client) -> None:
    """After DELETE, the same email and external_id can be used again."""
    user = create(api, **OK).json()
    assert api.delete(f"/v1/users/{user['id']}").status_code == 200
    assert create(api, **OK).status_code == 200


def test_rejections_are_counted_by_code(api: httpx.Client) -> None:
    """The counters endpoint tallies creates and rejections by error code."""
    create(api, **OK)
    create(api, **OK)
    create(api, username="ab")
    counters = api.get("/_sandbox/counters").json()
    assert counters["creates"] == 1
    assert counters["rejections"] == {
        "form_identifier_exists": 1,
        "form_username_invalid_length": 1,
    }
    assert counters["by_status"] == {"200": 1, "422": 2}
