"""The run directory's reports, rebuilt from the state DB: what was created, what was not, why.

- ``errors.csv`` / ``errors.jsonl``: one line per problem (a row with three validation errors has
  three lines), in the layout ``validate``'s ``errors.csv`` has (``reports.lines``: ``row, key,
  email, stage, field, code, value, message, hint``). ``stage`` is ``validation`` (the row was
  never sent) or ``clerk`` (Clerk refused it, or it gave up); ``value`` is the offending value
  of a ``validation`` line (secrets masked, as the plan stored it in ``details``), empty for
  ``clerk`` lines.
- ``failed_rows.<ext>``: the original input rows that are failed or invalid, with the input's own
  columns and format, ready to fix and feed back (``retry --input``).
- ``id_map.csv``: ``key, external_id, clerk_user_id`` of every created or existing row (a user
  deleted by ``rollback`` is not listed: its row is pending again).
- ``rolled_back.csv`` (only while there are any): ``row, key, external_id,
  deleted_clerk_user_id`` of rows whose user ``rollback`` deleted and that were not sent again.
- ``skipped.csv`` (only while there are any): ``row, key, reason`` of rows not created because
  the source marks the account deleted (or disabled, with ``disabled = "skip"``).
- ``summary.json``: counts by state and code, rolled-back rows, plus the run's statistics.
- a run with organizations and memberships: their lines in ``errors.csv`` / ``errors.jsonl``
  after the users', ``org_id_map.csv``, and their counts in ``summary.json``'s ``kinds``
  (``reports.tenants``).

Every file is written atomically, 0600, and is built from keys, row numbers, emails, codes and
Clerk's messages only: never a password, digest, TOTP secret, backup code or the secret key.
``warnings.csv`` (the same layout) is written once, at planning, by ``write_warnings``. In
``errors.csv``, ``skipped.csv`` and ``warnings.csv`` a text cell starting with ``= + - @``, a tab
or a CR gets a leading ``'`` so a spreadsheet shows it instead of running it, and a
secret-shaped one is masked (``reports.cells``); the data files (``errors.jsonl``,
``id_map.csv``, ``rolled_back.csv``, ``failed_rows``) keep values exactly as they are.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, Final

import polars as pl

from migrate._internal.clerk.retry import hint_for
from migrate._internal.reports.atomic import atomic_open, atomic_write_text
from migrate._internal.reports.cells import safe_cell, safe_frame
from migrate._internal.reports.lines import (
    CLERK_STAGE,
    ERROR_COLUMNS,
    RETRY_HINT,
    VALIDATION_STAGE,
    report_lines,
)
from migrate._internal.reports.tenants import tenant_error_lines, tenant_summary, write_org_id_map
from migrate._internal.secrets import mask_email, redact_emails
from migrate._internal.sources import (
    EMPTY_COLUMN,
    ROW_COLUMN,
    SOURCE_ERROR_COLUMN,
    SourceOptions,
    SourceReader,
    detect_format,
)
from migrate._internal.state import RowRecord, RowState, StateStore

__all__ = [
    "ERROR_COLUMNS",
    "ReportPaths",
    "error_lines",
    "summary_data",
    "write_failed_rows",
    "write_run_reports",
    "write_skipped",
    "write_warnings",
]

TOP_CODES: Final = 10


@dataclass(frozen=True)
class ReportPaths:
    """Where the reports of one run directory live."""

    errors_csv: Path
    errors_jsonl: Path
    failed_rows: Path | None
    id_map: Path
    summary: Path
    rolled_back: Path | None = None
    skipped: Path | None = None
    org_id_map: Path | None = None

    def all(self) -> list[Path]:
        """Every report that was written."""
        found = [self.errors_csv, self.errors_jsonl, self.id_map, self.summary]
        found += [self.failed_rows] if self.failed_rows is not None else []
        found += [self.rolled_back] if self.rolled_back is not None else []
        found += [self.org_id_map] if self.org_id_map is not None else []
        return found + ([self.skipped] if self.skipped is not None else [])


def error_lines(record: RowRecord, *, redact: bool = False) -> Iterator[dict[str, Any]]:
    """The report lines of one failed or invalid row (one per problem).

    ``redact`` masks email addresses (``--redact-emails``): the ``email`` field, and any address
    inside the key or a message.
    """
    if redact:
        for line in error_lines(record):
            line["email"] = mask_email(line["email"]) if line["email"] else ""
            line["key"] = redact_emails(line["key"])
            line["value"] = redact_emails(line["value"])
            line["message"] = redact_emails(line["message"])
            yield line
        return
    base = {"row": record.row, "key": record.key, "email": record.email or ""}
    if record.state is RowState.INVALID:
        problems = record.details or (
            {"reason": record.code, "field": record.param, "message": record.message},
        )
        for problem in problems:
            field = problem.get("field") or problem.get("param")
            yield base | {
                "stage": VALIDATION_STAGE,
                "field": field or "",
                "code": problem.get("reason") or problem.get("code") or "invalid",
                "value": problem.get("value") or "",
                "message": problem.get("message") or "",
                "hint": RETRY_HINT,
            }
        return
    yield base | {
        "stage": CLERK_STAGE,
        "field": record.param or "",
        "code": record.code or "",
        "value": "",
        "message": record.message or "",
        "hint": hint_for(record.code, record.param),
    }


def _write_errors(store: StateStore, csv_path: Path, jsonl_path: Path, *, redact: bool) -> int:
    lines = 0
    with (
        atomic_open(csv_path, newline="") as csv_handle,
        atomic_open(jsonl_path) as jsonl_handle,
    ):
        writer = csv.DictWriter(csv_handle, fieldnames=ERROR_COLUMNS, lineterminator="\n")
        writer.writeheader()
        users = (line for r in store.iter_errors() for line in error_lines(r, redact=redact))
        for line in chain(users, tenant_error_lines(store, redact=redact)):
            writer.writerow({k: safe_cell(v) for k, v in line.items()})
            jsonl_handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            lines += 1
    return lines


def _write_id_map(store: StateStore, path: Path) -> int:
    count = 0
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["key", "external_id", "clerk_user_id"])
        for key, external_id, user_id in store.iter_id_map():
            writer.writerow([key, external_id or "", user_id])
            count += 1
    return count


def write_rolled_back(store: StateStore, run_dir: Path) -> Path | None:
    """Write ``rolled_back.csv`` (rows whose user ``rollback`` deleted); None when none."""
    target = run_dir / "rolled_back.csv"
    rows = store.iter_rolled_back()
    first = next(rows, None)
    if first is None:
        target.unlink(missing_ok=True)
        return None
    with atomic_open(target, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["row", "key", "external_id", "deleted_clerk_user_id"])
        for row, key, external_id, user_id in (first, *rows):
            writer.writerow([row, key, external_id or "", user_id])
    return target


def write_skipped(store: StateStore, run_dir: Path) -> Path | None:
    """Write ``skipped.csv`` (rows skipped by their status in the source); None when none."""
    target = run_dir / "skipped.csv"
    rows = store.iter_rows((RowState.SKIPPED,))
    first = next(rows, None)
    if first is None:
        target.unlink(missing_ok=True)
        return None
    with atomic_open(target, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["row", "key", "reason"])
        for record in (first, *rows):
            writer.writerow([record.row, safe_cell(record.key), record.code or ""])
    return target


def write_warnings(run_dir: Path, warnings: pl.DataFrame, *, redact: bool = False) -> Path | None:
    """Write ``warnings.csv`` (``Prepared.warnings``: rows created with something kept
    elsewhere, such as a refused username, in ``errors.csv``'s layout) when there are any;
    written when the run is planned, from the input (the state DB does not hold warnings)."""
    target = run_dir / "warnings.csv"
    if warnings.is_empty():
        target.unlink(missing_ok=True)
        return None
    lines = report_lines(warnings, hint="", redact_emails=redact)
    with atomic_open(target, newline="") as handle:
        safe_frame(lines.select(ERROR_COLUMNS)).write_csv(handle)
    return target


def write_failed_rows(
    store: StateStore, run_dir: Path, input_path: Path, options: SourceOptions | None = None
) -> Path | None:
    """Write the failed and invalid rows as they are in the input; None when there are none.

    Same format and columns as the input (a gzipped input gives an uncompressed file).
    """
    opts = options or SourceOptions()
    fmt, _ = detect_format(input_path, opts.format)
    target = run_dir / f"failed_rows.{fmt}"
    numbers = sorted(store.row_numbers([RowState.FAILED, RowState.INVALID]))
    rows = pl.Series(ROW_COLUMN, numbers, dtype=pl.Int64)
    if rows.is_empty():
        target.unlink(missing_ok=True)
        return None
    # A piece at a time (only those holding the rows), so the input is never whole in memory.
    reader = SourceReader(input_path, opts)
    wanted = pl.col(ROW_COLUMN).is_in(rows.implode()) & ~pl.col(EMPTY_COLUMN)
    parts = [p.filter(wanted) for p in reader.pieces(numbers[0], numbers[-1])]
    data = pl.concat(parts) if parts else pl.DataFrame(schema=reader.schema)
    data = data.drop(ROW_COLUMN, SOURCE_ERROR_COLUMN, EMPTY_COLUMN)
    if fmt == "parquet":
        # binary: written beside the target, then swapped in atomically
        tmp = target.with_name(f".{target.name}.tmp")
        data.write_parquet(tmp)
        tmp.chmod(0o600)  # like every file of the run directory (atomic_open's are already)
        tmp.replace(target)
        return target
    with atomic_open(target, newline="") as handle:
        if fmt == "csv":
            data.write_csv(handle, separator=opts.delimiter, include_header=True)
        elif fmt == "ndjson":
            data.write_ndjson(handle)
        else:
            handle.write(data.write_json())
    return target


def summary_data(store: StateStore, stats: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Counts by state and by code, the run's statistics, and nothing secret."""
    # "skipped" only when some rows are (most sources mark no account deleted or disabled).
    counts = {
        str(state): n for state, n in store.counts().items() if n or state is not RowState.SKIPPED
    }
    by_code: dict[str, dict[str, int]] = {}
    for (state, code), n in store.code_counts().items():
        by_code.setdefault(str(state), {})[code] = n
    top = sorted(
        ((code, n) for codes in by_code.values() for code, n in codes.items()),
        key=lambda item: (-item[1], item[0]),
    )[:TOP_CODES]
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "codes": by_code,
        "top_codes": [{"code": code, "rows": n} for code, n in top],
        # pending rows whose user rollback deleted (not sent again yet), and the rollbacks' totals
        "rolled_back": {
            "pending_rows": store.count_rolled_back(),
            "rollbacks": store.get_meta("rolled_back") or {},
        },
        "run": dict(stats or {}),
        "sync": store.get_meta("sync") or {},  # the last `sync`'s counts
        # `run --upsert`: rows whose existing user was brought up to date, per state
        **({"upserts": upserts} if (upserts := store.sync_states("upsert")) else {}),
        # organizations and memberships, when the run has them
        **({"kinds": kinds} if (kinds := tenant_summary(store)) else {}),
    }


