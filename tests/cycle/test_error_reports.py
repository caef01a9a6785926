"""validate's and run's errors.csv agree: the duplicate pointer and the encoding."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from cycle_cli import read_csv, run, write_csv

from migrate.cli import main
from migrate.sandbox import SandboxHandle


def test_run_and_validate_name_the_row_that_has_it_first(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A duplicate's line in run's errors.csv, like validate's, ends with the row holding the
    value first; neither file starts with a byte-order mark."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"], ["u2", "a@example.com"]])
    run(sandbox, path)
    validated = CliRunner().invoke(
        main, ["validate", str(path), "--mapping", str(tmp_path / "map.toml"),
               "--out", str(tmp_path / "v")],
    )  # fmt: skip
    assert validated.exit_code == 3, validated.output
    ran = read_csv(tmp_path / "users.clerk-migrate" / "errors.csv")
    checked = read_csv(tmp_path / "v" / "errors.csv")
    assert ran[0]["message"] == checked[0]["message"]
    assert ran[0]["message"].endswith("Row 2 has it first.")
    for report in (tmp_path / "users.clerk-migrate" / "errors.csv", tmp_path / "v" / "errors.csv"):
        assert not report.read_bytes().startswith(b"\xef\xbb\xbf"), report
