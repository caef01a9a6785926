"""Read an export (CSV, Parquet, NDJSON, JSON, each optionally gzipped) into a LazyFrame.

The frame holds the input's columns verbatim (CSV cells as text, never type-guessed, so a phone's
leading zero or an id's digits survive) plus two internal columns:

- ``_row`` (``pl.Int64``): the number a person sees. CSV with a header: the first data row is 2;
  without a header it is 1; a quoted newline does not start a new row, an empty line does.
  NDJSON / JSON: the 1-based record index (blank NDJSON lines are not records). Parquet: the
  1-based row index.
- ``_source_error`` (``pl.Utf8``): ``"invalid_encoding"`` when the row held bytes that could not be
  decoded in the chosen encoding (they show as U+FFFD in its values); read through
  ``SourceReader``, ``"short_row"`` for a CSV row with fewer fields than the header (a line
  break in an unquoted value splits a row); else null.

**Empty rows** (every source column null or empty text) are dropped by ``read_source`` and keep
their row number's place, so later rows are numbered as in the file. ``scan_source`` keeps them
and marks them with a boolean ``_empty`` column, to count and drop them in one pass.

Plain UTF-8 CSV, NDJSON and Parquet are scanned lazily by polars; a run reads them through
``SourceReader`` (``pieces.py``) in bounded pieces. NDJSON schemas are inferred from every record
(one extra pass, in bounded pieces), because exports omit absent attributes and a field first
seen late must not be dropped; a key whose values mix types becomes text. Gzip,
other encodings, a BOM before NDJSON/JSON, UTF-8 with invalid bytes and line ends polars does not
split on (a lone CR: CR-only or mixed files) are first decoded, chunk by chunk, into a UTF-8 copy
with LF/CRLF line ends (``copies.py``: a file without a name where the platform allows, so no
crash leaves one behind) which is then scanned the same way; an invalid byte is written as a
marker character so the rows that held one are found exactly (a U+FFFD that was literally in the
source is not mistaken for one). JSON documents (an array, or an object with
the list under a key: ``users`` is found by itself) are parsed whole by polars.

A lazy scan is not bounded in memory once it is consumed slowly: polars reads the whole file
ahead of the consumer. ``SourceReader(path, options)`` (``sources.pieces``, exported
here) reads the same input as eager frames of about 2 MB of text each (pieces), each exactly
what ``scan_source`` gives for its rows, and keeps an index of where each piece lies so a later
pass over some rows parses only their pieces.

Raises ``SourceError`` (naming the file and why) when the file cannot be read at all: checked
first (``checks.py``) are a directory or device, an empty file, Parquet or gzip data under a text
name, UTF-16/32 read as UTF-8, binary data, and a header naming a column twice. A few problems
only show once rows are read (a CSV row with more cells than the header, a quote that never
closes): collect inside ``with reading(path):`` to get those as ``SourceError`` too, with the
row at fault.
"""

from __future__ import annotations

import codecs
import dataclasses
import gzip
import io
import re
import shutil
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import polars as pl

from migrate._internal.sources.checks import bad_row, check_file, check_header, sniff
from migrate._internal.sources.copies import LineEnds, has_lone_cr, new_copy
from migrate.errors import SourceError

__all__ = [
    "EMPTY_COLUMN",
    "FORMATS",
    "INVALID_ENCODING",
    "PIECE_BYTES",
    "PIECE_ROWS",
    "ROW_COLUMN",
    "SHORT_ROW",
    "SHORT_ROWS",
    "SOURCE_ERROR_COLUMN",
    "Piece",
    "ShortRows",
    "SourceOptions",
    "SourceReader",
    "csv_delimiter",
    "detect_format",
    "read_source",
    "reading",
    "scan_source",
]

Format = Literal["csv", "parquet", "ndjson", "json"]
ShortRows = Literal["invalid", "pad"]
SHORT_ROWS: Final[tuple[str, ...]] = ("invalid", "pad")
FORMATS: Final[tuple[str, ...]] = ("csv", "parquet", "ndjson", "json")
ROW_COLUMN: Final = "_row"
SOURCE_ERROR_COLUMN: Final = "_source_error"
EMPTY_COLUMN: Final = "_empty"
INVALID_ENCODING: Final = "invalid_encoding"
SHORT_ROW: Final = "short_row"

