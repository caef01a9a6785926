"""``retry``'s organizations and memberships: requeue their failed rows and send them again.

A run with tenant tables has their rows in its state DB; ``retry`` puts the failed ones (of
the codes asked, default all) back to pending, beside the users', and the pass sends them in
the usual order: organizations, users, memberships. So a membership that failed because its
user or organization was not in Clerk (``user_not_migrated`` / ``organization_not_migrated``,
retryable) is sent once that user or organization is created, by the same pass.

The organizations' bodies come from their file, read again (``--organizations`` /
``--memberships`` as for ``run``, else the mapping's ``input``) and checked against the files
the run was planned from; memberships need no file (their ids come from the state DB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from migrate._internal.api.validating import read_tenants
from migrate._internal.prepare import Prepared
from migrate._internal.runner.phases import TENANT_KINDS, TenantSource, tenant_source
from migrate._internal.runner.session import RunPlan, input_fingerprints
from migrate._internal.state import RowState

__all__ = ["TenantRequeue", "retry_tenants"]


@dataclass
class TenantRequeue:
    """What the pass sends of the tenant tables (None: no tenant phase) and what to tell."""

    source: TenantSource | None = None
    requeued: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def _waiting(plan: RunPlan, codes: Sequence[str] | None) -> tuple[dict[str, int], int]:
    """Failed rows of each planned tenant kind (of ``codes`` when given); pending or in-flight
    rows of them all (the pass sends those too)."""
    failed, unsent = {}, 0
    for kind in TENANT_KINDS:
        view = plan.store.kind(kind)
        if not view.planned:
            continue
        failed[kind] = sum(
            n
            for (state, code), n in view.code_counts().items()
            if state == RowState.FAILED and (codes is None or code in codes)
        )
        counts = view.counts()
        unsent += counts[RowState.PENDING] + counts[RowState.IN_FLIGHT]
    return failed, unsent


def retry_tenants(
    plan: RunPlan,
    prepared: Prepared | None,
    codes: Sequence[str] | None,
    organizations: str | Path | None,
    memberships: str | Path | None,
) -> TenantRequeue:
    """Requeue the run's failed organizations and memberships and give the pass their source.

    ``prepared`` is the run's original input (None when it is gone: the tenant tables are then
    left as they are, with a notice). Raises ``ResumeMismatchError`` when a tenant file
    changed since the run was planned, and as ``read_tenants``.
    """
    failed, unsent = _waiting(plan, codes)
    waiting = sum(failed.values()) + unsent
    if not waiting:
        return TenantRequeue()
    if prepared is None:
        return TenantRequeue(notices=[
            f"{waiting:,} organizations and memberships left as they are: the run's input "
            f"{plan.input} is gone (their rows are read with it)"
        ])  # fmt: skip
    tenants = read_tenants(prepared, plan.input, organizations, memberships)
    if tenants.organizations is None:
        return TenantRequeue(notices=[
            f"{waiting:,} organizations and memberships left as they are: give "
            "--organizations FILE / --memberships FILE as for the run to send them"
        ])  # fmt: skip
    plan.store.check_fingerprints(input_fingerprints(prepared, tenants))
    requeued = {kind: plan.store.kind(kind).requeue_failed(codes) for kind in failed}
    said = ", ".join(f"{n:,} {kind}" for kind, n in requeued.items())
    return TenantRequeue(
        tenant_source(tenants), requeued, [f"Failed rows back in the queue: {said}."]
    )
