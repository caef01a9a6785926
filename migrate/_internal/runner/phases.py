"""A run's organizations and memberships: planning them, and one pass over every kind.

``plan_tenants`` plans the checked tenant tables (``tenancy.PreparedTenants``) into the state
DB's ``organizations`` and ``memberships`` (``state.kinds``), each once: valid records
``pending``, the others ``invalid`` with their validation lines (``field``
``organization.*`` / ``membership.*``) as details, as users are planned.

``send_phases`` is one pass: organizations, then users, then memberships (a membership needs
both ids), through ONE ``Pacer`` (one limiter, one 429 pause, one outage) and one ``Stopper``
(Ctrl-C or an abort in any phase ends the pass; later phases are not started). Each phase
reconciles its kind's in_flight rows before sending. A run without tenant tables sends users
only, exactly as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from migrate._internal.runner.calls import UsersApi
from migrate._internal.runner.engine import (
    EngineSettings,
    Payload,
    PayloadSource,
    RowWindow,
    RunOutcome,
    execute,
    make_pacer,
)
from migrate._internal.runner.kinds import (
    Kind,
    MembershipKind,
    OrganizationKind,
    UserKind,
    membership_payloads,
    organization_payloads,
)
from migrate._internal.runner.ledger import StoreLedger
from migrate._internal.runner.pacing import Pacer
from migrate._internal.runner.reconcile import ReconcileResult
from migrate._internal.runner.recorder import Progress, RunTally
from migrate._internal.runner.workers import Stopper
from migrate._internal.state import MemberPlanRow, PlanRow, RowState, StateStore
from migrate._internal.tenancy import PreparedTenants

__all__ = [
    "TENANT_KINDS",
    "TenantSource",
    "plan_tenants",
    "requeue_tenants",
    "send_phases",
    "tenant_source",
]

TENANT_KINDS = ("organizations", "memberships")


def _errors_by_index(lines: pl.DataFrame | None) -> dict[int, list[dict[str, Any]]]:
    """Validation lines per record position (``_index``), as the state DB keeps them."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if lines is None:
        return found
    for index, fld, reason, message, value in lines.select(
        "_index", "field", "reason", "message", "value"
    ).iter_rows():
        error = {"field": fld, "reason": reason, "message": message}
        if value is not None:
            error["value"] = value
        found[index].append(error)
    return found


def plan_tenants(store: StateStore, tenants: PreparedTenants) -> dict[str, dict[RowState, int]]:
    """Plan the organizations and memberships ``tenants`` holds that are not planned yet;
    the rows per state of each kind planned now. Raises ``StateError`` as ``plan`` does."""
    planned: dict[str, dict[RowState, int]] = {}
    orgs = store.kind("organizations")
    if tenants.organizations is not None and not orgs.planned:
        errors = _errors_by_index(tenants.organization_lines)
        rows = (
            PlanRow(row, key or str(row), slug, None, errors.get(index, ()))
            for index, (row, key, slug) in enumerate(
                tenants.organization_plan().select("row", "key", "slug").iter_rows()
            )
        )
        planned["organizations"] = orgs.plan(rows)
    members = store.kind("memberships")
    if tenants.memberships is not None and not members.planned:
        errors = _errors_by_index(tenants.membership_lines)
        member_rows = (
            MemberPlanRow(index + 1, row, user or "", org or "", role or "", errors.get(index, ()))
            for index, (row, user, org, role) in enumerate(
                tenants.membership_plan().select("row", "user", "organization", "role").iter_rows()
            )
        )
        planned["memberships"] = members.plan_memberships(member_rows)
    return planned


def requeue_tenants(store: StateStore) -> int:
    """Organizations and memberships that gave up on transient errors, or waited for their user
    or organization (``user_not_migrated`` …, retryable), back to pending: resuming sends them
    again, as it does users'. Returns how many moved."""
    return sum(
        view.requeue_failed(retryable_only=True)
        for kind in TENANT_KINDS
        if (view := store.kind(kind)).planned
    )


