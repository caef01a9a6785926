"""``clerk-migrate verify`` and ``rollback`` on a run with organizations and memberships: the CLI
in-process against a real-socket sandbox, the checkpoint a real SQLite file.

The run sends its users; its organizations and memberships are made in the sandbox and recorded
in the run's state DB as a run records them (created, or exists when they were already there).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from migrate._internal.state import (
    ROLLED_BACK,
    Completed,
    Existed,
    MemberPlanRow,
    PlanRow,
    RowState,
    StateStore,
)
from migrate.cli import main
from migrate.sandbox import SandboxHandle

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
"""
MEMBERS = [("acme", "u1", "org:admin"), ("acme", "u2", "org:member"),
           ("globex", "u3", "org:member")]  # fmt: skip


def invoke(handle: SandboxHandle, *args: str) -> Result:
    """The CLI in-process with the sandbox's URL and key in the environment."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    return CliRunner().invoke(main, [*args, "--rate", "2000"], env=env, catch_exceptions=False)


def _post(api: httpx.Client, path: str, body: dict[str, Any]) -> str:
    response = api.post(path, json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


@pytest.fixture
def run_dir(sandbox: SandboxHandle, tmp_path: Path) -> Path:
    """A run of users u1-u3 whose organization acme (created) and globex (exists) and three
    memberships (created) are in the sandbox and in the state DB."""
    (tmp_path / "users.csv").write_text(
        "id,email\n" + "".join(f"u{i},u{i}@example.com\n" for i in (1, 2, 3))
    )
    (tmp_path / "map.toml").write_text(MAPPING)
    done = invoke(sandbox, "run", str(tmp_path / "users.csv"), "-m", str(tmp_path / "map.toml"))
    assert done.exit_code == 0, done.output
    folder = tmp_path / "users.clerk-migrate"
    store = StateStore.open(folder / "state.sqlite")
    users = {r.key: str(r.clerk_user_id) for r in store.iter_rows()}
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        orgs = {
            key: _post(api, "/v1/organizations",
                       {"name": key, "slug": key, "private_metadata": {"legacy_key": key}})
            for key in ("acme", "globex")
        }  # fmt: skip
        member_ids = [
            _post(api, f"/v1/organizations/{orgs[o]}/memberships",
                  {"user_id": users[u], "role": role})
            for o, u, role in MEMBERS
        ]  # fmt: skip
    kind = store.kind("organizations")
    kind.plan([PlanRow(2, "acme", "acme"), PlanRow(3, "globex", "globex")])
    kind.claim([2, 3])
    kind.record_many([Completed(2, orgs["acme"]), Existed(3, orgs["globex"])])
    members = store.kind("memberships")
    members.plan_memberships(
        MemberPlanRow(i + 1, i + 2, u, o, role) for i, (o, u, role) in enumerate(MEMBERS)
    )
    members.claim([1, 2, 3])
    members.record_many(Completed(i + 1, mid) for i, mid in enumerate(member_ids))
    store.close()
    return folder


def test_verify_checks_organizations_and_memberships_too(
    sandbox: SandboxHandle, run_dir: Path
) -> None:
    """verify counts every kind; a membership removed in Clerk is one line on screen and one
    verify.csv line of kind membership, and the exit is 3."""
    clean = invoke(sandbox, "verify", str(run_dir))
    assert clean.exit_code == 0, clean.output
    assert "Checked 3 users, 2 organizations, 3 memberships: 0 problems." in clean.output
    (acme,) = [o for o in sandbox.store.orgs if o.slug == "acme"]
    user = next(u for u in sandbox.store if u.external_id == "u2")
    org_id, user_id = sandbox.store.orgs.org_id(acme.seq), sandbox.store.user_id(user.seq)
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    url = f"{sandbox.url}/v1/organizations/{org_id}/memberships/{user_id}"
    httpx.delete(url, headers=headers).raise_for_status()
    missing = invoke(sandbox, "verify", str(run_dir))
    assert missing.exit_code == 3
    assert "Checked 3 users, 2 organizations, 3 memberships: 1 problems." in missing.output
    assert "  membership row 3 (acme/u2): missing" in missing.output
    with (run_dir / "verify.csv").open(newline="") as handle:
        assert list(csv.DictReader(handle)) == [
            {"kind": "membership", "row": "3", "key": "acme/u2", "clerk_id": f"{org_id}/{user_id}",
             "problem": "missing", "expected": "org:member", "found": ""}
        ]  # fmt: skip


def test_rollback_deletes_memberships_organizations_then_users(
    sandbox: SandboxHandle, run_dir: Path
) -> None:
    """rollback --yes deletes the three memberships, acme and the users; globex (exists) is
    kept; every deleted row is pending, noted rolled_back; a second rollback has nothing left."""
    result = invoke(sandbox, "rollback", str(run_dir), "--yes")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "Deleted 3 memberships; 0 were already gone; 0 refused." in lines
    assert "Deleted 1 organizations; 0 were already gone; 0 refused." in lines
    assert "Deleted 3 users; 0 were already gone; 0 refused." in lines
    assert "7 rows are pending again (rolled_back in the reports); " in result.output
    assert [o.slug for o in sandbox.store.orgs] == ["globex"]
    assert sandbox.store.orgs.memberships() == 0
    assert len(sandbox.store) == 0
    totals = json.loads((run_dir / "summary.json").read_text())["rolled_back"]["rollbacks"]
    assert (totals["organizations_deleted"], totals["memberships_deleted"]) == (1, 3)
    store = StateStore.open(run_dir / "state.sqlite")
    try:
        for kind, rows in (("users", 3), ("organizations", 1), ("memberships", 3)):
            records = list(store.kind(kind).iter_rows((RowState.PENDING,)))
            assert [r.code for r in records] == [ROLLED_BACK] * rows, kind
        assert [r.key for r in store.kind("organizations").iter_rows((RowState.EXISTS,))] == [
            "globex"
        ]
    finally:
        store.close()
    again = invoke(sandbox, "rollback", str(run_dir), "--yes")
    assert again.exit_code == 0
    assert "Nothing to roll back: this run created no users." in again.output
