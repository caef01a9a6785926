"""POST /v1/users/{id}/verify_password: the sandbox as an oracle that a migrated user can sign in.

Every hasher is exercised end to end over HTTP with digests made by the real libraries (the
vectors of test_passwords.py, which tests the algorithms themselves).
"""

from __future__ import annotations

import httpx
import pytest
from sandbox_helpers import assert_errors
from test_passwords import GENERATED, PASSWORD, WRONG


def make_user(api: httpx.Client, **fields: object) -> str:
    response = api.post("/v1/users", json=fields)
    assert response.status_code == 200, response.text
    user_id: str = response.json()["id"]
    return user_id


def verify(api: httpx.Client, user_id: str, password: str) -> httpx.Response:
    return api.post(f"/v1/users/{user_id}/verify_password", json={"password": password})


@pytest.mark.parametrize("hasher", sorted(GENERATED))
def test_imported_digest_verifies_only_the_right_password(api: httpx.Client, hasher: str) -> None:
    """A user imported with a real digest verifies its password (200), not a wrong one (422)."""
    user_id = make_user(api, password_digest=GENERATED[hasher], password_hasher=hasher)
    ok = verify(api, user_id, PASSWORD)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"verified": True}
    assert_errors(verify(api, user_id, WRONG), 422, "form_password_incorrect", "password")


def test_plaintext_password_verifies(api: httpx.Client) -> None:
    """A user created with a plaintext password verifies it, and only it."""
    user_id = make_user(api, password="a long enough passphrase")
    assert verify(api, user_id, "a long enough passphrase").json() == {"verified": True}
    assert_errors(verify(api, user_id, "a long enough passphrasE"), 422, "form_password_incorrect")
    assert api.get("/_sandbox/counters").json()["verifications"] == 2


def test_awscognito_cannot_be_verified_offline(api: httpx.Client) -> None:
    """awscognito digests are accepted on create but never verify offline (Clerk asks Cognito)."""
    digest = "awscognito#us-east-1_AbCdEf123#1example23456789#user@example.com"
    user_id = make_user(api, password_digest=digest, password_hasher="awscognito")
    assert_errors(verify(api, user_id, PASSWORD), 422, "form_password_incorrect")


def test_user_without_password_is_400(api: httpx.Client) -> None:
    """A user with no password gets 400 no_password_set."""
    user_id = make_user(api, external_id="nopw")
    assert_errors(verify(api, user_id, PASSWORD), 400, "no_password_set")


def test_unknown_user_is_404(api: httpx.Client) -> None:
    """verify_password on an unknown id is 404 resource_not_found."""
    assert_errors(verify(api, "user_" + "A" * 27, PASSWORD), 404, "resource_not_found")


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({}, "form_param_missing", "password"),
        ({"password": ""}, "form_param_missing", "password"),
        ({"password": 5}, "form_param_missing", "password"),
        ({"password": "x", "strategy": "password"}, "form_param_unknown", "strategy"),
    ],
)
def test_bad_bodies_are_422(
    api: httpx.Client, body: dict[str, object], code: str, param: str
) -> None:
    """The body must be exactly {"password": "<non-empty string>"}."""
    user_id = make_user(api, password="a long enough passphrase")
    response = api.post(f"/v1/users/{user_id}/verify_password", json=body)
    assert_errors(response, 422, code, param)
