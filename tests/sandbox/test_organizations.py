"""Organizations, memberships and roles in the sandbox, over a real socket."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from sandbox_helpers import assert_errors, headers

from migrate.errors import ConfigError
from migrate.sandbox import FaultConfig, SandboxConfig, SandboxHandle, running_sandbox
from migrate.sandbox.environment import config_from_environment, render_environment
from migrate.sandbox.persist import load_store, save_store

MakeLive = Callable[..., SandboxHandle]
_SCHEMAS = json.loads((Path(__file__).parent / "data" / "organization-schemas.json").read_text())


def assert_schema(body: Any, name: str) -> None:
    """Fail unless ``body`` matches the spec's ``components.schemas.<name>``."""
    root = {"$schema": _SCHEMAS["$schema"], "$defs": _SCHEMAS["$defs"], "$ref": f"#/$defs/{name}"}
    jsonschema.Draft202012Validator(root).validate(body)


def user(api: httpx.Client, email: str) -> str:
    response = api.post("/v1/users", json={"email_address": [email], "first_name": "F"})
    assert response.status_code == 200, response.text
    user_id: str = response.json()["id"]
    return user_id


def org(api: httpx.Client, **body: Any) -> dict[str, Any]:
    response = api.post("/v1/organizations", json={"name": "Acme", **body})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def test_create_then_get_by_id_and_by_slug(api: httpx.Client) -> None:
    """A created organization is the spec's Organization and is found by its id and its slug."""
    created = org(
        api, slug="acme-1", private_metadata={"legacy_key": "t1"}, max_allowed_memberships=5
    )
    assert_schema(created, "Organization")
    assert created["id"].startswith("org_")
    assert len(created["id"]) == 31
    assert (created["slug"], created["max_allowed_memberships"]) == ("acme-1", 5)
    assert created["private_metadata"] == {"legacy_key": "t1"}
    for key in (created["id"], "acme-1"):
        got = api.get(f"/v1/organizations/{key}")
        assert got.status_code == 200
        assert got.json() == created
    assert_errors(api.get("/v1/organizations/nope"), 404, "resource_not_found")


def test_create_refusals_are_clerks(api: httpx.Client) -> None:
    """Duplicate or malformed slugs, a missing name and unknown keys get Clerk's codes."""
    org(api, slug="taken")
    assert_errors(
        api.post("/v1/organizations", json={"name": "B", "slug": "taken"}),
        422, "form_identifier_exists", "slug",
    )  # fmt: skip
    for slug in ("Upper", "under_score", "sp ace"):
        response = api.post("/v1/organizations", json={"name": "B", "slug": slug})
        assert_errors(response, 422, "form_param_format_invalid", "slug")
    assert_errors(
        api.post("/v1/organizations", json={"slug": "x"}), 422, "form_param_missing", "name"
    )
    assert_errors(
        api.post("/v1/organizations", json={"name": "B", "colour": 1}), 422, "form_param_unknown"
    )
    assert_errors(
        api.post("/v1/organizations", json={"name": 5}), 422, "form_param_value_invalid", "name"
    )
    assert_errors(
        api.post("/v1/organizations", json={"name": "B", "max_allowed_memberships": -1}),
        422, "form_param_value_invalid", "max_allowed_memberships",
    )  # fmt: skip
    assert_errors(
        api.post("/v1/organizations", json={"name": "B", "created_at": "yesterday"}),
        422, "form_param_invalid_time", "created_at",
    )  # fmt: skip
    assert api.get("/v1/organizations").json()["total_count"] == 1


def test_slug_is_derived_from_the_name_when_absent(api: httpx.Client) -> None:
    """Without a slug the name gives one, made unique within the instance."""
    assert org(api, name="Acme Inc.")["slug"] == "acme-inc"
    assert org(api, name="ACME inc")["slug"] == "acme-inc-2"


def test_creator_joins_as_admin_and_must_exist(api: httpx.Client) -> None:
    """created_by names an existing user, who becomes an org:admin member."""
    assert_errors(
        api.post("/v1/organizations", json={"name": "B", "created_by": "user_missing"}),
        400, "organization_creator_not_found",
    )  # fmt: skip
    owner = user(api, "owner@example.com")
    created = org(api, created_by=owner)
    assert created["created_by"] == owner
    members = api.get(f"/v1/organizations/{created['id']}/memberships").json()
    assert [(m["public_user_data"]["user_id"], m["role"]) for m in members["data"]] == [
        (owner, "org:admin")
    ]


