"""Organizations and memberships through the engine against the in-process sandbox: faults, lost
answers, slug conflicts, members whose user is missing, and a stop between phases."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import anyio
import httpx

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.clerk.outcomes import ClerkMembership, ClerkOrganization
from migrate._internal.runner.engine import EngineSettings, RunOutcome
from migrate._internal.runner.jobs import Job
from migrate._internal.runner.kinds import MembershipKind, OrganizationKind
from migrate._internal.runner.phases import TenantSource, requeue_tenants, send_phases
from migrate._internal.runner.workers import Stopper, WorkerSettings
from migrate._internal.secrets import Secret
from migrate._internal.state import (
    Existed,
    Fingerprints,
    MemberPlanRow,
    PlanRow,
    Reconciled,
    RowState,
    StateStore,
)
from migrate.sandbox import FaultConfig, InProcessSandbox, SandboxConfig, in_process_sandbox
from migrate.sandbox.orgstore import OrgRecord

FAST = WorkerSettings(max_attempts=30, backoff_base=0.001, backoff_cap=0.01)


@dataclass(frozen=True)
class P:
    """A payload as ``prepare`` yields it."""

    row: int
    key: str
    body: dict[str, Any]


def org_body(n: int) -> dict[str, Any]:
    """Organization ``o<n>``'s CreateOrganization body, its legacy key in private metadata."""
    return {"name": f"Org {n}", "slug": f"org-{n}", "private_metadata": {"legacy_key": f"o{n}"}}


def plan(tmp_path: Path, orgs: int, users: int, *, bad_user: int | None = None) -> StateStore:
    """Users 2..users+1 and organizations 2..orgs+1 pending; each user a member of one or two
    organizations (``org:admin`` in the first). ``bad_user``'s row is invalid."""
    store = StateStore.create(tmp_path / "state.sqlite", Fingerprints({"in.csv": "x"}, "m"))
    bad = [{"field": "email_address", "reason": "invalid_email", "message": "no @"}]
    store.plan(
        PlanRow(r, f"u{r}", f"u{r}", f"u{r}@example.com", bad if r == bad_user else ())
        for r in range(2, users + 2)
    )
    store.kind("organizations").plan(
        PlanRow(r, f"o{r}", f"org-{r}", None) for r in range(2, orgs + 2)
    )
    members = []
    for r in range(2, users + 2):
        first, second = 2 + r % orgs, 2 + (r + 1) % orgs
        members.append(MemberPlanRow(len(members) + 1, r, f"u{r}", f"o{first}", "org:admin"))
        if r % 2 and second != first:
            members.append(MemberPlanRow(len(members) + 1, r, f"u{r}", f"o{second}", "org:member"))
    store.kind("memberships").plan_memberships(members)
    return store


def send(
    sandbox: InProcessSandbox,
    store: StateStore,
    *,
    stopper: Stopper | None = None,
    timeout: float = 5.0,
    orgs: dict[int, dict[str, Any]] | None = None,
    notice: Callable[[str], None] | None = None,
) -> RunOutcome:
    """One pass over every kind through a ``ClerkClient`` wired to the in-process sandbox."""

    def users(rows: Sequence[int]) -> Iterator[P]:
        return (P(r, f"u{r}", {"external_id": f"u{r}", "email_address": [f"u{r}@example.com"]})
                for r in rows)  # fmt: skip

    def organizations(rows: Sequence[int]) -> Iterator[P]:
        return (P(r, f"o{r}", (orgs or {}).get(r, org_body(r))) for r in rows)

    async def main() -> RunOutcome:
        client = ClerkClient(
            sandbox.url, Secret(sandbox.secret_key), transport=sandbox.transport,
            timeout=httpx.Timeout(timeout),
        )  # fmt: skip
        async with client:
            settings = EngineSettings(rate=5000.0, worker=FAST, record_interval=0.0)
            return await send_phases(
                client, store, users, settings, tenants=TenantSource(organizations),
                stopper=stopper, notice=notice,
            )  # fmt: skip

    return anyio.run(main)


