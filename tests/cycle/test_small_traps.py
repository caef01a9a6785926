"""Small traps of the operator's cycle: run directories, the key from a pipe, CSV endings."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

from click.testing import CliRunner
from cycle_cli import invoke, read_csv, write_csv

from migrate._internal.runner.session import default_run_dir
from migrate.cli import main
from migrate.sandbox import SandboxHandle


def test_a_gzipped_input_has_its_own_default_run_dir(tmp_path: Path) -> None:
    """users.csv.gz and users.csv beside it do not share a run directory (a resume of one
    would be refused as the other's)."""
    plain = default_run_dir(tmp_path / "users.csv")
    packed = default_run_dir(tmp_path / "users.csv.gz")
    assert plain == tmp_path / "users.clerk-migrate"
    assert packed == tmp_path / "users.gz.clerk-migrate"
    assert default_run_dir(tmp_path / "users.csv.gz", sandbox=True) == (
        tmp_path / "users.gz.sandbox.clerk-migrate"
    )


def test_both_files_run_side_by_side(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Running users.csv then users.csv.gz (the same rows) gives two run directories, and the
    second run finds the first's users already there instead of being refused."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"]])
    packed = tmp_path / "users.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    mapping = str(tmp_path / "map.toml")
    assert invoke(sandbox, "run", str(path), "--mapping", mapping, "-q").exit_code == 0
    second = invoke(sandbox, "run", str(packed), "--mapping", mapping, "-q")
    assert second.exit_code == 0, second.output
    assert (tmp_path / "users.gz.clerk-migrate" / "state.sqlite").is_file()


def test_the_secret_key_file_may_be_a_pipe(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """--secret-key-file /dev/fd/N (as `<(pass show clerk)` gives) is read once and works."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"]])
    read_end, write_end = os.pipe()
    os.write(write_end, sandbox.secret_key.encode() + b"\n")
    os.close(write_end)
    try:
        result = CliRunner().invoke(
            main,
            ["run", str(path), "--mapping", str(tmp_path / "map.toml"), "-q",
             "--api-url", sandbox.url, "--secret-key-file", f"/dev/fd/{read_end}"],
            env={"CLERK_SECRET_KEY": "", "CLERK_API_URL": ""},
            catch_exceptions=False,
        )  # fmt: skip
    finally:
        os.close(read_end)
    assert result.exit_code == 0, result.output
    assert len(sandbox.store) == 1


def test_every_csv_report_ends_lines_with_a_newline(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """id_map.csv, errors.csv, failed_rows.csv and verify.csv end lines with \\n, not CRLF
    (so `cut | curl` pipelines work)."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"], ["u2", "bad"]])
    invoke(sandbox, "run", str(path), "--mapping", str(tmp_path / "map.toml"), "-q")
    out = tmp_path / "users.clerk-migrate"
    invoke(sandbox, "verify", str(out))
    sandbox.reset()
    invoke(sandbox, "verify", str(out))  # a mismatch line too
    reports = ["id_map.csv", "errors.csv", "failed_rows.csv", "verify.csv"]
    for name in reports:
        data = (out / name).read_bytes()
        assert data.count(b"\n") >= 2, name
        assert b"\r" not in data, name
    assert read_csv(out / "id_map.csv")[0]["key"] == "u1"


def test_skipped_and_warnings_csv_end_lines_with_a_newline(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A run's skipped.csv and warnings.csv end lines with \\n too (skipped.csv used CRLF)."""
    (tmp_path / "users.csv").write_text(
        "id,email,login,deleted_at\n"
        "u1,a@example.com,ok_name,\n"
        "u2,b@example.com,no,\n"
        "u3,c@example.com,gone_one,2024-01-01\n"
    )
    (tmp_path / "map.toml").write_text(
        '[source]\nformat = "csv"\nkey = "id"\n[fields]\nexternal_id = "id"\n'
        'email_address = "email"\nusername = { column = "login", if_invalid = "legacy_username" }\n'
        '[status]\ndeleted = "deleted_at"\n'
    )
    result = invoke(
        sandbox, "run", str(tmp_path / "users.csv"), "--mapping", str(tmp_path / "map.toml"), "-q"
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "users.clerk-migrate"
    for name in ("skipped.csv", "warnings.csv"):
        data = (out / name).read_bytes()
        assert data.count(b"\n") == 2, (name, data)
        assert b"\r" not in data, name
    assert [(r["row"], r["code"]) for r in read_csv(out / "warnings.csv")] == [
        ("3", "username_not_accepted")
    ]
