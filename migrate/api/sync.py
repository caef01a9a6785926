"""``migrate.sync``: bring a run's users up to date with a newer export of the same system.

The plan (``--dry-run``) reads the newer export once, fingerprints each mapped row with the run
directory's key and matches it by key to the run's users: new, changed (by field), unchanged,
unknown (the run has no fingerprints), invalid, gone. It writes ``sync_plan.csv`` (every row
that is not unchanged: row, key, action, fields) and the counts into ``summary.json`` (key
``sync``), and sends nothing.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from migrate.api.results import ExitCode
from migrate.delta.plan import Action, count_actions
from migrate.errors import ConfigError, StateError
from migrate.prepare import prepare_input
from migrate.reports.atomic import atomic_open, atomic_write_text
from migrate.runner.session import STATE_FILE, read_run
from migrate.runner.syncing import fingerprint_key, plan_sync

__all__ = ["PLAN_FILE", "SyncResult", "sync"]

PLAN_FILE: Final = "sync_plan.csv"
SYNC_META: Final = "sync"


@dataclass(frozen=True)
class SyncResult:
    """What a sync found (and did): rows per action, changed rows per field, the plan file."""

    counts: dict[str, int]  # action -> rows (every ``Action``)
    changed_fields: dict[str, int]  # field -> changed rows
    plan_csv: Path
    summary_json: Path
    dry_run: bool
    notices: tuple[str, ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        """0, or 3 when rows of the newer export are invalid."""
        return ExitCode.FAILED_ROWS if self.counts.get(Action.INVALID, 0) else ExitCode.OK


def sync(
    newer: str | Path,
    mapping: str,
    *,
    run_dir: str | Path,
    dry_run: bool = False,
    source: dict[str, Any] | None = None,
    joins: dict[str, Path] | list[Path] | None = None,
) -> SyncResult:
    """Plan (and with ``dry_run`` only plan) the changes of ``newer`` against ``run_dir``.

    Raises ``ConfigError`` for options that cannot work, ``StateError`` when ``run_dir`` holds
    no run, ``SourceError`` / ``MappingError`` for an unusable input or mapping.
    """
    if not dry_run:
        raise ConfigError("sync sends nothing yet: pass --dry-run to see the plan")
    directory = Path(run_dir)
    if not (directory / STATE_FILE).is_file():
        raise StateError(f"{directory}: no run here (no {STATE_FILE}); run `run` first")
    plan = read_run(directory, lock=True)
    try:
        notices = []
        key = fingerprint_key(directory, create=not dry_run)
        usable = key is not None and plan.store.count_fingerprints() > 0
        if not usable:
            notices.append(
                f"{directory} holds no fingerprints (made by an older clerk-migrate): every "
                "user of the run counts as unknown and sync sends all its mapped fields; "
                "rerun `run` once with the original input first to record them"
            )
        prepared = prepare_input(Path(newer), mapping, source, joins or ())
        rows = plan_sync(plan.store, prepared, key or secrets.token_bytes(32),
                         use_baseline=usable)  # fmt: skip
        counts, by_field = count_actions(rows)
        plan_csv = directory / PLAN_FILE
        with atomic_open(plan_csv, newline="") as handle:
            rows.filter(pl.col("action") != Action.UNCHANGED.value).select(
                pl.col("_row").alias("row"),
                pl.col("_key").alias("key"),
                "action",
                "fields",
            ).write_csv(handle)
        figures = {"counts": counts, "changed_fields": by_field, "dry_run": dry_run}
        plan.store.set_meta(SYNC_META, figures)
        summary = directory / "summary.json"
        _merge_summary(summary, figures)
    finally:
        plan.store.close()
    return SyncResult(counts, by_field, plan_csv, summary, dry_run, tuple(notices))


def _merge_summary(path: Path, figures: dict[str, Any]) -> None:
    """Set ``summary.json``'s ``sync`` entry, keeping the rest of the run's summary."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    if not isinstance(data, dict):
        data = {}
    data[SYNC_META] = figures
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
