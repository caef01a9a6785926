"""Reading inputs: formats, gzip, encodings, row numbers, empty rows and unreadable files."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from migrate._internal.sources import (
    SourceOptions,
    detect_format,
    read_source,
    reading,
    scan_source,
)
from migrate.errors import SourceError


def empty_rows(path: Path) -> int:
    """How many rows of ``path`` scan_source marks empty (read_source drops them)."""
    return int(scan_source(path).collect()["_empty"].sum())


def write(path: Path, data: bytes, *, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def rows(path: Path, options: SourceOptions | None = None) -> list[dict[str, object]]:
    return read_source(path, options).collect().to_dicts()


# --- CSV ------------------------------------------------------------------------------------


def test_csv_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path: Path) -> None:
    """With a header the first data row is 2; cells stay text (a leading zero survives)."""
    f = write(tmp_path / "u.csv", b"id,phone\n1,0123\n2,0456\n")
    assert rows(f) == [
        {"_row": 2, "id": "1", "phone": "0123", "_source_error": None},
        {"_row": 3, "id": "2", "phone": "0456", "_source_error": None},
    ]
    assert read_source(f).collect_schema()["_row"] == pl.Int64


def test_crlf_quoted_newlines_and_empty_rows_keep_row_numbers(tmp_path: Path) -> None:
    """A quoted newline stays in its row, an empty line takes a row number and is skipped."""
    data = b'id,note\r\n1,a\r\n\r\n2,"two\r\nlines"\r\n,\r\n3,c\r\n'
    f = write(tmp_path / "u.csv", data)
    got = rows(f)
    assert [r["_row"] for r in got] == [2, 4, 6]
    assert got[1]["note"] == "two\r\nlines"
    assert empty_rows(f) == 2


def test_scan_source_marks_empty_rows_instead_of_dropping_them(tmp_path: Path) -> None:
    """``scan_source`` keeps every row and flags the empty ones in ``_empty``."""
    f = write(tmp_path / "u.csv", b"id,note\n1,a\n,\n2,b\n")
    df = scan_source(f).collect()
    assert df["_empty"].to_list() == [False, True, False]
    assert df["_row"].to_list() == [2, 3, 4]


def test_bom_is_not_part_of_the_first_column_name(tmp_path: Path) -> None:
    """A UTF-8 byte-order mark before the header is dropped."""
    f = write(tmp_path / "u.csv", b"\xef\xbb\xbfid,email\n1,a@x.io\n")
    assert read_source(f).collect_schema().names()[:3] == ["_row", "id", "email"]


def test_headerless_csv_gets_numbered_or_given_column_names(tmp_path: Path) -> None:
    """Without a header columns are column_1.. (or the given names) and the first row is 1."""
    f = write(tmp_path / "fb.csv", b"uid1,a@x.io,\nuid2,b@x.io,\n")
    got = rows(f, SourceOptions(has_header=False))
    assert got[0] == {
        "_row": 1, "column_1": "uid1", "column_2": "a@x.io", "column_3": None, "_source_error": None
    }  # fmt: skip
    named = rows(f, SourceOptions(has_header=False, column_names=("localId", "email", "rest")))
    assert named[1]["localId"] == "uid2"
    assert named[1]["_row"] == 2


def test_column_names_must_match_the_file(tmp_path: Path) -> None:
    """Giving two names for a three-column file is an error that says both counts."""
    f = write(tmp_path / "fb.csv", b"a,b,c\n")
    with pytest.raises(SourceError) as err:
        read_source(f, SourceOptions(has_header=False, column_names=("x", "y")))
    assert str(err.value) == f"{f}: 2 column names given but the file has 3 columns"


def test_delimiter_and_quote_char_options(tmp_path: Path) -> None:
    """A semicolon-separated file with single-quote quoting is split as asked."""
    f = write(tmp_path / "u.csv", b"id;name\n1;'Doe; Jane'\n")
    got = rows(f, SourceOptions(delimiter=";", quote_char="'"))
    assert got[0]["name"] == "Doe; Jane"


def test_gzip_csv_reads_like_the_plain_file(tmp_path: Path) -> None:
    """``users.csv.gz`` is decompressed and gives the same rows and numbers as ``users.csv``."""
    data = b'id,note\n1,"a\nb"\n\n2,c\n'
    plain = rows(write(tmp_path / "u.csv", data))
    assert rows(write(tmp_path / "u.csv.gz", data, gz=True)) == plain
    assert empty_rows(tmp_path / "u.csv.gz") == 1


@pytest.mark.parametrize(
    ("encoding", "data", "expected"),
    [
        ("latin-1", "id,name\n1,José\n".encode("latin-1"), "José"),
        ("cp1252", "id,name\n1,€uro “quoted”\n".encode("cp1252"), "€uro “quoted”"),
    ],
)
def test_other_encodings_are_decoded(
    tmp_path: Path, encoding: str, data: bytes, expected: str
) -> None:
    """latin-1 and cp1252 files are decoded with the named encoding."""
    got = rows(write(tmp_path / "u.csv", data), SourceOptions(encoding=encoding))
    assert got[0]["name"] == expected
    assert got[0]["_source_error"] is None


def test_invalid_utf8_marks_only_the_affected_row(tmp_path: Path) -> None:
    """Undecodable bytes flag their row as invalid_encoding, keep its number, and never crash."""
    data = b"id,name\n1,ok\n2,bad\xff\xfe\n\n3,ok\n"
    got = rows(write(tmp_path / "u.csv", data))
    assert [(r["_row"], r["_source_error"]) for r in got] == [
        (2, None),
        (3, "invalid_encoding"),
        (5, None),
    ]
    assert got[1]["name"] == "bad\ufffd\ufffd"


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        # "é" split across two reads, then an all-ASCII read: valid.
        ("id,name\n1,ab\u00e9\n2,plain-ascii-text\n".encode(), [None, None]),
        # An invalid byte after an all-ASCII read, and a sequence cut short by one.
        (b"id,name\n1,plain-ascii-text\n2,b\xff\n", [None, "invalid_encoding"]),
        (b"id,name\n1,ab\xc3", ["invalid_encoding"]),
    ],
)
def test_utf8_check_across_read_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, errors: list[str | None]
) -> None:
    """The UTF-8 check skips all-ASCII reads yet still sees bytes split or broken across reads."""
    monkeypatch.setattr(
        "migrate._internal.sources._CHUNK", 13
    )  # "é" of the first case straddles a read
    got = rows(write(tmp_path / "u.csv", data))
    assert [r["_source_error"] for r in got] == errors


def test_a_literal_replacement_character_is_not_an_encoding_error(tmp_path: Path) -> None:
    """A U+FFFD that was really in the file is data, not a decoding failure."""
    data = "id,name\n1,a\ufffdb\n2,c\n".encode() + b"3,\xc3\n"
    got = rows(write(tmp_path / "u.csv", data))
    assert [r["_source_error"] for r in got] == [None, None, "invalid_encoding"]
    assert got[0]["name"] == "a\ufffdb"


def test_cp1252_undefined_byte_is_an_encoding_error(tmp_path: Path) -> None:
    """Byte 0x81 has no cp1252 character: that row is invalid_encoding, the others are fine."""
    data = b"id,name\n1,caf\xe9\n2,x\x81y\n"
    got = rows(write(tmp_path / "u.csv", data), SourceOptions(encoding="cp1252"))
    assert got[0] == {"_row": 2, "id": "1", "name": "café", "_source_error": None}
    assert got[1]["_source_error"] == "invalid_encoding"


def test_invalid_bytes_in_gzip_csv_are_reported_too(tmp_path: Path) -> None:
    """The gzip path marks undecodable rows the same way."""
    f = write(tmp_path / "u.csv.gz", b"id\n\xff\nok\n", gz=True)
    assert [r["_source_error"] for r in rows(f)] == ["invalid_encoding", None]


def test_ragged_row_is_reported_as_a_source_error_when_collected(tmp_path: Path) -> None:
    """A row with more cells than the header surfaces as SourceError inside ``reading``."""
    f = write(tmp_path / "u.csv", b"a,b\n1,2,3\n")
    frame = read_source(f)
    with pytest.raises(SourceError) as err, reading(f):
        frame.collect()
    assert str(err.value).startswith(f"{f}: cannot be read: ")


# --- NDJSON and JSON ------------------------------------------------------------------------


NDJSON = (
    b'{"user_id":"auth0|1","email":"a@x.io","app_metadata":{"roles":["admin"]}}\n'
    b"\n"
    b"{}\n"
    b'{"user_id":"auth0|2","email":"b@x.io","late_field":"only here"}\n'
)


def test_ndjson_rows_are_record_numbers_and_objects_become_structs(tmp_path: Path) -> None:
    """Blank lines are not records, ``{}`` is an empty row, fields first seen late are kept."""
    f = write(tmp_path / "u.ndjson", NDJSON)
    df = read_source(f).collect()
    assert df["_row"].to_list() == [1, 3]
    assert isinstance(df.schema["app_metadata"], pl.Struct)
    assert df["late_field"].to_list() == [None, "only here"]
    assert empty_rows(f) == 1


def test_ndjson_schema_is_inferred_piecewise_as_polars_infers_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inferred in pieces of a few lines (bounded memory), the schema equals polars' whole-file
    inference: late keys added, mixed types made text, struct fields and list items united."""
    records = [
        {"id": 1, "m": {"a": 1}, "tags": [1, 2]},
        {"id": 2, "m": {"a": 2}},
        {"id": "three", "m": {"a": "x", "b": True}, "tags": ["t"]},
        {"id": 4, "late": 1.5},
    ] * 3
    data = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    whole = pl.read_ndjson(data, infer_schema_length=None).schema
    monkeypatch.setattr("migrate._internal.sources._CHUNK", 40)  # a piece every line or two
    f = write(tmp_path / "u.ndjson", data)
    got = read_source(f).collect()
    assert {n: t for n, t in got.schema.items() if not n.startswith("_")} == dict(whole)
    assert got.height == len(records)
    assert got["id"].to_list()[:3] == ["1", "2", "three"]


