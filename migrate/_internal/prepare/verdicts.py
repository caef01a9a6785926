"""The verdict pass: each row's rule mask and key hashes, written to temporary files, and the
duplicates across the whole input found from the hashes alone.

``VerdictQuery`` turns a mapped frame into ``_row, _key, external_id, email, _mask, _skip,
_warning`` and the 64-bit hashes of the values that must be unique (no secret); its
expressions are built once (the rules' take ~10 ms to build). ``write_verdicts`` collects one
query per group of rows, writes each to a Parquet file and then finds the duplicates one key
column at a time (``holders_of_repeats``), so the whole input's memory is one sorted column
of hashes. ``Verdicts`` reads the files back: in batches of any size (``batches``) or as the
rows a report names (``notable``), with the duplicate bits added.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

import polars as pl

from migrate._internal.mapping.accounts import SKIP_COLUMN, WARNING_COLUMN
from migrate._internal.mapping.spec import InferSource, MappingSpec
from migrate._internal.prepare.model import Counts
from migrate._internal.sources import ROW_COLUMN, reading
from migrate._internal.validation import (
    ValidationSettings,
    duplicate_mask,
    duplicates,
    key_columns,
    row_mask,
    with_all_fields,
)

__all__ = [
    "VERDICT_COLUMNS",
    "VerdictQuery",
    "Verdicts",
    "holders_of_repeats",
    "with_bits",
    "write_verdicts",
]

VERDICT_COLUMNS: Final = (
    ROW_COLUMN, "_key", "external_id", "email", "_mask", SKIP_COLUMN, WARNING_COLUMN,
)  # fmt: skip
_NOTABLE_COLUMNS: Final = [ROW_COLUMN, "_key", "email", "_mask", SKIP_COLUMN, WARNING_COLUMN]


class VerdictQuery:
    """The verdict of each row of a mapped frame, for a mapping whose fields are ``present``."""

    def __init__(
        self,
        spec: MappingSpec,
        present: set[str],
        now: datetime,
        settings: ValidationSettings,
    ) -> None:
        hasher = spec.field_spec("password_hasher")
        self._inferred = hasher is not None and isinstance(hasher.source, InferSource)
        # A row skipped by its status is neither checked nor a holder of unique values: a deleted
        # account does not make the live one with its address a duplicate.
        skip = pl.col(SKIP_COLUMN) if SKIP_COLUMN in present else pl.lit(None, pl.Utf8)
        warning = pl.col(WARNING_COLUMN) if WARNING_COLUMN in present else pl.lit(None, pl.Utf8)
        live = skip.is_null()
        mask = row_mask(now, settings, present)
        keys = key_columns(present)
        self.key_names = [k.meta.output_name() for k in keys]
        self._columns = [
            pl.col(ROW_COLUMN),
            pl.col("_key"),
            pl.col("external_id"),
            pl.col("email_address").list.first().alias("email"),
            pl.when(live).then(mask).otherwise(pl.lit(0, pl.UInt64)).alias("_mask"),
            skip.alias(SKIP_COLUMN),
            warning.alias(WARNING_COLUMN),
            *(pl.when(live).then(k).alias(k.meta.output_name()) for k in keys),
        ]

    def of(self, mapped: pl.LazyFrame) -> pl.LazyFrame:
        """``VERDICT_COLUMNS`` and the key hashes of ``mapped``, lazily."""
        full = with_all_fields(mapped, hasher_inferred=self._inferred)
        return full.select(self._columns)


@dataclass(frozen=True)
class Verdicts:
    """The verdict files of one input, in file order, and what the pass found across them:
    ``dups`` (``_row, _dup_mask``, by row), ``firsts`` (``_row, reason, _first``: the row that
    holds a duplicate's value first) and ``empty`` (empty rows left out)."""

    files: tuple[Path, ...]
    dups: pl.DataFrame
    firsts: pl.DataFrame
    empty: int

    def batches(self, batch_size: int) -> Iterator[pl.DataFrame]:
        """``VERDICT_COLUMNS`` of every row, duplicate bits included, ``batch_size`` rows a
        frame (the last fewer)."""
        pending: list[pl.DataFrame] = []
        held = 0
        for file in self.files:
            pending.append(pl.read_parquet(file, columns=list(VERDICT_COLUMNS)))
            held += pending[-1].height
            # The files are not of the size asked; regroup them exactly.
            while held >= batch_size:
                whole = pl.concat(pending, rechunk=True)
                yield self._with_duplicates(whole.head(batch_size))
                rest = whole.slice(batch_size)
                pending, held = ([rest], rest.height) if rest.height else ([], 0)
        if held:
            yield self._with_duplicates(pl.concat(pending, rechunk=True))

    def notable(self) -> tuple[pl.DataFrame, Counts]:
        """``_row, _key, email, _mask`` (duplicate bits included), ``_skip`` and ``_warning``
        of the rows that are invalid, skipped or warned about, and the counts, from one read
        of the files."""
        notable = (
            (pl.col("_mask") != 0)
            | pl.col(SKIP_COLUMN).is_not_null()
            | pl.col(WARNING_COLUMN).is_not_null()
        )
        parts: list[pl.DataFrame] = []
        read = invalid = skipped = 0
        for file in self.files:
            verdicts = self._with_duplicates(pl.read_parquet(file, columns=_NOTABLE_COLUMNS))
            read += verdicts.height
            invalid += int((verdicts["_mask"] != 0).sum())
            skipped += int(verdicts[SKIP_COLUMN].is_not_null().sum())
            parts.append(verdicts.filter(notable))
        counts = Counts(read, read - invalid - skipped, invalid, self.empty, skipped)
        return pl.concat(parts), counts

    def _with_duplicates(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` (verdicts of consecutive rows) with the duplicate bits of its rows."""
        if self.dups.height:
            mine = self.dups.filter(pl.col(ROW_COLUMN).is_in(frame[ROW_COLUMN].implode()))
            if mine.height:
                return frame.with_columns(with_bits(frame, mine))
        return frame


def write_verdicts(
    queries: Iterable[pl.LazyFrame], key_names: Sequence[str], folder: Path, input: Path
) -> Verdicts:
    """Collect each verdict query (of consecutive rows of ``input``, in file order), write its
    non-empty rows to a Parquet file in ``folder``, then find the duplicates across them.

    Raises ``SourceError`` (a value of ``input`` cannot be read).
    """
    files: list[Path] = []
    empty = 0
    for query in queries:
        with reading(input):
            verdicts = query.collect()
        blank = verdicts[ROW_COLUMN] < 0
        empty += int(blank.sum())
        verdicts = verdicts.filter(~blank)
        if verdicts.height:
            files.append(folder / f"verdicts-{len(files):06d}.parquet")
            # lz4: half zstd's CPU for files read back once or twice (and ~1.5x the size)
            verdicts.select(*VERDICT_COLUMNS, *key_names).write_parquet(
                files[-1], compression="lz4"
            )
        del verdicts
    dups = pl.DataFrame(schema={ROW_COLUMN: pl.Int64, "_dup_mask": pl.UInt64})
    firsts = pl.DataFrame(schema={ROW_COLUMN: pl.Int64, "reason": pl.Utf8, "_first": pl.Int64})
    if key_names and files:
        found = duplicates(holders_of_repeats(files, key_names)).collect()
        firsts = found.select(ROW_COLUMN, "reason", "_first")
        dups = duplicate_mask(found.lazy()).collect().sort(ROW_COLUMN)
    return Verdicts(tuple(files), dups, firsts, empty)


def holders_of_repeats(files: Sequence[Path], key_names: Sequence[str]) -> pl.DataFrame:
    """``_row`` and the key hashes of the rows (in the verdict ``files``) that hold, in some key
    column, a value another row (or the same row, twice) holds too: all ``duplicates`` needs,
    since the other rows give nothing.

    Memory is what matters here: the hashes of one key column are read and sorted at a time
    (repeated values are neighbours once sorted), and the holders are then picked file by file;
    ``duplicates`` on every row would hold each row's number and hashes and build hash tables
    over all of them, several times the size of one sorted column.
    """
    schema = pl.read_parquet_schema(files[0])
    repeated: dict[str, pl.Series] = {}
    for name in key_names:
        values = pl.scan_parquet(list(files)).select(pl.col(name)).collect().to_series()
        if isinstance(values.dtype, pl.List):
            values = values.explode()
        ordered = values.drop_nulls().sort()
        del values
        found = ordered.filter(ordered == ordered.shift(1)).unique()
        if not found.is_empty():
            repeated[name] = found.implode()
    columns = [ROW_COLUMN, *key_names]
    if not repeated:
        return pl.read_parquet(files[0], columns=columns).clear()
    hits = [
        pl.col(name).list.eval(pl.element().is_in(values)).list.any()
        if isinstance(schema[name], pl.List)
        else pl.col(name).is_in(values)
        for name, values in repeated.items()
    ]
    held = pl.any_horizontal(hits).fill_null(False)
    return pl.concat(pl.read_parquet(f, columns=columns).filter(held) for f in files)


def with_bits(frame: pl.DataFrame, dups: pl.DataFrame) -> pl.Series:
    """``frame``'s ``_mask`` with each row's duplicate bits (``dups``: ``_row, _dup_mask``) added.

    Rows come in file order, so the few rows to change are found by binary search (5 M rows:
    ~0.02 s, against ~0.2 s for a lookup of every row); any other order takes the lookup.
    """
    rows, mask = frame[ROW_COLUMN], frame["_mask"]
    if not rows.is_sorted():
        bits = rows.replace_strict(
            dups[ROW_COLUMN], dups["_dup_mask"], default=0, return_dtype=pl.UInt64
        )
        return mask | bits
    at = rows.search_sorted(dups[ROW_COLUMN])
    return mask.scatter(at, mask.gather(at) | dups["_dup_mask"])
