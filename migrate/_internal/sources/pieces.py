"""Read an input as eager frames of bounded size ("pieces") instead of one lazy scan.

polars reads a lazy scan's whole file ahead of a slow consumer, so a run over millions of rows
would hold the file in memory however small its batches. ``SourceReader`` cuts the (decoded)
text itself, at record boundaries, and parses each piece with polars' eager readers, giving per
piece exactly what ``scan_source`` gives for those rows.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import polars as pl

from migrate._internal.sources import (
    EMPTY_COLUMN,
    ROW_COLUMN,
    SHORT_ROW,
    SOURCE_ERROR_COLUMN,
    SourceOptions,
    _explain,
    _finish,
    _gunzipped,
    _utf8_file,
    csv_delimiter,
    detect_format,
    scan_source,
)
from migrate.errors import SourceError

__all__ = ["PIECE_BYTES", "PIECE_ROWS", "Piece", "SourceReader"]

PIECE_BYTES: Final = 2 << 20
PIECE_ROWS: Final = 100_000


@dataclass(frozen=True)
class Piece:
    """Where one piece of an input lies: ``start``/``end`` are byte offsets into the (decoded)
    text file, or row offsets for Parquet; ``first_row`` is its first ``_row``; ``rows`` counts
    its records (empty rows included); ``short`` the rows short of fields (CSV), found when it
    was first parsed, so a later read of it does not count again."""

    start: int
    end: int
    first_row: int
    rows: int
    short: tuple[int, ...] = ()


class SourceReader:
    """An input read as eager frames of bounded size instead of one lazy scan.

    Each frame ("piece") holds exactly what ``scan_source`` gives for its rows: the same columns,
    values and dtypes, ``_row``, ``_empty`` and ``_source_error``; the pieces of a whole pass,
    concatenated, equal ``scan_source(...).collect()``, but that a CSV row short of fields is
    marked ``short_row`` (``short_records``). polars reads a scan's whole input ahead
    of a slow consumer, so a run over millions of rows would hold the file in memory; a piece is
    about ``piece_bytes`` of text (CSV cut at a newline outside quotes, NDJSON at a newline) or
    ``piece_rows`` rows (Parquet); a JSON document is one piece (it is parsed whole anyway).

    A pass from the start records where each piece lies (``index``), so a later
    ``pieces(first, last)`` parses only the pieces holding those rows. Opening checks the file
    as ``scan_source`` does (``SourceError``); a problem found while a piece is parsed (a CSV
    row with more cells than the header) is raised as ``SourceError`` naming the file.
    """

    def __init__(
        self,
        path: str | Path,
        options: SourceOptions | None = None,
        *,
        piece_bytes: int = PIECE_BYTES,
        piece_rows: int = PIECE_ROWS,
    ) -> None:
        opts = options or SourceOptions()
        self.path = Path(path)
        self._lazy = scan_source(self.path, opts)  # checks the file, and gives the schema
        self.schema = self._lazy.collect_schema()
        self.format, gz = detect_format(self.path, opts.format)
        self._opts = dataclasses.replace(opts, delimiter=csv_delimiter(self.path, opts))
        self._piece_bytes = max(1, piece_bytes)
        self._piece_rows = max(1, piece_rows)
        self._data = [n for n in self.schema.names() if n not in _INTERNAL]
        self._marker = False
        self._head = b""
        self._body = 0
        self._physical = self.path
        if self.format == "parquet":
            self._physical = _gunzipped(self.path) if gz else self.path
        elif self.format != "json":
            quote = self._opts.quote_char if self.format == "csv" else None
            self._physical, self._marker = _utf8_file(self.path, gz, opts.encoding, quote=quote)
            if self.format == "csv":
                self._head, self._body = self._csv_head()
        # Shared by every reader of the same file and options in this process: a reader made
        # again later (a run rebuilds its Prepared after planning) skips to its rows at once.
        st = self._physical.stat()
        key = (str(self._physical.resolve()), st.st_mtime_ns, st.st_size, repr(self._opts),
               self._piece_bytes, self._piece_rows)  # fmt: skip
        self._index = _indexes.setdefault(key, [])

    @property
    def index(self) -> tuple[Piece, ...]:
        """The pieces found so far by passes from the start, in file order."""
        return tuple(self._index)

    def pieces(self, first: int | None = None, last: int | None = None) -> Iterator[pl.DataFrame]:
        """The input's pieces in file order; with ``first``/``last``, only those that may hold
        rows numbered ``first..last`` (they may hold other rows too: filter on ``_row``)."""
        start = self._resume_point(first)
        for piece, frame in self._walk(start):
            if last is not None and piece.first_row > last:
                return
            if first is None or piece.first_row + piece.rows > first:
                yield frame
            if last is not None and piece.first_row + piece.rows > last:
                return

    def _resume_point(self, first: int | None) -> int:
        """Position in the index to parse from: the last known piece starting at or before."""
        at = 0
        if first is not None:
            for i, piece in enumerate(self._index):
                if piece.first_row <= first:
                    at = i
        return at

    def _walk(self, at: int) -> Iterator[tuple[Piece, pl.DataFrame]]:
        if self.format == "json":
            frame = self._lazy.collect()
            yield Piece(0, frame.height, 1, frame.height), frame
            return
        if at < len(self._index):
            resume = self._index[at]
            pos, row = resume.start, resume.first_row
        else:
            pos, row = (0, 1) if self.format == "parquet" else (self._body, self._first_row())
        for i, (start, end, raw) in enumerate(self._spans(pos), start=at):
            known = self._index[i].short if i < len(self._index) else None
            try:
                frame, short = self._parse(raw, row, known)
            except (pl.exceptions.PolarsError, ValueError) as exc:
                why = _explain(self.path, exc, (raw, row) if self.format == "csv" else None)
                raise SourceError(f"{self.path}: cannot be read: {why}") from exc
            piece = Piece(start, end, row, frame.height, short)
            if i == len(self._index):
                self._index.append(piece)
            row += frame.height
            yield piece, frame

    def _first_row(self) -> int:
        return 2 if self.format == "csv" and self._opts.has_header else 1

    def _spans(self, pos: int) -> Iterator[tuple[int, int, bytes]]:
        """(start, end, text) of each piece from ``pos`` (Parquet: row offsets, no text)."""
        if self.format == "parquet":
            total = int(pl.scan_parquet(self._physical).select(pl.len()).collect().item())
            for start in range(pos, total, self._piece_rows):
                yield start, min(total, start + self._piece_rows), b""
            return
        quote = self._opts.quote_char if self.format == "csv" else None
        with self._physical.open("rb") as fh:
            fh.seek(pos)
            rest = b""
            while True:
                block = rest + fh.read(max(0, self._piece_bytes - len(rest)))
                more = fh.read(1)  # is there anything after this block?
                while more:
                    cut = _last_boundary(block, quote)
                    if cut:
                        break
                    block += more + fh.read(len(block) + 1)  # a record longer than the block
                    more = fh.read(1)
                if not more:
                    if block:
                        yield pos, pos + len(block), block
                    return
                rest = block[cut:] + more
                yield pos, pos + cut, block[:cut]
                pos += cut

    def _parse(
        self, raw: bytes, row: int, known: tuple[int, ...] | None = None
    ) -> tuple[pl.DataFrame, tuple[int, ...]]:
        """The piece's frame, and its rows short of fields (``known``: found before)."""
        if self.format == "parquet":
            start = row - 1
            frame = (
                pl.scan_parquet(self._physical, row_index_name=ROW_COLUMN, row_index_offset=1)
                .slice(start, self._piece_rows)
                .collect()
            )
        elif self.format == "csv":
            frame = self._parse_csv(raw, row)
        else:
            frame = self._parse_ndjson(raw, row)
        lazy = _finish(frame.lazy(), frame.schema, self._marker, self._opts.null_values)
        short: tuple[int, ...] = ()
        if self.format == "csv" and self._opts.short_rows == "invalid":
            short = self._short_rows(frame, raw, row) if known is None else known
            if short:
                lazy = _mark_short(lazy, short)
        return lazy.select(self.schema.names()).collect(), short

    def _short_rows(self, frame: pl.DataFrame, raw: bytes, row: int) -> tuple[int, ...]:
        """The rows of a parsed CSV piece with fewer fields than the header's named columns
        (a header ending in a delimiter names a blank last column rows may leave out). A short
        row lacks at least the last named field, so a piece where it is never empty has none."""
        named = self._named_columns()
        if not named or not frame[self._data[named - 1]].is_null().any():
            return ()
        opts = self._opts
        short = short_records(raw, opts.delimiter, opts.quote_char, named, columns=len(self._data))
        return tuple(row + i for i in short or () if i < frame.height)

    def _named_columns(self) -> int:
        """How many columns a row must have: up to the header's last non-blank name."""
        if not self._opts.has_header:
            return len(self._data)
        text = self._head.decode("utf-8", "replace").lstrip("\ufeff")
        names = next(csv.reader([text.rstrip("\r\n")], delimiter=self._opts.delimiter,
                                quotechar=self._opts.quote_char or '"'), [])  # fmt: skip
        blank = 0
        for name in reversed(names):
            if name.strip():
                break
            blank += 1
        return max(0, len(self._data) - blank)

    def _parse_csv(self, raw: bytes, row: int) -> pl.DataFrame:
        opts = self._opts
        frame = pl.read_csv(
            self._head + raw,
            has_header=True,
            separator=opts.delimiter,
            quote_char=opts.quote_char,
            infer_schema=False,
            row_index_name=ROW_COLUMN,
            row_index_offset=row,
            raise_if_empty=False,
        )
        names = [n for n in frame.columns if n != ROW_COLUMN]
        return frame.rename(dict(zip(names, self._data, strict=True)))

    def _parse_ndjson(self, raw: bytes, row: int) -> pl.DataFrame:
        schema = {n: self.schema[n] for n in self._data}
        if not raw.strip():
            frame = pl.DataFrame(schema=schema)
        else:
            frame = pl.read_ndjson(raw, schema=schema)
        return frame.with_row_index(ROW_COLUMN, offset=row)

    def _csv_head(self) -> tuple[bytes, int]:
        """The first record's bytes (ending in a newline) and where the first piece starts.

        Every piece is parsed after these bytes as a header, so each gets the file's own column
        names and count; without a header the first record is also the first piece's first row.
        """
        quote = self._opts.quote_char
        with self._physical.open("rb") as fh:
            block = fh.read(1 << 16)
            while True:
                end = _first_boundary(block, quote)
                more = fh.read(1 << 16) if not end else b""
                if end or not more:
                    break
                block += more
        head = block[:end] if end else block
        if not head.endswith(b"\n"):
            head += b"\n"
        if self._opts.has_header:
            return head, end or len(block)
        return head, len(codecs.BOM_UTF8) if block.startswith(codecs.BOM_UTF8) else 0


