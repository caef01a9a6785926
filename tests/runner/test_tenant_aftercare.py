"""Verify and delete organizations and memberships (``runner.tenant_aftercare``) against a
real-socket sandbox."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.runner import tenant_aftercare
from migrate._internal.runner.aftercare import Mismatch
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.tenant_aftercare import (
    ExpectedMembership,
    ExpectedOrganization,
    delete_memberships,
    delete_organizations,
    verify_memberships,
    verify_organizations,
)
from migrate._internal.secrets import Secret
from migrate.errors import RunAbortedError
from migrate.sandbox import FaultConfig, SandboxConfig, SandboxHandle

T = TypeVar("T")


def _api(sandbox: SandboxHandle) -> httpx.Client:
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    return httpx.Client(base_url=sandbox.url, headers=headers, timeout=10)


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> str:
    response = api.post(path, json=body)
    while response.status_code >= 500:  # a sandbox with faults: nothing was stored
        response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _users(api: httpx.Client, n: int) -> list[str]:
    return [_post(api, "/v1/users", {"email_address": [f"u{i}@example.com"]}) for i in range(n)]


def _org(api: httpx.Client, key: str) -> str:
    body = {"name": key.upper(), "slug": key, "private_metadata": {"legacy_key": key}}
    return _post(api, "/v1/organizations", body)


def _join(api: httpx.Client, org_id: str, user_id: str, role: str) -> None:
    _post(api, f"/v1/organizations/{org_id}/memberships", {"user_id": user_id, "role": role})


def _call(
    sandbox: SandboxHandle,
    work: Callable[[ClerkClient, Pacer], Coroutine[Any, Any, T]],
) -> T:
    async def go() -> T:
        async with ClerkClient(sandbox.url, Secret(sandbox.secret_key)) as client:
            return await work(client, Pacer(1000, fixed_concurrency=4))

    return anyio.run(go)


def test_verify_organizations_lists_missing_ones_and_foreign_legacy_keys(
    sandbox: SandboxHandle,
) -> None:
    """A deleted organization is missing; an id whose legacy_key is another key is flagged; 101
    ids take two lookups."""
    with _api(sandbox) as api:
        ids = [_org(api, f"t{i}") for i in range(101)]
        assert api.delete(f"/v1/organizations/{ids[5]}").status_code == 200
    expected = [ExpectedOrganization(i + 2, f"t{i}", ids[i]) for i in range(101)]
    expected[7] = ExpectedOrganization(9, "other", ids[7])
    before = sandbox.counters()["requests"]
    checked, problems = _call(sandbox, lambda c, p: verify_organizations(c, p, expected))
    assert sandbox.counters()["requests"] - before == 2
    assert checked == 101
    assert problems == [
        Mismatch(7, "t5", ids[5], "missing", None, None, "organization"),
        Mismatch(9, "other", ids[7], "legacy_key", "other", "t7", "organization"),
    ]


def test_verify_memberships_pages_through_members_and_flags_missing_and_wrong_roles(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Members listed a page at a time are all found; a wrong role, a user not a member and a
    deleted organization's members are each one line."""
    monkeypatch.setattr(tenant_aftercare, "MAX_LIST_LIMIT", 2)
    with _api(sandbox) as api:
        users = _users(api, 6)
        acme, gone = _org(api, "acme"), _org(api, "gone")
        for u in users[:5]:
            _join(api, acme, u, "org:admin" if u == users[1] else "org:member")
        _join(api, gone, users[0], "org:member")
        assert api.delete(f"/v1/organizations/{gone}").status_code == 200
    expected = [ExpectedMembership(i + 2, f"acme/u{i}", acme, u, "org:member")
                for i, u in enumerate(users)]  # fmt: skip
    expected.append(ExpectedMembership(9, "gone/u0", gone, users[0], "org:member"))
    before = sandbox.counters()["requests"]
    checked, problems = _call(sandbox, lambda c, p: verify_memberships(c, p, expected))
    assert sandbox.counters()["requests"] - before == 3 + 1  # 5 members, 2 a page; 404 once
    assert checked == 7
    assert problems == [
        Mismatch(
            3, "acme/u1", f"{acme}/{users[1]}", "role", "org:member", "org:admin", "membership"
        ),
        Mismatch(7, "acme/u5", f"{acme}/{users[5]}", "missing", "org:member", None, "membership"),
        Mismatch(9, "gone/u0", f"{gone}/{users[0]}", "missing", "org:member", None, "membership"),
    ]