def test_an_ndjson_file_of_blank_lines_has_no_rows(tmp_path: Path) -> None:
    """Only blank lines: no records, like an empty file (not an error)."""
    assert read_source(write(tmp_path / "b.ndjson", b"\n\n  \n")).collect().height == 0


def test_gzip_and_bom_ndjson(tmp_path: Path) -> None:
    """``.jsonl.gz`` and a BOM before the first record read like the plain file."""
    plain = rows(write(tmp_path / "u.ndjson", NDJSON))
    assert rows(write(tmp_path / "u.jsonl.gz", NDJSON, gz=True)) == plain
    assert rows(write(tmp_path / "b.ndjson", b"\xef\xbb\xbf" + NDJSON)) == plain


def test_invalid_bytes_in_ndjson_mark_the_record(tmp_path: Path) -> None:
    """A record holding undecodable bytes (also inside an object) is invalid_encoding."""
    data = b'{"id":"1","m":{"k":"\xff"}}\n{"id":"2","m":{"k":"ok"}}\n'
    got = rows(write(tmp_path / "u.ndjson", data))
    assert [r["_source_error"] for r in got] == ["invalid_encoding", None]
    assert got[0]["m"] == {"k": "\ufffd"}


def test_json_array(tmp_path: Path) -> None:
    """A JSON array of objects: one row per object, numbered from 1."""
    data = json.dumps([{"id": "1", "email": "a@x.io"}, {"id": "2"}]).encode()
    got = rows(write(tmp_path / "u.json", data))
    assert [(r["_row"], r["id"], r["email"]) for r in got] == [(1, "1", "a@x.io"), (2, "2", None)]