_EXTENSIONS: Final[dict[str, Format]] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
}
# A Unicode noncharacter: never valid in interchanged text, so it can stand for an undecodable byte.
_MARKER: Final = "\ufdd0"
_ERROR_HANDLER: Final = "clerk_migrate_marker"
_CHUNK: Final = 1 << 22
# A quoted stretch, closed on the line or not (an unterminated quote runs to the line's end).
_QUOTED: Final = re.compile(r"'[^']*'?|\"[^\"]*\"?|`[^`]*`?|\([^)]*\)?")
_UTF8_NAMES: Final = frozenset({"utf-8", "utf8", "utf_8", "utf-8-sig", "utf_8_sig"})


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return _MARKER * (exc.end - exc.start), exc.end


codecs.register_error(_ERROR_HANDLER, _mark_undecodable)


@dataclass(frozen=True)
class SourceOptions:
    """How to read one input file; every field has a default that suits most exports.

    ``format`` None means from the extension (``.csv .tsv .parquet .ndjson .jsonl .json``, each
    optionally ``.gz``). A ``.tsv`` file with the default ``","`` delimiter is read with tabs
    (``csv_delimiter``). ``column_names`` names header-less CSV columns (default ``column_1``…)
    or renames a header's columns. ``json_key`` picks the list inside a JSON object (default:
    ``users`` or the object's only list). ``null_values`` are texts that stand for a missing
    value (SQL dumps write ``NULL`` or ``\\N``): a top-level text cell equal to one of them,
    exactly, is read as null in every format. ``short_rows``: a CSV row with fewer fields than
    the header is ``"invalid"`` (``short_row``: a line break in an unquoted value split it), or
    with ``"pad"`` its missing last fields are read as empty (exporters that leave them out).
    """

    format: Format | None = None
    has_header: bool = True
    delimiter: str = ","
    quote_char: str | None = '"'
    encoding: str = "utf-8"
    json_key: str | None = None
    column_names: Sequence[str] | None = None
    null_values: Sequence[str] = ()
    short_rows: ShortRows = "invalid"


def detect_format(path: str | Path, fmt: str | None = None) -> tuple[Format, bool]:
    """Return (format, gzipped) for a path; ``fmt`` overrides the extension.

    Raises ``SourceError`` for an unknown format or extension.
    """
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    gz = bool(suffixes) and suffixes[-1] in (".gz", ".gzip")
    if gz:
        suffixes = suffixes[:-1]
    if fmt is not None:
        if fmt not in FORMATS:
            raise SourceError(f"{p}: unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
        return fmt, gz  # type: ignore[return-value]  # checked against FORMATS just above
    ext = suffixes[-1] if suffixes else ""
    if ext not in _EXTENSIONS:
        raise SourceError(
            f"{p}: cannot tell the format from the extension {ext or '(none)'!r}; "
            f"name it .csv/.parquet/.ndjson/.json (optionally .gz) or pass a format"
        )
    return _EXTENSIONS[ext], gz


def csv_delimiter(path: str | Path, options: SourceOptions) -> str:
    """The separator a CSV is read with: tab for ``.tsv`` left at the default, else as given."""
    tsv = ".tsv" in (s.lower() for s in Path(path).suffixes)
    return "\t" if tsv and options.delimiter == "," else options.delimiter


def read_source(path: str | Path, options: SourceOptions | None = None) -> pl.LazyFrame:
    """Read one input lazily: its columns verbatim plus ``_row`` and ``_source_error``.

    Empty rows are dropped (``scan_source`` keeps and marks them). Raises ``SourceError``.
    """
    frame = scan_source(path, options)
    return frame.filter(~pl.col(EMPTY_COLUMN)).drop(EMPTY_COLUMN)


def scan_source(path: str | Path, options: SourceOptions | None = None) -> pl.LazyFrame:
    """Like ``read_source`` but keeps empty rows, marked by a boolean ``_empty`` column."""
    opts = options or SourceOptions()
    p = Path(path)
    fmt, gz = detect_format(p, opts.format)
    check_file(p)
    try:
        codecs.lookup(opts.encoding)
    except LookupError as exc:
        raise SourceError(f"{p}: unknown encoding {opts.encoding!r}") from exc
    sniff(p, fmt, gz, opts.encoding)
    try:
        if fmt == "parquet":
            physical = _gunzipped(p) if gz else p
            frame = pl.scan_parquet(physical, row_index_name=ROW_COLUMN, row_index_offset=1)
            marker = False
        else:
            opts = dataclasses.replace(opts, delimiter=csv_delimiter(p, opts))
            physical, marker = _utf8_file(p, gz, opts.encoding, quote=_quote(fmt, opts))
            frame = _scan_text(physical, fmt, opts, p)
        schema = frame.collect_schema()
    except SourceError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError, EOFError, zlib.error) as exc:
        raise SourceError(f"{p}: cannot be read as {fmt}: {_first_line(exc)}") from exc
    return _finish(frame, schema, marker, opts.null_values)


