"""Nothing is lost silently: any line ends, no-row files, duplicate headers, bad rows located."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hostile_cases import HEADER, assert_no_secret, csv_bytes, lines, run, validate

from migrate._internal.sources import SourceOptions, read_source
from migrate.errors import SourceError
from migrate.sandbox import SandboxHandle

ENDINGS = {
    "lf": "\n",
    "crlf": "\r\n",
    "cr": "\r",
    "mixed": ("\r", "\n", "\r\n"),
    "mixed_cr_first": ("\r\n", "\r", "\r", "\n"),
}


@pytest.mark.parametrize("eol", ENDINGS.values(), ids=ENDINGS.keys())
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
def test_every_line_ending_reads_every_row(tmp_path: Path, eol: str, gz: bool) -> None:
    """CR-only, LF, CRLF and mixed line ends all give the same 40 rows, numbered 2..41."""
    data = csv_bytes(40, eol)
    path = tmp_path / ("u.csv.gz" if gz else "u.csv")
    path.write_bytes(gzip.compress(data) if gz else data)
    frame = read_source(path).collect()
    assert frame["_row"].to_list() == list(range(2, 42))
    assert frame["id"].to_list() == [f"u{i}" for i in range(1, 41)]
    assert frame["totp"].to_list() == [frame["totp"][0]] * 40  # no CR glued to the last cell


def test_a_cr_inside_a_quoted_value_is_data_not_a_line_end(tmp_path: Path) -> None:
    """In a CR-only file a quoted CR stays in its value and does not start a row."""
    path = tmp_path / "u.csv"
    path.write_bytes(b'id,note\r1,"two\rlines"\r2,b\r')
    frame = read_source(path).collect()
    assert frame["note"].to_list() == ["two\rlines", "b"]
    assert frame["_row"].to_list() == [2, 3]


def test_cr_only_file_validates_every_row(tmp_path: Path, mapping: Path) -> None:
    """``validate`` on a CR-only export counts all 40 rows (it read 0 and exited 0 before)."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(40, "\r"))
    result = validate(path, mapping)
    assert result.exit_code == 0, result.output
    assert "rows read                40" in result.output


def test_cr_only_file_runs_every_row(tmp_path: Path, mapping: Path, sandbox: SandboxHandle) -> None:
    """``run`` on a CR-only export creates all 40 users."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(40, "\r"))
    result = run(sandbox, path, mapping)
    assert result.exit_code == 0, result.output
    assert len(sandbox.store) == 40


@pytest.mark.parametrize(
    "data",
    [f"{HEADER}\n".encode(), f"{HEADER}\n,,,,\n\n".encode(), b"[]"],
    ids=["header_only", "empty_rows", "empty_json_list"],
)
def test_a_file_without_rows_is_an_error_in_validate(
    tmp_path: Path, mapping: Path, data: bytes
) -> None:
    """A non-empty file that yields no rows exits 1 with one line, never 0."""
    path = tmp_path / ("u.json" if data == b"[]" else "u.csv")
    path.write_bytes(data)
    map_file = mapping
    if data == b"[]":
        map_file.write_text(mapping.read_text().replace('format = "csv"', 'format = "json"'))
    result = validate(path, map_file)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: no rows to migrate")
    assert result.output.count("\n") == 1


def test_a_file_without_rows_is_an_error_in_run(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle
) -> None:
    """``run`` on a header-only file exits 1 naming the cause, and creates no user."""
    path = tmp_path / "u.csv"
    path.write_bytes(f"{HEADER}\n".encode())
    result = run(sandbox, path, mapping)
    assert result.exit_code == 1
    assert f"{path}: no rows to migrate" in result.output
    assert len(sandbox.store) == 0


def test_a_duplicate_header_is_an_error_naming_the_column(tmp_path: Path, mapping: Path) -> None:
    """``email,…,email`` is refused with the column and both positions, never read silently."""
    path = tmp_path / "u.csv"
    path.write_bytes(f"{HEADER},email\n{lines(1)[0]},other@example.com\n".encode())
    result = validate(path, mapping)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: the header has column 'email' twice (columns 2 and 6); rename one in "
        "the file, or pass column names for every column\n"
    )


def test_duplicate_given_column_names_are_an_error(tmp_path: Path) -> None:
    """Column names given for a header-less file may not repeat either."""
    path = tmp_path / "u.csv"
    path.write_bytes(b"1,2\n")
    with pytest.raises(SourceError, match="the column names given repeat 'a'"):
        read_source(path, SourceOptions(has_header=False, column_names=("a", "a")))


@pytest.mark.parametrize("eol", ["\n", "\r", "\r\n"], ids=["lf", "cr", "crlf"])
def test_a_row_with_too_many_cells_is_named(tmp_path: Path, mapping: Path, eol: str) -> None:
    """A row with more cells than the header is reported by its row number, secrets masked."""
    body = lines(5)
    body[2] += ",extra"  # row 4
    path = tmp_path / "u.csv"
    path.write_bytes(eol.join([HEADER, *body, ""]).encode())
    result = validate(path, mapping)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {path}: cannot be read: row 4 has 6 cells but the header has 5\n"
    )


def test_an_unterminated_quote_names_the_row_and_prints_no_data(
    tmp_path: Path, mapping: Path
) -> None:
    """An open quote gives its row and one short line: not the rest of the file, no digest."""
    body = lines(50)
    body[9] = body[9].replace(",Name10,", ',"Name10,')  # row 11
    path = tmp_path / "u.csv"
    path.write_bytes("\n".join([HEADER, *body, ""]).encode())
    result = validate(path, mapping)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(f"Error: {path}: cannot be read: row 11: a quote")
    assert_no_secret(result.output)
