"""``run`` checks the instance first: findings printed, whole-file ones stop it, --no-check kept."""

from __future__ import annotations

import json
from pathlib import Path

from check_helpers import DIGEST, row, write
from click.testing import CliRunner, Result

from migrate._internal.state import RowState, StateStore
from migrate.cli import main
from migrate.sandbox import SandboxConfig
from migrate.sandbox.environment import render_environment


def settings_file(tmp_path: Path, **config: object) -> Path:
    """A saved-settings file for a sandbox configured with ``config``."""
    path = tmp_path / "instance.json"
    doc = render_environment(SandboxConfig(**config))  # type: ignore[arg-type]
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def rehearse(path: Path, settings: Path, *extra: str) -> Result:
    """``run --sandbox --settings`` at a fast rate, no Clerk variables from the environment."""
    env = {"CLERK_SECRET_KEY": "", "CLERK_PUBLISHABLE_KEY": "", "CLERK_API_URL": ""}
    args = ["run", str(path), "-m", str(path.parent / "map.toml"), "--sandbox",
            "--settings", str(settings), "--rate", "2000", "-q", *extra]  # fmt: skip
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def states(path: Path, *wanted: RowState) -> set[int]:
    """Rows of the rehearsal's run directory in the ``wanted`` states."""
    db = path.parent / "users.sandbox.clerk-migrate" / "state.sqlite"
    with StateStore.open(db) as store:
        return set(store.row_numbers(wanted))


def test_a_rehearsal_with_mirrored_settings_reports_then_refuses_the_same_rows(
    tmp_path: Path,
) -> None:
    """The run's checks name the rows the mirrored sandbox then refuses, and the run goes on."""
    path = write(
        tmp_path, [row(1), row(2, phone="+14155550123"), row(3), row(4, phone="+14155550124")]
    )
    result = rehearse(path, settings_file(tmp_path, phone_enabled=False))
    assert result.exit_code == 3, result.output
    assert "[refuse] phone numbers are disabled on this instance: 2 rows carry one" in result.output
    assert states(path, RowState.FAILED) == {3, 5}
    assert states(path, RowState.CREATED) == {2, 4}


def test_a_whole_file_finding_stops_the_run_unless_accepted(tmp_path: Path) -> None:
    """Digests with password sign-in off: nothing is sent until --accept-findings."""
    path = write(tmp_path, [row(1, hash=DIGEST), row(2)])
    settings = settings_file(tmp_path, password_enabled=False)
    refused = rehearse(path, settings)
    assert refused.exit_code == 1
    assert "whole-file problem(s) (password_sign_in_off); nothing was sent" in refused.output
    assert states(path, RowState.PENDING) == {2, 3}
    accepted = rehearse(path, settings, "--accept-findings")
    assert accepted.exit_code == 0, accepted.output
    assert states(path, RowState.CREATED) == {2, 3}


def test_no_check_is_remembered_in_the_run_directory(tmp_path: Path) -> None:
    """--no-check skips the checks, and a later run of the same directory skips them too."""
    path = write(tmp_path, [row(1, hash=DIGEST), row(2)])
    settings = settings_file(tmp_path, password_enabled=False)
    first = rehearse(path, settings, "--no-check", "--limit", "1")
    assert first.exit_code == 0, first.output
    assert "Instance checks skipped" in first.output
    again = rehearse(path, settings)
    assert again.exit_code == 0, again.output
    assert "Instance checks skipped" in again.output
    assert states(path, RowState.CREATED) == {2, 3}


def test_settings_without_sandbox_is_a_usage_error(tmp_path: Path) -> None:
    """--settings mirrors an instance in the sandbox only: without --sandbox, exit 2."""
    path = write(tmp_path, [row(1)])
    settings = settings_file(tmp_path)
    result = CliRunner().invoke(
        main,
        ["run", str(path), "-m", str(tmp_path / "map.toml"), "--settings", str(settings)],
        env={"CLERK_SECRET_KEY": "sk_test_abcdefgh", "CLERK_API_URL": "http://127.0.0.1:9"},
    )
    assert result.exit_code == 2
    assert "--settings mirrors an instance in the sandbox: add --sandbox" in result.output
