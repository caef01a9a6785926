"""Files that are not what they are read as get their real cause, in one line, exit 1."""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

import polars as pl
import pytest
from hostile_cases import csv_bytes, validate


def _one_line_error(output: str, expected: str) -> None:
    assert output == f"Error: {expected}\n"


def test_a_directory_is_named_as_a_directory(tmp_path: Path, mapping: Path) -> None:
    """``validate DIR`` says it is a directory, not "no such file"."""
    target = tmp_path / "exports.csv"
    target.mkdir()
    result = validate(target, mapping)
    assert result.exit_code == 1
    _one_line_error(result.output, f"{target}: is a directory, not an input file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero on this platform")
def test_a_device_is_not_a_regular_file(tmp_path: Path, mapping: Path) -> None:
    """``validate /dev/zero --format csv`` names a device, and does not read it forever."""
    result = validate(Path("/dev/zero"), mapping, "--format", "csv")
    assert result.exit_code == 1
    _one_line_error(result.output, "/dev/zero: is not a regular file (a device, pipe or socket)")


def test_a_missing_file_is_no_such_file(tmp_path: Path, mapping: Path) -> None:
    """A path that does not exist is still "no such file"."""
    result = validate(tmp_path / "nope.csv", mapping)
    assert result.exit_code == 1
    _one_line_error(result.output, f"{tmp_path / 'nope.csv'}: no such file")


def test_an_empty_file_is_empty_not_a_missing_column(tmp_path: Path, mapping: Path) -> None:
    """A zero-byte input says so, instead of "column 'id' is not in the input"."""
    path = tmp_path / "u.csv"
    path.write_bytes(b"")
    result = validate(path, mapping)
    assert result.exit_code == 1
    _one_line_error(result.output, f"{path}: the file is empty")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-32"])
def test_utf16_text_names_its_encoding_and_the_fix(
    tmp_path: Path, mapping: Path, codec: str
) -> None:
    """UTF-16/32 read as UTF-8 says which encoding it is and which option reads it."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3).decode().encode(codec))
    result = validate(path, mapping)
    assert result.exit_code == 1
    wide = "UTF-32" if codec == "utf-32" else "UTF-16"
    _one_line_error(
        result.output, f"{path}: is {wide} text, not UTF-8; pass --encoding {wide.lower()}"
    )


def test_utf16_text_reads_with_the_encoding_named(tmp_path: Path, mapping: Path) -> None:
    """The fix the message names works: ``--encoding utf-16`` reads every row."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3).decode().encode("utf-16"))
    result = validate(path, mapping, "--encoding", "utf-16")
    assert result.exit_code == 0, result.output
    assert "rows read                 3" in result.output


def test_parquet_named_csv_is_recognised_by_its_magic_bytes(tmp_path: Path, mapping: Path) -> None:
    """A Parquet file named .csv is called Parquet, and its bytes are never printed."""
    path = tmp_path / "u.csv"
    pl.DataFrame({"id": ["u1"], "email": ["a@example.com"]}).write_parquet(path)
    result = validate(path, mapping)
    assert result.exit_code == 1
    _one_line_error(
        result.output,
        f"{path}: is a Parquet file (by its first bytes), not csv; name it .parquet or pass "
        "--format parquet",
    )


def test_gzip_without_gz_suffix_says_so(tmp_path: Path, mapping: Path) -> None:
    """Gzip data named .csv is called gzip-compressed, with the name that reads it."""
    path = tmp_path / "u.csv"
    path.write_bytes(gzip.compress(csv_bytes(3)))
    result = validate(path, mapping)
    assert result.exit_code == 1
    _one_line_error(result.output, f"{path}: is gzip-compressed; name it u.csv.gz to read it")


@pytest.mark.parametrize("seed", range(3))
def test_binary_input_is_not_a_text_file_and_lists_no_garbage(
    tmp_path: Path, mapping: Path, seed: int
) -> None:
    """Random bytes give one short line ("not a text/CSV file"), not kilobytes of "columns"."""
    path = tmp_path / "u.csv"
    rng = random.Random(seed)
    path.write_bytes(bytes(rng.randrange(256) for _ in range(20_000)))
    result = validate(path, mapping)
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {path}: is not a text/CSV file (it holds binary")
    assert result.output.count("\n") == 1


def test_an_unreadable_file_says_permission_denied(tmp_path: Path, mapping: Path) -> None:
    """A file the user may not read names that cause."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(1))
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user that reads every file (root)")
        result = validate(path, mapping)
        assert result.exit_code == 1
        _one_line_error(result.output, f"{path}: cannot be read: permission denied")
    finally:
        path.chmod(0o600)
