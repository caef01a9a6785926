"""``retry --input`` never drops a row of the corrected file silently: rows whose key matches
no row of the run are reported by count and row, with a path that sends them."""

from __future__ import annotations

from pathlib import Path

from cycle_cli import invoke, read_csv, run, users, write_csv

from migrate.sandbox import SandboxHandle


def test_a_re_keyed_duplicate_is_reported_with_a_path_that_works(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A duplicate given a new id (as its hint suggests) matches no run row by key: retry says
    so with its row number and names a new run for it; that command then creates it."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"], ["u1", "b@example.com"]])
    assert run(sandbox, path).exit_code == 3
    out = tmp_path / "users.clerk-migrate"
    [error] = read_csv(out / "errors.csv")
    assert "new run" in error["message"] + error["hint"], error
    fixed = write_csv(tmp_path / "fixed.csv", [["u1", "a@example.com"], ["u9", "b@example.com"]])
    result = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert (
        f"1 row of {fixed} has a key no row of the run has (row 3), so retry did not send it: "
        "retry matches rows by key. Send rows with new keys as a new run: put them in a file "
        "of their own and `clerk-migrate run FILE --mapping MAPPING --run-dir NEW_DIR`."
    ) in result.output, result.output
    assert users(sandbox) == {"u1": ("a@example.com",)}
