"""A run with organizations, then ``verify``, ``rollback`` and the same run again: the CLI
in-process against a real-socket sandbox, with the state DB a real SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from tenant_export import TenantExport, build_export

from migrate.cli import main
from migrate.sandbox import SandboxHandle


def invoke(handle: SandboxHandle, *args: str) -> Result:
    """The CLI in-process with the sandbox's URL and key in the environment."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    return CliRunner().invoke(main, [*args, "--rate", "2000"], env=env, catch_exceptions=False)


def run(handle: SandboxHandle, export: TenantExport) -> Result:
    """``clerk-migrate run`` of the export (django preset, the generic tenant files)."""
    return invoke(
        handle, "run", str(export.users_csv), "--mapping", "django", "--quiet",
        "--organizations", str(export.organizations_csv),
        "--memberships", str(export.memberships_csv),
    )  # fmt: skip


def in_clerk(handle: SandboxHandle) -> dict[tuple[str, str], str]:
    """The sandbox's memberships: (organization legacy key, user external id) -> role."""
    users = {handle.store.user_id(u.seq): u.external_id for u in handle.store}
    return {
        (json.loads(org.private_metadata or "{}")["legacy_key"],
         str(users[handle.store.user_id(m.user_seq)])): m.role
        for org in handle.store.orgs
        for m in org.members.values()
    }  # fmt: skip


def test_verify_rollback_and_run_again(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """After a run with bad rows verify finds nothing wrong; rollback empties the sandbox and
    puts every created row back to pending; the same run creates them all again, once."""
    export = build_export(tmp_path, organizations=20, users=120, second=40)
    assert run(sandbox, export).exit_code == 3  # the bad rows
    assert in_clerk(sandbox) == export.memberships
    run_dir = str(tmp_path / "auth_user.clerk-migrate")
    checked = invoke(sandbox, "verify", run_dir)
    assert checked.exit_code == 0, checked.output
    counts = (len(export.users), len(export.organizations), len(export.memberships))
    assert (
        "Checked {:,} users, {:,} organizations, {:,} memberships: 0 problems.".format(*counts)
        in checked.output
    )
    rolled = invoke(sandbox, "rollback", run_dir, "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert f"Deleted {counts[2]:,} memberships; 0 were already gone; 0 refused." in rolled.output
    assert f"Deleted {counts[1]:,} organizations; 0 were already gone; 0 refused." in rolled.output
    assert f"Deleted {counts[0]:,} users; 0 were already gone; 0 refused." in rolled.output
    assert (len(sandbox.store), len(sandbox.store.orgs)) == (0, 0)
    again = run(sandbox, export)
    assert again.exit_code == 3, again.output
    assert in_clerk(sandbox) == export.memberships
    assert sorted(str(u.external_id) for u in sandbox.store) == sorted(export.users)
    assert len(sandbox.store.orgs) == counts[1]
