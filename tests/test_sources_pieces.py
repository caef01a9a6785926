"""SourceReader: an input read as bounded pieces gives exactly the frame of a whole-file scan."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from migrate._internal.sources import SourceOptions, SourceReader, scan_source
from migrate._internal.sources.pieces import _first_boundary, _last_boundary, short_records
from migrate.errors import SourceError

# Piece sizes from one byte (every record its own piece, boundaries everywhere) to one piece.
SIZES = (1, 2, 3, 5, 8, 13, 1 << 20)

CASES: dict[str, tuple[bytes, SourceOptions]] = {
    "quoted_newlines.csv": (
        b'id,name\n1,"multi\nline\n"\n2,"q""uote"\n3,"""\n"""\n4,"a,b"\n',
        SourceOptions(),
    ),
    "crlf.csv": (b'id,name\r\n1,"x\r\ny"\r\n\r\n2,z\r\n', SourceOptions()),
    "empty_lines.csv": (b"id,name\n\n1,a\n\n\n2,b\n\n", SourceOptions()),
    "no_final_newline.csv": (b"id,name\n1,a\n2,b", SourceOptions()),
    "headerless.csv": (b"1,2\n3,4\n\n5,6", SourceOptions(has_header=False)),
    "headerless_named.csv": (
        b"1,2\n3,4\n",
        SourceOptions(has_header=False, column_names=["a", "b"]),
    ),
    "renamed.csv": (b"a,b\n1,2\n3,4\n", SourceOptions(column_names=["x", "y"])),
    "bom.csv": (b"\xef\xbb\xbfa,b\n1,2\n3,4\n", SourceOptions()),
    "bom_headerless.csv": (b"\xef\xbb\xbf1,2\n3,4\n", SourceOptions(has_header=False)),
    "custom_quote.csv": (
        b"a;b\n'x\n;y';2\n'it''s';4\n",
        SourceOptions(delimiter=";", quote_char="'"),
    ),
    "no_quote.csv": (b'a,b\n"x,2\n3,"4\n', SourceOptions(quote_char=None)),
    "latin1.csv": (b"a,b\n1,caf\xe9\n3,4\n", SourceOptions(encoding="latin-1")),
    "invalid_utf8.csv": (b"a,b\n1,\xff\xfe\n3,4\n5,\xc3\n", SourceOptions()),
    "tabs.tsv": (b"a\tb\n1\t2\n3\t4\n", SourceOptions()),
    "header_only.csv": (b"a,b\n", SourceOptions()),
    "header_no_newline.csv": (b"a,b", SourceOptions()),
    "quoted_header.csv": (b'"i\nd",name\n1,a\n2,b\n', SourceOptions()),
    "empty_names_header.csv": (b"a,,\n1,2,3\n", SourceOptions()),
    "one_column.csv": (b"a\n1\n\n2\n", SourceOptions()),
    "blank_lines.ndjson": (
        b'{"a":1}\n\n{"a":"x","b":{"c":2}}\n\n\n{"b":null}\n{"a":[1]}',
        SourceOptions(),
    ),
    "crlf.ndjson": (b'{"a":"x\\ny"}\r\n\r\n{"a":"z"}\r\n', SourceOptions()),
    "users_object.json": (b'{"users":[{"a":1},{"a":2}],"n":2}', SourceOptions()),
    "invalid.ndjson": (b'{"a":"\xff"}\n{"a":"b"}\n', SourceOptions()),
    "array.json": (b'[{"a":1},{"a":2},{"a":null}]', SourceOptions()),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _whole(path: Path, options: SourceOptions) -> pl.DataFrame:
    return scan_source(path, options).collect()


def _pieced(
    reader: SourceReader, first: int | None = None, last: int | None = None
) -> pl.DataFrame:
    parts = list(reader.pieces(first, last))
    return pl.concat(parts) if parts else pl.DataFrame(schema=reader.schema)


def _count_parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the first ``_row`` of every CSV piece polars parses from now on."""
    parsed: list[int] = []
    original = pl.read_csv

    def counting(*args: Any, **kwargs: Any) -> pl.DataFrame:
        frame = original(*args, **kwargs)
        parsed.append(kwargs["row_index_offset"])
        return frame

    monkeypatch.setattr(pl, "read_csv", counting)
    return parsed


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_pieces_equal_the_whole_file_scan(tmp_path: Path, name: str, size: int) -> None:
    """Concatenated pieces of any size equal scan_source's frame: values, dtypes, _row, flags."""
    data, options = CASES[name]
    path = tmp_path / name
    path.write_bytes(data)
    got = _pieced(SourceReader(path, options, piece_bytes=size))
    want = _whole(path, options)
    assert got.schema == want.schema
    assert got.equals(want)