def clerk_view(sandbox: InProcessSandbox) -> dict[str, dict[str, str]]:
    """Each sandbox organization's legacy key -> {user external_id: role}."""
    externals = {u.seq: u.external_id for u in sandbox.store}
    found: dict[str, dict[str, str]] = {}
    for org in sandbox.store.orgs:
        key = json.loads(org.private_metadata or "{}")["legacy_key"]
        assert key not in found, f"organization {key} created twice"
        found[key] = {str(externals[seq]): m.role for seq, m in org.members.items()}
    return found


def planned_view(store: StateStore) -> dict[str, dict[str, str]]:
    """What the memberships table says each organization should hold."""
    found: dict[str, dict[str, str]] = {}
    for link in store.kind("memberships").iter_member_links():
        found.setdefault(link.organization_key, {})[link.user_key] = link.role
    return found


def test_faults_and_lost_answers_leave_every_organization_and_membership_once(
    tmp_path: Path,
) -> None:
    """30 % 5xx and 20 % lost creates: every organization and membership exists exactly once,
    with its role, and the state DB holds their Clerk ids."""
    sandbox = in_process_sandbox(
        SandboxConfig.for_tests(faults=FaultConfig(error_rate=0.3, lost_rate=0.2), seed=11)
    )
    store = plan(tmp_path, 12, 60)
    outcome = send(sandbox, store)
    for kind in ("users", "organizations", "memberships"):
        counts = store.kind(kind).counts()
        assert counts[RowState.CREATED] == sum(counts.values()), kind
    assert clerk_view(sandbox) == planned_view(store)
    orgs = {json.loads(o.private_metadata or "{}")["legacy_key"]: o for o in sandbox.store.orgs}
    assert dict(store.kind("organizations").clerk_ids(orgs)) == {
        key: sandbox.store.orgs.org_id(o.seq) for key, o in orgs.items()
    }
    assert outcome.kinds["organizations"].created == 12
    assert outcome.retries > 10
    assert sandbox.counters()["faults"]


def test_stalled_answers_are_looked_up_not_created_twice(tmp_path: Path) -> None:
    """Creates stalled past the client timeout after storing: found by slug / membership list."""
    faults = FaultConfig(stall_rate=0.2, stall_seconds=2.0, stall_after_store=True)
    sandbox = in_process_sandbox(SandboxConfig.for_tests(faults=faults, seed=3))
    store = plan(tmp_path, 6, 20)
    send(sandbox, store, timeout=0.1)
    assert clerk_view(sandbox) == planned_view(store)
    assert store.kind("memberships").counts()[RowState.CREATED] == len(
        list(store.kind("memberships").iter_member_links())
    )


def test_a_slug_held_by_another_organization_fails_as_a_conflict(tmp_path: Path) -> None:
    """A stranger's organization on our slug: Failed naming the slug; one of ours from an earlier
    run directory: exists. Their memberships follow (the existing one's are sent)."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    stranger = OrgRecord("Someone", "org-2", 0)
    stranger.private_metadata = json.dumps({"legacy_key": "elsewhere"})
    sandbox.store.orgs.add(stranger)
    earlier = OrgRecord("Org 3", "org-3", 0)
    earlier.private_metadata = json.dumps({"legacy_key": "o3"})
    earlier_id = sandbox.store.orgs.add(earlier)
    store = plan(tmp_path, 3, 6)
    send(sandbox, store)
    orgs = store.kind("organizations")
    failed = orgs.get(2)
    assert failed is not None
    assert (failed.state, failed.code, failed.param) == (
        RowState.FAILED, "form_identifier_exists", "slug",
    )  # fmt: skip
    assert "slug org-2 already belongs to another Clerk organization" in str(failed.message)
    existed = orgs.get(3)
    assert existed is not None
    assert (existed.state, existed.clerk_user_id) == (RowState.EXISTS, earlier_id)
    assert len(earlier.members) > 0
    waiting = [
        r for r in store.kind("memberships").iter_rows([RowState.FAILED])
        if r.code == "organization_not_migrated"
    ]  # fmt: skip
    assert waiting
    assert all(r.key.startswith("o2/") and r.retryable for r in waiting)
    assert "organization o2 is not in Clerk" in str(waiting[0].message)


def test_a_membership_whose_user_is_not_migrated_fails_without_a_request(tmp_path: Path) -> None:
    """An invalid user's memberships fail user_not_migrated, retryable, and send nothing."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = plan(tmp_path, 3, 6, bad_user=4)
    send(sandbox, store)
    members = store.kind("memberships")
    refused = list(members.iter_rows([RowState.FAILED]))
    assert refused
    assert {r.key.split("/")[1] for r in refused} == {"u4"}
    assert {(r.code, r.param, r.retryable, r.attempts) for r in refused} == {
        ("user_not_migrated", "membership.user", True, 0)
    }
    assert "u4" not in {m for held in clerk_view(sandbox).values() for m in held}