def test_firebase_users_object_is_found_by_itself(tmp_path: Path) -> None:
    """Firebase's ``{"users": [...]}`` export (pretty-printed) yields its users."""
    users = [{"localId": "a", "createdAt": "1508893925000"}, {"localId": "b", "email": "b@x.io"}]
    f = write(tmp_path / "fb.json", json.dumps({"users": users}, indent=2).encode())
    got = rows(f)
    assert [(r["_row"], r["localId"]) for r in got] == [(1, "a"), (2, "b")]
    assert write(tmp_path / "fb.json.gz", f.read_bytes(), gz=True)
    assert rows(tmp_path / "fb.json.gz") == got


def test_json_key_picks_the_list(tmp_path: Path) -> None:
    """``json_key`` names the list inside an object with several lists."""
    doc = {"realm": "x", "users": [{"id": "1"}], "groups": [{"id": "g"}]}
    f = write(tmp_path / "kc.json", json.dumps(doc).encode())
    assert rows(f, SourceOptions(json_key="groups"))[0]["id"] == "g"
    assert rows(f)[0]["id"] == "1"


def test_json_object_without_a_user_list_is_an_error(tmp_path: Path) -> None:
    """An object with no ``users`` and several lists asks for the key and names the lists."""
    doc = {"a": [{"id": 1}], "b": [{"id": 2}]}
    f = write(tmp_path / "x.json", json.dumps(doc).encode())
    with pytest.raises(SourceError) as err:
        read_source(f)
    assert str(err.value) == (
        f"{f}: a JSON object without a 'users' list; "
        "name the key holding the user list (lists found: a, b)"
    )
    with pytest.raises(SourceError) as err:
        read_source(f, SourceOptions(json_key="users"))
    assert str(err.value) == f"{f}: the JSON object has no list under 'users'"


