"""``run``'s instance checks: ``check`` before the first create of a run directory.

Findings are told to the caller one line each; a whole-file finding (level ``block``) stops the
run with ``CheckFailedError`` before anything is sent, unless the caller accepts the findings.
A passed (or accepted) check, and a skip (``check=False``), are remembered in the run
directory's meta ``instance_check``: a resumed run neither repeats nor reverses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from migrate._internal.instance.check import check_input
from migrate._internal.prepare import Prepared
from migrate._internal.runner.session import RunPlan, Target
from migrate._internal.tenancy import PreparedTenants
from migrate.errors import CheckFailedError

__all__ = ["CHECK_META", "preflight"]

CHECK_META: Final = "instance_check"


def preflight(
    plan: RunPlan,
    prepared: Prepared,
    target: Target,
    rate: float,
    *,
    check: bool,
    accept_findings: bool,
    publishable_key: str | None,
    frontend_api_url: str | None,
    notice: Callable[[str], None],
    tenants: PreparedTenants | None = None,
) -> None:
    """Run the checks unless this run directory already did (or skipped them).

    ``tenants``: the run's organizations and memberships (organizations and slugs on, every
    role key there). Against the sandbox the settings are the sandbox's own (its Frontend API
    is its URL).
    Raises ``CheckFailedError`` on a whole-file finding not accepted, ``ClerkError`` when the
    lookups fail, ``ConfigError`` for a bad publishable key or URL.
    """
    recorded = plan.store.get_meta(CHECK_META)
    if not check or (isinstance(recorded, dict) and recorded.get("skipped")):
        plan.store.set_meta(CHECK_META, {"skipped": True})
        notice("Instance checks skipped (--no-check, kept for this run directory).")
        return
    if recorded is not None:
        return  # passed when this run directory was planned
    report = check_input(
        prepared,
        publishable_key=None if target.sandbox else publishable_key,
        frontend_api_url_=target.base_url if target.sandbox else frontend_api_url,
        target=target,
        rate=rate,
        tenants=tenants,
    )
    for line in report.skipped:
        notice(f"Check skipped {line}")
    for finding in report.findings:
        notice(f"Check [{finding.level}] {finding.message}")
    blocking = report.blocking
    if blocking and not accept_findings:
        raise CheckFailedError(
            f"the instance checks found {len(blocking)} whole-file problem(s) "
            f"({', '.join(f.code for f in blocking)}); nothing was sent. Fix them, or pass "
            "--accept-findings to go on anyway (--no-check skips the checks)"
        )
    plan.store.set_meta(
        CHECK_META,
        {
            "skipped": False,
            "findings": {f.code: f.level for f in report.findings},
            "refused_rows": len(report.refused_rows()),
            "accepted": bool(blocking),
        },
    )
