"""Rows corrected by ``retry --input`` through rollback and the next ``run``: the CLI
in-process against a real-socket sandbox, the checkpoint a real SQLite file."""

from __future__ import annotations

from pathlib import Path

from cycle_cli import counts, invoke, run, users, write_csv

from migrate._internal.state import Completed, Failed, Fingerprints, PlanRow, StateStore
from migrate.sandbox import SandboxHandle

ROWS = [
    ["u1", "user1@example.com"],
    ["u2", "not-an-email"],
    ["u3", "also bad"],
]


def test_run_after_rollback_never_sends_a_corrected_row_from_the_original(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """After retry --input, rollback and the same run, a row valid only in the corrected file is
    not sent with its original (invalid) data: run names the retry command that sends it with
    the data it was created from, and that command recreates it so."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    assert run(sandbox, path).exit_code == 3
    out = tmp_path / "users.clerk-migrate"
    fixed = write_csv(tmp_path / "fixed.csv", [["u2", "user2@example.com"]])
    assert invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q").exit_code == 3
    assert users(sandbox) == {"u1": ("user1@example.com",), "u2": ("user2@example.com",)}
    rolled = invoke(sandbox, "rollback", str(out), "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert users(sandbox) == {}
    requests = sandbox.counters()["requests"]
    again = run(sandbox, path)
    assert again.exit_code == 1, again.output
    assert (
        f"1 row(s) wait to be sent from a corrected file; finish them with "
        f"`clerk-migrate retry {out} --input {fixed}`" in again.output
    ), again.output
    assert sandbox.counters()["requests"] == requests
    assert users(sandbox) == {}
    resent = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert resent.exit_code == 3, resent.output
    assert users(sandbox) == {"u1": ("user1@example.com",), "u2": ("user2@example.com",)}
    assert counts(out) == {"created": 2, "exists": 0, "failed": 0, "in_flight": 0,
                                "invalid": 1, "pending": 0}  # fmt: skip


def test_retry_without_input_leaves_a_corrected_row_to_its_file(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """After a rollback, retry without --input sends the rows valid in the original input but
    not a row whose data came from a corrected file, and names the command that sends it."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    fixed = write_csv(tmp_path / "fixed.csv", [["u2", "user2@example.com"]])
    invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    invoke(sandbox, "rollback", str(out), "--yes")
    result = invoke(sandbox, "retry", str(out), "-q")
    assert (
        f"1 rows take their data from {fixed} and are not sent from {path}: send them with "
        f"`clerk-migrate retry {out} --input {fixed}`." in result.output
    ), result.output
    assert users(sandbox) == {"u1": ("user1@example.com",)}
    assert counts(out)["pending"] == 1


def test_corrected_waiting_counts_rows_a_pass_would_send(tmp_path: Path) -> None:
    """corrected_waiting counts, per file, the corrected rows that are pending or failed on a
    transient error, not those created, refused by Clerk or invalid."""
    store = StateStore.create(tmp_path / "s.sqlite", Fingerprints({"a": "1"}, "m"), {})
    with store:
        store.plan([PlanRow(r, f"k{r}", f"k{r}") for r in range(1, 6)])
        store.claim([2, 3, 4])
        store.record_many([
            Completed(2, "user_2"),
            Failed(3, "internal_clerk_error", None, "boom", retryable=True),
            Failed(4, "form_password_pwned", None, "pwned"),
        ])  # fmt: skip
        store.note_corrected([1, 2, 3, 4], "/data/a.csv")
        store.note_corrected([5], "/data/b.csv")
        assert store.corrected_waiting() == {"/data/a.csv": 2, "/data/b.csv": 1}
        assert store.corrected_rows()[5] == "/data/b.csv"