def test_memberships_create_list_and_refuse(api: httpx.Client) -> None:
    """A membership is created once; a second, an unknown user, role or org are refused."""
    acme = org(api)["id"]
    ann = user(api, "ann@example.com")
    response = api.post(
        f"/v1/organizations/{acme}/memberships", json={"user_id": ann, "role": "org:member"}
    )
    assert response.status_code == 200, response.text
    member = response.json()
    assert_schema(member, "OrganizationMembership")
    assert member["id"].startswith("orgmem_")
    assert member["organization"]["id"] == acme
    assert member["public_user_data"]["identifier"] == "ann@example.com"
    again = api.post(
        f"/v1/organizations/{acme}/memberships", json={"user_id": ann, "role": "org:admin"}
    )
    assert_errors(again, 400, "already_a_member_in_organization")
    bob = user(api, "bob@example.com")
    cases = [
        (
            acme,
            {"user_id": "user_missing", "role": "org:member"},
            404,
            "resource_not_found",
            "user_id",
        ),
        (acme, {"user_id": bob, "role": "org:owner"}, 404, "resource_not_found", "role"),
        (acme, {"user_id": bob}, 422, "form_param_missing", "role"),
        (acme, {"user_id": bob, "role": "org:member", "x": 1}, 422, "form_param_unknown", "x"),
        ("org_missing", {"user_id": bob, "role": "org:member"}, 404, "resource_not_found", None),
    ]
    for org_id, body, status, code, param in cases:
        response = api.post(f"/v1/organizations/{org_id}/memberships", json=body)
        assert_errors(response, status, code, param)
    listed = api.get(f"/v1/organizations/{acme}/memberships").json()
    assert_schema(listed, "OrganizationMemberships")
    assert listed["total_count"] == 1


def test_membership_limit_per_organization_and_instance_default(make_sandbox: MakeLive) -> None:
    """An organization's max_allowed_memberships (default: the instance's) caps its members."""
    handle = make_sandbox(SandboxConfig.for_tests(org_max_memberships=1))
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as api:
        users = [user(api, f"u{i}@example.com") for i in range(3)]
        small = org(api)
        assert small["max_allowed_memberships"] == 1
        roomy = org(api, max_allowed_memberships=0)
        path = f"/v1/organizations/{small['id']}/memberships"
        assert api.post(path, json={"user_id": users[0], "role": "org:member"}).status_code == 200
        over = api.post(path, json={"user_id": users[1], "role": "org:member"})
        body = assert_errors(over, 403, "organization_membership_quota_exceeded")
        assert "limit of 1 organization memberships" in body["errors"][0]["long_message"]
        for u in users:
            response = api.post(
                f"/v1/organizations/{roomy['id']}/memberships",
                json={"user_id": u, "role": "org:member"},
            )
            assert response.status_code == 200


def test_lists_page_filter_and_count(api: httpx.Client) -> None:
    """Organization and membership lists page with limit/offset and count every match."""
    ann = user(api, "ann@example.com")
    orgs = [org(api, name=f"Team {i}", slug=f"team-{i}")["id"] for i in range(5)]
    page = api.get("/v1/organizations", params={"limit": 2, "offset": 1, "order_by": "created_at"})
    assert_schema(page.json(), "Organizations")
    assert [o["id"] for o in page.json()["data"]] == orgs[1:3]
    assert page.json()["total_count"] == 5
    newest = api.get("/v1/organizations", params={"limit": 1}).json()["data"][0]
    assert newest["id"] == orgs[-1]
    assert api.get("/v1/organizations", params={"query": "team-3"}).json()["total_count"] == 1
    api.post(f"/v1/organizations/{orgs[2]}/memberships", json={"user_id": ann, "role": "org:admin"})
    mine = api.get("/v1/organizations", params={"user_id": ann, "include_members_count": "true"})
    assert [(o["id"], o["members_count"]) for o in mine.json()["data"]] == [(orgs[2], 1)]
    by_role = api.get(f"/v1/organizations/{orgs[2]}/memberships", params={"role": "org:member"})
    assert by_role.json() == {"data": [], "total_count": 0}
    assert_errors(
        api.get("/v1/organizations", params={"limit": 0}), 422, "form_param_value_invalid", "limit"
    )
    assert_errors(
        api.get("/v1/organizations", params={"order_by": "slug"}), 422, "form_param_value_invalid"
    )


