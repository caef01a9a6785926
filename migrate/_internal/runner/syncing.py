"""Fingerprints on disk and the ``sync`` plan: the run directory's key, baselines, the plan.

- ``fingerprint_key(run_dir, create=...)``: the HMAC key, 32 random bytes in
  ``<run_dir>/fingerprint.key`` (mode 0600, made once with ``O_EXCL``); never in the state DB.
- ``record_baseline(store, prepared, key)``: when a run is planned, the fingerprints of every
  input row (the first row of a repeated key), from one mapping pass a piece at a time.
- ``plan_sync(store, prepared, key)``: the newer export's rows matched by key to the run's users
  (``migrate._internal.delta.index`` / ``plan``), a piece at a time; changed fields found from
  the stored per-field prints.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol

import polars as pl

from migrate._internal.delta.fingerprint import (
    canonical_texts,
    changed_fields,
    field_prints,
    fingerprinted_fields,
    hmac_sha256,
    whole_prints,
    whole_text,
)
from migrate._internal.delta.index import RunIndex, print_prefixes
from migrate._internal.delta.plan import PLAN_SCHEMA, Action, decide
from migrate._internal.sources import SHORT_ROW, SOURCE_ERROR_COLUMN
from migrate._internal.state import StateStore
from migrate._internal.validation import (
    ValidationSettings,
    duplicate_mask,
    duplicates,
    key_columns,
    row_mask,
    with_all_fields,
)
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
_BATCH_ROWS: Final = 100_000  # rows to act on validated and printed per field at once
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
    batch_rows: int = _BATCH_ROWS,
) -> SyncPlan:
    """Each newer row's action, then the gone keys (see ``delta.plan``); unchanged rows counted.

    The run's user keys and the first ``PRINT_PREFIX`` bytes of its whole-row prints are read
    from the state DB once, as columns, into a ``delta.index.RunIndex`` sorted by key. The
    export is mapped once, a piece at a time; each piece's whole-row prints are matched to the
    index by binary search and its unchanged rows only counted. The rows to act on are
    validated together, ``batch_rows`` at a time (``validate_frame``: a duplicate among them is
    invalid; a duplicate of an unchanged row is left to Clerk to refuse), and get per-field
    prints and, with the gone keys, their Clerk user ids. ``use_baseline=False`` (the run's
    prints cannot be read: its key is lost, or it has none) makes every row with a user
    ``unknown``. Raises ``SourceError`` when the export holds no row.
    """
    prints = _baseline(store if use_baseline else None)
    index = RunIndex(prints, _user_keys(store))
    planner = _Planner(store, prepared, key, index, old_fields=store.fingerprint_fields(),
                       has_prints=prints.height > 0)  # fmt: skip
    del prints
    shifted: list[pl.Series] = []
    for mapped in prepared.mapped_pieces():
        shifted.append(_shifted_rows(mapped))
        planner.add(mapped)
        if planner.waiting >= batch_rows:
            planner.flush()
    planner.flush()
    if not planner.seen:
        raise SourceError(f"{getattr(prepared, 'input', 'the newer export')}: no rows to sync")
    gone = index.gone()
    gone_rows = pl.DataFrame({"_key": gone}).select(
        pl.lit(None, dtype=pl.Int64).alias("_row"),
        "_key",
        pl.lit(Action.GONE.value).alias("action"),
        *(
            pl.lit(None, dtype=t).alias(n)
            for n, t in SYNC_PLAN.items()
            if n not in {"_row", "_key", "action"}
        ),
    )
    rows = pl.concat([*planner.parts, gone_rows], how="diagonal_relaxed")
    ids = store.user_ids(rows.filter(pl.col("action") != Action.NEW.value)["_key"].to_list())
    known = pl.DataFrame(
        {"_key": list(ids), "clerk_user_id": list(ids.values())},
        schema={"_key": pl.Utf8, "clerk_user_id": pl.Utf8},
    )
    rows = rows.drop("clerk_user_id", strict=False).join(
        known, on="_key", how="left", maintain_order="left"
    )
    # A row short of fields may hold the rest of a split row (a digest) in its key: the plan
    # shows it ``[hidden]`` (it is invalid, ``short_row``); its key still counted as seen above,
    # so the user of the row it was split from is not taken for gone.
    hidden = pl.col("_row").is_in(pl.concat(shifted).implode())
    rows = rows.with_columns(pl.when(hidden).then(pl.lit(HIDDEN)).otherwise("_key").alias("_key"))
    return SyncPlan(
        rows.select([pl.col(n).cast(t) for n, t in SYNC_PLAN.items()]), planner.unchanged
    )


def _shifted_rows(mapped: pl.DataFrame) -> pl.Series:
    """The row numbers of ``mapped`` that are short of fields (``short_row``)."""
    if SOURCE_ERROR_COLUMN not in mapped.columns:
        return pl.Series("_row", [], dtype=pl.Int64)
    shifted = pl.col(SOURCE_ERROR_COLUMN).fill_null("") == SHORT_ROW
    return mapped.filter(shifted)["_row"].cast(pl.Int64)


class _Planner:
    """Matches pieces of mapped rows to the run; plans the rows to act on in batches.

    Of each piece only the rows to act on are kept, as fresh columns (their keys, prints,
    changed fields, and the narrow validation columns: a rule mask and hashed keys), never as
    slices of the piece, whose string buffers would stay alive with them.
    """

    def __init__(
        self,
        store: StateStore,
        prepared: MappedInput,
        key: bytes,
        index: RunIndex,
        *,
        old_fields: tuple[str, ...],
        has_prints: bool,
    ) -> None:
        self.store, self.prepared, self.index = store, prepared, index
        self.key = key
        self.mac = hmac_sha256(key)
        self.old_fields = old_fields
        self.has_prints = has_prints
        self.same_layout = True
        self.parts: list[pl.DataFrame] = []  # planned rows that are not unchanged
        self.unchanged = 0
        self.seen = 0  # rows of the export
        self.waiting = 0  # rows to act on, not yet planned
        self._frames: list[pl.DataFrame] = []
        self._checks: list[pl.DataFrame] = []  # _row, _mask, the hashed duplicate keys

    def add(self, mapped: pl.DataFrame) -> None:
        """Match one piece; keep its rows to act on for the next ``flush``."""
        fields = fingerprinted_fields(mapped.columns)
        self.same_layout = not self.old_fields or fields == self.old_fields
        texts = mapped.select(whole_text(mapped.schema, fields)).to_series().to_list()
        whole = list(map(self.mac, texts))
        del texts
        prefixes = print_prefixes(pl.Series(whole, dtype=pl.Binary))
        found = self.index.match(mapped["_key"]).with_columns(prefixes.alias("whole"))
        differs = pl.col("whole") != pl.col("old_whole") if self.same_layout else pl.lit(value=True)
        at = found.select(
            (pl.col("_user").is_null() | pl.col("old_whole").is_null() | differs).arg_true()
        ).to_series()
        self.seen += mapped.height
        self.unchanged += mapped.height - len(at)
        if not len(at):
            return
        picked = mapped[at]
        names = picked.columns
        prepared = self.prepared
        self._checks.append(
            with_all_fields(picked.lazy())
            .select("_row", row_mask(prepared.now, prepared.settings, names), *key_columns(names))
            .collect()
        )
        keys = picked["_key"].to_list()
        prints = field_prints(_texts(picked)[0], fields, self.key)
        olds = self.store.field_prints(keys) if self.has_prints else {}
        changed = [
            ",".join(changed_fields(new, fields, olds[k], self.old_fields)) if k in olds else None
            for k, new in zip(keys, prints, strict=True)
        ]
        self._frames.append(
            pl.DataFrame(
                {
                    "_row": picked["_row"],
                    "_key": pl.Series(keys, dtype=pl.Utf8),
                    "new_whole": pl.Series([whole[i] for i in at.to_list()], dtype=pl.Binary),
                    "fields": pl.Series(changed, dtype=pl.Utf8),
                    "new_fields": pl.Series(prints, dtype=pl.Binary),
                }
            ).hstack(found[at])
        )
        self.waiting += len(at)

    def flush(self) -> None:
        """Plan the rows kept since the last flush (see ``plan_sync``)."""
        if not self._frames:
            return
        frame = pl.concat(self._frames)
        checks = pl.concat(self._checks, how="diagonal_relaxed")
        self._frames, self._checks, self.waiting = [], [], 0
        dups = duplicate_mask(duplicates(checks.drop("_mask"))).collect()
        valid = checks.join(dups, on="_row", how="left", maintain_order="left").select(
            (pl.col("_mask") | pl.col("_dup_mask").fill_null(0)) == 0
        )
        frame = frame.with_columns(valid.to_series().alias("valid"))
        users = frame.filter(pl.col("_user")).select(pl.col("_key").alias("key")).unique()
        decided = decide(frame.drop("_user"), users, same_layout=self.same_layout)
        decided = decided.with_columns(frame["new_whole"], frame["new_fields"])
        kept = decided.filter(pl.col("action") != Action.UNCHANGED.value)
        self.unchanged += decided.height - kept.height
        self.parts.append(kept)


def _split(joined: str, count: int) -> pl.Series | None:
    """The ``count`` keys of ``joined`` (joined by ``"\\x00"``); None when a key held one."""
    keys = pl.Series([joined], dtype=pl.Utf8).str.split("\x00").explode()
    return keys if len(keys) == count else None


def _user_keys(store: StateStore) -> list[pl.Series]:
    """``key`` of each of the run's users, in parts."""
    joined = list(store.iter_user_keys_joined())
    parts = [part for keys, count in joined if (part := _split(keys, count)) is not None]
    if len(parts) < len(joined):  # a key holds "\x00": read a Python object per key
        parts = [pl.Series(chunk, dtype=pl.Utf8) for chunk in store.iter_user_keys()]
    return parts


def _baseline(store: StateStore | None) -> pl.DataFrame:
    """``_key, old_whole`` (the prints' first ``PRINT_PREFIX`` bytes as ``UInt64``) of every
    key stored."""
    empty = pl.DataFrame(schema={"_key": pl.Utf8, "old_whole": pl.UInt64})
    if store is None:
        return empty
    frames = []
    for joined, blob, count in store.iter_print_prefixes_joined(PRINT_PREFIX):
        keys = _split(joined, count)
        if keys is None or len(blob) != PRINT_PREFIX * count:
            break  # a key holds "\x00": read a Python object per key
        prints = pl.Series(memoryview(blob).cast("Q"), dtype=pl.UInt64)
        frames.append(pl.DataFrame({"_key": keys, "old_whole": prints}))
    else:
        return pl.concat([empty, *frames])
    frames = [
        pl.DataFrame(
            {
                "_key": pl.Series(k, dtype=pl.Utf8),
                "old_whole": print_prefixes(pl.Series(w, dtype=pl.Binary)),
            }
        )
        for k, w in store.iter_print_prefixes(PRINT_PREFIX)
    ]
    return pl.concat([empty, *frames])
