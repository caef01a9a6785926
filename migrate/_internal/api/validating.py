"""``validate``: read, map and check every row of an input offline; write the reports.

Needs no key and no network, and imports neither the runner nor httpx.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from migrate._internal.api.results import RowPreview, ValidateResult
from migrate._internal.prepare import prepare_input
from migrate._internal.reports.validation import summarize, write_validation_reports
from migrate.errors import StateError

__all__ = ["validate", "validation_dir"]


def validate(
    input: str | Path,
    mapping: str | Path,
    *,
    out_dir: str | Path | None = None,
    source: Mapping[str, Any] | None = None,
    joins: Mapping[str, Path] | Sequence[Path] = (),
    preview: int = 0,
    redact_emails: bool = False,
) -> ValidateResult:
    """Check every row of ``input`` with ``mapping`` (a file or a preset name), offline.

    Writes ``errors.csv`` (row, key, email, stage, field, code, value, message, hint: the layout
    of ``run``'s), ``summary.json``, and while there are any ``warnings.csv`` (the same columns)
    and ``skipped.csv`` (row, key, reason) to
    ``out_dir`` (default ``<input stem>.validation/`` beside the input); ``preview`` rows'
    bodies come back masked. Raises ``MappingError``, ``SourceError``, ``StateError`` (the reports
    cannot be written), ``ConfigError`` (a join the mapping does not have).
    """
    started = time.perf_counter()
    input_path = Path(input)
    prepared = prepare_input(input_path, mapping, source, joins)
    previews = tuple(RowPreview(p.row, p.key, p.masked()) for p in prepared.preview(preview))
    counts = prepared.counts()
    errors = prepared.errors()
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
    )
    notices = tuple(prepared.notices(counts.read))
    target = Path(out_dir) if out_dir else validation_dir(input_path)
    try:
        errors_path, summary_path = write_validation_reports(
            target, summary, errors, redact_emails=redact_emails, warnings=warnings, skipped=skipped
        )
    except OSError as exc:
        raise StateError(f"{target}: cannot write the reports: {exc.strerror or exc}") from exc
    seconds = time.perf_counter() - started
    return ValidateResult(summary.to_dict(), errors_path, summary_path, previews, seconds, notices)


def validation_dir(input_path: Path) -> Path:
    """``<stem>.validation`` beside the input (``users.csv.gz`` -> ``users.validation``)."""
    name = input_path.name
    for suffix in (".gz", ".gzip"):
        name = name.removesuffix(suffix)
    return input_path.parent / f"{Path(name).stem or name}.validation"
