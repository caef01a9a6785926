"""Organizations, users and memberships exactly once, end to end: a real ``clerk-migrate run``
subprocess sends a tenant export with bad rows to a real-socket sandbox that answers 5xx and
loses answers, is killed with SIGKILL mid-run (twice: among the users, among the memberships),
and is run again to the end.

The big case (200 organizations, 5,000 users, 7,000 memberships) is ``slow``; a small one of
the same shape runs in the default suite.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from tenant_export import TenantExport, build_export

from migrate.cli import main
from migrate.sandbox import FaultConfig, SandboxConfig, SandboxHandle, running_sandbox

STATES = ("pending", "in_flight", "created", "exists", "failed", "invalid", "skipped")


def start(handle: SandboxHandle, export: TenantExport, rate: int) -> subprocess.Popen[str]:
    """``clerk-migrate run`` of the export (django preset, generic tenant files) as a process."""
    env = os.environ | {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    args = [
        sys.executable, "-m", "migrate", "run", str(export.users_csv), "--mapping", "django",
        "--organizations", str(export.organizations_csv),
        "--memberships", str(export.memberships_csv), "--rate", str(rate), "--quiet",
    ]  # fmt: skip
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_dir(export: TenantExport) -> Path:
    """The run's default directory."""
    return export.users_csv.parent / "auth_user.clerk-migrate"


def states(export: TenantExport) -> dict[str, dict[str, int]]:
    """Rows per state of each kind in the run's state DB (read by a second connection)."""
    tables = {"users": "rows", "organizations": "organizations", "memberships": "memberships"}
    found: dict[str, dict[str, int]] = {}
    with closing(sqlite3.connect(run_dir(export) / "state.sqlite", timeout=10)) as db:
        for kind, table in tables.items():
            sql = f"SELECT state, count(*) FROM {table} GROUP BY state"  # noqa: S608
            found[kind] = dict(db.execute(sql).fetchall())
    return found


def past_half(count: Callable[[], int], total: int) -> Callable[[], bool]:
    """True once ``count()`` is half of ``total`` and a second has passed since it was first
    above 0, so the run's recorder (it commits every half second) has recorded some of them.
    The state DB is locked by the run, so this is watched from the sandbox."""
    first: list[float] = []

    def ready() -> bool:
        seen = count()
        if seen and not first:
            first.append(time.monotonic())
        return bool(first) and seen >= total // 2 and time.monotonic() - first[0] >= 1.0

    return ready


def unfinished(counts: dict[str, int]) -> int:
    """Rows not yet in a final state: pending, or in flight (claimed; maybe sent)."""
    return counts.get("pending", 0) + counts.get("in_flight", 0)


def kill_when(proc: subprocess.Popen[str], ready: Callable[[], bool], what: str) -> None:
    """SIGKILL ``proc`` once ``ready()``; fails unless the process was still running when the
    signal went and died of it."""
    while not ready():
        assert proc.poll() is None, f"the run ended before {what}: {proc.communicate()}"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"not killed {what}"


def finish(handle: SandboxHandle, export: TenantExport, rate: int) -> str:
    """Run again until nothing is left to send (a rerun resends rows that gave up on faults)."""
    output = ""
    for _ in range(6):
        proc = start(handle, export, rate)
        out, err = proc.communicate(timeout=600)
        output = out + err
        assert proc.returncode in (0, 3), output
        left = states(export)
        if not any(left[k].get(s) for k in left for s in ("pending", "in_flight", "failed")):
            return output
    raise AssertionError(f"rows left after six runs: {states(export)}\n{output}")


