"""The ``validate`` command's reports: ``errors.csv`` and ``summary.json``, written atomically;
``warnings.csv`` and ``skipped.csv`` (``row, key, reason``) too while there are any.

``errors.csv`` and ``warnings.csv`` have one line per (row, reason) in file order, in the layout
``run``'s ``errors.csv`` has (``reports.lines``: ``row, key, email, stage, field, code, value,
message, hint``; ``stage`` is ``validation``, ``code`` the reason): UTF-8 without a byte-order
mark, ``\n`` line ends, a duplicate's message ending with the row that holds the value first,
formula-looking and secret-shaped cells neutralised (``reports.cells``). ``value`` is the
offending value as mapped: ``[hidden]`` for a password, TOTP secret or backup codes, a digest's
scheme only, cut at 200 characters. ``summary.json`` holds the counts and, per reason, how many
rows have it and a few example row numbers. Neither holds a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import polars as pl

from migrate._internal.reports.atomic import atomic_open, atomic_write_text
from migrate._internal.reports.cells import safe_frame
from migrate._internal.reports.lines import ERROR_COLUMNS, VALIDATE_HINT, report_lines
from migrate._internal.secrets import EMAIL_LOCAL_PATTERN, EMAIL_LOCAL_REPLACEMENT

__all__ = [
    "ERRORS_CSV",
    "ERROR_COLUMNS",
    "SUMMARY_JSON",
    "ReasonCount",
    "ValidationSummary",
    "summarize",
    "write_validation_reports",
]

ERRORS_CSV: Final = "errors.csv"
WARNINGS_CSV: Final = "warnings.csv"
SKIPPED_CSV: Final = "skipped.csv"
SUMMARY_JSON: Final = "summary.json"


@dataclass(frozen=True)
class ReasonCount:
    """How many rows have one reason on one field, and the first few of them."""

    reason: str
    field: str
    rows: int
    examples: tuple[int, ...]


@dataclass(frozen=True)
class ValidationSummary:
    """What a validation found: row counts and the reasons, most frequent first."""

    input: str
    mapping: str
    read: int
    valid: int
    invalid: int
    skipped_empty: int
    reasons: tuple[ReasonCount, ...]
    skipped: int = 0  # the source marks the account deleted (or disabled): not created
    warnings: int = 0  # rows with a warning (created, with something kept elsewhere)
    # per tenant table checked ("organizations", "memberships"): read, valid, invalid
    tenants: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written to ``summary.json`` (and printed by ``validate --json``):
        each tenant table checked is a key of its own (``organizations``: read, valid,
        invalid)."""
        data = asdict(self)
        data["reasons"] = [{**asdict(r), "examples": list(r.examples)} for r in self.reasons]
        del data["tenants"]
        data.update({kind: dict(counts) for kind, counts in self.tenants.items()})
        return data


def summarize(
    *,
    input: str,
    mapping: str,
    read: int,
    invalid: int,
    skipped_empty: int,
    errors: pl.DataFrame,
    examples: int = 5,
    skipped: int = 0,
    warnings: int = 0,
    tenants: Mapping[str, Mapping[str, int]] | None = None,
) -> ValidationSummary:
    """Count the reasons in ``errors`` (``row, field, reason``: ``Prepared.errors``, and the
    tenant tables' lines), keeping ``examples`` rows each; ``tenants`` gives each tenant
    table's counts.

    Reasons are ordered by the number of rows (most first), then by name.
    """
    grouped = (
        errors.group_by("reason", "field")
        .agg(
            pl.col("row").n_unique().alias("rows"),
            pl.col("row").unique().sort().head(examples).alias("examples"),
        )
        .sort(["rows", "reason", "field"], descending=[True, False, False])
    )
    reasons = tuple(
        ReasonCount(r["reason"], r["field"], r["rows"], tuple(r["examples"]))
        for r in grouped.iter_rows(named=True)
    )
    return ValidationSummary(
        input=input,
        mapping=mapping,
        read=read,
        valid=read - invalid - skipped,
        invalid=invalid,
        skipped_empty=skipped_empty,
        reasons=reasons,
        skipped=skipped,
        warnings=warnings,
        tenants=dict(tenants or {}),
    )


def write_validation_reports(
    out_dir: Path,
    summary: ValidationSummary,
    errors: pl.DataFrame,
    *,
    redact_emails: bool = False,
    warnings: pl.DataFrame | None = None,
    skipped: pl.DataFrame | None = None,
) -> tuple[Path, Path]:
    """Write ``errors.csv`` and ``summary.json`` into ``out_dir`` (created); return their paths.

    ``warnings.csv`` and ``skipped.csv`` are written from ``warnings`` / ``skipped`` when they
    hold rows (and removed when not). ``errors`` and ``warnings`` are ``Prepared.errors`` /
    ``Prepared.warnings``, written in ``reports.lines``' layout. ``redact_emails`` masks email
    addresses in keys, emails, values and messages (``--redact-emails``). Raises ``OSError``
    when the directory cannot be written.
    """
    errors = report_lines(errors, hint=VALIDATE_HINT, redact_emails=redact_emails)
    if warnings is not None:
        warnings = report_lines(warnings, hint="", redact_emails=redact_emails)
    if skipped is not None and redact_emails:
        masked = pl.col("key").str.replace_all(EMAIL_LOCAL_PATTERN, EMAIL_LOCAL_REPLACEMENT)
        skipped = skipped.with_columns(masked)
    for name, frame, columns in (
        (WARNINGS_CSV, warnings, ERROR_COLUMNS),
        (SKIPPED_CSV, skipped, ("row", "key", "reason")),
    ):
        path = out_dir / name
        if frame is None or frame.is_empty():
            path.unlink(missing_ok=True)
            continue
        with atomic_open(path, newline="") as handle:
            safe_frame(frame.select(columns)).write_csv(handle)
    errors_path = out_dir / ERRORS_CSV
    summary_path = out_dir / SUMMARY_JSON
    with atomic_open(errors_path, newline="") as handle:
        safe_frame(errors.select(ERROR_COLUMNS)).write_csv(handle)
    atomic_write_text(
        summary_path, json.dumps(summary.to_dict(), indent=2, ensure_ascii=False) + "\n"
    )
    return errors_path, summary_path
