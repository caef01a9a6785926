"""A corpus of fixed nasty exports through ``validate`` and ``run``: a clear verdict for each.

For every file: the exit code and message it must get, no traceback, no secret in any output
or file (``failed_rows`` aside: it is the input's own rows, by design), no row lost (rows read
are created or reported), and the run directory still usable (a rerun resumes and creates
nothing twice; after a refused file, the corrected file runs).
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import NamedTuple

import pytest
from hostile_cases import (
    DIGEST,
    HEADER,
    TOTP,
    assert_no_secret,
    csv_bytes,
    files_text,
    lines,
    run,
    validate,
)

from migrate.sandbox import SandboxHandle


class Nasty(NamedTuple):
    """A file, its name, the exit code it must get, and the rows created (or the error)."""

    data: bytes
    name: str
    exit_code: int
    created_or_error: int | str


def _row(i: int, first: str = "N", email: str | None = None) -> str:
    return f"u{i},{email or f'user{i}@example.com'},{first},{DIGEST},{TOTP}"


CORPUS = {
    "cr_only": Nasty(csv_bytes(12, "\r"), "u.csv", 0, 12),
    "mixed_ends": Nasty(csv_bytes(12, ("\r", "\n", "\r\n")), "u.csv", 0, 12),
    "bom_crlf": Nasty(b"\xef\xbb\xbf" + csv_bytes(5, "\r\n"), "u.csv", 0, 5),
    "gzip_cr": Nasty(gzip.compress(csv_bytes(7, "\r")), "u.csv.gz", 0, 7),
    "formula_cells": Nasty(
        "\n".join(
            [
                HEADER,
                _row(1, "=cmd|' /C calc'!A0"),
                _row(2, "@SUM(1)"),
                _row(3, "+1", "=bad@"),
                _row(4, "-2"),
            ]
        ).encode()
        + b"\n",
        "u.csv",
        3,
        3,
    ),
    "quoted_newlines_and_cr": Nasty(
        f"{HEADER}\r{_row(1, chr(34) + 'two' + chr(13) + 'lines' + chr(34))}\r{_row(2)}\r".encode(),
        "u.csv",
        0,
        2,
    ),
    "control_chars": Nasty(
        "\n".join([HEADER, _row(1, "a\x07b"), _row(2, "c\x1bd")]).encode() + b"\n", "u.csv", 0, 2
    ),
    "invalid_utf8_row": Nasty(
        b"\n".join([HEADER.encode(), _row(1, "caf\xe9").encode("latin-1"), _row(2).encode()])
        + b"\n",
        "u.csv",
        3,
        1,
    ),
    "long_field": Nasty(
        "\n".join([HEADER, _row(1, "x" * 100_000), _row(2)]).encode() + b"\n", "u.csv", 3, 1
    ),
    "header_only": Nasty(f"{HEADER}\n".encode(), "u.csv", 1, "no rows to migrate"),
    "blank_lines_only": Nasty(f"{HEADER}\n\n\n\r\n".encode(), "u.csv", 1, "no rows to migrate"),
    "duplicate_header": Nasty(
        f"{HEADER},email\n{lines(1)[0]},x@example.com\n".encode(), "u.csv", 1, "twice"
    ),
    "unterminated_quote": Nasty(
        "\n".join([HEADER, _row(1), _row(2, '"open'), _row(3)]).encode(), "u.csv", 1, "row 3"
    ),
    "extra_cells": Nasty(
        "\n".join([HEADER, _row(1), _row(2) + ",x", _row(3)]).encode(), "u.csv", 1, "row 3 has 6"
    ),
    "empty": Nasty(b"", "u.csv", 1, "the file is empty"),
    "utf16": Nasty(csv_bytes(3).decode().encode("utf-16"), "u.csv", 1, "UTF-16"),
    "binary": Nasty(bytes(range(256)) * 40, "u.csv", 1, "not a text/CSV file"),
    "parquet_magic": Nasty(b"PAR1" + b"\x00" * 100 + b"PAR1", "u.csv", 1, "Parquet"),
    "gzip_unnamed": Nasty(gzip.compress(csv_bytes(2)), "u.csv", 1, "gzip-compressed"),
    "corrupt_gzip": Nasty(
        gzip.compress(csv_bytes(50))[:40] + b"\x00" * 40, "u.csv.gz", 1, "cannot be read"
    ),
}


def _outputs(*results: object) -> str:
    return "\n".join(getattr(r, "output", "") for r in results)


@pytest.mark.parametrize("nasty", CORPUS.values(), ids=CORPUS.keys())
def test_validate_gives_each_nasty_file_its_verdict(
    tmp_path: Path, mapping: Path, nasty: Nasty
) -> None:
    """The exit code expected, one ``Error:`` line naming the cause for a refused file."""
    path = tmp_path / nasty.name
    path.write_bytes(nasty.data)
    result = validate(path, mapping)
    assert result.exit_code == nasty.exit_code, result.output[:1000]
    assert "Traceback" not in result.output
    if nasty.exit_code == 1:
        assert result.output.startswith("Error: ")
        assert result.output.count("\n") == 1, result.output[:1000]
        assert str(nasty.created_or_error) in result.output
    reports = tmp_path / f"{nasty.name.split('.')[0]}.validation"
    assert_no_secret(result.output, files_text(reports) if reports.exists() else "")


@pytest.mark.parametrize("nasty", CORPUS.values(), ids=CORPUS.keys())
def test_run_on_each_nasty_file_loses_nothing_leaks_nothing_and_resumes(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle, nasty: Nasty
) -> None:
    """Rows read are created or reported; a rerun creates nothing twice; a refused file, once
    corrected, runs in the same place."""
    path = tmp_path / nasty.name
    path.write_bytes(nasty.data)
    run_dir = tmp_path / "run"
    first = run(sandbox, path, mapping, "--run-dir", str(run_dir))
    assert first.exit_code == nasty.exit_code, first.output[:1000]
    if nasty.exit_code == 1:
        assert str(nasty.created_or_error) in first.output
        assert len(sandbox.store) == 0
        path.write_bytes(
            gzip.compress(csv_bytes(3)) if nasty.name.endswith(".gz") else csv_bytes(3)
        )
        fixed = run(sandbox, path, mapping, "--run-dir", str(run_dir))
        assert fixed.exit_code == 0, fixed.output
        assert len(sandbox.store) == 3
        assert_no_secret(first.output, fixed.output)
        return
    assert len(sandbox.store) == nasty.created_or_error
    again = run(sandbox, path, mapping, "--run-dir", str(run_dir))
    assert again.exit_code == nasty.exit_code, again.output
    assert len(sandbox.store) == nasty.created_or_error  # nothing sent twice
    kept = [p for p in run_dir.iterdir() if not p.name.startswith("failed_rows")]
    assert_no_secret(
        _outputs(first, again), *(p.read_bytes().decode("utf-8", "replace") for p in kept)
    )
    errors = (run_dir / "errors.csv").read_text(encoding="utf-8")
    invalid = nasty.exit_code == 3
    assert (errors.count("\n") > 1) == invalid  # every row not created is reported
