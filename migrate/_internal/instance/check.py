"""``check``: what the target instance will do with an input, before the first create.

It reads, maps and validates the input (like ``validate``), then, when it can:

- reads the instance's settings from its Frontend API (a publishable key, or a URL) and turns
  them into per-row findings (rows the instance would refuse, stage ``instance``) and whole-file
  findings (``migrate._internal.instance.findings``);
- when the run has organizations (``tenancy.PreparedTenants``), checks that the instance takes
  them: organizations and slugs on, every role key the memberships use there
  (``instance.organizations``);
- looks the valid rows' identifiers up in the instance with the secret key
  (``instance.existing``): rows already there, identifiers another user holds, and a
  development instance's headroom under its user cap.

What it could not do (no publishable key, no secret key) is listed in ``CheckReport.skipped``.
The public entry point is ``migrate.check`` (``migrate/_internal/api/checking.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import anyio
import httpx
import polars as pl

from migrate._internal.clerk.client import ClerkClient
from migrate._internal.instance.existing import ExistingUsers, claims_frame, lookup_existing
from migrate._internal.instance.fapi import fetch_settings
from migrate._internal.instance.findings import (
    Finding,
    file_findings,
    row_findings,
    row_rules,
    summarize_rows,
)
from migrate._internal.instance.organizations import (
    OrganizationSettings,
    fetch_instance_settings,
    fetch_roles,
    tenant_findings,
)
from migrate._internal.instance.settings import (
    InstanceSettings,
    frontend_api_url,
    is_development_key,
)
from migrate._internal.instance.social import provider_strategies, social_findings
from migrate._internal.prepare import Prepared
from migrate._internal.runner.pacing import Pacer, default_rate
from migrate._internal.runner.session import DEVELOPMENT_USER_CAP, Target
from migrate._internal.sources import read_source
from migrate._internal.tenancy import PreparedTenants, TenantCounts
from migrate.errors import ConfigError

__all__ = ["CheckReport", "check_input", "check_prepared"]

_EXAMPLES: Final = 5
_LINES_SCHEMA: Final = {
    "row": pl.Int64,
    "key": pl.Utf8,
    "field": pl.Utf8,
    "reason": pl.Utf8,
    "message": pl.Utf8,
}


@dataclass(frozen=True)
class CheckReport:
    """What ``check`` found. ``lines``: one per (row, reason), stage ``instance``; ``findings``:
    the summaries and whole-file findings; ``skipped``: what could not be checked, and why."""

    input: str
    mapping: str
    read: int
    valid: int
    invalid: int
    findings: tuple[Finding, ...]
    lines: pl.DataFrame
    skipped: tuple[str, ...] = ()
    frontend_api: str | None = None
    settings: InstanceSettings | None = None
    existing: ExistingUsers | None = field(default=None, repr=False)
    tenants: dict[str, TenantCounts] = field(default_factory=dict)

    @property
    def blocking(self) -> list[Finding]:
        """Whole-file findings that stop ``run`` unless it is told to go on."""
        return [f for f in self.findings if f.level == "block"]

    def refused_rows(self) -> set[int]:
        """Input rows the instance is predicted to refuse."""
        refused = self.lines.filter(pl.col("reason") != "already_migrated")
        return set(refused["row"].to_list())

    def existing_rows(self) -> set[int]:
        """Input rows already in the instance (the run records them ``exists``)."""
        return set(self.lines.filter(pl.col("reason") == "already_migrated")["row"].to_list())

    @property
    def exit_code(self) -> int:
        """0 clean, 3 findings or invalid rows (the command line's exit status)."""
        return 0 if self.clean else 3

    @property
    def clean(self) -> bool:
        """No invalid row (of any table) and nothing but information to report."""
        return (
            not self.invalid
            and not any(c.invalid for c in self.tenants.values())
            and all(f.level == "info" for f in self.findings)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (no secret: row numbers, keys, field names, codes, identifiers)."""
        return {
            "input": self.input,
            "mapping": self.mapping,
            "read": self.read,
            "valid": self.valid,
            "invalid": self.invalid,
            "tenants": {
                kind: {"read": c.read, "valid": c.valid, "invalid": c.invalid}
                for kind, c in self.tenants.items()
            },
            "frontend_api": self.frontend_api,
            "environment_type": self.settings.environment_type if self.settings else None,
            "skipped": list(self.skipped),
            "clean": self.clean,
            "blocking": len(self.blocking),
            "findings": [f.to_dict() for f in self.findings],
            "refused_rows": len(self.refused_rows()),
            "existing_rows": len(self.existing_rows()),
            "lookups": (
                {
                    "requests": self.existing.requests,
                    "values": self.existing.values,
                    "users_found": self.existing.users_found,
                    "total_users": self.existing.total_users,
                }
                if self.existing is not None
                else None
            ),
        }


async def check_prepared(
    prepared: Prepared,
    *,
    settings: InstanceSettings | None = None,
    client: ClerkClient | None = None,
    pacer: Pacer | None = None,
    development: bool | None = None,
    skipped: tuple[str, ...] = (),
    frontend_api: str | None = None,
    providers_column: str | None = None,
    tenants: PreparedTenants | None = None,
) -> CheckReport:
    """Check a prepared input against ``settings`` and, with an open ``client``, the users there.

    ``providers_column``: a source column naming each user's legacy sign-in providers, checked
    against the instance's social connections (``migrate._internal.instance.social``).
    ``tenants``: the run's organizations and memberships, checked against the instance's
    organization settings and (with a ``client``) its role keys.

    ``development``: whether the instance has a user cap to check (None: from the settings).
    Raises ``ClerkError`` when the lookups fail, ``SourceError`` when the input cannot be read.
    """
    counts = prepared.counts()
    invalid_rows = prepared.errors()["row"].unique()
    valid = prepared.mapped().filter(~pl.col("_row").is_in(invalid_rows.implode()))
    findings: list[Finding] = []
    parts = [pl.DataFrame(schema=_LINES_SCHEMA)]
    if settings is not None:
        lines = row_findings(valid, settings)
        findings += summarize_rows(lines, row_rules(valid.collect_schema().names(), settings))
        findings += file_findings(valid, settings)
        parts.append(lines)
        if providers_column is not None:
            source = read_source(prepared.input, prepared.source_options)
            source = source.filter(~pl.col("_row").is_in(invalid_rows.implode()))
            found = provider_strategies(source, providers_column)
            findings += social_findings(found, settings, providers_column)
    existing = None
    pacer = pacer or Pacer(default_rate(False))
    if client is not None:
        if development is None:
            development = settings is not None and settings.environment_type == "development"
        existing = await lookup_existing(client, pacer, claims_frame(valid), count=development)
        parts.append(existing.lines)
        findings += _existing_findings(existing, counts.valid, development)
    if tenants is not None and tenants.organizations is not None:
        orgs = OrganizationSettings()
        if settings is not None:
            orgs = OrganizationSettings.from_environment(settings.document)
        if client is not None:
            orgs = orgs.with_instance(await fetch_instance_settings(client, pacer))
            orgs = orgs.with_roles(await fetch_roles(client, pacer))
        findings += tenant_findings(tenants, orgs)
    lines = pl.concat(parts).sort("row", maintain_order=True)
    return CheckReport(
        input=str(prepared.input),
        mapping=str(prepared.spec.file),
        read=counts.read,
        valid=counts.valid,
        invalid=counts.invalid,
        findings=tuple(findings),
        lines=lines,
        skipped=skipped,
        frontend_api=frontend_api,
        settings=settings,
        existing=existing,
        tenants=tenants.counts() if tenants is not None else {},
    )


def _existing_findings(existing: ExistingUsers, valid: int, development: bool) -> list[Finding]:
    found: list[Finding] = []
    lines = existing.lines
    there = lines.filter(pl.col("reason") == "already_migrated")["row"]
    taken = lines.filter(pl.col("reason") == "identifier_taken")["row"]
    if there.len():
        found.append(
            Finding(
                "already_migrated",
                "info",
                f"{there.len():,} rows are already in Clerk (same external id): the run will "
                "record them as exists and send nothing for them",
                rows=there.len(),
                examples=tuple(there.head(_EXAMPLES).to_list()),
            )
        )
    if taken.len():
        found.append(
            Finding(
                "identifier_taken",
                "refuse",
                f"{taken.len():,} rows carry an email, phone or username another Clerk user "
                "holds: Clerk will refuse them (form_identifier_exists); see the row lines",
                "users",
                "Users",
                rows=taken.len(),
                examples=tuple(taken.head(_EXAMPLES).to_list()),
            )
        )
    if development and existing.total_users is not None:
        new = valid - there.len() - taken.len()
        room = max(0, DEVELOPMENT_USER_CAP - existing.total_users)
        details = {"users": existing.total_users, "new": new, "room": room}
        if new > room:
            found.append(
                Finding(
                    # a warning, as before a run (runner.session.development_room): Clerk can
                    # raise an instance's cap, and the run stops cleanly when it is met
                    "development_user_cap",
                    "warn",
                    f"this development instance holds {existing.total_users:,} users and takes "
                    f"at most {DEVELOPMENT_USER_CAP}: room for {room:,} of the {new:,} new "
                    "ones; migrate into a production instance (or rehearse with --sandbox)",
                    "instance",
                    "Instance: Development → Production",
                    rows=new,
                    details=details,
                )
            )
        else:
            found.append(
                Finding(
                    "development_headroom",
                    "info",
                    f"development instance: {existing.total_users:,} users, room for {room:,} "
                    f"more; {new:,} new ones to create",
                    details=details,
                )
            )
    return found


def check_input(
    prepared: Prepared,
    *,
    publishable_key: str | None = None,
    frontend_api_url_: str | None = None,
    target: Target | None = None,
    rate: float | None = None,
    environment: Mapping[str, Any] | None = None,
    fapi_transport: httpx.AsyncBaseTransport | None = None,
    providers_column: str | None = None,
    tenants: PreparedTenants | None = None,
) -> CheckReport:
    """``check`` on an input already prepared (``run`` shares its own; not closed here), with
    the run's ``tenants`` when it has organizations."""
    url = frontend_api_url(publishable_key, frontend_api_url_)
    if providers_column is not None:
        columns = read_source(prepared.input, prepared.source_options).collect_schema().names()
        if providers_column not in columns:
            raise ConfigError(
                f"--providers-column {providers_column}: the input has no such column"
            )
    skipped: list[str] = []
    if environment is None and url is None:
        skipped.append(
            "instance settings: no publishable key (set CLERK_PUBLISHABLE_KEY or pass "
            "--publishable-key)"
        )
    if target is None:
        skipped.append(
            "existing users and the user cap: no secret key (set CLERK_SECRET_KEY or pass "
            "--secret-key-file)"
        )

    async def go() -> CheckReport:
        settings = None
        if environment is not None:
            settings = InstanceSettings.from_environment(environment, where="the settings file")
        elif url is not None:
            dev = is_development_key(publishable_key)
            settings = await fetch_settings(
                url,
                development=dev is not False,
                transport=fapi_transport,
                network=target.network if target is not None else None,
            )
        common: dict[str, Any] = {
            "providers_column": providers_column,
            "settings": settings,
            "skipped": tuple(skipped),
            "frontend_api": url,
            "tenants": tenants,
        }
        if target is None:
            return await check_prepared(prepared, **common)
        pacer = Pacer(rate or default_rate(target.production or target.sandbox))
        async with target.client() as client:
            return await check_prepared(
                prepared,
                client=client,
                pacer=pacer,
                development=not (target.sandbox or target.production),
                **common,
            )

    return anyio.run(go)
