"""Fingerprints on disk and the ``sync`` plan: the run directory's key, baselines, the plan.

- ``fingerprint_key(run_dir, create=...)``: the HMAC key, 32 random bytes in
  ``<run_dir>/fingerprint.key`` (mode 0600, made once with ``O_EXCL``); never in the state DB.
- ``record_baseline(store, prepared, key)``: when a run is planned, the fingerprints of every
  input row (the first row of a repeated key), from one mapping pass a piece at a time.
- ``plan_sync(store, prepared, key)``: the newer export's rows matched by key to the run's users
  (``migrate.delta.plan``), changed fields found from the stored per-field prints.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

import polars as pl

from migrate.delta.fingerprint import (
    canonical_texts,
    changed_fields,
    field_prints,
    fingerprinted_fields,
    whole_prints,
)
from migrate.delta.plan import PLAN_SCHEMA, decide, gone_keys
from migrate.errors import StateError
from migrate.state import StateStore

__all__ = ["KEY_FILE", "MappedInput", "fingerprint_key", "plan_sync", "record_baseline"]

KEY_FILE: Final = "fingerprint.key"
_KEY_BYTES: Final = 32


class MappedInput(Protocol):
    """What fingerprinting needs of a prepared input (``prepare.Prepared`` has it)."""

    def mapped(self) -> pl.LazyFrame: ...

    def mapped_pieces(self) -> Iterator[pl.DataFrame]: ...

    def iter_plan(self, batch_size: int = ...) -> Iterator[pl.DataFrame]: ...


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


def record_baseline(store: StateStore, prepared: MappedInput, key: bytes) -> int:
    """Store the fingerprints of every input row (a repeated key keeps its first row's)."""
    fields = fingerprinted_fields(prepared.mapped().collect_schema().names())

    def rows() -> Iterator[tuple[str, bytes, bytes]]:
        for mapped in prepared.mapped_pieces():
            texts, _ = _texts(mapped.unique("_key", keep="first", maintain_order=True))
            yield from zip(
                texts["_key"].to_list(),
                whole_prints(texts, fields, key),
                field_prints(texts, fields, key),
                strict=True,
            )

    return store.put_fingerprints(fields, rows(), replace=False)


def plan_sync(store: StateStore, prepared: MappedInput, key: bytes | None) -> pl.DataFrame:
    """One ``PLAN_SCHEMA`` row per newer row, then one per gone key (see ``sync.plan``).

    ``key`` None (the run directory has none) makes every row with a user ``unknown``.
    """
    users = _users(store)
    old_fields = store.fingerprint_fields()
    baseline = _baseline(store) if key is not None else _empty_baseline()
    valid = pl.concat(
        [
            b.select("_row", (pl.col("_errors").list.len() == 0).alias("valid"))
            for b in prepared.iter_plan()
        ]
    )
    parts = []
    for mapped in prepared.mapped_pieces():
        texts, fields = _texts(mapped)
        same_layout = fields == old_fields
        frame = texts.select("_row", "_key").with_columns(
            pl.Series("whole", whole_prints(texts, fields, key or b""), dtype=pl.Binary)
        )
        frame = frame.join(baseline, on="_key", how="left", maintain_order="left")
        differs = pl.col("old_whole").is_not_null() & (
            (pl.col("whole") != pl.col("old_whole")) if same_layout else pl.lit(value=True)
        )
        mask = frame.select(differs.alias("d"))["d"]
        fields_col = pl.Series("fields", [None] * frame.height, dtype=pl.Utf8)
        if key is not None and mask.any():
            picked = texts.filter(mask)
            olds = store.field_prints(picked["_key"].to_list())
            news = field_prints(picked, fields, key)
            found = [
                ",".join(changed_fields(new, fields, olds.get(k, b""), old_fields))
                for k, new in zip(picked["_key"].to_list(), news, strict=True)
            ]
            fields_col = fields_col.scatter(mask.arg_true(), pl.Series(found, dtype=pl.Utf8))
        parts.append(frame.with_columns(fields_col))
    current = pl.concat(parts).join(valid, on="_row", how="left", maintain_order="left")
    plan = decide(current.with_columns(pl.col("valid").fill_null(value=False)), users,
                  same_layout=not old_fields or fields == old_fields)  # fmt: skip
    return pl.concat([plan, gone_keys(current["_key"], users)]).cast(PLAN_SCHEMA)  # type: ignore[arg-type]


def _users(store: StateStore) -> pl.DataFrame:
    """``key, clerk_user_id`` of the run's created and existing users."""
    frames = []
    chunk: list[tuple[str, str]] = []
    for key, _external_id, user_id in store.iter_id_map():
        chunk.append((key, user_id))
        if len(chunk) >= 100_000:
            frames.append(_frame(chunk, {"key": pl.Utf8, "clerk_user_id": pl.Utf8}))
            chunk = []
    frames.append(_frame(chunk, {"key": pl.Utf8, "clerk_user_id": pl.Utf8}))
    return pl.concat(frames).unique("key", keep="first", maintain_order=True)


def _baseline(store: StateStore) -> pl.DataFrame:
    schema = {"_key": pl.Utf8, "old_whole": pl.Binary}
    frames = [_frame(chunk, schema) for chunk in store.iter_fingerprints()]
    return pl.concat([_empty_baseline(), *frames])


def _empty_baseline() -> pl.DataFrame:
    return pl.DataFrame(schema={"_key": pl.Utf8, "old_whole": pl.Binary})


def _frame(rows: Sequence[tuple[str, Any]], schema: Mapping[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row")