_INTERNAL: Final = frozenset({ROW_COLUMN, EMPTY_COLUMN, SOURCE_ERROR_COLUMN})
_indexes: dict[tuple[str, int, int, str, int, int], list[Piece]] = {}


def _mark_short(lazy: pl.LazyFrame, short: tuple[int, ...]) -> pl.LazyFrame:
    """``_source_error`` is ``short_row`` on the ``short`` rows."""
    rows = pl.Series(short, dtype=pl.Int64).implode()
    return lazy.with_columns(
        pl.when(pl.col(ROW_COLUMN).is_in(rows))
        .then(pl.lit(SHORT_ROW))
        .otherwise(pl.col(SOURCE_ERROR_COLUMN))
        .alias(SOURCE_ERROR_COLUMN)
    )


def short_records(
    raw: bytes, delimiter: str, quote: str | None, fields: int, *, columns: int | None = None
) -> list[int] | None:
    """The 0-based indexes of the records of ``raw`` (whole CSV records) that hold some text
    but fewer than ``fields`` fields (``columns``: the header's count, when it is more);
    None when the records cannot be told apart.

    A line break inside an unquoted value splits a row in two, each short of fields, and moves
    the rest of the row (a password digest, say) into the next row's key: such rows must be
    found. Quoted stretches are dropped first (a doubled quote is two stretches), then the
    delimiters of each line are counted; the common case (every record full) is one count.
    polars gives one row per record, empty lines included, so the indexes line up with its rows;
    where quotes are odd (a quote inside an unquoted value) the csv module counts instead.
    """
    if fields <= 1:
        return []
    sep = delimiter.encode()
    text = raw
    if quote is not None and quote.encode() in raw:
        q = re.escape(quote)
        text = re.sub(f"{q}[^{q}]*{q}".encode(), b"", raw)
    lines = text.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    want = fields - 1
    if (columns is None or columns == fields) and text.count(sep) == want * len(lines):
        return []  # no line has more (polars refuses those), so none has fewer
    if quote is None or text.count(quote.encode()) == 0:
        return [i for i, line in enumerate(lines) if line.count(sep) < want and line.strip(b"\r")]
    try:
        records = list(
            csv.reader(io.StringIO(raw.decode(), newline=""), delimiter=delimiter, quotechar=quote)
        )
    except (csv.Error, UnicodeDecodeError):
        return None
    return [i for i, record in enumerate(records) if record and len(record) < fields]


def _last_boundary(block: bytes, quote: str | None) -> int:
    """Offset just past the last newline of ``block`` outside quotes (0: none).

    ``block`` starts at a record boundary, so (RFC 4180: a quote inside a quoted value is
    doubled) a newline is outside quotes when the count of quote characters before it is even.
    """
    i = block.rfind(b"\n")
    if i < 0 or quote is None:
        return i + 1
    q = quote.encode()
    odd = block.count(q, 0, i) & 1
    while odd:
        j = block.rfind(b"\n", 0, i)
        if j < 0:
            return 0
        odd ^= block.count(q, j, i) & 1
        i = j
    return i + 1


def _first_boundary(block: bytes, quote: str | None) -> int:
    """Offset just past the first newline of ``block`` outside quotes (0: none)."""
    i = block.find(b"\n")
    if quote is None:
        return i + 1
    q = quote.encode()
    odd = 0
    start = 0
    while i >= 0:
        odd ^= block.count(q, start, i) & 1
        if not odd:
            return i + 1
        start = i
        i = block.find(b"\n", i + 1)
    return 0
