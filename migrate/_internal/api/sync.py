"""``migrate.sync``: bring a run's users up to date with a newer export of the same system.

The plan reads the newer export once, fingerprints each mapped row with the run directory's
key and matches it by key to the run's users: new, changed (by field), unchanged, unknown (the
run has no fingerprints), invalid, gone. It writes ``sync_plan.csv`` (every row that is not
unchanged: row, key, action, fields) and the counts into ``summary.json`` (key ``sync``).
``dry_run`` stops there. Otherwise the plan is sent (``runner.sync_send``): new rows created,
changed and unknown users updated, gone users deleted (``delete_gone``, after a confirmation,
never more than ``max_delete``) or banned (``ban_gone``); a rerun resumes.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import anyio
import polars as pl

from migrate._internal.api.connection import Connection, connect, default_rate_for
from migrate._internal.api.results import ExitCode
from migrate._internal.delta.fingerprint import fingerprinted_fields
from migrate._internal.delta.plan import Action, count_actions
from migrate._internal.prepare import Prepared, prepare_input
from migrate._internal.reports.atomic import atomic_open, atomic_write_text
from migrate._internal.runner.pacing import MAX_RETRY_AFTER, Pacer
from migrate._internal.runner.session import STATE_FILE, bind_target, check_waits, read_run
from migrate._internal.runner.sync_send import SyncItem, SyncOptions, SyncTally, send_sync
from migrate._internal.runner.syncing import fingerprint_key, plan_sync
from migrate._internal.state import StateStore
from migrate.errors import ConfigError, StateError

__all__ = ["PLAN_FILE", "SyncResult", "sync"]

PLAN_FILE: Final = "sync_plan.csv"
SYNC_META: Final = "sync"
_BODY_GROUP: Final = 5_000  # action rows whose bodies are read from the export at once
_ACTS: Final = (Action.NEW.value, Action.CHANGED.value, Action.UNKNOWN.value)


@dataclass(frozen=True)
class SyncResult:
    """What a sync found (and did): rows per action, changed rows per field, the plan file."""

    counts: dict[str, int]  # action -> rows (every ``Action``)
    changed_fields: dict[str, int]  # field -> changed rows
    plan_csv: Path
    summary_json: Path
    dry_run: bool
    notices: tuple[str, ...] = ()
    sent: dict[str, int] | None = None  # created / updated / matched / deleted / banned / failed
    requests: int = 0
    failures: tuple[tuple[str, int | None, str, str | None, str | None], ...] = ()

    @property
    def exit_code(self) -> ExitCode:
        """0, or 3 when rows of the newer export are invalid or keys failed."""
        failed = (self.sent or {}).get("failed", 0)
        bad = self.counts.get(Action.INVALID, 0) or failed
        return ExitCode.FAILED_ROWS if bad else ExitCode.OK


OUTAGE_LIMIT: Final = SyncOptions.outage_limit


def sync(
    newer: str | Path,
    mapping: str,
    *,
    run_dir: str | Path,
    dry_run: bool = False,
    connection: Connection | None = None,
    delete_gone: bool = False,
    ban_gone: bool = False,
    max_delete: int | None = None,
    replace_identifiers: bool = False,
    confirm: Callable[[str], bool] | None = None,
    yes: bool = False,
    rate: float | None = None,
    concurrency: int | None = None,
    max_retry_after: float | None = None,
    outage_limit: float | None = None,
    source: dict[str, Any] | None = None,
    joins: dict[str, Path] | list[Path] | None = None,
    on_notice: Callable[[str], None] | None = None,
) -> SyncResult:
    """Plan, and unless ``dry_run`` send, the changes of ``newer`` against ``run_dir``.

    ``delete_gone`` deletes the users whose key the export lacks (``confirm(message)`` must
    return True, or ``yes``; refused when more than ``max_delete``); ``ban_gone`` bans them.
    ``replace_identifiers`` removes the addresses a user no longer has. ``max_retry_after``
    caps the 429 pause honoured (seconds, default 600); ``outage_limit`` is how long Clerk may
    stay unreachable before the sync stops, resumably (seconds, default 300). ``on_notice``
    receives, while the changes are sent, what the operator should know at once (a long or
    capped Retry-After pause, an outage, when sending resumes); without it those lines join
    ``notices``. Raises ``ConfigError``
    for options that cannot work (before anything is read or sent), ``StateError`` when
    ``run_dir`` holds no run, ``SourceError`` / ``MappingError`` for an unusable input.
    """
    if delete_gone and ban_gone:
        raise ConfigError("--delete-gone and --ban-gone exclude each other: pick one")
    if max_delete is not None and max_delete < 0:
        raise ConfigError(f"--max-delete must be 0 or more, got {max_delete}")
    if delete_gone and max_delete is None:
        raise ConfigError("--delete-gone needs --max-delete N: the most users it may delete")
    if rate is not None and rate <= 0:
        raise ConfigError(f"--rate must be positive, got {rate:g}")
    if concurrency is not None and concurrency < 1:
        raise ConfigError(f"--concurrency must be at least 1, got {concurrency}")
    check_waits(outage_limit, max_retry_after)
    if not dry_run and connection is None:
        raise ConfigError("sync needs a connection (or dry_run=True)")
    directory = Path(run_dir)
    if not (directory / STATE_FILE).is_file():
        raise StateError(f"{directory}: no run here (no {STATE_FILE}); run `run` first")
    plan = read_run(directory, lock=True)
    try:
        notices: list[str] = []
        key = fingerprint_key(directory, create=not dry_run)
        usable = key is not None and plan.store.count_fingerprints() > 0
        if not usable:
            notices.append(
                f"{directory} holds no fingerprints (made by an older clerk-migrate): every "
                "user of the run counts as unknown and sync sends all its mapped fields; "
                "rerun `run` once with the original input first to record them"
            )
        prepared = prepare_input(Path(newer), mapping, source, joins or ())
        planned = plan_sync(plan.store, prepared, key or secrets.token_bytes(32),
                            use_baseline=usable)  # fmt: skip
        rows = planned.rows
        counts, by_field = count_actions(rows)
        counts[Action.UNCHANGED.value] = planned.unchanged
        plan_csv = directory / PLAN_FILE
        with atomic_open(plan_csv, newline="") as handle:
            rows.select(
                pl.col("_row").alias("row"),
                pl.col("_key").alias("key"),
                "action",
                "fields",
            ).write_csv(handle)
        figures: dict[str, Any] = {"counts": counts, "changed_fields": by_field, "dry_run": dry_run}
        tally = None
        if not dry_run:
            assert connection is not None
            _check_gone(counts[Action.GONE.value], delete_gone=delete_gone, ban_gone=ban_gone,
                        max_delete=max_delete, confirm=confirm, yes=yes)  # fmt: skip
            options = SyncOptions(delete_gone=delete_gone, ban_gone=ban_gone,
                                  replace_identifiers=replace_identifiers,
                                  outage_limit=outage_limit or OUTAGE_LIMIT)  # fmt: skip
            tally = _send_plan(plan.store, rows, prepared, connection, options,
                               usable=usable, rate=rate, concurrency=concurrency,
                               max_retry_after=max_retry_after,
                               notice=on_notice or notices.append)  # fmt: skip
            figures["sent"] = tally.counts
            figures["requests"] = tally.requests
        plan.store.set_meta(SYNC_META, figures)
        summary = directory / "summary.json"
        _merge_summary(summary, figures)
        failures = tuple(plan.store.sync_failures()) if tally is not None else ()
    finally:
        plan.store.close()
    return SyncResult(
        counts, by_field, plan_csv, summary, dry_run, tuple(notices),
        None if tally is None else dict(tally.counts), 0 if tally is None else tally.requests,
        failures,
    )  # fmt: skip


def _send_plan(
    store: StateStore,
    rows: pl.DataFrame,
    prepared: Prepared,
    connection: Connection,
    options: SyncOptions,
    *,
    usable: bool,
    rate: float | None,
    concurrency: int | None,
    max_retry_after: float | None,
    notice: Callable[[str], None],
) -> SyncTally:
    """Connect and send the plan's rows to act on (``runner.sync_send``)."""
    layout = fingerprinted_fields(prepared.mapped().collect_schema().names())
    stored = store.fingerprint_fields()
    if usable and stored != layout:
        raise ConfigError(
            f"the mapping maps other fields ({', '.join(layout)}) than the run's "
            f"({', '.join(stored)}): sync with the run's mapping"
        )
    if not usable:
        store.put_fingerprints(layout, [])  # the layout of the prints sync stores from now on
    gone = (pl.col("action") == Action.GONE.value) & (options.delete_gone or options.ban_gone)
    act = rows.filter(pl.col("action").is_in(_ACTS) | gone)
    with connect(connection) as target:
        bind_target(store, target)
        pacer = Pacer(
            rate or default_rate_for(target),
            fixed_concurrency=concurrency,
            max_retry_after=max_retry_after or MAX_RETRY_AFTER,
            notice=notice,
        )

        async def go() -> SyncTally:
            async with target.client() as client:
                batches = _items(act, prepared, layout, options.batch)
                return await send_sync(client, pacer, store, batches, options)

        return anyio.run(go)


