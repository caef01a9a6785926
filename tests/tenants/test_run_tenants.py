"""``clerk-migrate run`` with organizations and memberships: the Django sample's teams against a
sandbox on 127.0.0.1 (CLI in-process): the order, the reports, resuming, and a canary."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from migrate._internal.api.results import ExitCode, PassFigures, RunResult, RunSummary
from migrate._internal.state import RowState, StateStore
from migrate.cli import main
from migrate.sandbox import SandboxConfig, SandboxHandle

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "django"


def copy_sample(tmp_path: Path) -> Path:
    """The Django sample (users, organizations.csv, memberships.csv) in a scratch directory."""
    folder = tmp_path / "django"
    shutil.copytree(SAMPLE, folder)
    return folder


def run(handle: SandboxHandle, folder: Path, *extra: str) -> Result:
    """``clerk-migrate run`` of the sample's users, teams and members against ``handle``."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    args = [
        "run", str(folder / "auth_user.csv"), "--mapping", "django", "--run-dir",
        str(folder / "run"), "--organizations", str(folder / "organizations.csv"),
        "--memberships", str(folder / "memberships.csv"), "--rate", "2000", "--quiet",
        *extra,
    ]  # fmt: skip
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def read_csv(path: Path) -> list[dict[str, str]]:
    """A report's lines."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_run_creates_teams_users_and_members_and_reports_each_kind(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Valid teams, users and members are created (members with their roles); invalid ones are
    in errors.csv with their kind in field and among the top codes; org_id_map.csv maps each
    team; exit code 3."""
    folder = copy_sample(tmp_path)
    result = run(sandbox, folder)
    assert result.exit_code == 3, result.output
    assert "Organizations: 8 (3 created · 5 invalid)" in result.output
    assert "Memberships: 26 (17 created · 9 invalid)" in result.output
    assert "organizations: 3 created, 0 exists, 0 failed" in result.output
    assert "user_not_created                                2  (invalid, memberships)" in (
        result.output
    )
    orgs = {o.slug: o for o in sandbox.store.orgs}
    assert sorted(orgs) == ["contoso", "t1", "t6"]
    assert sum(len(o.members) for o in orgs.values()) == 17
    roles = {m.role for o in orgs.values() for m in o.members.values()}
    assert roles == {"org:admin", "org:member"}
    ids = read_csv(folder / "run" / "org_id_map.csv")
    assert [(line["key"], line["slug"], line["state"]) for line in ids] == [
        ("t1", "t1", "created"), ("t2", "contoso", "created"), ("t6", "t6", "created"),
    ]  # fmt: skip
    assert {line["clerk_organization_id"] for line in ids} == {
        sandbox.store.orgs.org_id(o.seq) for o in orgs.values()
    }
    lines = read_csv(folder / "run" / "errors.csv")
    tenant = [line for line in lines if line["field"].startswith(("organization", "membership"))]
    assert {(line["row"], line["key"], line["code"]) for line in tenant} >= {
        ("4", "t3", "missing_name"),
        ("20", "t6/119", "membership_limit_reached"),
        ("22", "t1/122", "unknown_role"),
    }
    assert {line["stage"] for line in tenant} == {"validation"}
    summary = json.loads((folder / "run" / "summary.json").read_text(encoding="utf-8"))
    assert summary["kinds"]["organizations"]["counts"]["created"] == 3
    assert summary["kinds"]["memberships"]["total"] == 26
    assert summary["run"]["last_pass"]["kinds"]["memberships"]["created"] == 17


def test_running_again_sends_nothing_twice(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A second run of the same command finds every kind done and makes no request to create."""
    folder = copy_sample(tmp_path)
    run(sandbox, folder)
    creates = sandbox.counters()["requests"]
    again = run(sandbox, folder)
    assert again.exit_code == 3, again.output
    assert "organizations: 0 created, 0 exists, 0 failed" in again.output
    assert len(sandbox.store.orgs) == 3
    assert sandbox.counters()["requests"] == creates


def test_a_canary_sends_users_only_and_the_full_run_sends_the_rest(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """--limit sends users only (and says so); the run without it sends teams and members."""
    folder = copy_sample(tmp_path)
    canary = run(sandbox, folder, "--limit", "3")
    assert "send users only" in canary.output
    assert len(sandbox.store) == 3
    assert len(sandbox.store.orgs) == 0
    full = run(sandbox, folder)
    assert full.exit_code == 3, full.output
    assert len(sandbox.store.orgs) == 3
    with StateStore.open(folder / "run" / "state.sqlite") as store:
        assert store.kind("memberships").counts()[RowState.CREATED] == 17


def test_a_role_the_instance_lacks_stops_the_run_before_anything_is_created(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """Run's preflight gets the run's tenants: without org:admin on the instance nothing at all
    is created, and the message names the check."""
    handle = make_sandbox(SandboxConfig.for_tests(org_roles=("org:member",)))
    folder = copy_sample(tmp_path)
    result = run(handle, folder)
    assert result.exit_code != 0
    assert "nothing was sent" in result.output
    assert len(handle.store) == 0
    assert len(handle.store.orgs) == 0


def test_a_failed_membership_alone_makes_the_run_unfinished(tmp_path: Path) -> None:
    """Every user created but one membership failed: exit code 3; all done: 0."""
    users = {"created": 5, "pending": 0, "failed": 0, "invalid": 0, "in_flight": 0}
    ok = {"created": 3, "failed": 0, "invalid": 0, "in_flight": 0}
    for members, code in ((ok | {"failed": 1}, ExitCode.FAILED_ROWS), (ok, ExitCode.OK)):
        summary = RunSummary(tmp_path, users, (), (), {}, {"memberships": members})
        figures = PassFigures(5, 0, 0, 1.0, 9, 9.0, 10.0, 0, 0, 0, 0)
        assert RunResult(summary, figures, resumed=False, interrupted=False).exit_code == code


def test_the_production_question_counts_organizations_and_memberships(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """Before writing to production, the question says how many organizations and memberships
    the pass sends besides the users; each phase says when it starts."""
    handle = make_sandbox(SandboxConfig.for_tests(instance="production"))
    folder = copy_sample(tmp_path)
    result = run(handle, folder, "--yes")
    assert result.exit_code == 3, result.output
    assert "  organizations: 3 to send\n  memberships: 17 to send\n" in result.output
    assert "Organizations: sending 3" in result.output
    assert "Memberships: sending 17" in result.output
