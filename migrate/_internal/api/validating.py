"""``validate``: read, map and check every row of an input offline; write the reports.

Needs no key and no network, and imports neither the runner nor httpx.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from migrate._internal.api.results import RowPreview, ValidateResult
from migrate._internal.prepare import Prepared, prepare_input
from migrate._internal.reports.validation import summarize, write_validation_reports
from migrate._internal.tenancy import PreparedTenants, TenantFiles, prepare_tenants, user_keys
from migrate.errors import StateError

__all__ = ["read_tenants", "validate", "validation_dir"]


def validate(
    input: str | Path,
    mapping: str | Path,
    *,
    out_dir: str | Path | None = None,
    source: Mapping[str, Any] | None = None,
    joins: Mapping[str, Path] | Sequence[Path] = (),
    preview: int = 0,
    redact_emails: bool = False,
    organizations: str | Path | None = None,
    memberships: str | Path | None = None,
) -> ValidateResult:
    """Check every row of ``input`` with ``mapping`` (a file or a preset name), offline.

    Writes ``errors.csv`` (row, key, email, stage, field, code, value, message, hint: the layout
    of ``run``'s), ``summary.json``, and while there are any ``warnings.csv`` (the same columns)
    and ``skipped.csv`` (row, key, reason) to
    ``out_dir`` (default ``<input stem>.validation/`` beside the input); ``preview`` rows'
    bodies come back masked. A mapping with ``[organizations]`` / ``[memberships]`` has them
    checked too, read from ``organizations`` / ``memberships`` or the mapping's ``input``: their
    lines join ``errors.csv`` (``field`` ``organization.*`` / ``membership.*``) and their counts
    ``summary.json``. Raises ``MappingError``, ``SourceError``, ``StateError`` (the reports
    cannot be written), ``ConfigError`` (a join the mapping does not have, a tenant file the
    mapping has no table for).
    """
    started = time.perf_counter()
    input_path = Path(input)
    prepared = prepare_input(input_path, mapping, source, joins)
    previews = tuple(RowPreview(p.row, p.key, p.masked()) for p in prepared.preview(preview))
    counts = prepared.counts()
    errors = prepared.errors()
    tenants = read_tenants(prepared, input_path, organizations, memberships)
    if tenants.organizations is not None:
        errors = pl.concat([errors, tenants.errors()], how="diagonal_relaxed")
    warnings = prepared.warnings()
    skipped = prepared.skipped()
    summary = summarize(
        input=str(input_path),
        mapping=str(mapping),
        read=counts.read,
        invalid=counts.invalid,
        skipped_empty=counts.skipped_empty,
        errors=errors,
        skipped=counts.skipped,
        warnings=warnings["row"].n_unique(),
        tenants={kind: asdict(c) for kind, c in tenants.counts().items()},
    )
    notices = tuple(prepared.notices(counts.read)) + tuple(tenants.notices)
    target = Path(out_dir) if out_dir else validation_dir(input_path)
    try:
        errors_path, summary_path = write_validation_reports(
            target, summary, errors, redact_emails=redact_emails, warnings=warnings, skipped=skipped
        )
    except OSError as exc:
        raise StateError(f"{target}: cannot write the reports: {exc.strerror or exc}") from exc
    seconds = time.perf_counter() - started
    return ValidateResult(summary.to_dict(), errors_path, summary_path, previews, seconds, notices)


def read_tenants(
    prepared: Prepared, input_path: Path, orgs: str | Path | None, members: str | Path | None
) -> PreparedTenants:
    """The checked tenant tables of ``prepared``'s mapping, read from ``orgs`` / ``members``
    or the mapping's ``input`` (no tenant table and no file: an empty result). Raises as
    ``prepare_tenants``."""
    files = TenantFiles(
        Path(orgs) if orgs is not None else None, Path(members) if members is not None else None
    )
    spec = prepared.spec
    if spec.organizations is None and spec.memberships is None and files == TenantFiles():
        return PreparedTenants()
    return prepare_tenants(
        spec,
        user_keys(prepared.iter_plan()),
        files,
        users_input=input_path,
        users_options=prepared.source_options,
    )


def validation_dir(input_path: Path) -> Path:
    """``<stem>.validation`` beside the input (``users.csv.gz`` -> ``users.validation``)."""
    name = input_path.name
    for suffix in (".gz", ".gzip"):
        name = name.removesuffix(suffix)
    return input_path.parent / f"{Path(name).stem or name}.validation"