# --- Parquet --------------------------------------------------------------------------------


def parquet_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": ["1", None, "3"],
            "emails": [["a@x.io", "a2@x.io"], None, ["c@x.io"]],
            "meta": [{"plan": "pro"}, None, {"plan": "free"}],
            "created": [datetime(2024, 1, 15, 10, 30, tzinfo=UTC), None, None],
        }
    )


def test_parquet_keeps_lists_structs_and_timestamps(tmp_path: Path) -> None:
    """Parquet columns keep their types; rows are numbered from 1; an all-null row is skipped."""
    f = tmp_path / "u.parquet"
    parquet_frame().write_parquet(f)
    df = read_source(f).collect()
    assert df["_row"].to_list() == [1, 3]
    assert df.schema["emails"] == pl.List(pl.Utf8)
    assert isinstance(df.schema["meta"], pl.Struct)
    assert isinstance(df.schema["created"], pl.Datetime)
    assert empty_rows(f) == 1


def test_gzip_parquet(tmp_path: Path) -> None:
    """A gzipped Parquet file reads like the plain one."""
    f = tmp_path / "u.parquet"
    parquet_frame().write_parquet(f)
    gz = write(tmp_path / "u.parquet.gz", f.read_bytes(), gz=True)
    assert read_source(gz).collect().equals(read_source(f).collect())


# --- formats and unreadable files -----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("u.csv", ("csv", False)),
        ("u.CSV.GZ", ("csv", True)),
        ("u.tsv", ("csv", False)),
        ("u.jsonl", ("ndjson", False)),
        ("u.ndjson.gz", ("ndjson", True)),
        ("u.json", ("json", False)),
        ("u.pq", ("parquet", False)),
    ],
)
def test_format_comes_from_the_extension(name: str, expected: tuple[str, bool]) -> None:
    """The extension (before an optional .gz) decides the format."""
    assert detect_format(name) == expected


def test_format_option_overrides_the_extension(tmp_path: Path) -> None:
    """``format="ndjson"`` reads a ``.txt`` file as NDJSON."""
    f = write(tmp_path / "export.txt", b'{"id":"1"}\n')
    assert rows(f, SourceOptions(format="ndjson"))[0]["id"] == "1"


def test_unknown_extension_and_format_are_errors() -> None:
    """An unknown extension or format names what is allowed."""
    with pytest.raises(SourceError) as err:
        detect_format("users.xlsx")
    assert str(err.value) == (
        "users.xlsx: cannot tell the format from the extension '.xlsx'; "
        "name it .csv/.parquet/.ndjson/.json (optionally .gz) or pass a format"
    )
    with pytest.raises(SourceError) as err:
        detect_format("users.csv", "xml")
    assert str(err.value) == "users.csv: unknown format 'xml'; allowed: csv, parquet, ndjson, json"


