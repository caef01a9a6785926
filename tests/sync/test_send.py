"""``sync`` sends a newer export's changes to the sandbox over real HTTP, exactly once."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

import migrate
from migrate.sandbox import SandboxHandle
from migrate.sandbox.config import FaultConfig
from migrate.sandbox.faults import Faults

MAPPING = """[source]
key = "id"

[fields]
external_id = "id"
email_address = "email"
first_name = "first"
password_digest = "hash"
password_hasher = { value = "bcrypt" }
public_metadata = { column = "meta", transform = "json" }
"""
OLD = "$2b$04$4k9ye9RiBIwcRzbcNJCjeu5Sxen/yOCl6cC9ph/GMqkC4d4bMpqhS"  # "old-pass"
NEW = "$2b$04$M9OylKbYCw5RRVyaYTTpz...uOvvUFp0ltX7L8imxUkzA9WbZ8RvS"  # "new-pass"


def write(path: Path, rows: list[dict[str, str]]) -> Path:
    """Write ``rows`` as a CSV with the columns the mapping reads."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["id", "email", "first", "hash", "meta"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def user(i: int, **changes: str) -> dict[str, str]:
    """Row ``i`` of the first export, with ``changes``."""
    return {"id": f"u{i}", "email": f"user{i}@example.com", "first": f"Name{i}", "hash": OLD,
            "meta": '{"plan": "free", "seats": {"a": 1, "b": 2}}', **changes}  # fmt: skip


NEWER = [
    user(1),
    user(2, first="Renamed"),
    user(3, email="moved3@example.com", meta='{"plan": "pro", "seats": {"a": 1}}'),
    user(4, hash=NEW),
    user(5),
    user(7),
]


def connection(sandbox: SandboxHandle) -> migrate.Connection:
    """A connection to the test sandbox."""
    return migrate.Connection(api_url=sandbox.url, secret_key=migrate.Secret(sandbox.secret_key))


@pytest.fixture
def migrated(sandbox: SandboxHandle, tmp_path: Path) -> tuple[Path, Path, Path]:
    """u1..u6 migrated; returns the run directory, the mapping and the newer export."""
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    first = write(tmp_path / "first.csv", [user(i) for i in range(1, 7)])
    result = migrate.run(first, mapping, connection=connection(sandbox), run_dir=tmp_path / "run",
                         rate=2000)  # fmt: skip
    assert result.summary.count("created") == 6
    return tmp_path / "run", mapping, write(tmp_path / "newer.csv", NEWER)


def users_by_external_id(sandbox: SandboxHandle) -> dict[str, dict[str, Any]]:
    """Every sandbox user as Clerk renders it, by external id (each must be there once)."""
    with httpx.Client(base_url=sandbox.url, headers={
        "Authorization": f"Bearer {sandbox.secret_key}", "Clerk-API-Version": "2026-05-12",
    }) as http:  # fmt: skip
        users = http.get("/v1/users", params={"limit": 500}).json()
    ids = [u["external_id"] for u in users]
    assert len(ids) == len(set(ids)), "a user exists twice"
    return {u["external_id"]: u for u in users}


def verifies(sandbox: SandboxHandle, user_id: str, password: str) -> bool:
    """Whether the sandbox accepts ``password`` for the user."""
    response = httpx.post(
        f"{sandbox.url}/v1/users/{user_id}/verify_password", json={"password": password},
        headers={"Authorization": f"Bearer {sandbox.secret_key}",
                 "Clerk-API-Version": "2026-05-12"},
    )  # fmt: skip
    return response.status_code == 200 and response.json()["verified"] is True


def assert_matches_newer(sandbox: SandboxHandle) -> None:
    """The sandbox's users are the newer export's mapped rows (u6, gone, is left alone)."""
    users = users_by_external_id(sandbox)
    assert sorted(users) == ["u1", "u2", "u3", "u4", "u5", "u6", "u7"]
    for row in NEWER:
        got = users[row["id"]]
        primary = next(e["email_address"] for e in got["email_addresses"]
                       if e["id"] == got["primary_email_address_id"])  # fmt: skip
        assert (got["first_name"], primary) == (row["first"], row["email"])
        assert got["public_metadata"] == json.loads(row["meta"])
    assert verifies(sandbox, users["u4"]["id"], "new-pass")
    assert not verifies(sandbox, users["u4"]["id"], "old-pass")
    assert verifies(sandbox, users["u1"]["id"], "old-pass")


