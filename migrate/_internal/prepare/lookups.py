"""Rows looked up again after the verdict pass: CreateUser bodies and report values.

Only the pieces of the input holding the rows asked are parsed again (``SourceReader`` knows
where each piece lies once a pass has read it), and only those rows are mapped, up to
``MAP_ROWS`` per query. Bodies hold secrets and are made a batch at a time, never kept.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import polars as pl

from migrate._internal.mapping.payload import payloads_from_frame
from migrate._internal.prepare.inputs import MappedInput, joined
from migrate._internal.prepare.model import MAP_ROWS, RowPayload
from migrate._internal.sources import EMPTY_COLUMN, ROW_COLUMN, SourceReader
from migrate._internal.validation import field_values

__all__ = ["payloads", "preview", "values", "with_values"]


def payloads(
    reader: SourceReader, source: MappedInput, rows: Sequence[int], batch_size: int
) -> Iterator[RowPayload]:
    """The CreateUser bodies of ``rows`` (input row numbers), in file order; rows not in the
    input, or empty, are skipped. Raises ``SourceError``."""
    for mine in _rows_of(reader, rows):
        yield from _bodies(source, mine, batch_size)


def preview(reader: SourceReader, source: MappedInput, n: int) -> list[RowPayload]:
    """The first ``n`` non-empty rows' CreateUser bodies (valid or not)."""
    out: list[RowPayload] = []
    if n < 1:
        return out
    for piece in reader.pieces():
        mine = piece.filter(~pl.col(EMPTY_COLUMN)).head(n - len(out))
        out.extend(_bodies(source, mine, n))
        if len(out) >= n:
            break
    return out


def values(reader: SourceReader, source: MappedInput, rows: Sequence[int]) -> pl.DataFrame:
    """``row, field, value`` of every field of ``rows`` as mapped, secrets masked and long
    values cut (``validation.field_values``). Raises ``SourceError``."""
    # The rows of many pieces mapped in one query: each query has a fixed cost.
    found = [field_values(source.collect(g)) for g in joined(_rows_of(reader, rows), MAP_ROWS)]
    if found:
        return pl.concat(found)
    return pl.DataFrame(schema={"row": pl.Int64, "field": pl.Utf8, "value": pl.Utf8})


def with_values(lines: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """``lines`` (``row, field, …``) with ``value``: each line's field as ``found`` (from
    ``values``) gives it, empty when the field has none."""
    return lines.join(found, on=["row", "field"], how="left", maintain_order="left").with_columns(
        pl.col("value").fill_null("")
    )


def _rows_of(reader: SourceReader, rows: Sequence[int]) -> Iterator[pl.DataFrame]:
    """The non-empty rows among ``rows``, a piece at a time (pieces holding none skipped)."""
    wanted = sorted(set(rows))
    if not wanted:
        return
    series = pl.Series(wanted, dtype=pl.Int64).implode()
    for piece in reader.pieces(wanted[0], wanted[-1]):
        mine = piece.filter(pl.col(ROW_COLUMN).is_in(series) & ~pl.col(EMPTY_COLUMN))
        if mine.height:
            yield mine


def _bodies(source: MappedInput, rows: pl.DataFrame, batch_size: int) -> Iterator[RowPayload]:
    """The bodies of ``rows`` (non-empty rows of one piece): mapped in one query (up to
    ``MAP_ROWS`` rows), turned into dicts ``batch_size`` rows at a time."""
    for part in rows.iter_slices(max(batch_size, MAP_ROWS)):
        mapped = source.collect(part)
        for batch in mapped.iter_slices(batch_size):
            for row, key, body in payloads_from_frame(batch):
                yield RowPayload(row, key, body)
