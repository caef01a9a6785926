"""Every option is checked before anything is created: a bad ``--api-url`` is exit 2, one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile_cases import csv_bytes, files_text, run

from migrate._internal.runner.session import Target
from migrate._internal.secrets import Secret
from migrate.cli import main
from migrate.errors import ConfigError
from migrate.sandbox import SandboxHandle

BAD_URLS = {
    "plain_http_elsewhere": "http://clerk.invalid",
    "other_scheme": "ftp://127.0.0.1/v1",
    "no_host": "https://",
    "query": "https://clerk.invalid/v1?x=1",
    "fragment": "https://clerk.invalid/v1#top",
    "credentials": "https://admin:hunter2secret@clerk.invalid/v1",
    "credentials_loopback": "http://admin:hunter2secret@127.0.0.1:9/v1",
}


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_a_bad_api_url_is_refused_before_anything_exists(
    tmp_path: Path, mapping: Path, url: str
) -> None:
    """``run``: exit 2 with one ``Error:`` line, no run directory, no password in the output."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3))
    run_dir = tmp_path / "run"
    args = ["run", str(path), "--mapping", str(mapping), "--yes"]
    args += ["--api-url", url, "--run-dir", str(run_dir)]
    env = {"CLERK_SECRET_KEY": "sk_test_" + "k" * 30, "CLERK_API_URL": ""}
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: API URL ")
    assert result.output.count("\n") == 1
    assert "hunter2secret" not in result.output
    assert not run_dir.exists()


@pytest.mark.parametrize("command", ["retry", "verify", "rollback"])
@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_a_bad_api_url_leaves_an_existing_run_directory_alone(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle, url: str, command: str
) -> None:
    """Commands on a run directory refuse the URL (exit 2, one line) and record nothing."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3))
    run_dir = tmp_path / "run"
    assert run(sandbox, path, mapping, "--run-dir", str(run_dir)).exit_code == 0
    env = {"CLERK_SECRET_KEY": sandbox.secret_key, "CLERK_API_URL": ""}
    args = [command, str(run_dir), "--api-url", url] + (["--yes"] if command == "rollback" else [])
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: API URL ")
    assert result.output.count("\n") == 1
    assert "hunter2secret" not in files_text(run_dir)


def test_a_corrected_url_then_works_on_the_same_run_directory(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle
) -> None:
    """After a refused URL, the corrected command is not refused: nothing was bound."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes(3))
    run_dir = tmp_path / "run"
    key = sandbox.secret_key
    base = ["run", str(path), "--mapping", str(mapping), "--run-dir", str(run_dir), "-q"]
    bad = CliRunner().invoke(
        main, [*base, "--api-url", BAD_URLS["credentials_loopback"]],
        env={"CLERK_SECRET_KEY": key},
    )  # fmt: skip
    assert bad.exit_code == 2
    good = CliRunner().invoke(
        main,
        [*base, "--api-url", sandbox.url],
        env={"CLERK_SECRET_KEY": key},  # type: ignore[attr-defined]
    )
    assert good.exit_code == 0, good.output
    assert b"hunter2secret" not in (run_dir / "state.sqlite").read_bytes()


@pytest.mark.parametrize("url", BAD_URLS.values(), ids=BAD_URLS.keys())
def test_a_library_target_refuses_a_bad_url(url: str) -> None:
    """``Target`` (what a run records) cannot be made with a URL a run would refuse."""
    with pytest.raises(ConfigError) as err:
        Target(url, Secret("sk_test_x"))
    assert "hunter2secret" not in str(err.value)
