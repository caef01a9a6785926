"""``verify``, ``rollback`` and ``report``: what is done with a run directory after its passes.

Each reopens the run directory from its state DB alone (it records the input, mapping and
target), talks to the instance the run is bound to, and returns a frozen result.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import anyio

from migrate._internal.api.connection import Connection, check_connection, connect, default_rate_for
from migrate._internal.api.passes import run_summary
from migrate._internal.api.results import (
    KindRollback,
    ReportResult,
    RollbackResult,
    VerifyResult,
)
from migrate._internal.reports.atomic import atomic_open
from migrate._internal.reports.cells import safe_cell
from migrate._internal.runner import aftercare, tenant_aftercare
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.session import (
    RunPlan,
    Target,
    bind_target,
    check_rate,
    read_run,
    redact_reports,
)
from migrate._internal.secrets import Secret
from migrate._internal.state import RowState
from migrate.errors import ConfigError, MigrateError

__all__ = ["report", "rollback", "verify"]

VERIFY_REPORT = "verify.csv"
T = TypeVar("T")


def verify(
    run_dir: str | Path,
    *,
    connection: Connection,
    passwords: str | Path | Sequence[tuple[str, Secret]] | None = None,
    rate: float | None = None,
    concurrency: int | None = None,
) -> VerifyResult:
    """Look every created or existing user, organization and membership of the run up in Clerk.

    Lists users that are missing or whose external_id / primary email differ, organizations
    that are missing (or hold another legacy key) and memberships that are missing or have
    another role, in ``run_dir/verify.csv`` (users 100 per request, organizations 100 per
    request, memberships an organization's list at a time). ``passwords`` (a ``key,password``
    CSV file, or pairs) are canaries: each is tried with Clerk's verify_password (never
    printed or stored). Raises ``ConfigError`` / ``StateError`` / ``ClerkError``.
    """
    check_rate(rate, concurrency)
    connection = check_connection(connection)
    if passwords is None:
        canaries: list[tuple[str, Secret]] = []
    elif isinstance(passwords, str | Path):
        canaries = aftercare.read_password_file(Path(passwords))
    else:
        canaries = list(passwords)
    folder = Path(run_dir)
    plan = read_run(folder)
    try:
        with connect(connection, run_dir=folder) as target:
            bind_target(plan.store, target)
            pace = rate or default_rate_for(target)
            found, tenants, checks = anyio.run(_verify, target, plan, pace, concurrency, canaries)
    finally:
        plan.store.close()
    path = folder / VERIFY_REPORT
    mismatches = (*found.mismatches, *tenants.mismatches)
    _write_verify_report(path, mismatches)
    return VerifyResult(
        found.checked, mismatches, tuple(checks), path, tenants.organizations, tenants.memberships
    )


async def _verify(
    target: Target,
    plan: RunPlan,
    rate: float,
    concurrency: int | None,
    canaries: list[tuple[str, Secret]],
) -> tuple[aftercare.VerifyResult, tenant_aftercare.TenantCheck, list[aftercare.PasswordCheck]]:
    pacer = Pacer(rate, fixed_concurrency=concurrency)
    async with target.client() as client:
        found = await aftercare.verify_users(client, pacer, plan.store)
        tenants = await tenant_aftercare.verify_tenants(client, pacer, plan.store)
        checks = []
        if canaries:
            checks = await aftercare.check_passwords(client, pacer, plan.store, canaries)
    return found, tenants, checks


def _write_verify_report(path: Path, mismatches: Sequence[aftercare.Mismatch]) -> None:
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["kind", "row", "key", "clerk_id", "problem", "expected", "found"])
        for m in mismatches:
            cells = [m.kind, m.row, m.key, m.clerk_user_id, m.problem, m.expected or "",
                     m.found or ""]  # fmt: skip
            writer.writerow([safe_cell(c) for c in cells])  # read by people: no live formula


def rollback(
    run_dir: str | Path,
    *,
    connection: Connection,
    yes: bool = False,
    confirm: Callable[[str, int], bool] | None = None,
    rate: float | None = None,
    concurrency: int | None = None,
) -> RollbackResult:
    """Delete from Clerk everything this run created: its memberships, then its organizations,
    then its users; their rows go back to pending.

    Rows that existed before the run (``exists``) are never touched. ``confirm(instance
    description, objects)`` (how many users, organizations and memberships) is asked first
    when given; without it, ``yes`` must be true (else ``ConfigError``). An interrupted
    rollback resumes when called again. Raises ``ConfigError`` / ``StateError`` /
    ``ClerkError``.
    """
    check_rate(rate, concurrency)
    connection = check_connection(connection)
    plan = read_run(Path(run_dir), lock=True)
    try:
        created = plan.counts()[RowState.CREATED]
        orgs = plan.store.kind("organizations").counts()[RowState.CREATED]
        members = plan.store.kind("memberships").counts()[RowState.CREATED]
        if created + orgs + members == 0:
            return RollbackResult(0, 0, 0, (), None)
        with connect(connection, run_dir=plan.run_dir) as target:
            bind_target(plan.store, target)
            where = f"the {target.instance} instance at {target.base_url}"
            if confirm is not None:
                if not confirm(where, created + orgs + members):
                    raise MigrateError("not confirmed: nothing was deleted")
            elif not yes:
                raise ConfigError("refusing to delete users without confirmation: pass --yes")
            pace = rate or default_rate_for(target)
            result, tenants = anyio.run(_rollback, target, plan, pace, concurrency)
        _note(plan, result, tenants)
        try:
            summary, problem = run_summary(plan), None
        except MigrateError as exc:
            summary, problem = None, str(exc)
    finally:
        plan.store.close()
    return RollbackResult(
        created,
        result.deleted,
        result.already_gone,
        tuple(result.refused),
        summary,
        problem,
        _kind_result(members, tenants.memberships, lambda m: (m.key, m.user_id)),
        _kind_result(orgs, tenants.organizations, lambda o: (o.key, o.organization_id)),
    )


def _kind_result(
    asked: int,
    done: tenant_aftercare.DeleteResult[T],
    ids: Callable[[T], tuple[str, str]],
) -> KindRollback:
    refused = tuple((*ids(item), code) for item, code in done.refused)
    return KindRollback(asked, done.deleted, done.already_gone, refused)


async def _rollback(
    target: Target, plan: RunPlan, rate: float, concurrency: int | None
) -> tuple[aftercare.RollbackResult, tenant_aftercare.TenantRollback]:
    pacer = Pacer(rate, fixed_concurrency=concurrency)
    async with target.client() as client:
        tenants = await tenant_aftercare.rollback_tenants(client, pacer, plan.store)
        return await aftercare.rollback_users(client, pacer, plan.store), tenants


def _note(
    plan: RunPlan, result: aftercare.RollbackResult, tenants: tenant_aftercare.TenantRollback
) -> None:
    """Add this rollback to the run's totals in the state DB (several if one was resumed)."""
    before = plan.store.get_meta("rolled_back") or {}
    kinds = {
        "organizations": tenants.organizations.deleted,
        "memberships": tenants.memberships.deleted,
    }
    plan.store.set_meta(
        "rolled_back",
        {
            "deleted": int(before.get("deleted", 0)) + result.deleted,
            "already_gone": int(before.get("already_gone", 0)) + result.already_gone,
            "refused": len(result.refused),
            "rollbacks": int(before.get("rollbacks", 0)) + 1,
        }
        | {  # a run without organizations keeps the users' keys alone
            f"{kind}_deleted": int(before.get(f"{kind}_deleted", 0)) + deleted
            for kind, deleted in kinds.items()
            if deleted or f"{kind}_deleted" in before
        },
    )


def report(run_dir: str | Path, *, redact_emails: bool = False) -> ReportResult:
    """Rewrite a run directory's reports from its state DB (and the input, for failed_rows).

    Talks to no server. ``redact_emails`` masks addresses in the error reports, from now on.
    Raises ``StateError`` / ``SourceError``.
    """
    plan = read_run(Path(run_dir))
    try:
        if redact_emails:
            redact_reports(plan)
        return ReportResult(run_summary(plan))
    finally:
        plan.store.close()