@dataclass(frozen=True)
class TenantSource:
    """Where the organizations' bodies come from (their input, read once)."""

    organizations: Callable[[Sequence[int]], Iterator[Payload]]


def tenant_source(tenants: PreparedTenants) -> TenantSource:
    """The organizations' payload source of a prepared tenant input."""
    return TenantSource(organization_payloads(tenants.organization_payloads()))


@dataclass
class _Phase:
    name: str
    store: StateStore
    kind: Kind
    payloads: PayloadSource
    window: RowWindow = field(default_factory=RowWindow)
    progress: Progress | None = None


async def send_phases(
    client: Any,
    store: StateStore,
    payloads: PayloadSource,
    settings: EngineSettings,
    *,
    tenants: TenantSource | None = None,
    window: RowWindow | None = None,
    stopper: Stopper | None = None,
    progress: Progress | None = None,
    on_started: Callable[[Pacer], None] | None = None,
    notice: Callable[[str], None] | None = None,
) -> RunOutcome:
    """One pass over every kind the run has (see the module docstring); the users' outcome
    with the pass's totals and each kind's tally in ``RunOutcome.kinds``.

    ``client`` is the ``ClerkClient`` (users, organizations and memberships calls). Tenant
    phases run when ``tenants`` is given, their kind is planned, and ``window`` is the whole
    run (a canary with ``--rows`` / ``--limit`` / ``--sample`` sends users only).
    """
    window = window or RowWindow()
    stopper = stopper or Stopper()
    api: UsersApi = client
    phases = [_Phase("users", store, UserKind(api), payloads, window, progress)]
    whole = window == RowWindow()
    if tenants is not None and whole:
        orgs, members = store.kind("organizations"), store.kind("memberships")
        if orgs.planned:
            phases.insert(0, _Phase("organizations", orgs, OrganizationKind(client),
                                    tenants.organizations))  # fmt: skip
        if members.planned:
            phases.append(_Phase("memberships", members, MembershipKind(client),
                                 membership_payloads(store)))  # fmt: skip
    pacer = make_pacer(settings, notice)
    stopper.on_stop(pacer.stop)
    outcomes: dict[str, RunOutcome] = {}
    for phase in phases:
        if stopper.stopping:
            break
        if notice is not None and len(phases) > 1:
            left = phase.store.counts()
            if due := left[RowState.PENDING] + left[RowState.IN_FLIGHT]:
                notice(f"{phase.name.capitalize()}: sending {due:,}")
        outcomes[phase.name] = await execute(
            api, StoreLedger(phase.store), phase.payloads, settings,
            window=phase.window, stopper=stopper, progress=phase.progress,
            on_started=on_started, notice=notice, kind=phase.kind, pacer=pacer,
        )  # fmt: skip
    if progress is not None and "users" not in outcomes:
        progress.close()
    return _merged(outcomes, pacer, stopper)


def _merged(outcomes: dict[str, RunOutcome], pacer: Pacer, stopper: Stopper) -> RunOutcome:
    """The users' outcome (an empty one when their phase did not run) with the whole pass's
    duration, retries, reconciliation and commits, and each kind's tally."""
    parts = list(outcomes.values())
    users = outcomes.get("users") or RunOutcome(
        tally=RunTally(), pacing=pacer.stats, reconciled=ReconcileResult(), retries=0,
        duration=0.0,
    )  # fmt: skip
    started = min((p.started_at for p in parts), default=users.started_at)
    ended = max((p.started_at + p.duration for p in parts), default=started)
    reconciled = ReconcileResult(
        sum(p.reconciled.found for p in parts), sum(p.reconciled.released for p in parts)
    )
    return replace(
        users,
        pacing=pacer.stats,
        reconciled=reconciled,
        retries=sum(p.retries for p in parts),
        duration=ended - started,
        started_at=started,
        commits=sum(p.commits for p in parts),
        interrupted=stopper.interrupted and stopper.abort_code is None,
        abandoned=stopper.abandoned,
        abort_code=stopper.abort_code,
        abort_message=stopper.abort_message,
        kinds={name: p.tally for name, p in outcomes.items()},
    )