def test_sync_applies_every_kind_of_change_and_nothing_else(
    sandbox: SandboxHandle, migrated: tuple[Path, Path, Path]
) -> None:
    """Renamed, new email + metadata, new digest, new user: applied; unchanged users untouched."""
    run_dir, mapping, newer = migrated
    before = sandbox.counters()
    result = migrate.sync(newer, mapping, run_dir=run_dir, connection=connection(sandbox),
                          rate=2000)  # fmt: skip
    assert result.exit_code == migrate.ExitCode.OK, result.failures
    assert result.counts["changed"] == 3
    assert result.sent == {"created": 1, "updated": 3}
    assert_matches_newer(sandbox)
    after = sandbox.counters()
    assert after["creates"] - before["creates"] == 1
    # u2: PATCH user; u3: PATCH metadata + POST email; u4: PATCH user (digest)
    assert after["updates"] - before["updates"] == 4
    again = migrate.sync(newer, mapping, run_dir=run_dir, connection=connection(sandbox),
                         rate=2000)  # fmt: skip
    assert again.counts["unchanged"] == 6
    assert again.requests == 0
    assert sandbox.counters()["requests"] == after["requests"] + 0


def test_lost_answers_and_5xx_are_reconciled_and_nothing_is_duplicated(
    sandbox: SandboxHandle, migrated: tuple[Path, Path, Path]
) -> None:
    """With 30 % lost answers and 30 % 5xx, reruns converge: each user once, all changes in."""
    run_dir, mapping, newer = migrated
    sandbox.app.faults = Faults(FaultConfig(error_rate=0.3, lost_rate=0.3), seed=11)
    for _ in range(6):
        result = migrate.sync(newer, mapping, run_dir=run_dir, connection=connection(sandbox),
                              rate=2000)  # fmt: skip
        if result.exit_code == migrate.ExitCode.OK:
            break
    assert result.exit_code == migrate.ExitCode.OK, result.failures
    assert sandbox.counters()["faults"].get("lost", 0) > 0
    sandbox.app.faults = Faults(FaultConfig(), seed=0)
    assert_matches_newer(sandbox)


def test_gone_users_are_deleted_only_within_max_delete_or_banned(
    sandbox: SandboxHandle, migrated: tuple[Path, Path, Path]
) -> None:
    """Over --max-delete nothing is sent; --ban-gone bans; --delete-gone deletes."""
    run_dir, mapping, newer = migrated
    before = sandbox.counters()["requests"]
    with pytest.raises(migrate.ConfigError, match="more than --max-delete 0"):
        migrate.sync(newer, mapping, run_dir=run_dir, connection=connection(sandbox),
                     delete_gone=True, max_delete=0, yes=True)  # fmt: skip
    assert sandbox.counters()["requests"] == before
    asked: list[str] = []
    conn = connection(sandbox)
    banned = migrate.sync(newer, mapping, run_dir=run_dir, connection=conn, ban_gone=True,
                          rate=2000, confirm=lambda q: not asked.append(q))  # fmt: skip
    assert asked == ["ban 1 users of the run that the newer export no longer has?"]
    assert banned.sent == {"banned": 1, "created": 1, "updated": 3}
    assert users_by_external_id(sandbox)["u6"]["banned"] is True
    deleted = migrate.sync(newer, mapping, run_dir=run_dir, connection=connection(sandbox),
                           delete_gone=True, max_delete=1, yes=True, rate=2000)  # fmt: skip
    assert deleted.sent == {"deleted": 1}
    assert "u6" not in users_by_external_id(sandbox)
    last = migrate.sync(newer, mapping, run_dir=run_dir, connection=connection(sandbox),
                        delete_gone=True, max_delete=1, yes=True, rate=2000)  # fmt: skip
    assert last.counts["gone"] == 0