def test_a_stop_in_the_organizations_phase_sends_no_user_and_resume_finishes(
    tmp_path: Path,
) -> None:
    """A stop during the organizations phase ends the pass before users; the next pass
    finishes every kind, nothing twice."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = plan(tmp_path, 8, 10)
    stopper = Stopper()
    stopper.interrupt()  # as a Ctrl-C before the first organization leaves
    outcome = send(sandbox, store, stopper=stopper)
    assert outcome.interrupted
    assert len(sandbox.store) == 0
    assert set(outcome.kinds) <= {"organizations"}
    send(sandbox, store)
    assert clerk_view(sandbox) == planned_view(store)
    assert len(sandbox.store) == 10


def test_in_flight_organizations_and_memberships_are_reconciled_at_start(tmp_path: Path) -> None:
    """Rows left in_flight by a crash: the organization found by slug and the membership found
    in its organization are recorded created; those not found go back and are sent once."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = plan(tmp_path, 3, 4)
    send(sandbox, store)
    orgs, members = store.kind("organizations"), store.kind("memberships")
    before = clerk_view(sandbox)
    # as if the last pass died after sending org 2 and membership 1, before their answers
    store._conn.execute(  # simulating a crash's leftovers
        "UPDATE organizations SET state = 'in_flight', clerk_user_id = NULL WHERE row = 2"
    )
    store._conn.execute(
        "UPDATE memberships SET state = 'in_flight', clerk_user_id = NULL WHERE row = 1"
    )
    outcome = send(sandbox, store)
    assert outcome.reconciled.found == 2
    assert clerk_view(sandbox) == before
    assert orgs.counts()[RowState.CREATED] == 3
    assert members.counts()[RowState.IN_FLIGHT] == 0


def test_users_only_runs_are_unchanged_without_tenants(tmp_path: Path) -> None:
    """Without a tenant source only users are sent, as before organizations existed."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = plan(tmp_path, 3, 5)

    async def main() -> RunOutcome:
        client = ClerkClient(sandbox.url, Secret(sandbox.secret_key), transport=sandbox.transport)
        async with client:
            settings = EngineSettings(rate=5000.0, worker=FAST, record_interval=0.0)

            def users(rows: Sequence[int]) -> Iterator[P]:
                return (P(r, f"u{r}", {"external_id": f"u{r}"}) for r in rows)

            return await send_phases(client, store, users, settings)

    outcome = anyio.run(main)
    assert set(outcome.kinds) == {"users"}
    assert len(sandbox.store) == 5
    assert len(sandbox.store.orgs) == 0
    assert store.kind("organizations").counts()[RowState.PENDING] == 3
    assert replace(outcome, kinds={}).tally.created == 5


def test_memberships_waiting_for_their_user_are_sent_once_it_is_migrated(tmp_path: Path) -> None:
    """After the user's row is corrected and created, resuming requeues its memberships
    (requeue_tenants) and sends them; the others are not sent again."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = plan(tmp_path, 3, 6, bad_user=4)
    send(sandbox, store)
    members = store.kind("memberships")
    waiting = members.counts()[RowState.FAILED]
    assert waiting > 0
    # as ``retry --input`` does with a corrected row: invalid -> pending
    store._conn.execute("UPDATE rows SET state = 'pending' WHERE row = 4")
    assert requeue_tenants(store) == waiting
    before = sandbox.store.orgs.memberships()
    send(sandbox, store)
    assert members.counts()[RowState.CREATED] == len(list(members.iter_member_links()))
    assert sandbox.store.orgs.memberships() == before + waiting
    assert clerk_view(sandbox) == planned_view(store)