def test_deletes_record_each_batch_and_count_404_as_already_gone(
    sandbox: SandboxHandle,
) -> None:
    """Memberships then organizations are deleted; one removed beforehand counts as already
    gone and is recorded with the rest; the sandbox keeps no organization."""
    with _api(sandbox) as api:
        users = _users(api, 5)
        org_ids = [_org(api, "a"), _org(api, "b")]
        members = []
        for i, u in enumerate(users):
            org = org_ids[i % 2]
            _join(api, org, u, "org:member")
            members.append(ExpectedMembership(i + 2, f"x/{i}", org, u, "org:member"))
        response = api.delete(f"/v1/organizations/{org_ids[0]}/memberships/{users[0]}")
        assert response.status_code == 200
    batches: list[list[ExpectedMembership]] = []
    result = _call(sandbox, lambda c, p: delete_memberships(c, p, members, batches.append))
    assert (result.deleted, result.already_gone, result.refused) == (4, 1, [])
    assert [len(b) for b in batches] == [4, 1]  # four workers a batch
    assert {m.row for b in batches for m in b} == {2, 3, 4, 5, 6}
    assert sandbox.store.orgs.memberships() == 0
    orgs = [ExpectedOrganization(2, "a", org_ids[0]), ExpectedOrganization(3, "b", org_ids[1])]
    gone_orgs: list[list[ExpectedOrganization]] = []
    result_orgs = _call(sandbox, lambda c, p: delete_organizations(c, p, orgs, gone_orgs.append))
    assert (result_orgs.deleted, result_orgs.already_gone) == (2, 0)
    assert gone_orgs == [orgs]
    assert len(sandbox.store.orgs) == 0
    again = _call(sandbox, lambda c, p: delete_organizations(c, p, orgs, lambda _: None))
    assert (again.deleted, again.already_gone) == (0, 2)


def test_verify_and_delete_ride_out_server_errors(
    make_sandbox: Callable[..., SandboxHandle],
) -> None:
    """With a third of the requests answered 5xx, verify still finds every organization and
    membership and the deletes still remove them all."""
    faulty = make_sandbox(SandboxConfig.for_tests(faults=FaultConfig(error_rate=0.3), seed=3))
    with _api(faulty) as api:
        users = _users(api, 8)
        org = _org(api, "acme")
        for u in users:
            _join(api, org, u, "org:member")
    injected = faulty.counters()["faults"].get("error", 0)
    members = [ExpectedMembership(i, f"acme/{i}", org, u, "org:member")
               for i, u in enumerate(users)]  # fmt: skip
    checked, problems = _call(faulty, lambda c, p: verify_memberships(c, p, members))
    assert (checked, problems) == (8, [])
    orgs = [ExpectedOrganization(1, "acme", org)]
    assert _call(faulty, lambda c, p: verify_organizations(c, p, orgs)) == (1, [])
    result = _call(faulty, lambda c, p: delete_memberships(c, p, members, lambda _: None))
    assert result.deleted + result.already_gone == 8
    assert result.refused == []
    assert faulty.store.orgs.memberships() == 0
    assert faulty.counters()["faults"]["error"] > injected  # the calls under test met 5xx too


def test_an_abort_code_in_a_batch_is_raised_as_itself(sandbox: SandboxHandle) -> None:
    """A key Clerk refuses stops a delete batch with RunAbortedError itself (what the CLI turns
    into a message), not an exception group around it."""
    members = [ExpectedMembership(2, "a/u", "org_1", "user_1", "org:member")]
    orgs = [ExpectedOrganization(2, "a", "org_1")]

    async def go() -> None:
        async with ClerkClient(sandbox.url, Secret("sk_test_" + "x" * 40)) as client:
            pacer = Pacer(1000, fixed_concurrency=4)
            with pytest.raises(RunAbortedError):
                await delete_memberships(client, pacer, members, lambda _: None)
            with pytest.raises(RunAbortedError):
                await delete_organizations(client, pacer, orgs, lambda _: None)
            with pytest.raises(RunAbortedError):
                await verify_memberships(client, pacer, members)

    anyio.run(go)
