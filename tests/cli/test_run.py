"""``clerk-migrate run`` end to end: real HTTP to a sandbox on 127.0.0.1, CLI in-process."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
from click.testing import CliRunner, Result

from migrate._internal.api import passes
from migrate._internal.api.passes import signals_supported
from migrate._internal.state import StateStore
from migrate.cli import main
from migrate.sandbox import FaultConfig, SandboxConfig, SandboxHandle, running_sandbox

MAPPING = """
[source]
format = "csv"
key = "id"

[fields]
external_id = "id"
email_address = { column = "email", transform = ["strip", "lower"] }
first_name = "first"
password_digest = "hash"
password_hasher = { value = "bcrypt" }
totp_secret = "totp"
backup_codes = { column = "codes", split = ";" }
"""
HEADER = ["id", "email", "first", "hash", "totp", "codes"]
TOTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# one real digest, salted differently per row by text (never verified in these tests)
DIGEST = bcrypt.hashpw(b"correct horse", bcrypt.gensalt(4)).decode()


def _rows(n: int, *, bad: int = 0) -> list[list[str]]:
    rows = []
    for i in range(1, n + 1):
        email = f"user{i}@example.com" if i > bad else f"broken{i}@"
        rows.append([f"u{i}", email, f"Name{i}", DIGEST, TOTP, f"code{i}a;code{i}b"])
    return rows


def write_input(directory: Path, n: int, *, bad: int = 0, name: str = "users.csv") -> Path:
    """A CSV export with ``n`` rows (the first ``bad`` with an invalid email) + its mapping."""
    path = directory / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(_rows(n, bad=bad))
    (directory / "map.toml").write_text(MAPPING, encoding="utf-8")
    return path


def invoke(handle: SandboxHandle | None, *args: str, key: str | None = None) -> Result:
    """Run the CLI in-process with the sandbox's URL and key in the environment."""
    env = {"CLERK_SECRET_KEY": key or (handle.secret_key if handle else "")}
    if handle is not None:
        env["CLERK_API_URL"] = handle.url
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def run(handle: SandboxHandle, path: Path, *extra: str) -> Result:
    """``clerk-migrate run`` at a fast rate against ``handle``."""
    return invoke(handle, "run", str(path), "--mapping", str(path.parent / "map.toml"),
                  "--rate", "2000", "--quiet", *extra)  # fmt: skip


def run_dir(path: Path) -> Path:
    """The default run directory of an input."""
    return path.parent / f"{path.name.split('.')[0]}.clerk-migrate"


def external_ids(handle: SandboxHandle) -> list[str | None]:
    """Every user's external_id in the sandbox."""
    return [u.external_id for u in handle.store]