def _check_gone(
    gone: int,
    *,
    delete_gone: bool,
    ban_gone: bool,
    max_delete: int | None,
    confirm: Callable[[str], bool] | None,
    yes: bool,
) -> None:
    """Refuse to delete more than ``max_delete`` users, and ask before deleting or banning."""
    if not gone or not (delete_gone or ban_gone):
        return
    verb = "delete" if delete_gone else "ban"
    if delete_gone and max_delete is not None and gone > max_delete:
        raise ConfigError(
            f"{gone:,} users of the run are gone from the newer export, more than "
            f"--max-delete {max_delete}: nothing was sent; check the export, or raise the limit"
        )
    if yes:
        return
    question = f"{verb} {gone:,} users of the run that the newer export no longer has?"
    if confirm is None:
        raise ConfigError(f"sync would {verb} {gone:,} users: pass --yes to confirm")
    if not confirm(question):
        done = "deleted" if delete_gone else "banned"
        raise ConfigError(f"not confirmed: no user was {done} and nothing was sent")


def _items(
    act: pl.DataFrame, prepared: Prepared, layout: tuple[str, ...], batch: int
) -> Iterator[Sequence[SyncItem]]:
    """The plan's rows to act on as ``SyncItem`` batches, bodies read a group at a time."""
    out: list[SyncItem] = []
    for group in act.iter_slices(_BODY_GROUP):
        numbers = [r for r in group["_row"].to_list() if r is not None]
        bodies = {p.row: p.body for p in prepared.payloads(numbers)} if numbers else {}
        for rec in group.iter_rows(named=True):
            row = rec["_row"]
            fields = tuple(rec["fields"].split(",")) if rec["fields"] else layout
            prints = (rec["new_whole"], rec["new_fields"]) if rec["new_whole"] else None
            body = bodies.get(row, {}) if row is not None else {}
            out.append(SyncItem(rec["_key"], row, rec["action"], rec["clerk_user_id"], fields,
                                body, prints))  # fmt: skip
            if len(out) >= batch:
                yield out
                out = []
    if out:
        yield out


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