@contextmanager
def reading(path: str | Path) -> Iterator[None]:
    """Translate a polars error raised while collecting a source frame into ``SourceError``.

    Some problems only show when rows are read (a CSV row with more cells than the header, a
    Parquet page that is corrupt), so wrap the ``collect`` of a frame from ``read_source``.
    """
    try:
        yield
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"{path}: cannot be read: {_explain(Path(path), exc)}") from exc


def _quote(fmt: Format, opts: SourceOptions) -> str | None:
    """The quote character a text format's copy keeps line ends inside (NDJSON: none)."""
    return opts.quote_char if fmt == "csv" else None


def _explain(origin: Path, exc: BaseException, piece: tuple[bytes, int] | None = None) -> str:
    """A parser error's reason, with the CSV row at fault when it can be found.

    ``piece`` is (CSV text without header, its first row number); else the whole file the
    last ``scan_source`` of ``origin`` read is searched (only on this error path).
    """
    reason = _first_line(exc)
    csv_input = _csv_inputs.get(str(origin))
    if csv_input is None or not ("more fields" in reason or "could not parse" in reason):
        return reason
    physical, opts, columns = csv_input
    if piece is None:
        data = physical.read_bytes()
        first = 1
        if opts.has_header:
            data = data[_first_boundary(data, opts.quote_char) :]
            first = 2
        piece = (data, first)
    found = bad_row(
        piece[0], first_row=piece[1], delimiter=opts.delimiter, quote_char=opts.quote_char,
        columns=columns,
    )  # fmt: skip
    return found or reason


def _scan_text(physical: Path, fmt: Format, opts: SourceOptions, origin: Path) -> pl.LazyFrame:
    # ``physical`` may be a decoded temporary copy; messages name ``origin``, the user's file.
    if fmt == "csv":
        return _scan_csv(physical, opts, origin)
    if fmt == "ndjson":
        if physical.stat().st_size == 0:
            return pl.LazyFrame(schema={ROW_COLUMN: pl.Int64})  # like a header-only CSV
        return pl.scan_ndjson(
            physical, schema=_ndjson_schema(physical), row_index_name=ROW_COLUMN, row_index_offset=1
        )
    return _read_json(physical, opts, origin).lazy()


def _ndjson_schema(physical: Path) -> pl.Schema:
    """The schema polars would infer from every record of an NDJSON file, in bounded memory.

    ``scan_ndjson(infer_schema_length=None)`` maps the whole file to infer it (a 1 M-record
    file added its size, ~100 MB, to the peak RSS of a run). Here each ~4 MB of whole lines is
    inferred on its own and the schemas are merged with polars' own supertype rules (a key first
    seen late is added; a key whose values mix types becomes text; struct fields are united).
    Cached per file (path, mtime, size) like the UTF-8 checks.
    """
    st = physical.stat()
    key = (str(physical.resolve()), st.st_mtime_ns, st.st_size)
    known = _schemas.get(key)
    if known is not None:
        return known
    merged = pl.DataFrame()
    with physical.open("rb") as handle:
        rest = b""
        while True:
            chunk = handle.read(_CHUNK)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            lines, rest = data[:cut], data[cut:]
            if lines.strip():
                schema = pl.read_ndjson(io.BytesIO(lines), infer_schema_length=None).schema
                merged = pl.concat([merged, pl.DataFrame(schema=schema)], how="diagonal_relaxed")
            if not chunk:
                break
    _schemas[key] = merged.schema
    return merged.schema


def _scan_csv(physical: Path, opts: SourceOptions, origin: Path) -> pl.LazyFrame:
    if len(opts.delimiter) != 1:
        raise SourceError(f"{origin}: the delimiter must be one character, not {opts.delimiter!r}")
    frame = pl.scan_csv(
        physical,
        has_header=opts.has_header,
        separator=opts.delimiter,
        quote_char=opts.quote_char,
        infer_schema=False,
        row_index_name=ROW_COLUMN,
        row_index_offset=2 if opts.has_header else 1,
        raise_if_empty=False,
    )
    names = [c for c in frame.collect_schema().names() if c != ROW_COLUMN]
    _csv_inputs[str(origin)] = (physical, opts, len(names))
    if opts.has_header:
        check_header(origin, names)
    if opts.column_names is not None:
        if len(opts.column_names) != len(names):
            raise SourceError(
                f"{origin}: {len(opts.column_names)} column names given "
                f"but the file has {len(names)} columns"
            )
        new = list(opts.column_names)
        repeated = sorted({n for n in new if new.count(n) > 1})
        if repeated:
            raise SourceError(f"{origin}: the column names given repeat {repeated[0]!r}")
    elif not opts.has_header:
        new = [f"column_{i}" for i in range(1, len(names) + 1)]
    else:
        return frame
    return frame.rename(dict(zip(names, new, strict=True)))


