"""``validate``: read, map and check every row of an input offline; write the reports.

Needs no key and no network, and imports neither the runner nor httpx.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from migrate.api.results import RowPreview, ValidateResult
from migrate.errors import ConfigError, StateError
from migrate.mapping import load_mapping
from migrate.prepare import PrepareOptions, prepare
from migrate.reports.validation import summarize, write_validation_reports

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

    Writes ``errors.csv`` (row, key, field, reason, message) and ``summary.json`` to
    ``out_dir`` (default ``<input stem>.validation/`` beside the input); ``preview`` rows'
    bodies come back masked. Raises ``MappingError``, ``SourceError``, ``StateError`` (the reports
    cannot be written), ``ConfigError`` (a join the mapping does not have).
    """
    started = time.perf_counter()
    input_path = Path(input)
    env = dict(os.environ)
    spec = load_mapping(mapping, env)
    if not isinstance(joins, Mapping):
        if len(joins) > len(spec.joins):
            raise ConfigError(
                f"--join was given {len(joins)} file(s) but the mapping has "
                f"{len(spec.joins)} join(s)"
            )
        joins = {j.name: Path(path) for j, path in zip(spec.joins, joins, strict=False)}
    options = PrepareOptions(source=dict(source or {}), env=env, joins=dict(joins))
    prepared = prepare(input_path, spec, options)
    previews = tuple(RowPreview(p.row, p.key, p.masked()) for p in prepared.preview(preview))
    counts = prepared.counts()
    errors = prepared.errors()
    summary = summarize(
        input=str(input_path),
        mapping=str(mapping),
        read=counts.read,
        invalid=counts.invalid,
        skipped_empty=counts.skipped_empty,
        errors=errors,
    )
    notices = tuple(prepared.notices(counts.read))
    target = Path(out_dir) if out_dir else validation_dir(input_path)
    try:
        errors_path, summary_path = write_validation_reports(
            target, summary, errors, redact_emails=redact_emails
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