def read_csv(path: Path) -> list[dict[str, str]]:
    """A report's lines."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def assert_exactly_once(handle: SandboxHandle, export: TenantExport) -> None:
    """Every valid organization, user and membership is in the sandbox once (memberships with
    their role), nothing else is; the state DB and the reports say exactly that."""
    users = [u.external_id for u in handle.store]
    assert len(users) == len(set(users)), "a user was created twice"
    assert set(users) == export.users
    user_key = {handle.store.user_id(u.seq): u.external_id for u in handle.store}
    orgs = list(handle.store.orgs)
    legacy = [json.loads(o.private_metadata or "{}").get("legacy_key") for o in orgs]
    assert len(legacy) == len(set(legacy)), "an organization was created twice"
    assert {k: o.slug for k, o in zip(legacy, orgs, strict=True)} == export.organizations
    members = {}
    for key, org in zip(legacy, orgs, strict=True):
        for m in org.members.values():
            members[(key, user_key[handle.store.user_id(m.user_seq)])] = m.role
    assert handle.store.orgs.memberships() == len(members), "a membership was created twice"
    assert members == export.memberships

    assert states(export) == {
        "users": {"created": len(export.users), "invalid": export.invalid("users")},
        "organizations": {"created": len(export.organizations),
                          "invalid": export.invalid("organizations")},
        "memberships": {"created": len(export.memberships),
                        "invalid": export.invalid("memberships")},
    }  # fmt: skip
    folder = run_dir(export)
    errors = {(e["field"], e["code"], e["key"]) for e in read_csv(folder / "errors.csv")}
    assert errors == export.errors
    ids = {
        line["key"]: line["clerk_organization_id"] for line in read_csv(folder / "org_id_map.csv")
    }
    assert ids == {k: handle.store.orgs.org_id(o.seq) for k, o in zip(legacy, orgs, strict=True)}
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["counts"]["created"] == len(export.users)
    for kind, made in (
        ("organizations", export.organizations),
        ("memberships", export.memberships),
    ):
        counts = summary["kinds"][kind]["counts"]
        assert (counts["created"], counts["invalid"]) == (len(made), export.invalid(kind))
        assert summary["kinds"][kind]["total"] == export.read[kind]


def crash_and_resume(tmp_path: Path, export: TenantExport, rate: int, seed: int) -> None:
    """Kill the run among its users, then among its memberships; finish; check everything."""
    faults = FaultConfig(lost_rate=0.05, error_rate=0.03, latency_mean_ms=2, latency_sigma=0.5)
    config = SandboxConfig.for_tests(faults=faults, seed=seed)
    with running_sandbox(config) as handle:
        first = start(handle, export, rate)
        kill_when(first, past_half(lambda: len(handle.store), len(export.users)), "among the users")
        at_kill = states(export)
        assert at_kill["organizations"].get("created", 0) > 0
        assert at_kill["users"].get("created", 0) > 0
        assert unfinished(at_kill["users"]) > 0, at_kill
        assert not at_kill["memberships"].get("created"), at_kill

        second = start(handle, export, rate)
        members = past_half(handle.store.orgs.memberships, len(export.memberships))
        kill_when(second, members, "among the memberships")
        at_kill = states(export)
        assert at_kill["memberships"].get("created", 0) > 0, at_kill
        assert unfinished(at_kill["memberships"]) > 0, at_kill

        finish(handle, export, 2000)  # the kills are done: the rest at full speed
        assert_exactly_once(handle, export)
        env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
        checked = CliRunner().invoke(main, ["verify", str(run_dir(export))], env=env)
        assert checked.exit_code == 0, checked.output
        assert f"{len(export.memberships):,} memberships: 0 problems." in checked.output
        assert handle.counters()["faults"].get("lost", 0) > 0
        assert handle.counters()["faults"].get("error", 0) > 0


def test_a_small_tenant_export_survives_faults_and_two_kills(tmp_path: Path) -> None:
    """20 organizations, 300 users, 400 memberships with bad rows: every valid one exists once
    with its role after two SIGKILLs and a resume; the reports are exact."""
    export = build_export(tmp_path / "export", organizations=20, users=300, second=100)
    crash_and_resume(tmp_path, export, rate=150, seed=5)


@pytest.mark.slow
def test_the_big_tenant_export_survives_faults_and_two_kills(tmp_path: Path) -> None:
    """200 organizations, 5,000 users, 7,000 memberships with bad rows: every valid one exists
    once with its role after two SIGKILLs and a resume; the reports are exact."""
    export = build_export(tmp_path / "export")
    crash_and_resume(tmp_path, export, rate=1500, seed=7)
