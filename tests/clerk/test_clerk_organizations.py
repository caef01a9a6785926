"""The organization calls: outcomes on httpx.MockTransport, then against the sandbox."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pytest

from migrate._internal.clerk import organizations as orgs
from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import (
    Created,
    Membership,
    Memberships,
    Organization,
    OrganizationDeleted,
    OrganizationRoles,
    Organizations,
    Rejected,
    Transient,
)
from migrate._internal.clerk.retry import Action, classify, config_suspect, hint_for
from migrate._internal.runner.calls import until_answered
from migrate._internal.runner.pacing import Pacer
from migrate._internal.secrets import Secret
from migrate.sandbox.config import FaultConfig, SandboxConfig
from migrate.sandbox.inprocess import InProcessSandbox, in_process_sandbox

KEY = "sk_test_S3cr3tKeyThatMustNeverLeak"
T = TypeVar("T")
Handler = Callable[[httpx.Request], httpx.Response]


def org_json(org_id: str = "org_1", slug: str = "acme") -> dict[str, Any]:
    """A minimal BAPI Organization object."""
    return {
        "object": "organization",
        "id": org_id,
        "name": "Acme",
        "slug": slug,
        "max_allowed_memberships": 5,
        "private_metadata": {"legacy_key": "t-1"},
        "created_at": 1700000000000,
    }


def member_json(user_id: str = "user_1", role: str = "org:member") -> dict[str, Any]:
    """A minimal BAPI OrganizationMembership object."""
    return {
        "object": "organization_membership",
        "id": f"orgmem_{user_id}",
        "role": role,
        "organization": org_json(),
        "public_user_data": {"user_id": user_id},
    }


def clerk_error(code: str, param: str | None = None) -> dict[str, Any]:
    """A ClerkErrors body with one error."""
    meta = {"param_name": param} if param else {}
    return {"errors": [{"code": code, "message": "m", "long_message": "l", "meta": meta}]}


def call(handler: Handler, action: Callable[[ClerkClient], Awaitable[T]]) -> T:
    """Run ``action`` against a client whose transport is ``handler``."""

    async def main() -> T:
        async with ClerkClient(
            "https://api.clerk.com", Secret(KEY), transport=httpx.MockTransport(handler)
        ) as clerk:
            return await action(clerk)

    return asyncio.run(main())


def answer(status: int, body: Any) -> Handler:
    return lambda request: httpx.Response(status, json=body)


def test_create_sends_the_body_and_reads_the_organization() -> None:
    """create_organization POSTs the body as given and returns the organization's id and slug."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=org_json())

    body = {"name": "Acme", "slug": "acme", "private_metadata": {"legacy_key": "t-1"}}
    outcome = call(handler, lambda c: orgs.create_organization(c, body))
    assert isinstance(outcome, Organization)
    assert (outcome.organization.id, outcome.organization.slug) == ("org_1", "acme")
    assert outcome.organization.private_metadata == {"legacy_key": "t-1"}
    assert "legacy_key" not in repr(outcome)
    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/organizations")
    assert json.loads(request.content) == body
    assert request.headers["content-type"] == "application/json"


def test_get_quotes_the_slug_as_one_segment() -> None:
    """A slug or id is one path segment: a '/' in it cannot reach another route."""
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        return httpx.Response(404, json=clerk_error("resource_not_found"))

    outcome = call(handler, lambda c: orgs.get_organization(c, "a/b"))
    assert isinstance(outcome, Rejected)
    assert (outcome.status, outcome.code) == (404, "resource_not_found")
    assert paths == ["/v1/organizations/a%2Fb"]


@pytest.mark.parametrize(
    ("status", "code", "param", "action", "suspect"),
    [
        (422, "form_identifier_exists", "slug", Action.RECONCILE, False),
        (400, "already_a_member_in_organization", None, Action.RECONCILE, False),
        (403, "organization_not_enabled_in_instance", None, Action.ABORT, False),
        (403, "organization_slugs_disabled", None, Action.ABORT, False),
        (403, "organization_membership_quota_exceeded", None, Action.FAIL_ROW, False),
        (400, "organization_creator_not_found", None, Action.FAIL_ROW, False),
        (404, "resource_not_found", "role", Action.FAIL_ROW, False),
    ],
)
def test_refusals_map_to_actions(
    status: int, code: str, param: str | None, action: Action, suspect: bool
) -> None:
    """Clerk's organization refusals become Rejected with the action the runner takes."""
    outcome = call(
        answer(status, clerk_error(code, param)),
        lambda c: orgs.create_membership(c, "org_1", "user_1", "org:member"),
    )
    assert isinstance(outcome, Rejected)
    assert (outcome.status, outcome.code, outcome.param) == (status, code, param)
    assert classify(outcome) is action
    assert config_suspect(outcome) is suspect
    if code != "resource_not_found":
        assert hint_for(code)