def test_replace_identifiers_removes_the_old_primary_email(
    sandbox: SandboxHandle, migrated: tuple[Path, Path, Path]
) -> None:
    """Without the flag the old email stays as a secondary; with it the old one is removed."""
    run_dir, mapping, newer = migrated
    migrate.sync(newer, mapping, run_dir=run_dir, connection=connection(sandbox), rate=2000)
    emails = [e["email_address"] for e in users_by_external_id(sandbox)["u3"]["email_addresses"]]
    assert sorted(emails) == ["moved3@example.com", "user3@example.com"]
    # a newer export again, now replacing identifiers: u3's email changes once more
    newest = write(newer.parent / "newest.csv", [*NEWER[:2], user(3, email="third3@example.com",
                   meta='{"plan": "pro", "seats": {"a": 1}}'), *NEWER[3:]])  # fmt: skip
    migrate.sync(newest, mapping, run_dir=run_dir, connection=connection(sandbox), rate=2000,
                 replace_identifiers=True)  # fmt: skip
    emails = [e["email_address"] for e in users_by_external_id(sandbox)["u3"]["email_addresses"]]
    assert emails == ["third3@example.com"]


def test_the_command_sends_and_refuses_bad_options_before_anything(
    sandbox: SandboxHandle, migrated: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Conflicting or missing gone options exit 2 sending nothing; a sync prints what it sent."""
    from click.testing import CliRunner  # noqa: PLC0415

    from migrate.cli import main  # noqa: PLC0415

    run_dir, mapping, newer = migrated
    monkeypatch.setenv("CLERK_SECRET_KEY", sandbox.secret_key)
    args = ["sync", str(newer), "-m", str(mapping), "--run-dir", str(run_dir),
            "--api-url", sandbox.url, "--rate", "2000"]  # fmt: skip
    before = sandbox.counters()["requests"]
    both = CliRunner().invoke(main, [*args, "--delete-gone", "--ban-gone", "--max-delete", "5"])
    assert both.exit_code == 2
    assert both.stderr == "Error: --delete-gone and --ban-gone exclude each other: pick one\n"
    unbounded = CliRunner().invoke(main, [*args, "--delete-gone"])
    assert unbounded.exit_code == 2
    assert "--delete-gone needs --max-delete N" in unbounded.stderr
    unasked = CliRunner().invoke(main, [*args, "--ban-gone"])
    assert unasked.exit_code == 2
    assert unasked.stderr == "Error: not confirmed: no user was banned and nothing was sent\n"
    assert sandbox.counters()["requests"] == before
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 0, done.output
    assert "sent: 1 created, 3 updated (" in done.stdout
    assert_matches_newer(sandbox)


def test_a_capped_retry_after_is_told_while_sync_sends(make_sandbox: Any, tmp_path: Path) -> None:
    """An instance that asks to wait 1 s after 4 requests: sync waits at most --max-retry-after,
    says so through ``on_notice`` while it sends, and still applies every change."""
    from migrate.sandbox import SandboxConfig  # noqa: PLC0415

    sandbox = make_sandbox(SandboxConfig.for_tests(rate_limit=4, rate_window=1.0))
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    first = write(tmp_path / "first.csv", [user(i) for i in range(1, 7)])
    migrate.run(first, mapping, connection=connection(sandbox), run_dir=tmp_path / "run",
                rate=2000)  # fmt: skip
    heard: list[str] = []
    newer = [user(i, first=f"Renamed{i}") for i in range(1, 7)]
    result = migrate.sync(write(tmp_path / "newer.csv", newer), str(mapping),
                          run_dir=tmp_path / "run", connection=connection(sandbox),
                          max_retry_after=0.25, on_notice=heard.append)  # fmt: skip
    assert result.sent is not None
    assert result.sent.get("updated") == 6, result.sent
    assert any("Clerk asked to wait 1 s (429, Retry-After) (capped at 0 s)" in h for h in heard)
    assert not [n for n in result.notices if "Retry-After" in n]  # told live, not afterwards