def test_missing_file_is_a_source_error(tmp_path: Path) -> None:
    """A path that does not exist says so."""
    with pytest.raises(SourceError) as err:
        read_source(tmp_path / "nope.csv")
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: no such file"


def test_corrupt_files_are_source_errors(tmp_path: Path) -> None:
    """A Parquet file that is not Parquet, a broken gzip and a bad JSON all raise SourceError."""
    bad_parquet = write(tmp_path / "u.parquet", b"not parquet at all")
    bad_gzip = write(tmp_path / "u.csv.gz", b"not gzip")
    bad_json = write(tmp_path / "u.json", b"[{]")
    for f, fmt in ((bad_parquet, "parquet"), (bad_gzip, "csv"), (bad_json, "json")):
        with pytest.raises(SourceError) as err:
            read_source(f)
        assert str(err.value).startswith(f"{f}: cannot be read as {fmt}: ")


def test_unknown_encoding_is_a_source_error(tmp_path: Path) -> None:
    """An encoding Python does not know is named in the error."""
    f = write(tmp_path / "u.csv", b"id\n1\n")
    with pytest.raises(SourceError) as err:
        read_source(f, SourceOptions(encoding="klingon"))
    assert str(err.value) == f"{f}: unknown encoding 'klingon'"


def test_empty_json_file_is_a_source_error(tmp_path: Path) -> None:
    """An empty .json file cannot hold users."""
    f = write(tmp_path / "u.json", b"  \n")
    with pytest.raises(SourceError) as err:
        read_source(f)
    assert str(err.value) == f"{f}: the file is empty"


def test_header_only_csv_has_no_rows(tmp_path: Path) -> None:
    """A CSV with only a header is readable and empty."""
    f = write(tmp_path / "u.csv", b"id,email\n")
    assert read_source(f).collect().height == 0


def test_tsv_defaults_to_tabs(tmp_path: Path) -> None:
    """A .tsv file left at the default delimiter is split on tabs; another delimiter is kept."""
    f = write(tmp_path / "u.tsv", b"id\tname\n1\tDoe; Jane\n")
    assert rows(f)[0]["name"] == "Doe; Jane"
    assert read_source(f, SourceOptions(delimiter=";")).collect_schema().names()[1] == "id\tname"


def test_reading_errors_do_not_quote_the_data(tmp_path: Path) -> None:
    """A parser error keeps its reason, not the data it quotes (which may hold a digest)."""
    secret = "$2b$10$" + "s" * 53
    f = write(tmp_path / "u.json", f'[{{"passwordHash": {secret}}}]'.encode())
    with pytest.raises(SourceError) as err:
        read_source(f)
    assert "sssss" not in str(err.value)
    assert str(err.value).startswith(f"{f}: cannot be read as json: ")


def test_empty_user_lists_have_no_rows(tmp_path: Path) -> None:
    """``[]`` and ``{"users": []}`` are readable and empty."""
    for name, data in (("a.json", b"[]"), ("o.json", b'{"users": []}')):
        assert read_source(write(tmp_path / name, data)).collect().height == 0


def test_zero_byte_files_are_an_error_naming_the_cause(tmp_path: Path) -> None:
    """A zero-byte CSV, NDJSON or gzip-of-nothing is "the file is empty", never zero rows."""
    for name, gz in (("u.csv", False), ("u.ndjson", False), ("u.csv.gz", True)):
        f = write(tmp_path / name, b"", gz=gz)
        with pytest.raises(SourceError) as err:
            read_source(f)
        assert str(err.value) == f"{f}: the file is empty"


def test_errors_about_a_gzip_file_name_that_file(tmp_path: Path) -> None:
    """A problem found in a decompressed copy is reported against the user's .gz file."""
    f = write(tmp_path / "fb.csv.gz", b"a,b,c\n", gz=True)
    with pytest.raises(SourceError) as err:
        read_source(f, SourceOptions(has_header=False, column_names=("x",)))
    assert str(err.value) == f"{f}: 1 column names given but the file has 3 columns"
    empty = write(tmp_path / "u.json.gz", b" ", gz=True)
    with pytest.raises(SourceError) as err:
        read_source(empty)
    assert str(err.value) == f"{empty}: the file is empty"