@pytest.mark.parametrize(
    ("handler", "kind", "ambiguous"),
    [
        (answer(500, clerk_error("internal_clerk_error")), "server_error", True),
        (lambda r: httpx.Response(429, headers={"Retry-After": "3"}), "rate_limited", False),
        (answer(200, {"object": "organization"}), "protocol", True),  # no id: unreadable
        (answer(200, ["not", "an", "object"]), "protocol", True),
    ],
)
def test_transient_answers(handler: Handler, kind: str, ambiguous: bool) -> None:
    """5xx, 429 and an unreadable success are Transient; only the 429 certainly did nothing."""
    outcome = call(handler, lambda c: orgs.create_organization(c, {"name": "A"}))
    assert isinstance(outcome, Transient)
    assert (outcome.kind, outcome.ambiguous) == (kind, ambiguous)


def test_a_dropped_connection_is_ambiguous() -> None:
    """A connection closed without an answer may have created the membership: ambiguous."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected", request=request)

    outcome = call(handler, lambda c: orgs.create_membership(c, "org_1", "user_1", "org:admin"))
    assert isinstance(outcome, Transient)
    assert outcome.kind == "protocol"
    assert outcome.ambiguous


def test_membership_list_sends_filters_and_paging() -> None:
    """list_memberships sends user_id (+), role and paging, and reads the page and its total."""
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, json={"data": [member_json()], "total_count": 7})

    outcome = call(
        handler,
        lambda c: orgs.list_memberships(
            c, "org_1", user_id=["user_1"], role=["org:member"], limit=1, offset=3
        ),
    )
    assert isinstance(outcome, Memberships)
    assert outcome.total == 7
    (member,) = outcome.memberships
    assert (member.organization_id, member.user_id, member.role) == (
        "org_1",
        "user_1",
        "org:member",
    )
    assert seen[0].path == "/v1/organizations/org_1/memberships"
    assert seen[0].params.multi_items() == [
        ("user_id", "+user_1"), ("role", "org:member"), ("limit", "1"), ("offset", "3"),
    ]  # fmt: skip


def test_lists_refuse_bad_arguments_before_sending() -> None:
    """More than 100 filter values, a string for a list, or a bad limit raise before a request."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"data": [], "total_count": 0})

    with pytest.raises(ValueError, match="at most 100"):
        call(handler, lambda c: orgs.list_memberships(c, "org_1", user_id=["u"] * 101))
    with pytest.raises(TypeError, match="sequence of strings"):
        call(handler, lambda c: orgs.list_organizations(c, user_id="user_1"))
    with pytest.raises(ValueError, match="limit"):
        call(handler, lambda c: orgs.list_organization_roles(c, limit=0))
    assert sent == []


def test_roles_page_and_a_role_without_a_key() -> None:
    """Roles are read as keys; a role object without a key makes the answer unreadable."""
    good = {"data": [{"key": "org:admin", "name": "Admin", "id": "role_1"}], "total_count": 1}
    outcome = call(answer(200, good), orgs.list_organization_roles)
    assert isinstance(outcome, OrganizationRoles)
    assert outcome.keys == frozenset({"org:admin"})
    bad = {"data": [{"name": "Admin"}], "total_count": 1}
    garbled = call(answer(200, bad), orgs.list_organization_roles)
    assert isinstance(garbled, Transient)
    assert garbled.kind == "protocol"


def test_deletes_answer_what_was_deleted() -> None:
    """Deleting an organization names it; deleting a membership returns the membership."""
    gone = call(
        answer(200, {"object": "organization", "id": "org_1", "deleted": True}),
        lambda c: orgs.delete_organization(c, "org_1"),
    )
    assert gone == OrganizationDeleted("org_1")
    removed = call(
        answer(200, member_json("user_9")), lambda c: orgs.delete_membership(c, "org_1", "user_9")
    )
    assert isinstance(removed, Membership)
    assert removed.membership.user_id == "user_9"


# --- against the sandbox ------------------------------------------------------------------


def in_sandbox(sb: InProcessSandbox, action: Callable[[ClerkClient], Awaitable[T]]) -> T:
    """Run ``action`` with a client on the in-process sandbox."""

    async def main() -> T:
        async with ClerkClient(sb.url, Secret(sb.secret_key), transport=sb.transport) as clerk:
            return await action(clerk)

    return asyncio.run(main())