def _read_json(physical: Path, opts: SourceOptions, origin: Path) -> pl.DataFrame:
    with physical.open("rb") as fh:
        head = fh.read(4096).lstrip()
    if not head:
        raise SourceError(f"{origin}: the file is empty")
    df = pl.read_json(physical, infer_schema_length=None)
    if head.startswith(b"{"):
        df = _users_from_object(origin, df, opts.json_key)
    return df.with_row_index(ROW_COLUMN, offset=1)


def _users_from_object(origin: Path, df: pl.DataFrame, key: str | None) -> pl.DataFrame:
    lists = [n for n, t in df.schema.items() if isinstance(t, pl.List)]
    if key is None:
        key = "users" if "users" in lists else (lists[0] if len(lists) == 1 else None)
        if key is None:
            raise SourceError(
                f"{origin}: a JSON object without a 'users' list; "
                f"name the key holding the user list (lists found: {', '.join(lists) or 'none'})"
            )
    elif key not in lists:
        raise SourceError(f"{origin}: the JSON object has no list under {key!r}")
    users = df.select(pl.col(key).explode())
    if isinstance(users.schema[key], pl.Struct):
        return users.unnest(key)
    if users.schema[key] == pl.Null:
        return pl.DataFrame()  # an empty user list
    raise SourceError(f"{origin}: the list under {key!r} does not hold JSON objects")


def _finish(
    frame: pl.LazyFrame, schema: pl.Schema, marker: bool, null_values: Sequence[str] = ()
) -> pl.LazyFrame:
    data = [n for n in schema.names() if n != ROW_COLUMN]
    texts = [n for n in data if schema[n] == pl.Utf8]
    if null_values and texts:
        nulls = pl.Series(list(null_values), dtype=pl.Utf8).implode()
        frame = frame.with_columns(
            pl.when(pl.col(n).is_in(nulls))
            .then(pl.lit(None, pl.Utf8))
            .otherwise(pl.col(n))
            .alias(n)
            for n in texts
        )
    empty = [
        pl.col(n).is_null() | (pl.col(n) == "") if n in texts else pl.col(n).is_null() for n in data
    ]
    frame = frame.with_columns(
        pl.col(ROW_COLUMN).cast(pl.Int64),
        (pl.all_horizontal(empty) if empty else pl.lit(True)).alias(EMPTY_COLUMN),
    )
    if not marker:
        return frame.with_columns(pl.lit(None, pl.Utf8).alias(SOURCE_ERROR_COLUMN))
    hits = [_holds_marker(n, schema[n]) for n in data]
    frame = frame.with_columns(
        pl.when(pl.any_horizontal(hits) if hits else pl.lit(False))
        .then(pl.lit(INVALID_ENCODING))
        .otherwise(pl.lit(None, pl.Utf8))
        .alias(SOURCE_ERROR_COLUMN)
    )
    # Show undecodable bytes the usual way once the rows that held them are known.
    return frame.with_columns(_unmark(pl.col(n), schema[n]).alias(n) for n in data)


