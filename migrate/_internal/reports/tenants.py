"""The organizations' and memberships' part of a run's reports.

- ``errors.csv`` / ``errors.jsonl``: their failed and invalid rows after the users', in the same
  layout. ``field`` always names the kind, as ``validate``'s lines do: ``organization.*`` /
  ``membership.*`` (a Clerk ``param_name`` such as ``slug`` becomes ``organization.slug``);
  ``stage`` is ``validation`` or ``clerk`` as for users; ``row`` is the row of the
  organizations or memberships input (a membership read from a member list or the users file:
  that record's row); ``key`` the organization's legacy key, or ``<org key>/<user key>``.
- ``org_id_map.csv``: ``key, slug, clerk_organization_id, state`` of every organization created
  or found (``exists``).
- ``summary.json``'s ``kinds``: per tenant kind its rows per state and failed / invalid rows per
  code.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from migrate._internal.clerk.retry import hint_for
from migrate._internal.reports.atomic import atomic_open
from migrate._internal.reports.lines import CLERK_STAGE, VALIDATION_STAGE
from migrate._internal.secrets import redact_emails
from migrate._internal.state import RowRecord, RowState, StateStore

__all__ = ["ORG_ID_MAP", "tenant_error_lines", "tenant_summary", "write_org_id_map"]

ORG_ID_MAP: Final = "org_id_map.csv"
TENANT_KINDS: Final = (("organizations", "organization"), ("memberships", "membership"))
TENANT_HINT: Final = (
    "fix the record in the organizations or memberships file (see message), check it with "
    "`clerk-migrate validate`, then run again"
)


def _field(prefix: str, name: str | None) -> str:
    """``name`` under the kind's prefix (``slug`` -> ``organization.slug``)."""
    if not name:
        return prefix
    return name if name.startswith(prefix + ".") else f"{prefix}.{name}"


def _lines(record: RowRecord, prefix: str, row: int) -> Iterator[dict[str, Any]]:
    base = {"row": row, "key": record.key, "email": ""}
    if record.state is RowState.INVALID:
        problems = record.details or (
            {"reason": record.code, "field": record.param, "message": record.message},
        )
        for problem in problems:
            yield base | {
                "stage": VALIDATION_STAGE,
                "field": _field(prefix, problem.get("field")),
                "code": problem.get("reason") or "invalid",
                "value": problem.get("value") or "",
                "message": problem.get("message") or "",
                "hint": TENANT_HINT,
            }
        return
    yield base | {
        "stage": CLERK_STAGE,
        "field": _field(prefix, record.param),
        "code": record.code or "",
        "value": "",
        "message": record.message or "",
        "hint": hint_for(record.code, record.param),
    }


def tenant_error_lines(store: StateStore, *, redact: bool = False) -> Iterator[dict[str, Any]]:
    """The report lines of every failed or invalid organization, then membership."""
    for kind, prefix in TENANT_KINDS:
        view = store.kind(kind)
        if not view.planned:
            continue
        rows: dict[int, int] = {}
        if kind == "memberships":
            rows = {link.row: link.input_row or link.row for link in view.iter_member_links()}
        for record in view.iter_errors():
            for line in _lines(record, prefix, rows.get(record.row, record.row)):
                if redact:
                    for name in ("key", "value", "message"):
                        line[name] = redact_emails(line[name])
                yield line


def write_org_id_map(store: StateStore, run_dir: Path) -> Path | None:
    """Write ``org_id_map.csv`` when the run has organizations; None (and no file) otherwise."""
    target = run_dir / ORG_ID_MAP
    orgs = store.kind("organizations")
    if not orgs.planned:
        target.unlink(missing_ok=True)
        return None
    with atomic_open(target, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["key", "slug", "clerk_organization_id", "state"])
        for record in orgs.iter_rows((RowState.CREATED, RowState.EXISTS)):
            writer.writerow(
                [record.key, record.external_id or "", record.clerk_user_id or "", record.state]
            )
    return target


def tenant_summary(store: StateStore) -> dict[str, Any]:
    """Per tenant kind the run has: rows per state (``total`` too) and codes per state."""
    out: dict[str, Any] = {}
    for kind, _ in TENANT_KINDS:
        view = store.kind(kind)
        if not view.planned:
            continue
        counts = {str(s): n for s, n in view.counts().items() if n or s is not RowState.SKIPPED}
        codes: dict[str, dict[str, int]] = {}
        for (state, code), n in view.code_counts().items():
            codes.setdefault(str(state), {})[code] = n
        out[kind] = {"counts": counts, "total": sum(counts.values()), "codes": codes}
    return out