def test_happy_path_against_the_sandbox() -> None:
    """Create, find by slug, add members, page through them, read roles, delete: all answered."""
    sb = in_process_sandbox(SandboxConfig.for_tests())

    async def flow(clerk: ClerkClient) -> None:
        users = []
        for i in range(5):
            created = await clerk.create_user({"email_address": [f"u{i}@example.com"]})
            assert isinstance(created, Created)
            users.append(created.user_id)
        made = await orgs.create_organization(
            clerk, {"name": "Acme", "slug": "acme", "private_metadata": {"legacy_key": "t-1"}}
        )
        assert isinstance(made, Organization)
        found = await orgs.get_organization(clerk, "acme")
        assert found == made
        for i, user_id in enumerate(users):
            role = "org:admin" if i == 0 else "org:member"
            added = await orgs.create_membership(clerk, made.organization.id, user_id, role)
            assert isinstance(added, Membership)
        seen: list[tuple[str, str]] = []
        offset = 0
        while True:
            page = await orgs.list_memberships(clerk, made.organization.id, limit=2, offset=offset)
            assert isinstance(page, Memberships)
            seen += [(m.user_id, m.role) for m in page.memberships]
            offset += len(page.memberships)
            if offset >= page.total:
                break
        assert sorted(seen) == sorted(
            (u, "org:admin" if i == 0 else "org:member") for i, u in enumerate(users)
        )
        listed = await orgs.list_organizations(
            clerk, user_id=[users[1]], include_members_count=True
        )
        assert isinstance(listed, Organizations)
        assert [(o.id, o.members_count) for o in listed.organizations] == [
            (made.organization.id, 5)
        ]
        roles = await orgs.list_organization_roles(clerk)
        assert isinstance(roles, OrganizationRoles)
        assert roles.keys == {"org:admin", "org:member"}
        removed = await orgs.delete_membership(clerk, made.organization.id, users[4])
        assert isinstance(removed, Membership)
        assert removed.membership.user_id == users[4]
        deleted = await orgs.delete_organization(clerk, made.organization.id)
        assert deleted == OrganizationDeleted(made.organization.id)
        missing = await orgs.get_organization(clerk, "acme")
        assert isinstance(missing, Rejected)
        assert missing.status == 404

    in_sandbox(sb, flow)


def test_lost_answers_are_recovered_exactly_once() -> None:
    """After lost answers the organization is found by slug and the membership exists once."""
    sb = in_process_sandbox(SandboxConfig.for_tests(faults=FaultConfig(lost_rate=1.0)))

    async def flow(clerk: ClerkClient) -> None:
        lost_user = await clerk.create_user({"external_id": "legacy-1"})
        assert isinstance(lost_user, Transient)
        looked = await clerk.list_users(external_id=["legacy-1"])
        user_id = looked.users[0].id  # type: ignore[union-attr]
        lost = await orgs.create_organization(clerk, {"name": "Acme", "slug": "acme"})
        assert isinstance(lost, Transient)
        assert lost.ambiguous
        found = await orgs.get_organization(clerk, "acme")
        assert isinstance(found, Organization)
        org_id = found.organization.id
        again = await orgs.create_organization(clerk, {"name": "Acme", "slug": "acme"})
        assert isinstance(again, Rejected)
        assert (again.code, again.param, classify(again)) == (
            "form_identifier_exists", "slug", Action.RECONCILE,
        )  # fmt: skip
        lost_member = await orgs.create_membership(clerk, org_id, user_id, "org:member")
        assert isinstance(lost_member, Transient)
        assert lost_member.ambiguous
        second = await orgs.create_membership(clerk, org_id, user_id, "org:member")
        assert isinstance(second, Rejected)
        assert classify(second) is Action.RECONCILE
        members = await orgs.list_memberships(clerk, org_id, user_id=[user_id])
        assert isinstance(members, Memberships)
        assert [(m.user_id, m.role) for m in members.memberships] == [(user_id, "org:member")]

    in_sandbox(sb, flow)
    assert len(sb.store.orgs) == 1
    assert sb.store.orgs.memberships() == 1


def test_organization_calls_share_the_runs_limiter() -> None:
    """Through until_answered, organization calls take the same pacer as user calls."""
    sb = in_process_sandbox(
        SandboxConfig.for_tests(faults=FaultConfig(error_rate=0.3, error_statuses=(503,)), seed=3)
    )

    async def flow(clerk: ClerkClient) -> Pacer:
        pacer = Pacer(1000.0)
        quick: dict[str, Any] = {"attempts": 20, "backoff_base": 0.001}
        users = await until_answered(
            pacer, lambda: clerk.list_users(limit=10), doing="list", **quick
        )
        assert not isinstance(users, Rejected)
        made = await until_answered(
            pacer, lambda: orgs.get_organization(clerk, "none"), doing="look up", **quick
        )
        assert isinstance(made, Rejected)  # a 404 is an answer: returned, not retried
        roles = await until_answered(
            pacer, lambda: orgs.list_organization_roles(clerk), doing="list roles", **quick
        )
        assert isinstance(roles, OrganizationRoles)
        return pacer

    pacer = in_sandbox(sb, flow)
    counters = sb.counters()
    assert pacer.stats.requests == counters["requests"] >= 3
    assert counters["faults"].get("error", 0) == counters["requests"] - 3