def test_deletes_remove_memberships_and_organizations(api: httpx.Client) -> None:
    """Deleting a membership, a user or an organization removes the memberships it holds."""
    acme = org(api)["id"]
    ann, bob = user(api, "ann@example.com"), user(api, "bob@example.com")
    for u in (ann, bob):
        api.post(f"/v1/organizations/{acme}/memberships", json={"user_id": u, "role": "org:member"})
    removed = api.delete(f"/v1/organizations/{acme}/memberships/{ann}")
    assert removed.status_code == 200
    assert removed.json()["public_user_data"]["user_id"] == ann
    assert_errors(
        api.delete(f"/v1/organizations/{acme}/memberships/{ann}"), 404, "resource_not_found"
    )
    assert api.delete(f"/v1/users/{bob}").status_code == 200
    assert api.get(f"/v1/organizations/{acme}/memberships").json()["total_count"] == 0
    deleted = api.delete(f"/v1/organizations/{acme}")
    assert_schema(deleted.json(), "DeletedObject")
    assert deleted.json()["deleted"] is True
    assert_errors(api.get(f"/v1/organizations/{acme}"), 404, "resource_not_found")
    assert_errors(api.delete(f"/v1/organizations/{acme}"), 404, "resource_not_found")
    assert org(api, slug="acme")["slug"] == "acme"  # a deleted organization frees its slug


def test_roles_default_and_configured(api: httpx.Client, make_sandbox: MakeLive) -> None:
    """The instance lists org:admin and org:member by default, or the configured role keys."""
    roles = api.get("/v1/organization_roles").json()
    assert_schema(roles, "Roles")
    assert [r["key"] for r in roles["data"]] == ["org:admin", "org:member"]
    assert [r["is_creator_eligible"] for r in roles["data"]] == [True, False]
    handle = make_sandbox(
        SandboxConfig.for_tests(org_roles=("org:owner", "org:viewer", "org:billing"))
    )
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as custom:
        listed = custom.get("/v1/organization_roles", params={"limit": 2, "order_by": "key"}).json()
        assert [r["key"] for r in listed["data"]] == ["org:billing", "org:owner"]
        assert listed["total_count"] == 3
        member = user(custom, "ann@example.com")
        created = org(custom, created_by=member)
        path = f"/v1/organizations/{created['id']}/memberships"
        assert custom.get(path).json()["data"][0]["role"] == "org:owner"
        refused = custom.post(path, json={"user_id": member, "role": "org:member"})
        assert_errors(refused, 404, "resource_not_found", "role")  # not this instance's role


def test_organizations_disabled_refuse_every_endpoint(make_sandbox: MakeLive) -> None:
    """With organizations off every organization endpoint is 403 and the environment says so."""
    handle = make_sandbox(SandboxConfig.for_tests(organizations_enabled=False))
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as api:
        for method, path in (
            ("POST", "/v1/organizations"),
            ("GET", "/v1/organizations"),
            ("GET", "/v1/organizations/acme"),
            ("DELETE", "/v1/organizations/org_x"),
            ("POST", "/v1/organizations/org_x/memberships"),
            ("GET", "/v1/organizations/org_x/memberships"),
            ("DELETE", "/v1/organizations/org_x/memberships/user_x"),
            ("GET", "/v1/organization_roles"),
        ):
            response = api.request(method, path, json={"name": "A"} if method == "POST" else None)
            assert_errors(response, 403, "organization_not_enabled_in_instance")
    assert render_environment(handle.app.config)["organization_settings"]["enabled"] is False


def test_slugs_disabled_refuse_a_slug_only(make_sandbox: MakeLive) -> None:
    """With slugs disabled a create naming a slug is 403; one without a slug still works."""
    handle = make_sandbox(SandboxConfig.for_tests(org_slugs_disabled=True))
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as api:
        response = api.post("/v1/organizations", json={"name": "A", "slug": "a"})
        assert_errors(response, 403, "organization_slugs_disabled")
        assert org(api)["slug"] == "acme"


def test_lost_answers_leave_the_create_applied(make_sandbox: MakeLive) -> None:
    """A lost answer to an organization or membership create leaves it stored, findable by slug."""
    handle = make_sandbox(SandboxConfig.for_tests(faults=FaultConfig(lost_rate=1.0)))
    with httpx.Client(base_url=handle.url, headers=headers(handle)) as api:
        with pytest.raises(httpx.RemoteProtocolError):
            api.post("/v1/users", json={"email_address": ["ann@example.com"]})
        (ann,) = [u["id"] for u in api.get("/v1/users").json()]  # reads are never lost
        with pytest.raises(httpx.RemoteProtocolError):
            api.post("/v1/organizations", json={"name": "Lost", "slug": "lost"})
        found = api.get("/v1/organizations/lost")
        assert found.status_code == 200
        path = f"/v1/organizations/{found.json()['id']}/memberships"
        with pytest.raises(httpx.RemoteProtocolError):
            api.post(path, json={"user_id": ann, "role": "org:member"})
        members = api.get(path).json()["data"]
        assert [m["public_user_data"]["user_id"] for m in members] == [ann]
    assert handle.counters()["faults"] == {"lost": 3}