def test_a_stop_between_organizations_and_users_resumes_with_users(tmp_path: Path) -> None:
    """Ctrl-C as the users' phase begins: every organization is created, no user and no
    membership; the next pass sends users and memberships, no organization twice."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    store = plan(tmp_path, 4, 6)
    stopper = Stopper()
    said: list[str] = []

    def notice(line: str) -> None:
        said.append(line)
        if line.startswith("Users:"):
            stopper.interrupt()

    outcome = send(sandbox, store, stopper=stopper, notice=notice)
    assert outcome.interrupted
    assert said[:2] == ["Organizations: sending 4", "Users: sending 6"]
    assert len(sandbox.store.orgs) == 4
    assert len(sandbox.store) == 0
    assert store.counts()[RowState.PENDING] == 6
    assert store.kind("memberships").counts()[RowState.CREATED] == 0
    send(sandbox, store)
    assert len(sandbox.store.orgs) == 4
    assert clerk_view(sandbox) == planned_view(store)


def test_an_organization_found_unchanged_since_before_our_post_is_not_ours(
    tmp_path: Path,
) -> None:
    """A row left in_flight whose organization Clerk last changed long before the row was sent
    is recorded exists (a rollback must leave it); a fresh one is created."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    old = OrgRecord("Org 2", "org-2", 0)  # last changed at the epoch
    old.private_metadata = json.dumps({"legacy_key": "o2"})
    old_id = sandbox.store.orgs.add(old)
    store = plan(tmp_path, 2, 2)
    orgs = store.kind("organizations")
    orgs.claim([2])  # as if a crashed pass had sent it
    send(sandbox, store)
    found = orgs.get(2)
    assert found is not None
    assert (found.state, found.clerk_user_id) == (RowState.EXISTS, old_id)
    fresh = orgs.get(3)
    assert fresh is not None
    assert fresh.state is RowState.CREATED


def test_after_an_ambiguous_create_the_kind_tells_ours_from_an_older_object() -> None:
    """OrganizationKind and MembershipKind.ours: changed before the first POST -> Existed."""
    job = Job(2, "o2", "org-2", None, {}, sent=True, first_sent_at=2_000_000.0)
    recent, older = 2_000_000_000, 1_000_000_000  # epoch ms: at the POST, and 11 days before
    for kind in (OrganizationKind(None), MembershipKind(None)):  # type: ignore[arg-type]
        org = ClerkOrganization("org_1", updated_at=older)
        member = ClerkMembership("orgmem_1", "org_1", "user_1", "org:member", updated_at=older)
        thing: Any = org if isinstance(kind, OrganizationKind) else member
        assert kind.ours(job, thing, 1) == Existed(2, thing.id, 1)
        thing = replace(thing, updated_at=recent)
        assert kind.ours(job, thing, 1) == Reconciled(2, thing.id, 1)


def test_a_new_run_directory_finds_every_kind_already_there(tmp_path: Path) -> None:
    """A second run directory against the same instance: organizations (same slug and legacy
    key), users and memberships (already_a_member_in_organization) are all exists, none
    created again."""
    sandbox = in_process_sandbox(SandboxConfig.for_tests())
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    send(sandbox, plan(tmp_path / "a", 3, 6))
    before = clerk_view(sandbox)
    store = plan(tmp_path / "b", 3, 6)
    outcome = send(sandbox, store)
    assert clerk_view(sandbox) == before
    for kind in ("users", "organizations", "memberships"):
        counts = store.kind(kind).counts()
        assert counts[RowState.EXISTS] == sum(counts.values()), kind
        assert outcome.kinds[kind].exists == counts[RowState.EXISTS], kind
    ids = dict(store.kind("memberships").clerk_ids(["o2/u2", "o4/u2"]))
    assert set(ids) <= {"o2/u2", "o4/u2"}
    assert ids
