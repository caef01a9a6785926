"""The sandbox's write endpoints for sync: PATCH user / metadata, addresses, ban."""

from __future__ import annotations

import httpx

from migrate.sandbox import SandboxHandle
from migrate.sandbox.updates import merge_metadata
from tests.sandbox.sandbox_helpers import headers

OLD = "$2b$04$4k9ye9RiBIwcRzbcNJCjeu5Sxen/yOCl6cC9ph/GMqkC4d4bMpqhS"  # "old-pass"
NEW = "$2b$04$M9OylKbYCw5RRVyaYTTpz...uOvvUFp0ltX7L8imxUkzA9WbZ8RvS"  # "new-pass"


def client(sandbox: SandboxHandle) -> httpx.Client:
    """A client with the sandbox's key and API version."""
    return httpx.Client(base_url=sandbox.url, headers=headers(sandbox))


def create(http: httpx.Client) -> dict[str, object]:
    """One user with an email, a bcrypt digest, names and metadata."""
    response = http.post("/v1/users", json={
        "external_id": "e1", "email_address": ["a@example.com"], "first_name": "Ann",
        "password_digest": OLD, "password_hasher": "bcrypt",
        "public_metadata": {"plan": "free", "nested": {"a": 1, "b": 2}},
    })  # fmt: skip
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_metadata_merges_deeply_and_null_removes() -> None:
    """Objects merge key by key, null removes a key at any level, other values replace."""
    current = {"plan": "free", "nested": {"a": 1, "b": 2}, "keep": True}
    patch = {"plan": None, "nested": {"b": None, "c": 3}, "new": [1]}
    assert merge_metadata(current, patch) == {"nested": {"a": 1, "c": 3}, "keep": True, "new": [1]}


def test_patch_user_changes_names_and_password_and_refuses_metadata(
    sandbox: SandboxHandle,
) -> None:
    """Names change, "" removes one, a new digest verifies and the old does not; metadata is 422."""
    with client(sandbox) as http:
        user = create(http)
        url = f"/v1/users/{user['id']}"
        body = {"first_name": "", "last_name": "Lee", "password_digest": NEW}
        done = http.patch(url, json={**body, "password_hasher": "bcrypt"})
        assert done.status_code == 200, done.text
        assert (done.json()["first_name"], done.json()["last_name"]) == (None, "Lee")
        verify = f"{url}/verify_password"
        assert http.post(verify, json={"password": "new-pass"}).json()["verified"] is True
        assert http.post(verify, json={"password": "old-pass"}).status_code == 422
        refused = http.patch(url, json={"public_metadata": {"x": 1}})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["code"] == "form_param_unknown"
        merged = http.patch(
            f"{url}/metadata", json={"public_metadata": {"plan": None, "nested": {"a": None}}}
        )
        assert merged.json()["public_metadata"] == {"nested": {"b": 2}}
        assert sandbox.counters()["updates"] == 2


def test_a_new_primary_email_is_added_and_the_old_one_removed(sandbox: SandboxHandle) -> None:
    """POST /v1/email_addresses with primary makes it first; DELETE frees the old address."""
    with client(sandbox) as http:
        user = create(http)
        added = http.post(
            "/v1/email_addresses",
            json={
                "user_id": user["id"],
                "email_address": "b@example.com",
                "primary": True,
                "verified": True,
            },
        )
        assert added.status_code == 200, added.text
        got = http.get(f"/v1/users/{user['id']}").json()
        assert [e["email_address"] for e in got["email_addresses"]] == [
            "b@example.com",
            "a@example.com",
        ]
        assert got["primary_email_address_id"] == added.json()["id"]
        taken = http.post(
            "/v1/email_addresses", json={"user_id": user["id"], "email_address": "b@example.com"}
        )
        assert taken.json()["errors"][0]["code"] == "form_identifier_exists"
        old = got["email_addresses"][1]["id"]
        assert http.delete(f"/v1/email_addresses/{old}").json()["deleted"] is True
        assert http.delete(f"/v1/email_addresses/{old}").status_code == 404
        again = http.post("/v1/users", json={"email_address": ["a@example.com"]})
        assert again.status_code == 200  # the removed address is free again
        phone = http.post(
            "/v1/phone_numbers",
            json={"user_id": user["id"], "phone_number": "+14155550100", "primary": True},
        )
        assert (
            http.get(f"/v1/users/{user['id']}").json()["primary_phone_number_id"]
            == phone.json()["id"]
        )


def test_ban_marks_the_user_banned(sandbox: SandboxHandle) -> None:
    """POST /v1/users/{id}/ban answers the banned user; a missing user is 404."""
    with client(sandbox) as http:
        user = create(http)
        assert http.post(f"/v1/users/{user['id']}/ban").json()["banned"] is True
        assert http.get(f"/v1/users/{user['id']}").json()["banned"] is True
        assert http.post("/v1/users/user_missing/ban").status_code == 404
