"""A run's organizations and memberships verified and rolled back from its state DB (a real
SQLite file) against a real-socket sandbox."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx
import pytest

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.runner.aftercare import Mismatch
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.tenant_aftercare import rollback_tenants, verify_tenants
from migrate._internal.secrets import Secret
from migrate._internal.state import (
    ROLLED_BACK,
    Completed,
    Existed,
    Fingerprints,
    MemberPlanRow,
    PlanRow,
    RowState,
    StateStore,
)
from migrate.sandbox import SandboxHandle

T = TypeVar("T")
FP = Fingerprints({"users.csv": "a" * 64}, "c" * 64)


@dataclass
class Run:
    """A state DB whose rows are in Clerk, and the Clerk ids by key."""

    store: StateStore
    users: dict[str, str]
    orgs: dict[str, str]


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> str:
    response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


@pytest.fixture
def run(sandbox: SandboxHandle, tmp_path: Path) -> Iterator[Run]:
    """Users u1-u3 created; organization acme created and globex found (exists); memberships
    acme/u1 (admin), acme/u2, globex/u1 created and globex/u3 found (exists)."""
    store = StateStore.create(tmp_path / "state.sqlite", FP, {})
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        users = {
            f"u{i}": _post(api, "/v1/users", {"email_address": [f"u{i}@example.com"]})
            for i in (1, 2, 3)
        }
        orgs = {
            key: _post(api, "/v1/organizations",
                       {"name": key, "slug": key, "private_metadata": {"legacy_key": key}})
            for key in ("acme", "globex")
        }  # fmt: skip
        plan = [("acme", "u1", "org:admin"), ("acme", "u2", "org:member"),
                ("globex", "u1", "org:member"), ("globex", "u3", "org:member")]  # fmt: skip
        member_ids = [
            _post(api, f"/v1/organizations/{orgs[o]}/memberships",
                  {"user_id": users[u], "role": role})
            for o, u, role in plan
        ]  # fmt: skip
    store.plan(PlanRow(i + 2, k, k) for i, k in enumerate(users))
    store.claim([2, 3, 4])
    store.record_many(Completed(i + 2, uid) for i, uid in enumerate(users.values()))
    kind = store.kind("organizations")
    kind.plan([PlanRow(2, "acme", "acme"), PlanRow(3, "globex", "globex")])
    kind.claim([2, 3])
    kind.record_many([Completed(2, orgs["acme"]), Existed(3, orgs["globex"])])
    members = store.kind("memberships")
    members.plan_memberships(
        MemberPlanRow(i + 1, i + 2, u, o, role) for i, (o, u, role) in enumerate(plan)
    )
    members.claim([1, 2, 3, 4])
    members.record_many(
        [Completed(1, member_ids[0]), Completed(2, member_ids[1]), Completed(3, member_ids[2]),
         Existed(4, member_ids[3])]
    )  # fmt: skip
    yield Run(store, users, orgs)
    store.close()


def _call(
    sandbox: SandboxHandle, work: Callable[[ClerkClient, Pacer], Coroutine[Any, Any, T]]
) -> T:
    async def go() -> T:
        async with ClerkClient(sandbox.url, Secret(sandbox.secret_key)) as client:
            return await work(client, Pacer(1000, fixed_concurrency=2))

    return anyio.run(go)


def test_verify_tenants_checks_every_row_with_its_role(sandbox: SandboxHandle, run: Run) -> None:
    """All match at first; then a changed role and a removed membership are one line each,
    at the membership's input row."""
    check = _call(sandbox, lambda c, p: verify_tenants(c, p, run.store))
    assert (check.organizations, check.memberships, check.mismatches) == (2, 4, [])
    acme, globex = run.orgs["acme"], run.orgs["globex"]
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        path = f"/v1/organizations/{acme}/memberships"
        assert api.delete(f"{path}/{run.users['u1']}").status_code == 200  # back as a member
        _post(api, path, {"user_id": run.users["u1"], "role": "org:member"})
        path = f"/v1/organizations/{globex}/memberships/{run.users['u3']}"
        assert api.delete(path).status_code == 200
    check = _call(sandbox, lambda c, p: verify_tenants(c, p, run.store))
    assert check.mismatches == [
        Mismatch(2, "acme/u1", f"{acme}/{run.users['u1']}", "role", "org:admin", "org:member",
                 "membership"),
        Mismatch(5, "globex/u3", f"{globex}/{run.users['u3']}", "missing", "org:member", None,
                 "membership"),
    ]  # fmt: skip


def test_rollback_deletes_only_what_the_run_created_and_requeues_it(
    sandbox: SandboxHandle, run: Run
) -> None:
    """Created memberships and organizations are deleted and their rows pending (rolled_back);
    the organization and membership that existed stay, in Clerk and in the state DB."""
    done = _call(sandbox, lambda c, p: rollback_tenants(c, p, run.store))
    assert (done.memberships.deleted, done.memberships.already_gone) == (3, 0)
    assert (done.organizations.deleted, done.organizations.refused) == (1, [])
    members, orgs = run.store.kind("memberships"), run.store.kind("organizations")
    assert [(r.row, r.state, r.code) for r in members.iter_rows()] == [
        (1, RowState.PENDING, ROLLED_BACK), (2, RowState.PENDING, ROLLED_BACK),
        (3, RowState.PENDING, ROLLED_BACK), (4, RowState.EXISTS, None),
    ]  # fmt: skip
    acme = run.orgs["acme"]
    assert [r.message for r in orgs.iter_rows((RowState.PENDING,))] == [
        f"organization {acme} deleted by rollback"
    ]
    assert [(r.key, r.state) for r in orgs.iter_rows()] == [
        ("acme", RowState.PENDING), ("globex", RowState.EXISTS)
    ]  # fmt: skip
    assert [o.slug for o in sandbox.store.orgs] == ["globex"]
    (globex,) = list(sandbox.store.orgs)
    assert [m.role for m in globex.members.values()] == ["org:member"]  # u3's, which existed
    again = _call(sandbox, lambda c, p: rollback_tenants(c, p, run.store))
    assert (again.memberships.deleted, again.organizations.deleted) == (0, 0)
