"""Fingerprints on disk and the ``sync`` plan: the run directory's key, baselines, the plan.

- ``fingerprint_key(run_dir, create=...)``: the HMAC key, 32 random bytes in
  ``<run_dir>/fingerprint.key`` (mode 0600, made once with ``O_EXCL``); never in the state DB.
- ``record_baseline(store, prepared, key)``: when a run is planned, the fingerprints of every
  input row (the first row of a repeated key), from one mapping pass a piece at a time.
- ``plan_sync(store, prepared, key)``: the newer export's rows matched by key to the run's users
  (``migrate._internal.delta.plan``), changed fields found from the stored per-field prints.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

import polars as pl

from migrate._internal.delta.fingerprint import (
    canonical_texts,
    changed_fields,
    field_prints,
    fingerprinted_fields,
    whole_prints,
)
from migrate._internal.delta.plan import PLAN_SCHEMA, Action, decide, gone_keys
from migrate._internal.sources import SHORT_ROW, SOURCE_ERROR_COLUMN
from migrate._internal.state import StateStore
from migrate._internal.validation import ValidationSettings, validate_frame
from migrate._internal.validation.values import HIDDEN
from migrate.errors import SourceError, StateError

__all__ = [
    "KEY_FILE",
    "PRINT_PREFIX",
    "SYNC_PLAN",
    "MappedInput",
    "MappedPieces",
    "SyncPlan",
    "fingerprint_key",
    "plan_sync",
    "record_baseline",
]

KEY_FILE: Final = "fingerprint.key"
_KEY_BYTES: Final = 32
_GROUP_ROWS: Final = 100_000  # mapped rows matched to the run per join
# bytes of the whole-row prints compared: equal 64-bit prefixes of two different rows' HMACs
# happen with probability 2^-64
PRINT_PREFIX: Final = 8
# the plan: PLAN_SCHEMA and, for rows to act on, the prints to store once done
SYNC_PLAN: Final = {**PLAN_SCHEMA, "new_whole": pl.Binary, "new_fields": pl.Binary}


class MappedPieces(Protocol):
    """What fingerprinting needs of a prepared input (``prepare.Prepared`` has it)."""

    def mapped(self) -> pl.LazyFrame: ...

    def mapped_pieces(self) -> Iterator[pl.DataFrame]: ...


class MappedInput(MappedPieces, Protocol):
    """What planning a sync needs: the mapped pieces and how to validate them."""

    @property
    def now(self) -> datetime: ...

    @property
    def settings(self) -> ValidationSettings: ...


def fingerprint_key(run_dir: Path, *, create: bool) -> bytes | None:
    """The run directory's fingerprint key; made (0600) when absent and ``create``, else None.

    Raises ``StateError`` when the file cannot be read or written, or is not a key.
    """
    path = run_dir / KEY_FILE
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        if not create:
            return None
        key = secrets.token_bytes(_KEY_BYTES)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(key.hex() + "\n")
        except OSError as exc:
            raise StateError(f"{path}: cannot write the fingerprint key: {exc}") from exc
        return key
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"{path}: cannot read the fingerprint key: {exc}") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != _KEY_BYTES:
        raise StateError(f"{path}: not a fingerprint key (expected {_KEY_BYTES * 2} hex digits)")
    return key


def _texts(mapped: pl.DataFrame) -> tuple[pl.DataFrame, tuple[str, ...]]:
    fields = fingerprinted_fields(mapped.columns)
    texts = mapped.select("_row", "_key", *canonical_texts(mapped.schema, fields))
    return texts, fields


def record_baseline(store: StateStore, prepared: MappedPieces, key: bytes) -> int:
    """Store the fingerprints of every input row (a repeated key keeps its first row's)."""
    fields = fingerprinted_fields(prepared.mapped().collect_schema().names())

    def rows() -> Iterator[tuple[str, bytes, bytes]]:
        for piece in prepared.mapped_pieces():
            mapped = piece
            if SOURCE_ERROR_COLUMN in mapped.columns:  # a shifted row's key may be a secret
                mapped = mapped.filter(pl.col(SOURCE_ERROR_COLUMN).fill_null("") != SHORT_ROW)
            texts, _ = _texts(mapped.unique("_key", keep="first", maintain_order=True))
            yield from zip(
                texts["_key"].to_list(),
                whole_prints(texts, fields, key),
                field_prints(texts, fields, key),
                strict=True,
            )

    return store.put_fingerprints(fields, rows(), replace=False)


@dataclass(frozen=True)
class SyncPlan:
    """The plan of a newer export: every row that is not unchanged (``SYNC_PLAN``; the rows of
    the export in its order, then the gone keys) and how many rows are unchanged."""

    rows: pl.DataFrame
    unchanged: int


def plan_sync(
    store: StateStore,
    prepared: MappedInput,
    key: bytes,
    *,
    use_baseline: bool = True,
    group_rows: int = _GROUP_ROWS,
) -> SyncPlan:
    """Each newer row's action, then the gone keys (see ``delta.plan``); unchanged rows counted.

    Columnar: the run's user keys and the first ``PRINT_PREFIX`` bytes of its whole-row prints
    are read from the state DB as two columns; the export is mapped once, a piece at a time,
    ``group_rows`` rows matched to them per join. Only rows that are not unchanged are
    validated (``validate_frame`` on those rows: a duplicate of an unchanged row is left to
    Clerk to refuse), get per-field prints and, with the gone keys, their Clerk user ids.
    ``use_baseline=False`` (the run's prints cannot be read: its key is lost, or it has none)
    makes every row with a user ``unknown``. Raises ``SourceError`` when the export holds no row.
    """
    users = _user_keys(store)
    baseline = _baseline(store) if use_baseline else _baseline(None)
    run = _Run(store, key, users, baseline, store.fingerprint_fields())
    parts: list[pl.DataFrame] = []
    seen: list[pl.Series] = []
    unchanged = 0
    group: list[pl.DataFrame] = []
    held = 0
    shifted: list[pl.Series] = []
    for mapped in prepared.mapped_pieces():
        group.append(mapped)
        shifted.append(_shifted_rows(mapped))
        held += mapped.height
        if held >= group_rows:
            part = _plan_group(run, prepared, pl.concat(group))
            group, held = [], 0
            seen.append(part["_key"])
            parts.append(part.filter(pl.col("action") != Action.UNCHANGED.value))
            unchanged += part.height - parts[-1].height
    if group:
        part = _plan_group(run, prepared, pl.concat(group))
        seen.append(part["_key"])
        parts.append(part.filter(pl.col("action") != Action.UNCHANGED.value))
        unchanged += part.height - parts[-1].height
    if not parts:
        raise SourceError(f"{getattr(prepared, 'input', 'the newer export')}: no rows to sync")
    gone = gone_keys(pl.concat(seen), users).unique("_key", maintain_order=True)
    rows = pl.concat([*parts, gone], how="diagonal_relaxed")
    ids = store.user_ids(rows.filter(pl.col("action") != Action.NEW.value)["_key"].to_list())
    known = pl.DataFrame(
        {"_key": list(ids), "clerk_user_id": list(ids.values())},
        schema={"_key": pl.Utf8, "clerk_user_id": pl.Utf8},
    )
    rows = rows.drop("clerk_user_id").join(known, on="_key", how="left", maintain_order="left")
    # A row short of fields may hold the rest of a split row (a digest) in its key: the plan
    # shows it ``[hidden]`` (it is invalid, ``short_row``); its key still counted as seen above,
    # so the user of the row it was split from is not taken for gone.
    hidden = pl.col("_row").is_in(pl.concat(shifted).implode())
    rows = rows.with_columns(pl.when(hidden).then(pl.lit(HIDDEN)).otherwise("_key").alias("_key"))
    return SyncPlan(rows.select([pl.col(n).cast(t) for n, t in SYNC_PLAN.items()]), unchanged)


def _shifted_rows(mapped: pl.DataFrame) -> pl.Series:
    """The row numbers of ``mapped`` that are short of fields (``short_row``)."""
    if SOURCE_ERROR_COLUMN not in mapped.columns:
        return pl.Series("_row", [], dtype=pl.Int64)
    shifted = pl.col(SOURCE_ERROR_COLUMN).fill_null("") == SHORT_ROW
    return mapped.filter(shifted)["_row"].cast(pl.Int64)


@dataclass(frozen=True)
class _Run:
    """What a group of newer rows is matched against."""

    store: StateStore
    key: bytes
    users: pl.DataFrame  # key
    baseline: pl.DataFrame  # _key, old_whole (the first PRINT_PREFIX bytes)
    old_fields: tuple[str, ...]


def _plan_group(run: _Run, prepared: MappedInput, mapped: pl.DataFrame) -> pl.DataFrame:
    """The plan rows of one group of mapped rows (see ``plan_sync``)."""
    store, key, users, baseline, old_fields = (
        run.store, run.key, run.users, run.baseline, run.old_fields
    )  # fmt: skip
    texts, fields = _texts(mapped)
    same_layout = not old_fields or fields == old_fields
    keys = texts["_key"].implode()
    mine = users.filter(pl.col("key").is_in(keys)).unique()
    whole = pl.Series("new_whole", whole_prints(texts, fields, key), dtype=pl.Binary)
    frame = (
        texts.select("_row", "_key")
        .with_columns(whole.bin.head(PRINT_PREFIX).alias("whole"))
        .join(baseline.filter(pl.col("_key").is_in(keys)), on="_key", how="left",
              maintain_order="left")
        .join(mine.rename({"key": "_key"}).with_columns(pl.lit(value=True).alias("_user")),
              on="_key", how="left", maintain_order="left")
    )  # fmt: skip
    differs = (pl.col("whole") != pl.col("old_whole")) if same_layout else pl.lit(value=True)
    need = frame.select(
        (pl.col("_user").is_null() | pl.col("old_whole").is_null() | differs).alias("n")
    )["n"]
    at = need.arg_true()
    picked = texts[at]
    checked = validate_frame(mapped[at].lazy(), now=prepared.now, settings=prepared.settings)
    valid = checked.select(pl.col("_errors").list.len() == 0).collect().to_series()
    prints = field_prints(picked, fields, key)
    olds = store.field_prints(picked["_key"].to_list()) if len(baseline) else {}
    changed = [
        ",".join(changed_fields(new, fields, olds[k], old_fields)) if k in olds else None
        for k, new in zip(picked["_key"].to_list(), prints, strict=True)
    ]
    height = frame.height
    frame = frame.drop("_user").with_columns(
        _spread(height, at, valid, pl.Boolean, fill=True).alias("valid"),
        _spread(height, at, pl.Series(changed, dtype=pl.Utf8), pl.Utf8).alias("fields"),
        _spread(height, at, pl.Series(prints, dtype=pl.Binary), pl.Binary).alias("new_fields"),
    )
    decided = decide(frame, mine, same_layout=same_layout)
    return decided.with_columns(
        pl.when(pl.Series(need)).then(whole).alias("new_whole"),
        frame["new_fields"],
    )


def _spread(
    height: int, at: pl.Series, values: pl.Series, dtype: Any, *, fill: Any = None
) -> pl.Series:
    """A column of ``height`` rows holding ``values`` at positions ``at``, ``fill`` elsewhere."""
    base = pl.Series([fill] * height, dtype=dtype)
    return base.scatter(at, values.cast(dtype)) if len(at) else base


def _user_keys(store: StateStore) -> pl.DataFrame:
    """``key`` of each of the run's users, once."""
    parts = [pl.Series("key", chunk, dtype=pl.Utf8) for chunk in store.iter_user_keys()]
    return pl.DataFrame(pl.concat([pl.Series("key", [], dtype=pl.Utf8), *parts]))


def _baseline(store: StateStore | None) -> pl.DataFrame:
    """``_key, old_whole`` (the prints' first ``PRINT_PREFIX`` bytes) of every key stored."""
    chunks = store.iter_print_prefixes(PRINT_PREFIX) if store is not None else ()
    frames = [
        pl.DataFrame(
            {"_key": pl.Series(k, dtype=pl.Utf8), "old_whole": pl.Series(w, dtype=pl.Binary)}
        )
        for k, w in chunks
    ]
    empty = pl.DataFrame(schema={"_key": pl.Utf8, "old_whole": pl.Binary})
    return pl.concat([empty, *frames])