def _unmark(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Replace the marker by U+FFFD in text, also inside lists and structs (NDJSON objects)."""
    if dtype == pl.Utf8:
        return expr.str.replace_all(_MARKER, "\ufffd", literal=True)
    if isinstance(dtype, pl.List):
        return expr.list.eval(_unmark(pl.element(), _dtype(dtype.inner)))
    if isinstance(dtype, pl.Struct):
        fields = [
            _unmark(expr.struct.field(f.name), _dtype(f.dtype)).alias(f.name) for f in dtype.fields
        ]
        return pl.when(expr.is_null()).then(None).otherwise(pl.struct(fields))
    return expr


def _dtype(dtype: object) -> pl.DataType:
    # polars may hand back a data type class (pl.Utf8) where an instance is meant.
    return dtype if isinstance(dtype, pl.DataType) else dtype()  # type: ignore[operator]


def _holds_marker(name: str, dtype: pl.DataType) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Utf8:
        text = col
    elif isinstance(dtype, pl.Struct):
        text = col.struct.json_encode()
    elif isinstance(dtype, pl.List) and dtype.inner == pl.Utf8:
        text = col.list.join("\n")
    else:
        return pl.lit(False)
    return text.str.contains(_MARKER, literal=True).fill_null(False)


# --- decoding to a UTF-8 temporary file -------------------------------------------------------

# Per process, keyed by path, mtime and size: a file is checked or decoded once however many
# times it is scanned (the plan, then payload batches, then the failed-rows report).
_cache: dict[tuple[str, int, int, bool, str, str] | tuple[str, int, int, bool, str],
             tuple[Path, bool]] = {}  # fmt: skip
_clean: dict[tuple[str, int, int, bool], bool] = {}
_schemas: dict[tuple[str, int, int], pl.Schema] = {}
# The file, options and column count each CSV was last scanned with, to find a bad row's number.
_csv_inputs: dict[str, tuple[Path, SourceOptions, int]] = {}


def _utf8_file(path: Path, gz: bool, encoding: str, *, quote: str | None) -> tuple[Path, bool]:
    """Return a plain UTF-8 file with the same text, and whether it marks undecodable bytes.

    ``quote`` None is NDJSON (a BOM must go; every lone CR is a line end), else a CSV's quote
    character (a CR inside a quoted value is kept).
    """
    bom_ok = quote is not None
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as exc:
        raise SourceError(f"{path}: unknown encoding {encoding!r}") from exc
    utf8 = codec in _UTF8_NAMES
    st = path.stat()
    identity = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if utf8 and not gz:
        clean_key = (*identity, bom_ok)
        if clean_key not in _clean:
            _clean[clean_key] = _is_clean_utf8(path, bom_ok=bom_ok)
        if _clean[clean_key]:
            return path, False
    cache_key = (*identity, gz, codec, quote or "")
    if cache_key in _cache and _cache[cache_key][0].exists():
        return _cache[cache_key]
    out, out_path = new_copy(".txt")
    decoder = codecs.getincrementaldecoder("utf-8-sig" if utf8 else codec)(_ERROR_HANDLER)
    ends = LineEnds(quote)
    marked = False
    with gzip.open(path, "rb") if gz else path.open("rb") as raw:
        while True:
            chunk = raw.read(_CHUNK)
            text = ends.feed(decoder.decode(chunk, final=not chunk), final=not chunk)
            marked = marked or _MARKER in text
            out.write(text.encode("utf-8"))
            if not chunk:
                break
    out.flush()
    _cache[cache_key] = (out_path, marked)
    return out_path, marked


def _is_clean_utf8(path: Path, *, bom_ok: bool) -> bool:
    """True when the file is valid UTF-8 with LF or CRLF line ends (and has no BOM, unless the
    reader copes with one): polars can scan it as it is."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    carry_cr = False
    with path.open("rb") as fh:
        first = True
        while True:
            chunk = fh.read(_CHUNK)
            if first and not bom_ok and chunk.startswith(codecs.BOM_UTF8):
                return False
            first = False
            lone, carry_cr = has_lone_cr(chunk, carry_cr)
            if lone or (carry_cr and not chunk):
                return False
            if chunk and chunk.isascii() and not decoder.getstate()[0]:
                continue  # ASCII is UTF-8 and cannot hold the marker; isascii is ~50x faster
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError:
                return False
            if _MARKER in text:
                return False  # keep the marker's meaning unambiguous
            if not chunk:
                return True


def _gunzipped(path: Path) -> Path:
    st = path.stat()
    cache_key = (str(path.resolve()), st.st_mtime_ns, st.st_size, True, "binary")
    if cache_key in _cache and _cache[cache_key][0].exists():
        return _cache[cache_key][0]
    out, name = new_copy(".parquet")
    with gzip.open(path, "rb") as raw:
        shutil.copyfileobj(raw, out, _CHUNK)
    out.flush()
    _cache[cache_key] = (name, False)
    return name


def _first_line(exc: BaseException) -> str:
    # A parser may quote the data it choked on, and data can hold a digest: keep the reason only.
    text = str(exc).strip().splitlines()
    line = _QUOTED.sub("…", text[0]) if text else type(exc).__name__
    return line if len(line) <= 200 else line[:199] + "…"


# The bounded reader lives in its own module; it uses the reading functions above.
from migrate._internal.sources.pieces import (  # noqa: E402
    PIECE_BYTES,
    PIECE_ROWS,
    Piece,
    SourceReader,
    _first_boundary,
)