def test_5xx_faults_create_nothing(make_sandbox: MakeLive) -> None:
    """An injected 5xx before an organization create stores nothing."""
    handle = make_sandbox(
        SandboxConfig.for_tests(faults=FaultConfig(error_rate=1.0, error_statuses=(500,)))
    )
    response = httpx.post(
        f"{handle.url}/v1/organizations", json={"name": "A"}, headers=headers(handle)
    )
    assert_errors(response, 500, "internal_clerk_error")
    assert len(handle.store.orgs) == 0


def test_organizations_persist_with_the_users(tmp_path: Path) -> None:
    """A saved sandbox keeps organizations, memberships and ids; an older save loads empty."""
    state = tmp_path / "sandbox.json"
    config = SandboxConfig.for_tests()
    with (
        running_sandbox(config, state=state) as first,
        httpx.Client(base_url=first.url, headers=headers(first)) as api,
    ):
        ann = user(api, "ann@example.com")
        acme = org(api, slug="acme", created_by=ann, public_metadata={"tier": "gold"})
    with (
        running_sandbox(config, state=state) as second,
        httpx.Client(base_url=second.url, headers=headers(second)) as api,
    ):
        assert api.get("/v1/organizations/acme").json() == acme
        members = api.get(f"/v1/organizations/{acme['id']}/memberships").json()["data"]
        assert [m["public_user_data"]["user_id"] for m in members] == [ann]
        newer = org(api, slug="beta")
        assert newer["id"] > acme["id"]
    old = json.loads(state.read_text())
    del old["organizations"]
    state.write_text(json.dumps(old))
    restored = load_store(state)
    assert len(restored) == 1
    assert len(restored.orgs) == 0
    save_store(restored, state)
    assert load_store(state).orgs.memberships() == 0


def test_reset_forgets_organizations(api: httpx.Client, live: SandboxHandle) -> None:
    """POST /_sandbox/reset forgets organizations along with users."""
    org(api)
    assert len(live.store.orgs) == 1
    assert httpx.post(f"{live.url}/_sandbox/reset").status_code == 200
    assert api.get("/v1/organizations").json()["total_count"] == 0


def test_environment_round_trips_organization_settings() -> None:
    """The environment's organization_settings read back into the same sandbox switches."""
    config = SandboxConfig(
        organizations_enabled=False, org_max_memberships=7, org_slugs_disabled=True
    )
    settings = render_environment(config)["organization_settings"]
    assert (settings["enabled"], settings["max_allowed_memberships"], settings["slug"]) == (
        False, 7, {"disabled": True},
    )  # fmt: skip
    back = config_from_environment(render_environment(config))
    assert (back.organizations_enabled, back.org_max_memberships, back.org_slugs_disabled) == (
        False, 7, True,
    )  # fmt: skip
    doc = render_environment(config)
    del doc["organization_settings"]
    kept = config_from_environment(doc, SandboxConfig(organizations_enabled=True))
    assert kept.organizations_enabled is True


@pytest.mark.parametrize("roles", [(), ("admin",), ("org:Admin",), ("org:a", "org:a")])
def test_role_keys_are_checked(roles: tuple[str, ...]) -> None:
    """Role keys must be distinct org:<lowercase letters, digits, _> keys, at least one."""
    with pytest.raises(ConfigError, match="org_roles"):
        SandboxConfig(org_roles=roles)


def test_users_filter_by_organization(api: httpx.Client) -> None:
    """GET /v1/users?organization_id= selects an organization's members (- excludes them)."""
    ann, bob, cat = (user(api, f"{n}@example.com") for n in ("ann", "bob", "cat"))
    acme, beta = org(api, slug="acme")["id"], org(api, slug="beta")["id"]
    for org_id, user_id in ((acme, ann), (acme, bob), (beta, cat)):
        api.post(
            f"/v1/organizations/{org_id}/memberships",
            json={"user_id": user_id, "role": "org:member"},
        )
    listed = api.get("/v1/users", params={"organization_id": acme, "order_by": "created_at"})
    assert [u["id"] for u in listed.json()] == [ann, bob]
    both = api.get(
        "/v1/users/count", params=[("organization_id", acme), ("organization_id", "+" + beta)]
    )
    assert both.json()["total_count"] == 3
    outside = api.get("/v1/users", params={"organization_id": "-" + acme})
    assert [u["id"] for u in outside.json()] == [cat]