def write_run_reports(
    store: StateStore,
    run_dir: Path,
    input_path: Path,
    options: SourceOptions | None = None,
    stats: Mapping[str, Any] | None = None,
    *,
    redact_emails: bool = False,
) -> ReportPaths:
    """Rewrite every report of ``run_dir`` from the state DB; return where they are.

    ``redact_emails`` masks email addresses in ``errors.csv`` / ``errors.jsonl`` (the reports
    meant to be read and passed around); ``failed_rows`` (the rows to fix) and ``id_map.csv``
    (for re-keying) keep the data as it is.
    """
    paths = ReportPaths(
        errors_csv=run_dir / "errors.csv",
        errors_jsonl=run_dir / "errors.jsonl",
        failed_rows=None,
        id_map=run_dir / "id_map.csv",
        summary=run_dir / "summary.json",
    )
    _write_errors(store, paths.errors_csv, paths.errors_jsonl, redact=redact_emails)
    _write_id_map(store, paths.id_map)
    failed = write_failed_rows(store, run_dir, input_path, options)
    paths = ReportPaths(
        paths.errors_csv, paths.errors_jsonl, failed, paths.id_map, paths.summary,
        write_rolled_back(store, run_dir), write_skipped(store, run_dir),
        write_org_id_map(store, run_dir),
    )  # fmt: skip
    data = summary_data(store, stats)
    data["reports"] = sorted(p.name for p in paths.all())
    atomic_write_text(paths.summary, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return paths
