"""The public API (``migrate.run`` …): typed results, callbacks, stopping, and the docs' example."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import migrate
from migrate.sandbox import SandboxConfig, SandboxHandle, running_sandbox

ROOT = Path(__file__).resolve().parents[2]
MAPPING = '[source]\nkey = "id"\n\n[fields]\nexternal_id = "id"\nemail_address = "email"\n'


def write_input(directory: Path, n: int, *, bad: int = 0) -> tuple[Path, Path]:
    """``n`` rows (the first ``bad`` with an invalid email) and their mapping."""
    users = directory / "users.csv"
    with users.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "email"])
        for i in range(1, n + 1):
            writer.writerow([f"u{i}", f"user{i}@example.com" if i > bad else f"broken{i}@"])
    mapping = directory / "map.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return users, mapping


def to(handle: SandboxHandle) -> migrate.Connection:
    """A connection to a test sandbox with its key."""
    return migrate.Connection(api_url=handle.url, secret_key=migrate.Secret(handle.secret_key))


def test_the_documented_example_runs_against_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/library.md's example validates and rehearses the Django sample as it says."""
    text = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    example = next(b for b in blocks if "migrate.run(" in b and "import migrate" in b)
    shutil.copytree(ROOT / "samples" / "django", tmp_path / "samples" / "django")
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "docs/library.md", "exec"), {})  # noqa: S102 - the docs' own code
    out = capsys.readouterr().out
    assert "32 valid, 4 invalid" in out
    assert "32 created, 4 invalid" in out
    assert "exit code 3" in out
    assert (tmp_path / "out" / "rehearsal" / "id_map.csv").is_file()


