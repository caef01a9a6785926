"""``sync --dry-run`` against a run made in the sandbox: counts, sync_plan.csv, summary.json."""

from __future__ import annotations

import csv
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

import migrate
from migrate.cli import main
from migrate.sandbox import SandboxHandle

MAPPING = """[source]
key = "id"

[fields]
external_id = "id"
email_address = "email"
first_name = "first"
password_digest = "hash"
password_hasher = { value = "bcrypt" }

[fields.public_metadata]
plan = "plan"
"""
HASH = "$2b$10$" + "a" * 53


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write ``rows`` as a CSV with the columns the mapping reads."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["id", "email", "first", "hash", "plan"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def user(i: int, **changes: str) -> dict[str, str]:
    """Row ``i`` of the first export, with ``changes``."""
    return {"id": f"u{i}", "email": f"user{i}@example.com", "first": f"Name{i}", "hash": HASH,
            "plan": "free", **changes}  # fmt: skip


@pytest.fixture
def migrated(sandbox: SandboxHandle, tmp_path: Path) -> tuple[Path, Path, SandboxHandle]:
    """Six users migrated into the sandbox; returns the run directory and the mapping."""
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    first = write(tmp_path / "first.csv", [user(i) for i in range(1, 7)])
    connection = migrate.Connection(
        api_url=sandbox.url, secret_key=migrate.Secret(sandbox.secret_key)
    )
    result = migrate.run(first, mapping, connection=connection, run_dir=tmp_path / "run", rate=2000)
    assert result.summary.count("created") == 6
    return tmp_path / "run", mapping, sandbox


def newer_export(tmp_path: Path) -> Path:
    """u2 renamed, u3 new email + plan, u4 new digest, u6 gone, u7 new, u8 invalid."""
    return write(
        tmp_path / "newer.csv",
        [
            user(1), user(2, first="Renamed"), user(3, email="moved3@example.com", plan="pro"),
            user(4, hash="$2b$10$" + "b" * 53), user(5), user(7), user(8, email="broken@"),
        ],
    )  # fmt: skip


def test_dry_run_counts_changes_by_field_and_sends_nothing(
    migrated: tuple[Path, Path, SandboxHandle], tmp_path: Path
) -> None:
    """Each kind of change is counted and listed; no request reaches the sandbox."""
    run_dir, mapping, sandbox = migrated
    before = sandbox.counters()
    result = migrate.sync(newer_export(tmp_path), mapping, run_dir=run_dir, dry_run=True)
    assert sandbox.counters() == before
    assert result.counts == {"new": 1, "changed": 3, "unchanged": 2, "unknown": 0,
                             "invalid": 1, "gone": 1}  # fmt: skip
    assert result.changed_fields == {
        "email_address": 1, "first_name": 1, "password_digest": 1, "public_metadata": 1,
    }  # fmt: skip
    with result.plan_csv.open(encoding="utf-8") as handle:
        plan = list(csv.reader(handle))
    assert plan == [
        ["row", "key", "action", "fields"],
        ["3", "u2", "changed", "first_name"],
        ["4", "u3", "changed", "email_address,public_metadata"],
        ["5", "u4", "changed", "password_digest"],
        ["7", "u7", "new", ""],
        ["8", "u8", "invalid", ""],
        ["", "u6", "gone", ""],
    ]
    summary = json.loads(result.summary_json.read_text(encoding="utf-8"))
    assert summary["sync"]["counts"] == result.counts
    assert summary["counts"]["created"] == 6  # the run's own summary is kept
    assert result.exit_code == migrate.ExitCode.FAILED_ROWS


def test_the_key_file_is_private_and_the_state_db_holds_no_value(
    migrated: tuple[Path, Path, SandboxHandle],
) -> None:
    """fingerprint.key is mode 0600; the state DB's prints contain no name, digest or email."""
    run_dir, _, _ = migrated
    key_file = run_dir / "fingerprint.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_hex = key_file.read_text(encoding="ascii").strip()
    raw = (run_dir / "state.sqlite").read_bytes()
    with sqlite3.connect(run_dir / "state.sqlite") as conn:
        blobs = b"".join(w + f for w, f in conn.execute("SELECT whole, fields FROM fingerprints"))
        assert conn.execute("SELECT count(*) FROM fingerprints").fetchone() == (6,)
    for secret in (b"Name1", HASH.encode(), b"aaaaaaaa", key_hex.encode(), bytes.fromhex(key_hex)):
        assert secret not in raw
        assert secret not in blobs


def test_a_run_without_fingerprints_makes_every_user_unknown(
    migrated: tuple[Path, Path, SandboxHandle], tmp_path: Path
) -> None:
    """An older run directory (no key, no prints) is said so and its users count as unknown."""
    run_dir, mapping, _ = migrated
    (run_dir / "fingerprint.key").unlink()
    result = migrate.sync(newer_export(tmp_path), mapping, run_dir=run_dir, dry_run=True)
    assert result.counts["unknown"] == 5
    assert result.counts["unchanged"] == result.counts["changed"] == 0
    assert "holds no fingerprints" in result.notices[0]


def test_the_command_prints_the_counts_and_refuses_what_it_cannot_do(
    migrated: tuple[Path, Path, SandboxHandle], tmp_path: Path
) -> None:
    """The CLI prints the plan's counts (exit 3: an invalid row); a missing run is exit 1."""
    run_dir, mapping, _ = migrated
    newer = newer_export(tmp_path)
    args = ["sync", str(newer), "--mapping", str(mapping), "--run-dir", str(run_dir)]
    result = CliRunner().invoke(main, [*args, "--dry-run"])
    assert result.exit_code == 3, result.output
    assert result.stdout.splitlines()[:6] == [
        "sync plan: 1 new, 3 changed, 2 unchanged, 0 unknown, 1 invalid, 1 gone",
        "  changed email_address: 1",
        "  changed first_name: 1",
        "  changed password_digest: 1",
        "  changed public_metadata: 1",
        f"plan: {run_dir / 'sync_plan.csv'}",
    ]
    missing = CliRunner().invoke(
        main, ["sync", str(newer), "--mapping", str(mapping), "--run-dir", str(tmp_path / "no"),
               "--dry-run"],
    )  # fmt: skip
    assert missing.exit_code == 1
    assert missing.stderr == (
        f"Error: {tmp_path / 'no'}: no run here (no state.sqlite); run `run` first\n"
    )
