"""``retry``, ``report``, ``verify`` and ``rollback`` on a run directory, against a real-socket
sandbox, CLI in-process."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import bcrypt
import httpx
from click.testing import CliRunner, Result

from migrate.cli import main
from migrate.sandbox import SandboxHandle

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = "email"
phone_number = "phone"
password_digest = "hash"
password_hasher = { value = "bcrypt" }
"""
HEADER = ["id", "email", "phone", "hash"]
PASSWORD = "correct horse battery"
DIGEST = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()


def write_input(directory: Path, rows: list[list[str]], name: str = "users.csv") -> Path:
    """A CSV export with the given rows, and the mapping beside it."""
    path = directory / name
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    (directory / "map.toml").write_text(MAPPING)
    return path


def rows(n: int) -> list[list[str]]:
    """``n`` valid rows."""
    return [[f"u{i}", f"user{i}@example.com", "", DIGEST] for i in range(1, n + 1)]


def take_emails(handle: SandboxHandle, *numbers: int) -> None:
    """Give rows' emails to other users first, so Clerk refuses those rows (a conflict)."""
    for i in numbers:
        httpx.post(
            f"{handle.url}/v1/users",
            json={"external_id": f"other{i}", "email_address": [f"user{i}@example.com"]},
            headers={"Authorization": f"Bearer {handle.secret_key}"},
        ).raise_for_status()


def invoke(handle: SandboxHandle, *args: str) -> Result:
    """The CLI in-process with the sandbox's URL and key in the environment."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    return CliRunner().invoke(main, [*args, "--rate", "2000"], env=env, catch_exceptions=False)


def run(handle: SandboxHandle, path: Path) -> Result:
    """``clerk-migrate run``."""
    return invoke(handle, "run", str(path), "--mapping", str(path.parent / "map.toml"), "-q")


def states(run_dir: Path) -> dict[str, int]:
    """Counts by state from summary.json."""
    return dict(json.loads((run_dir / "summary.json").read_text())["counts"])


def test_retry_with_a_corrected_file_matches_rows_by_key(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Failed rows fixed in an edited failed_rows.csv are sent with the corrected data."""
    take_emails(sandbox, 2, 5)
    path = write_input(tmp_path, rows(6))
    assert run(sandbox, path).exit_code == 3
    out = tmp_path / "users.clerk-migrate"
    fixed = (out / "failed_rows.csv").read_text().replace("@example.com", "@example.org")
    (tmp_path / "fixed.csv").write_text(fixed)
    result = invoke(sandbox, "retry", str(out), "--input", str(tmp_path / "fixed.csv"), "-q")
    assert result.exit_code == 0, result.output
    assert "2 failed rows back in the queue." in result.output
    assert states(out)["created"] == 6
    users = {u.external_id: u for u in sandbox.store}
    assert users["u2"].emails == ("user2@example.org",)
    assert users["u1"].emails == ("user1@example.com",)
    assert len(users) == 8


def test_retry_only_some_codes(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """--codes limits the requeue to rows that failed with those codes."""
    take_emails(sandbox, 3)
    path = write_input(tmp_path, rows(4))
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    result = invoke(sandbox, "retry", str(out), "--codes", "form_password_pwned", "-q")
    assert "0 failed rows back in the queue." in result.output
    assert result.exit_code == 3
    refusals = sandbox.counters()["rejections"]["form_identifier_exists"]
    again = invoke(sandbox, "retry", str(out), "--codes", "form_identifier_exists", "-q")
    assert "1 failed rows back in the queue." in again.output
    assert again.exit_code == 3  # the same data fails the same way
    assert sandbox.counters()["rejections"]["form_identifier_exists"] == refusals + 1


def test_report_rewrites_the_reports_from_the_state(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Deleted reports come back from the state DB alone, identical."""
    take_emails(sandbox, 1)
    path = write_input(tmp_path, rows(3))
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    before = {p.name: p.read_text() for p in out.iterdir() if p.suffix in (".csv", ".jsonl")}
    for name in before:
        (out / name).unlink()
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 0
    assert {p.name: p.read_text() for p in out.iterdir() if p.suffix in (".csv", ".jsonl")} == (
        before
    )
    assert "Rows: 3 (2 created · 1 failed)" in result.output


def test_verify_finds_missing_users_and_checks_canary_passwords(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """verify reports a user deleted behind our back, and proves canary passwords sign in."""
    path = write_input(tmp_path, rows(5))
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    canaries = tmp_path / "canaries.csv"
    canaries.write_text(f"key,password\nu1,{PASSWORD}\nu2,wrong password\n")
    result = invoke(sandbox, "verify", str(out), "--passwords", str(canaries))
    assert result.exit_code == 3
    assert "Checked 5 users: 0 problems." in result.output
    assert "password ok  u1: verified" in result.output
    assert "password BAD u2:" in result.output
    assert PASSWORD not in result.output
    victim = next(u for u in sandbox.store if u.external_id == "u4")
    httpx.delete(
        f"{sandbox.url}/v1/users/{sandbox.store.user_id(victim.seq)}",
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    ).raise_for_status()
    missing = invoke(sandbox, "verify", str(out))
    assert missing.exit_code == 3
    assert "Checked 5 users: 1 problems." in missing.output
    assert "row 5 (u4): missing" in missing.output
    with (out / "verify.csv").open() as handle:
        assert [r["key"] for r in csv.DictReader(handle)] == ["u4"]


def test_rollback_deletes_only_the_users_this_run_created(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """rollback --yes deletes created users and keeps those that already existed."""
    httpx.post(
        f"{sandbox.url}/v1/users",
        json={"external_id": "u1", "email_address": ["user1@example.com"]},
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    ).raise_for_status()
    path = write_input(tmp_path, rows(4))
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    refused = invoke(sandbox, "rollback", str(out))
    assert refused.exit_code == 2
    assert "refusing to delete users without confirmation: pass --yes" in refused.output
    assert len(sandbox.store) == 4
    result = invoke(sandbox, "rollback", str(out), "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 3 users; 0 were already gone; 0 refused." in result.output
    assert [u.external_id for u in sandbox.store] == ["u1"]
