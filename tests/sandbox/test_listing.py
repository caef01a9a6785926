"""GET /v1/users and /v1/users/count: filters, +/- prefixes, limits, paging and ordering."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sandbox_helpers import USER_SCHEMA, assert_errors, assert_user


def seed_users(api: httpx.Client) -> list[dict[str, Any]]:
    """Five users with distinct identifiers and created_at dates (created in this order)."""
    rows = [
        {
            "external_id": "a-1",
            "email_address": ["ada@example.com"],
            "username": "ada_l",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "created_at": "2020-01-03T00:00:00Z",
        },
        {
            "external_id": "-dash",
            "email_address": ["grace@example.com"],
            "first_name": "Grace",
            "last_name": "Hopper",
            "created_at": "2020-01-01T00:00:00Z",
            "banned": True,
        },
        {
            "external_id": "b-2",
            "phone_number": ["+14155550123"],
            "first_name": "Alan",
            "last_name": "Turing",
            "created_at": "2020-01-05T00:00:00Z",
        },
        {
            "external_id": "c-3",
            "web3_wallet": ["0x52908400098527886E0F7030069857D2E4169EE7"],
            "created_at": "2020-01-02T00:00:00Z",
        },
        {
            "external_id": "d-4",
            "email_address": ["edsger@example.org"],
            "first_name": "Edsger",
            "created_at": "2020-01-04T00:00:00Z",
        },
    ]
    users = []
    for row in rows:
        response = api.post("/v1/users", json=row)
        assert response.status_code == 200, response.text
        users.append(response.json())
    return users


def ext_ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)
    for user in body:
        assert_user(user)
    return [u["external_id"] for u in body]


def count(api: httpx.Client, params: Any = None) -> int:
    response = api.get("/v1/users/count", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "total_count"
    return int(body["total_count"])


def test_default_order_is_newest_created_first(api: httpx.Client) -> None:
    """Without order_by the list is sorted by created_at descending, limit 10."""
    seed_users(api)
    assert ext_ids(api.get("/v1/users")) == ["b-2", "d-4", "a-1", "c-3", "-dash"]


def test_repeated_keys_are_or_and_different_filters_are_and(api: httpx.Client) -> None:
    """One filter's values combine with OR, different filters with AND; unknowns are ignored."""
    seed_users(api)
    params = [("external_id", "+a-1"), ("external_id", "+d-4"), ("external_id", "+nope")]
    assert sorted(ext_ids(api.get("/v1/users", params=params))) == ["a-1", "d-4"]
    both = [*params, ("email_address", "ada@example.com")]
    assert ext_ids(api.get("/v1/users", params=both)) == ["a-1"]
    assert count(api, both) == 1


def test_plus_prefix_keeps_a_leading_dash_literal(api: httpx.Client) -> None:
    """external_id=+-dash finds id "-dash"; bare -dash excludes "dash"; --dash excludes "-dash"."""
    seed_users(api)
    assert ext_ids(api.get("/v1/users", params={"external_id": "+-dash"})) == ["-dash"]
    assert count(api, {"external_id": "-dash"}) == 5  # excludes "dash", which nobody has
    excluded = ext_ids(api.get("/v1/users", params={"external_id": "--dash"}))
    assert "-dash" not in excluded
    assert len(excluded) == 4


def test_user_id_include_and_exclude(api: httpx.Client) -> None:
    """user_id filters take + and - prefixes like external_id."""
    users = seed_users(api)
    first, second = users[0]["id"], users[1]["id"]
    got = ext_ids(api.get("/v1/users", params=[("user_id", first), ("user_id", f"+{second}")]))
    assert sorted(got) == ["-dash", "a-1"]
    assert count(api, {"user_id": f"-{first}"}) == 4


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"email_address": "ADA@example.com"}, ["a-1"]),
        ({"phone_number": "+14155550123"}, ["b-2"]),
        ({"username": "ADA_L"}, ["a-1"]),
        ({"web3_wallet": "0x52908400098527886e0f7030069857d2e4169ee7"}, ["c-3"]),
        ({"email_address_query": "EXAMPLE.ORG"}, ["d-4"]),
        ({"phone_number_query": "555"}, ["b-2"]),
        ({"username_query": "da_"}, ["a-1"]),
        ({"name_query": "hop"}, ["-dash"]),
        ({"query": "turing"}, ["b-2"]),
        ({"banned": "true"}, ["-dash"]),
        ({"created_at_before": "1577923200000"}, ["-dash"]),
        ({"created_at_after": "1578096000000"}, ["b-2"]),
        ({"last_sign_in_at_after": "0"}, []),
        ({"organization_id": "org_123"}, []),
        ({"provider": "oauth_google", "provider_user_id": "123"}, []),
    ],
)
def test_filters(api: httpx.Client, params: dict[str, str], expected: list[str]) -> None:
    """Each documented filter selects the right users, in the list and in the count."""
    seed_users(api)
    assert ext_ids(api.get("/v1/users", params=params)) == expected
    assert count(api, params) == len(expected)