def test_run_creates_every_valid_row_and_exits_3_for_invalid_ones(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Valid rows become users once; invalid rows are never sent; exit code 3."""
    path = write_input(tmp_path, 20, bad=2)
    result = run(sandbox, path)
    assert result.exit_code == 3, result.output
    assert sorted(external_ids(sandbox)) == sorted(f"u{i}" for i in range(3, 21))
    assert sandbox.counters()["creates"] == 18
    assert "Rows: 20 (18 created · 2 invalid)" in result.output


def test_an_all_valid_input_exits_0(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Every row created: exit 0."""
    path = write_input(tmp_path, 5)
    assert run(sandbox, path).exit_code == 0


def test_running_again_resumes_without_resending(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """The same command a second time sends nothing new and keeps the same results."""
    path = write_input(tmp_path, 10)
    run(sandbox, path)
    before = sandbox.counters()["creates"]
    again = run(sandbox, path)
    assert again.exit_code == 0
    assert sandbox.counters()["creates"] == before == 10
    assert "resuming" in again.output


def test_a_canary_run_sends_only_the_window(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """--rows A-B and --limit N send only that slice; the rest stays pending for later."""
    path = write_input(tmp_path, 30)
    result = run(sandbox, path, "--rows", "5-20", "--limit", "3")
    assert sorted(external_ids(sandbox)) == ["u4", "u5", "u6"]  # rows 5..7 hold u4..u6
    assert "27 rows still pending" in result.output
    assert result.exit_code == 0


def test_a_sample_run_sends_rows_spread_over_the_file(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """--sample N sends N pending rows spread evenly over the file; again, N more of the rest."""
    path = write_input(tmp_path, 30)
    result = run(sandbox, path, "--sample", "3")
    assert result.exit_code == 0, result.output
    assert sorted(external_ids(sandbox), key=lambda e: int(str(e)[1:])) == ["u6", "u16", "u26"]
    assert "27 rows still pending" in result.output
    again = run(sandbox, path, "--sample", "3")
    assert again.exit_code == 0
    assert len(sandbox.store) == 6
    assert "24 rows still pending" in again.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--sample", "0"), "--sample must be at least 1"),
        (("--sample", "2", "--limit", "2"), "--limit and --sample both pick rows"),
    ],
)
def test_a_bad_sample_is_refused_before_any_request(
    sandbox: SandboxHandle, tmp_path: Path, extra: tuple[str, ...], message: str
) -> None:
    """--sample below 1, or with --limit, is a usage error (exit 2) and nothing is sent."""
    path = write_input(tmp_path, 5)
    result = run(sandbox, path, *extra)
    assert result.exit_code == 2
    assert message in result.output
    assert sandbox.counters()["requests"] == 0


def test_changed_input_is_refused_naming_the_file(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A rerun after the input changed is refused with a message that names it (exit 1)."""
    path = write_input(tmp_path, 3)
    run(sandbox, path)
    write_input(tmp_path, 4)
    result = run(sandbox, path)
    assert result.exit_code == 1
    assert "input users.csv changed" in result.output


def test_changed_mapping_is_refused(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """A rerun after the mapping changed is refused with 'the mapping changed'."""
    path = write_input(tmp_path, 3)
    run(sandbox, path)
    (tmp_path / "map.toml").write_text(MAPPING + "\n[options]\nskip_password_checks = true\n")
    result = run(sandbox, path)
    assert result.exit_code == 1
    assert "the mapping changed" in result.output


def test_a_missing_key_is_a_usage_error(tmp_path: Path) -> None:
    """No CLERK_SECRET_KEY and no --secret-key-file: exit 2 with a clear message."""
    path = write_input(tmp_path, 1)
    result = invoke(None, "run", str(path), "--mapping", str(tmp_path / "map.toml"))
    assert result.exit_code == 2
    assert "no secret key: set CLERK_SECRET_KEY or pass --secret-key-file" in result.output


def test_production_without_yes_and_without_a_terminal_is_refused(tmp_path: Path) -> None:
    """An sk_live_ key with no TTY and no --yes is refused before the first request."""
    with running_sandbox(SandboxConfig.for_tests(instance="production")) as prod:
        path = write_input(tmp_path, 3)
        result = run(prod, path)
        assert result.exit_code == 2
        assert "About to write to a PRODUCTION Clerk instance" in result.output
        assert "rows: 3 in the plan, 3 to send" in result.output
        assert "no terminal to ask on; pass --yes to proceed" in result.output
        assert prod.counters()["requests"] == 0
        confirmed = run(prod, path, "--yes")
        assert confirmed.exit_code == 0
        assert len(prod.store) == 3


@pytest.mark.parametrize(
    ("extra", "shown"),
    [
        (("--rows", "5-9"), "10 in the plan, 5 to send (rows 5-9)"),
        (("--rows", "5-9", "--limit", "2"), "10 in the plan, 2 to send (rows 5-9, the first 2)"),
        (("--sample", "4"), "10 in the plan, 4 to send (4 spread over the file)"),
    ],
)
def test_the_production_question_counts_only_the_rows_this_pass_sends(
    tmp_path: Path, extra: tuple[str, ...], shown: str
) -> None:
    """The confirmation's "to send" counts the pending rows within --rows, capped by the canary."""
    with running_sandbox(SandboxConfig.for_tests(instance="production")) as prod:
        path = write_input(tmp_path, 10)
        result = run(prod, path, *extra)
        assert result.exit_code == 2
        assert f"rows: {shown}, 0 invalid" in result.output
        assert prod.counters()["requests"] == 0


def test_overfilling_a_development_instance_is_warned_before_sending(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """More rows than a development instance's usual 100-user cap: a warning first, then the
    run goes on (Clerk can raise the cap); a pass that fits says nothing."""
    small = write_input(tmp_path, 10, name="small.csv")
    quiet = run(sandbox, small)
    assert quiet.exit_code == 0
    assert "usually hold at most" not in quiet.output
    big = write_input(tmp_path, 95, name="big.csv")
    result = run(sandbox, big)
    assert result.exit_code == 0
    assert (
        "Warning: development instances usually hold at most 100 users; this one has 10 and "
        "this pass sends 95, so Clerk will likely stop the run with user_quota_exceeded after "
        "about 90 more"
    ) in result.output
    assert len(sandbox.store) == 95  # big.csv repeats small.csv's ten users: found, not resent


def test_an_abort_code_stops_the_run_resumably(tmp_path: Path) -> None:
    """user_quota_exceeded stops the run (exit 1), nothing lost; a rerun with room finishes."""
    path = write_input(tmp_path, 12)
    with running_sandbox(SandboxConfig.for_tests(user_cap=5)) as capped:
        result = run(capped, path, "--concurrency", "1")
        assert result.exit_code == 1
        assert "user_quota_exceeded" in result.output
        assert "resume with" in result.output
        assert len(capped.store) == 5
        users = {u.external_id for u in capped.store}
    state = json.loads((run_dir(path) / "summary.json").read_text())
    assert state["counts"]["created"] == 5
    assert state["counts"]["pending"] == 7
    # The same instance with its quota raised is played by a second sandbox on another port and
    # key: forget the recorded target, which would otherwise (rightly) refuse another instance.
    with StateStore.open(run_dir(path) / "state.sqlite") as store:
        store.set_meta("target", None)
    with running_sandbox(SandboxConfig.for_tests()) as roomy:
        for ext in sorted(users, key=str):  # the first instance's users, carried over
            _create(roomy, ext)
        again = run(roomy, path)
        assert again.exit_code == 0
        assert sorted(external_ids(roomy), key=str) == sorted(f"u{i}" for i in range(1, 13))


def _create(handle: SandboxHandle, external_id: str | None, email: str | None = None) -> str:
    body: dict[str, Any] = {"external_id": external_id}
    body["email_address"] = [email or f"user{str(external_id)[1:]}@example.com"]
    response = httpx.post(
        f"{handle.url}/v1/users",
        json=body,
        headers={"Authorization": f"Bearer {handle.secret_key}"},
    )
    response.raise_for_status()
    return str(response.json()["id"])


def test_identifier_conflicts_reconcile(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Same external_id already there -> exists with its id; email held by another -> conflict."""
    path = write_input(tmp_path, 3)
    existing = _create(sandbox, "u1")
    _create(sandbox, "someone-else", "user2@example.com")
    result = run(sandbox, path)
    assert result.exit_code == 3
    with (run_dir(path) / "id_map.csv").open() as handle:
        id_map = {r["key"]: r["clerk_user_id"] for r in csv.DictReader(handle)}
    assert id_map["u1"] == existing
    with (run_dir(path) / "errors.csv").open() as handle:
        errors = list(csv.DictReader(handle))
    assert [(e["row"], e["code"], e["field"]) for e in errors] == [
        ("3", "form_identifier_exists", "email_address")
    ]
    assert "user2@example.com already belongs to another Clerk user" in errors[0]["message"]
    summary = json.loads((run_dir(path) / "summary.json").read_text())
    assert summary["counts"]["exists"] == 1


def test_redacted_reports_mask_every_email_and_stay_redacted(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """--redact-emails masks addresses in errors.csv/jsonl (email, key, value, message) for this and
    every later report of the run; failed_rows keeps the rows as they were, to be fixed."""
    path = write_input(tmp_path, 4, bad=1)
    _create(sandbox, "someone-else", "user3@example.com")
    result = run(sandbox, path, "--redact-emails")
    assert result.exit_code == 3
    out = run_dir(path)

    def texts() -> tuple[str, list[dict[str, str]]]:
        jsonl = (out / "errors.jsonl").read_text()
        with (out / "errors.csv").open() as handle:
            return (out / "errors.csv").read_text() + jsonl, list(csv.DictReader(handle))

    def check() -> None:
        text, lines = texts()
        assert [(e["row"], e["email"], e["value"]) for e in lines] == [
            ("2", "b…@", "b…@"), ("4", "u…@example.com", ""),
        ]  # fmt: skip
        assert "u…@example.com already belongs to another Clerk user" in lines[1]["message"]
        assert "broken1@" not in text
        assert "user3@" not in text

    check()
    assert "broken1@" in (out / "failed_rows.csv").read_text()
    assert "user3@example.com" in (out / "failed_rows.csv").read_text()
    assert invoke(sandbox, "report", str(out)).exit_code == 0  # no flag: still redacted
    check()
    plain = tmp_path / "plain"
    plain.mkdir()
    again = write_input(plain, 4, bad=1)
    run(sandbox, again)
    assert "broken1@" in (run_dir(again) / "errors.csv").read_text()


def test_reports_have_the_documented_content(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """errors.csv/jsonl, failed_rows.csv (original rows), id_map.csv and summary.json."""
    path = write_input(tmp_path, 4, bad=1)
    run(sandbox, path)
    out = run_dir(path)
    with (out / "errors.csv").open() as handle:
        errors = list(csv.DictReader(handle))
    assert list(errors[0]) == [
        "row", "key", "email", "stage", "field", "code", "value", "message", "hint",
    ]  # fmt: skip
    assert [(e["row"], e["key"], e["stage"], e["code"]) for e in errors] == [
        ("2", "u1", "validation", "invalid_email")
    ]
    jsonl = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert jsonl == [{k: (int(v) if k == "row" else v) for k, v in errors[0].items()}]
    with (out / "failed_rows.csv").open() as handle:
        failed = list(csv.reader(handle))
    assert failed[0] == HEADER
    assert failed[1] == _rows(4, bad=1)[0]
    with (out / "id_map.csv").open() as handle:
        id_map = list(csv.DictReader(handle))
    by_ext = {u.external_id: u for u in sandbox.store}
    assert [(r["key"], r["external_id"]) for r in id_map] == [(f"u{i}", f"u{i}") for i in (2, 3, 4)]
    assert all(r["clerk_user_id"] == sandbox.store.user_id(by_ext[r["key"]].seq) for r in id_map)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["counts"] == {"created": 3, "exists": 0, "failed": 0, "in_flight": 0,
                                 "invalid": 1, "pending": 0}  # fmt: skip
    assert summary["top_codes"] == [{"code": "invalid_email", "rows": 1}]
    assert summary["run"]["last_pass"]["created"] == 3
    assert summary["reports"] == ["errors.csv", "errors.jsonl", "failed_rows.csv", "id_map.csv",
                                  "summary.json"]  # fmt: skip


def test_no_secret_reaches_output_reports_or_state(sandbox: SandboxHandle, tmp_path: Path) -> None:
    """Digests, TOTP secrets, backup codes and the key appear nowhere but failed_rows."""
    path = write_input(tmp_path, 6, bad=2)
    _create(sandbox, "someone-else", "user4@example.com")  # a Clerk-side failure too
    result = run(sandbox, path)
    out = run_dir(path)
    secrets = [DIGEST, DIGEST.split("$")[-1], TOTP, "code3a", "code5b", sandbox.secret_key]
    texts = {"output": result.output}
    for file in out.iterdir():
        if file.name != "failed_rows.csv":
            texts[file.name] = file.read_bytes().decode("utf-8", "replace")
    for name, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{name} leaks a secret"
    # failed_rows is the operator's own rows, to fix and feed back: private to the owner
    assert (out / "failed_rows.csv").stat().st_mode & 0o077 == 0


def test_429_storms_are_paced_and_every_row_created_once(tmp_path: Path) -> None:
    """A tight rate limit with Retry-After: every row still created exactly once."""
    path = write_input(tmp_path, 40)
    config = SandboxConfig.for_tests(rate_limit=10, rate_window=0.2)
    with running_sandbox(config) as limited:
        result = run(limited, path)
        assert result.exit_code == 0, result.output
        assert limited.counters()["rate_limited"] > 0
        assert sorted(external_ids(limited), key=str) == sorted(f"u{i}" for i in range(1, 41))
    summary = json.loads((run_dir(path) / "summary.json").read_text())
    assert summary["run"]["last_pass"]["rate_limited_429"] == limited.counters()["rate_limited"]


def test_5xx_bursts_and_lost_responses_never_duplicate(tmp_path: Path) -> None:
    """With 5xx and lost responses injected, no row is ever created twice, and rows that gave
    up (failed, retryable) are created once by ``retry``."""
    path = write_input(tmp_path, 40)
    faults = FaultConfig(error_rate=0.05, lost_rate=0.05)
    with running_sandbox(SandboxConfig.for_tests(faults=faults, seed=3)) as flaky:
        result = run(flaky, path)
        assert result.exit_code in (0, 3), result.output
        assert flaky.counters()["faults"]
        ids = external_ids(flaky)
        assert len(ids) == len(set(ids))
        for _ in range(5):
            if result.exit_code == 0:
                break
            result = invoke(flaky, "retry", str(run_dir(path)), "--rate", "2000", "--quiet")
        assert result.exit_code == 0, result.output
        ids = external_ids(flaky)
    assert sorted(ids, key=str) == sorted(f"u{i}" for i in range(1, 41))
    summary = json.loads((run_dir(path) / "summary.json").read_text())
    assert summary["counts"]["created"] == 40


def test_join_files_are_given_on_the_command_line_and_remembered(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """--join supplies a [[join]] file; the run records it, so retry needs no --join."""
    (tmp_path / "users.csv").write_text("id,email\nu1,user1@example.com\nu2,user2@example.com\n")
    (tmp_path / "names.csv").write_text("uid,name\nu1,Ada\nu2,Grace\n")
    (tmp_path / "map.toml").write_text(
        '[source]\nformat = "csv"\nkey = "id"\n\n[fields]\nexternal_id = "id"\n'
        'email_address = "email"\nfirst_name = "names.name"\n\n'
        '[[join]]\nname = "names"\non = "id"\nright_on = "uid"\n'
    )
    path = tmp_path / "users.csv"
    result = run(sandbox, path, "--join", f"names={tmp_path / 'names.csv'}")
    assert result.exit_code == 0, result.output
    assert sorted(u.first_name or "" for u in sandbox.store) == ["Ada", "Grace"]
    again = invoke(sandbox, "retry", str(run_dir(path)), "--rate", "2000", "--quiet")
    assert again.exit_code == 0, again.output


def test_the_key_can_come_from_a_file_and_is_never_echoed(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """--secret-key-file works; a malformed key is refused without printing it."""
    path = write_input(tmp_path, 2)
    key_file = tmp_path / "key"
    key_file.write_text(sandbox.secret_key + "\n")
    args = ["run", str(path), "--mapping", str(tmp_path / "map.toml"), "--api-url", sandbox.url,
            "--secret-key-file", str(key_file)]  # fmt: skip
    ok = invoke(None, *args, "--rate", "2000", "-q")
    assert ok.exit_code == 0, ok.output
    assert sandbox.secret_key not in ok.output
    key_file.write_text("not-a-clerk-key-hunter2")
    bad = invoke(None, *args)
    assert bad.exit_code == 2
    assert "does not look like a Clerk key" in bad.output
    assert "hunter2" not in bad.output


def test_a_second_process_on_the_same_run_directory_is_refused(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """While one process holds the run directory, another run is refused (exit 1)."""
    path = write_input(tmp_path, 2)
    run(sandbox, path)
    with StateStore.open(run_dir(path) / "state.sqlite", lock=True):
        result = run(sandbox, path)
    assert result.exit_code == 1
    assert "in use by another clerk-migrate process" in result.output


@pytest.mark.parametrize(("answer", "code", "created"), [("y\n", 0, 3), ("n\n", 1, 0)])
def test_production_asks_a_person_at_a_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, code: int, created: int
) -> None:
    """At a terminal, an sk_live_ run asks first: yes proceeds, no stops before any request."""
    monkeypatch.setattr("migrate.cli._shell.interactive", lambda: True)
    with running_sandbox(SandboxConfig.for_tests(instance="production")) as prod:
        path = write_input(tmp_path, 3)
        env = {"CLERK_SECRET_KEY": prod.secret_key, "CLERK_API_URL": prod.url}
        args = ["run", str(path), "--mapping", str(tmp_path / "map.toml"), "--rate", "2000", "-q"]
        result = CliRunner().invoke(main, args, env=env, input=answer, catch_exceptions=False)
        assert result.exit_code == code, result.output
        assert "Proceed? [y/N]" in result.output
        assert "estimated duration" in result.output
        assert len(prod.store) == created


def test_a_run_directory_refuses_another_instance(tmp_path: Path) -> None:
    """A run directory used against one instance (here a rehearsal sandbox) is refused for
    another, with both named, before anything is sent; the recorded target holds no key."""
    path = write_input(tmp_path, 3)
    with running_sandbox(SandboxConfig.for_tests()) as first:
        assert run(first, path).exit_code == 0
        key = first.secret_key
    with running_sandbox(SandboxConfig.for_tests()) as other:
        again = run(other, path)
        assert again.exit_code == 1
        assert "this run directory belongs to the development instance at" in again.output
        assert "Use a new --run-dir for another instance" in again.output
        assert len(other.store) == 0
    state = (run_dir(path) / "state.sqlite").read_bytes()
    assert key.encode() not in state


def test_a_sandbox_rehearsal_keeps_its_own_default_run_directory(tmp_path: Path) -> None:
    """--sandbox writes to <stem>.sandbox.clerk-migrate, so the real run that follows with the
    same command line (minus --sandbox) starts its own checkpoint."""
    path = write_input(tmp_path, 2)
    result = CliRunner().invoke(
        main, ["run", str(path), "--mapping", str(tmp_path / "map.toml"), "--sandbox", "-q"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "users.sandbox.clerk-migrate" / "summary.json").is_file()
    assert not run_dir(path).exists()


def test_without_signal_support_a_run_still_completes(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where signals cannot be watched (Windows), the pass runs without a signal receiver."""

    def no_receiver(*_: object) -> None:
        raise NotImplementedError("signal handling is not supported on this platform")

    monkeypatch.setattr(passes.anyio, "open_signal_receiver", no_receiver)
    monkeypatch.setattr(passes, "signals_supported", lambda: False)
    path = write_input(tmp_path, 5)
    assert run(sandbox, path).exit_code == 0
    assert len(sandbox.store) == 5


def test_signals_are_watched_except_on_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The pass watches SIGINT/SIGTERM on POSIX, and relies on KeyboardInterrupt on Windows."""
    assert signals_supported()
    monkeypatch.setattr(sys, "platform", "win32")
    assert not signals_supported()
