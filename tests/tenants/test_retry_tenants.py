"""``clerk-migrate retry`` on a run with organizations and memberships: failed ones are sent
again in the run's order (the CLI in-process against a real-socket sandbox)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from tenant_export import TenantExport, build_export

from migrate._internal.state import RowState, StateStore
from migrate.cli import main
from migrate.sandbox import SandboxHandle


def invoke(handle: SandboxHandle, *args: str) -> Result:
    """The CLI in-process with the sandbox's URL and key in the environment."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    return CliRunner().invoke(main, [*args, "--rate", "2000", "--quiet"], env=env,
                              catch_exceptions=False)  # fmt: skip


def tenant_files(export: TenantExport) -> list[str]:
    """The run's --organizations / --memberships options."""
    return ["--organizations", str(export.organizations_csv),
            "--memberships", str(export.memberships_csv)]  # fmt: skip


def failed(run_dir: Path) -> dict[str, dict[str | None, int]]:
    """Failed rows per kind and code."""
    with StateStore.open(run_dir / "state.sqlite") as store:
        return {
            kind: {
                code: n
                for (state, code), n in store.kind(kind).code_counts().items()
                if state == RowState.FAILED
            }
            for kind in ("users", "organizations", "memberships")
        }


@pytest.fixture
def strangers(sandbox: SandboxHandle) -> dict[str, str]:
    """A user holding member5's email and an organization holding slug t003 (another legacy
    key): the run's user 5 and organization t003 conflict with them."""
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    with httpx.Client(base_url=sandbox.url, headers=headers) as api:
        bodies: dict[str, tuple[str, dict[str, Any]]] = {
            "user": ("/v1/users", {"email_address": ["member5@example.com"]}),
            "organization": ("/v1/organizations", {"name": "Other", "slug": "t003",
                                                   "private_metadata": {"legacy_key": "x"}}),
        }  # fmt: skip
        return {
            name: api.post(path, json=body).json()["id"] for name, (path, body) in bodies.items()
        }


def test_retry_sends_failed_organizations_users_and_their_memberships(
    sandbox: SandboxHandle, strangers: dict[str, str], tmp_path: Path
) -> None:
    """A user and an organization that conflicted fail, and so do their memberships (retryable:
    not migrated); once the strangers are gone, retry creates all of them, each once, with
    the roles the export gives."""
    export = build_export(tmp_path, organizations=20, users=100, second=40, bad=False)
    run_dir = tmp_path / "auth_user.clerk-migrate"
    first = invoke(sandbox, "run", str(export.users_csv), "--mapping", "django",
                   *tenant_files(export))  # fmt: skip
    assert first.exit_code == 3, first.output
    codes = failed(run_dir)
    assert codes["users"] == {"form_identifier_exists": 1}
    assert set(codes["organizations"]) == {"form_identifier_exists"}
    members_of_5 = [k for k in export.memberships if k[1] == "5"]
    members_of_t003 = [k for k in export.memberships if k[0] == "t003"]
    assert codes["memberships"] == {
        "user_not_migrated": len(members_of_5), "organization_not_migrated": len(members_of_t003)
    }  # fmt: skip
    headers = {"Authorization": f"Bearer {sandbox.secret_key}"}
    for path in (
        f"/v1/users/{strangers['user']}",
        f"/v1/organizations/{strangers['organization']}",
    ):
        httpx.delete(sandbox.url + path, headers=headers).raise_for_status()

    again = invoke(sandbox, "retry", str(run_dir), *tenant_files(export))
    assert again.exit_code == 0, again.output
    assert "Failed rows back in the queue: 1 organizations, " in again.output
    assert failed(run_dir) == {"users": {}, "organizations": {}, "memberships": {}}
    user_key = {sandbox.store.user_id(u.seq): u.external_id for u in sandbox.store}
    assert sorted(user_key.values()) == sorted(export.users)
    members = {
        (json.loads(org.private_metadata or "{}")["legacy_key"],
         user_key[sandbox.store.user_id(m.user_seq)]): m.role
        for org in sandbox.store.orgs
        for m in org.members.values()
    }  # fmt: skip
    assert members == export.memberships
    assert sandbox.store.orgs.memberships() == len(export.memberships)


def test_retry_without_the_tenant_files_says_what_it_left(
    sandbox: SandboxHandle, strangers: dict[str, str], tmp_path: Path
) -> None:
    """retry without --organizations leaves the failed organizations and memberships as they
    are and says how to send them; the user is retried."""
    export = build_export(tmp_path, organizations=20, users=100, second=40, bad=False)
    run_dir = tmp_path / "auth_user.clerk-migrate"
    invoke(sandbox, "run", str(export.users_csv), "--mapping", "django", *tenant_files(export))
    left = invoke(sandbox, "retry", str(run_dir))
    assert left.exit_code == 3
    assert "organizations and memberships left as they are: give --organizations FILE" in (
        left.output
    )