@pytest.mark.parametrize("size", [1, 4, 1 << 20])
def test_gzip_pieces_equal_the_plain_file(tmp_path: Path, size: int) -> None:
    """A gzipped CSV is cut and numbered like the plain one."""
    data = b'a,b\n1,2\n3,"4\n5"\n\n6,7\n'
    plain = tmp_path / "u.csv"
    plain.write_bytes(data)
    packed = tmp_path / "u.csv.gz"
    packed.write_bytes(gzip.compress(data))
    got = _pieced(SourceReader(packed, piece_bytes=size))
    assert got.equals(_whole(plain, SourceOptions()))
    assert got["_row"].to_list() == [2, 3, 4, 5]


@pytest.mark.parametrize("rows", [1, 3, 100])
def test_parquet_pieces_by_rows(tmp_path: Path, rows: int) -> None:
    """Parquet is cut every piece_rows rows; the pieces equal the whole scan, numbered from 1."""
    path = tmp_path / "u.parquet"
    pl.DataFrame({"a": list(range(10)), "b": [None, None, *"abcdefgh"]}).write_parquet(path)
    reader = SourceReader(path, piece_rows=rows)
    got = _pieced(reader)
    assert got.equals(_whole(path, SourceOptions()))
    assert len(reader.index) == -(-10 // rows)
    assert got["_row"].to_list() == list(range(1, 11))


def test_a_quote_right_at_a_piece_end_does_not_cut_inside_a_value(tmp_path: Path) -> None:
    """A block ending just after an opening quote is cut at the newline before it instead."""
    data = b'id,v\n1,x\n2,"a\nb"\n3,y\n'
    path = tmp_path / "q.csv"
    path.write_bytes(data)
    # The first piece's block ends right after the opening quote of row 3's value.
    size = data.index(b'"') + 1 - len(b"id,v\n")
    reader = SourceReader(path, piece_bytes=size)
    pieces = list(reader.pieces())
    assert pieces[0]["_row"].to_list() == [2]
    assert pl.concat(pieces)["v"].to_list() == ["x", "a\nb", "y"]


def test_a_record_longer_than_a_piece_is_read_whole(tmp_path: Path) -> None:
    """A quoted value with many newlines, far longer than a piece, stays one value in one row."""
    long = "\n".join(f"line {i}" for i in range(200))
    path = tmp_path / "long.csv"
    path.write_text(f'id,v\n1,"{long}"\n2,b\n', encoding="utf-8")
    got = _pieced(SourceReader(path, piece_bytes=16))
    assert got["v"].to_list() == [long, "b"]
    assert got["_row"].to_list() == [2, 3]


def test_empty_rows_are_kept_and_marked_across_pieces(tmp_path: Path) -> None:
    """Empty lines are rows of their own in every piece: _empty is set and numbering goes on."""
    path = tmp_path / "e.csv"
    path.write_bytes(b"a,b\n1,2\n\n,\n3,4\n")
    got = _pieced(SourceReader(path, piece_bytes=1))
    assert got["_row"].to_list() == [2, 3, 4, 5]
    assert got["_empty"].to_list() == [False, True, True, False]


def test_index_lets_a_row_range_skip_earlier_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a full pass, pieces(first, last) parses only the pieces holding those rows."""
    path = tmp_path / "n.csv"
    path.write_text("a\n" + "".join(f"{i}\n" for i in range(100)), encoding="utf-8")
    reader = SourceReader(path, piece_bytes=40)
    whole = _pieced(reader)
    index = reader.index
    assert len(index) > 5
    assert [p.first_row for p in index] == sorted(p.first_row for p in index)
    assert sum(p.rows for p in index) == whole.height
    parsed = _count_parses(monkeypatch)
    got = _pieced(reader, 50, 60).filter(pl.col("_row").is_between(50, 60))
    assert got.equals(whole.filter(pl.col("_row").is_between(50, 60)))
    holding = [p for p in index if p.first_row <= 60 and p.first_row + p.rows > 50]
    assert parsed == [p.first_row for p in holding]


@pytest.mark.parametrize("size", [1, 7, 1 << 20])
def test_any_row_range_before_or_without_an_index(tmp_path: Path, size: int) -> None:
    """pieces(first, last) holds every row in first..last, whether or not the index is built."""
    data, options = CASES["quoted_newlines.csv"]
    whole = _whole(_write(tmp_path / "q.csv", data), options)
    for first in range(0, 8):
        for last in range(first, 8):
            # A file of its own each time: readers of one file share its index.
            path = _write(tmp_path / f"q{first}-{last}.csv", data)
            reader = SourceReader(path, options, piece_bytes=size)
            if (first + last) % 2:
                _pieced(reader)  # build the index first for half of the ranges
            span = pl.col("_row").is_between(first, last)
            assert _pieced(reader, first, last).filter(span).equals(whole.filter(span))


def test_a_ragged_row_in_a_later_piece_is_a_source_error(tmp_path: Path) -> None:
    """A row with more cells than the header raises SourceError naming the file, without data."""
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"a,b\n1,2\n3,4\n5,$2b$secretdigest,x,y\n")
    with pytest.raises(SourceError) as info:
        list(SourceReader(path, piece_bytes=4).pieces())
    assert str(path) in str(info.value)
    assert "secretdigest" not in str(info.value)


def test_opening_checks_the_file_like_scan_source(tmp_path: Path) -> None:
    """A missing file or a wrong column count fails when the reader is made, not later."""
    with pytest.raises(SourceError, match="no such file"):
        SourceReader(tmp_path / "missing.csv")
    path = tmp_path / "u.csv"
    path.write_bytes(b"a,b\n1,2\n")
    with pytest.raises(SourceError, match="column names"):
        SourceReader(path, SourceOptions(column_names=["only"]))


@pytest.mark.parametrize(
    ("block", "last", "first"),
    [
        (b"a\nb\n", 4, 2),
        (b"a\nb", 2, 2),
        (b"abc", 0, 0),
        (b'"a\nb"\nc', 6, 6),
        (b'"a\nb\n', 0, 0),
        (b'x,"y""\n"\n', 9, 9),
        (b'1,""\n"\n', 5, 5),
    ],
)
def test_boundaries_are_newlines_outside_quotes(block: bytes, last: int, first: int) -> None:
    """A newline counts as a record end only when the quotes before it are balanced."""
    assert _last_boundary(block, '"') == last
    assert _first_boundary(block, '"') == first


def test_without_a_quote_char_any_newline_is_a_boundary() -> None:
    """With quoting off, quote characters are data and every newline ends a record."""
    assert _last_boundary(b'"a\nb\n"', None) == 5
    assert _first_boundary(b'"a\nb\n"', None) == 3


def test_a_new_reader_of_the_same_file_reuses_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader made again for the same file and options skips to its rows at once."""
    path = _write(tmp_path / "n.csv", b"a\n" + b"".join(b"%d\n" % i for i in range(100)))
    _pieced(SourceReader(path, piece_bytes=40))
    again = SourceReader(path, piece_bytes=40)
    assert len(again.index) > 5
    parsed = _count_parses(monkeypatch)
    assert _pieced(again, 90, 90).filter(pl.col("_row") == 90)["a"].to_list() == ["88"]
    assert len(parsed) == 1
    other = SourceReader(path, SourceOptions(has_header=False), piece_bytes=40)
    assert other.index == ()
    path.write_bytes(b"a\n1\n")
    assert SourceReader(path, piece_bytes=40).index == ()


_SHORT_CASES = [
    (b"1,a,b\n2,c,d\n", [], "full rows"),
    (b"1,a\n2,c,d\n3\n", [0, 2], "short rows by index"),
    (b'1,"a,b",c\n2,"x\ny",z\n', [], "separators and newlines inside quotes"),
    (b'1,"q""u",c\n2,"""",z\n', [], "doubled quotes"),
    (b"1,a,b\n\n2,c,d\r\n\r\n", [], "empty lines (LF and CRLF) are not short"),
    (b'1,ab"c,d\n2,e\n', [1], "a stray quote: the csv module counts"),
]


@pytest.mark.parametrize(("raw", "short", "what"), _SHORT_CASES, ids=[c[2] for c in _SHORT_CASES])
def test_short_records_finds_rows_short_of_fields(raw: bytes, short: list[int], what: str) -> None:
    """``short_records`` gives the records with text but fewer than three fields, by index."""
    assert short_records(raw, ",", '"', 3) == short, what


@given(
    st.lists(
        st.tuples(st.lists(st.text(max_size=6), min_size=4, max_size=4), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_short_records_agrees_with_the_csv_module(rows: list[tuple[list[str], bool]]) -> None:
    """Any CSV the csv module writes, some rows cut to two fields: exactly those are short."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    expected = []
    for i, (drawn, cut) in enumerate(rows):
        # a row of empty cells writes an empty-looking line
        cells = ["x", *drawn[1:]] if drawn == ["", "", "", ""] else drawn
        writer.writerow(cells[:2] if cut else cells)
        if cut:
            expected.append(i)
    assert short_records(out.getvalue().encode(), ",", '"', 4) == expected


def test_a_split_row_is_marked_short_in_its_piece(tmp_path: Path) -> None:
    """A line break inside an unquoted value: each half short of fields carries
    ``_source_error = short_row`` (a break in the last field leaves the first half whole)."""
    path = tmp_path / "u.csv"
    path.write_bytes(b"id,name,hash\n1,a,$2b$10$abc\n2,b\r,$2b$10$def\n3,c,$2b$\r10$x\n")
    frame = pl.concat(SourceReader(path, piece_bytes=8).pieces())
    marks = dict(zip(frame["_row"], frame["_source_error"], strict=True))
    assert marks == {2: None, 3: "short_row", 4: "short_row", 5: None, 6: "short_row"}


def test_a_blank_last_header_column_may_be_left_out(tmp_path: Path) -> None:
    """A header ending in a delimiter names a blank column rows often leave out: such rows are
    not short; a row short of a named column still is."""
    path = tmp_path / "u.csv"
    path.write_bytes(b"id,name,\n1,a\n2,b,\n3\n")
    frame = pl.concat(SourceReader(path).pieces())
    marks = dict(zip(frame["_row"], frame["_source_error"], strict=True))
    assert marks == {2: None, 3: None, 4: "short_row"}