def test_limit_offset_and_order_by(api: httpx.Client) -> None:
    """limit/offset page through the order; order_by takes +/- and only the first one counts."""
    seed_users(api)
    assert ext_ids(api.get("/v1/users", params={"limit": 2, "offset": 1})) == ["d-4", "a-1"]
    assert ext_ids(api.get("/v1/users", params={"order_by": "created_at", "limit": 2})) == [
        "-dash",
        "c-3",
    ]
    by_name = api.get(
        "/v1/users", params=[("order_by", "+first_name"), ("order_by", "-created_at")]
    )
    # Nulls sort last ascending, as Postgres does.
    assert ext_ids(by_name) == ["a-1", "b-2", "d-4", "-dash", "c-3"]
    assert ext_ids(api.get("/v1/users", params={"order_by": "-first_name"}))[0] == "c-3"
    assert ext_ids(api.get("/v1/users", params={"offset": 99})) == []


def test_starting_after_cursor(api: httpx.Client) -> None:
    """starting_after returns the users after the cursor in created_at order."""
    users = seed_users(api)
    by_ext = {u["external_id"]: u["id"] for u in users}
    page = api.get("/v1/users", params={"starting_after": by_ext["d-4"], "limit": 2})
    assert ext_ids(page) == ["a-1", "c-3"]
    bad = api.get("/v1/users", params={"starting_after": by_ext["d-4"], "order_by": "username"})
    assert_errors(bad, 422, "form_conditional_param_disallowed", "starting_after")
    bad = api.get("/v1/users", params={"starting_after": by_ext["d-4"], "offset": 1})
    assert_errors(bad, 422, "form_conditional_param_disallowed", "starting_after")


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"order_by": "password"}, "order_by"),
        ({"banned": "maybe"}, "banned"),
        ({"created_at_after": "yesterday"}, "created_at_after"),
    ],
)
def test_bad_paging_params_are_422(api: httpx.Client, params: dict[str, str], param: str) -> None:
    """Out-of-range or malformed paging/filter values are 422 form_param_value_invalid."""
    assert_errors(api.get("/v1/users", params=params), 422, "form_param_value_invalid", param)


def test_limit_500_is_allowed(api: httpx.Client) -> None:
    """limit=500 (the maximum) is accepted."""
    assert api.get("/v1/users", params={"limit": 500}).status_code == 200


def test_more_than_100_values_is_refused(api: httpx.Client) -> None:
    """A filter repeated over 100 times is 422 form_param_duplicate, in list and count."""
    params = [("external_id", f"+x{i}") for i in range(101)]
    assert_errors(api.get("/v1/users", params=params), 422, "form_param_duplicate", "external_id")
    assert_errors(
        api.get("/v1/users/count", params=params), 422, "form_param_duplicate", "external_id"
    )
    assert api.get("/v1/users", params=params[:100]).status_code == 200


def test_hundred_id_lookup_finds_every_user(api: httpx.Client) -> None:
    """A 100-value external_id lookup (the loader's reconciliation call) returns all 100 users."""
    for i in range(120):
        assert api.post("/v1/users", json={"external_id": f"legacy-{i}"}).status_code == 200
    params = [("external_id", f"+legacy-{i}") for i in range(10, 110)] + [("limit", "100")]
    found = api.get("/v1/users", params=params)
    assert sorted(ext_ids(found)) == sorted(f"legacy-{i}" for i in range(10, 110))
    assert count(api) == 120


def test_get_and_delete_by_id(api: httpx.Client) -> None:
    """GET returns the user, DELETE a DeletedObject; afterwards both are 404 resource_not_found."""
    user = seed_users(api)[0]
    got = api.get(f"/v1/users/{user['id']}")
    assert got.status_code == 200
    assert got.json() == user
    USER_SCHEMA.validate(got.json())
    deleted = api.delete(f"/v1/users/{user['id']}")
    assert deleted.json() == {
        "object": "user",
        "id": user["id"],
        "deleted": True,
        "external_id": "a-1",
    }
    assert_errors(api.get(f"/v1/users/{user['id']}"), 404, "resource_not_found")
    assert_errors(api.delete(f"/v1/users/{user['id']}"), 404, "resource_not_found")
    assert count(api) == 4
    assert api.get("/_sandbox/counters").json()["deletes"] == 1


@pytest.mark.parametrize(
    "user_id", ["user_nope", "user_" + "z" * 27, "usr_123", "user_" + "!" * 27]
)
def test_unknown_ids_are_404(api: httpx.Client, user_id: str) -> None:
    """Ids that are malformed or were never issued are 404 resource_not_found."""
    assert_errors(api.get(f"/v1/users/{user_id}"), 404, "resource_not_found")
