"""Resuming after a mapping edit: what the mapping does counts, not how its file is written."""

from __future__ import annotations

from pathlib import Path

from cycle_cli import MAPPING, counts, invoke, run, write_csv

from migrate.sandbox import SandboxHandle


def test_comments_whitespace_and_key_order_are_not_a_change(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A mapping rewritten with comments, blank lines and its keys in another order resumes."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"], ["u2", "b@example.com"]])
    assert invoke(sandbox, "run", str(path), "--mapping", str(tmp_path / "map.toml"),
                  "--limit", "1", "-q").exit_code == 0  # fmt: skip
    (tmp_path / "map.toml").write_text(
        '# the export\'s columns\n[fields]\nemail_address   =   "email"   # primary\n\n'
        'external_id = "id"\n\n[source]\nkey = "id"\nformat = "csv"\n'
    )
    result = run(sandbox, path)
    assert result.exit_code == 0, result.output
    assert counts(tmp_path / "users.clerk-migrate")["created"] == 2


def test_a_real_change_names_the_fields_it_touched(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A mapping whose email field gained a transform is refused, naming that field only."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"], ["u2", "b@example.com"]])
    assert invoke(sandbox, "run", str(path), "--mapping", str(tmp_path / "map.toml"),
                  "--limit", "1", "-q").exit_code == 0  # fmt: skip
    (tmp_path / "map.toml").write_text(
        MAPPING.replace('email_address = "email"',
                        'email_address = { column = "email", transform = "lower" }')
    )  # fmt: skip
    result = run(sandbox, path)
    assert result.exit_code == 1
    assert (
        "the mapping changed (fields.email_address) since the run was planned" in result.output
    ), result.output