def test_run_returns_counts_reports_and_the_exit_code(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A run's result holds the rows per state, this pass's figures and the reports written."""
    users, mapping = write_input(tmp_path, 6, bad=2)
    seen: list[migrate.Progress] = []
    notices: list[str] = []
    result = migrate.run(
        users, mapping, connection=to(sandbox), rate=2000, on_progress=seen.append,
        on_notice=notices.append,
    )  # fmt: skip
    assert result.summary.count("created") == 4
    assert result.summary.count("invalid") == 2
    assert result.this_pass is not None
    assert result.this_pass.created == 4
    assert result.exit_code == migrate.ExitCode.FAILED_ROWS
    assert {p.name for p in result.summary.reports} >= {"errors.csv", "id_map.csv"}
    assert all(p.is_file() for p in result.summary.reports)
    assert seen
    assert seen[-1].done == seen[-1].total == 4
    assert notices[0].startswith("planned ")
    assert result.notices == tuple(notices)
    assert len(sandbox.store) == 4


def test_should_stop_ends_a_pass_cleanly_and_a_second_call_resumes(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Setting should_stop mid-pass returns interrupted (exit 130) with rows still pending;
    calling run again sends the rest, each row once."""
    users, mapping = write_input(tmp_path, 300)
    stop = threading.Event()

    def halt_after_the_first_batch(progress: migrate.Progress) -> None:
        if progress.done:
            stop.set()

    first = migrate.run(
        users, mapping, connection=to(sandbox), rate=100, on_progress=halt_after_the_first_batch,
        should_stop=stop,
    )  # fmt: skip
    assert first.interrupted
    assert first.exit_code == migrate.ExitCode.INTERRUPTED
    assert 0 < first.summary.count("created") < 300
    assert first.summary.count("pending") > 0
    again = migrate.run(users, mapping, connection=to(sandbox), rate=2000)
    assert again.resumed
    assert again.exit_code == migrate.ExitCode.OK
    assert sorted(u.external_id or "" for u in sandbox.store) == sorted(
        f"u{i}" for i in range(1, 301)
    )


def test_production_needs_a_confirmation(tmp_path: Path) -> None:
    """Against a production key, run refuses without confirm or yes, and sends nothing when
    confirm says no; confirm sees the plan's counts."""
    users, mapping = write_input(tmp_path, 3)
    asked: list[migrate.Confirmation] = []
    with running_sandbox(SandboxConfig.for_tests(instance="production")) as prod:
        with pytest.raises(migrate.ConfigError, match="without confirmation"):
            migrate.run(users, mapping, connection=to(prod), run_dir=tmp_path / "a")

        def no(question: migrate.Confirmation) -> bool:
            asked.append(question)
            return False

        with pytest.raises(migrate.MigrateError, match="not confirmed"):
            migrate.run(users, mapping, connection=to(prod), run_dir=tmp_path / "b", confirm=no)
        assert len(prod.store) == 0
        done = migrate.run(
            users, mapping, connection=to(prod), run_dir=tmp_path / "c", rate=2000, yes=True
        )
        assert done.exit_code == migrate.ExitCode.OK
        assert len(prod.store) == 3
    assert (asked[0].rows, asked[0].to_send, asked[0].invalid) == (3, 3, 0)


def test_bad_options_raise_before_anything_is_created(tmp_path: Path) -> None:
    """A bad limit or a missing key is a ConfigError, and no run directory is made."""
    users, mapping = write_input(tmp_path, 3)
    with pytest.raises(migrate.ConfigError, match="--limit must be at least 1"):
        migrate.run(users, mapping, connection=migrate.Connection(sandbox=True), limit=0)
    with pytest.raises(migrate.ConfigError, match="no secret key"):
        migrate.run(users, mapping, connection=migrate.Connection(api_url="http://127.0.0.1:9"))
    assert not list(tmp_path.glob("*.clerk-migrate"))


def test_verify_rollback_and_report_work_from_the_run_directory(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """After a run, verify finds every user, rollback deletes them (rows pending again) and
    report rewrites the reports; each returns its exit code."""
    users, mapping = write_input(tmp_path, 4)
    ran = migrate.run(users, mapping, connection=to(sandbox), rate=2000)
    checked = migrate.verify(ran.run_dir, connection=to(sandbox), rate=2000)
    assert (checked.checked, checked.mismatches, checked.exit_code) == (4, (), 0)
    assert checked.report.is_file()
    with pytest.raises(migrate.ConfigError, match="without confirmation"):
        migrate.rollback(ran.run_dir, connection=to(sandbox))
    rolled = migrate.rollback(ran.run_dir, connection=to(sandbox), yes=True, rate=2000)
    assert (rolled.asked, rolled.deleted, rolled.refused) == (4, 4, ())
    assert rolled.summary is not None
    assert rolled.summary.count("pending") == 4
    assert len(sandbox.store) == 0
    rewritten = migrate.report(ran.run_dir)
    assert rewritten.summary.count("pending") == 4
    assert rewritten.exit_code == migrate.ExitCode.OK


def test_validate_returns_the_summary_and_report_paths(tmp_path: Path) -> None:
    """validate counts valid and invalid rows, writes its reports and exits 3 when some fail."""
    users, mapping = write_input(tmp_path, 5, bad=1)
    result = migrate.validate(users, mapping, out_dir=tmp_path / "v", preview=1)
    assert (result.summary["valid"], result.invalid) == (4, 1)
    assert result.exit_code == migrate.ExitCode.FAILED_ROWS
    assert result.errors_csv.is_file()
    assert result.summary_json.is_file()
    assert result.previews[0].body["email_address"] == ["broken1@"]


def test_importing_migrate_loads_no_heavy_module() -> None:
    """``import migrate`` stays cheap: the API's modules (polars, httpx) load on first use."""
    code = (
        "import sys, migrate; "
        "api = 'migrate._internal.api'; "
        "print(sorted(m for m in ('polars', 'httpx', api) if m in sys.modules)); "
        "migrate.validate; print('polars' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["[]", "True"]


def test_every_public_name_resolves() -> None:
    """Each name in migrate.__all__ is importable, and nothing else is offered lazily."""
    for name in migrate.__all__:
        assert getattr(migrate, name) is not None
    with pytest.raises(AttributeError):
        _ = migrate.not_a_name  # type: ignore[attr-defined]
