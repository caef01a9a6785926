"""``retry --input`` on invalid rows and ``rollback`` putting rows back, end to end: the CLI
in-process against a real-socket sandbox, the checkpoint a real SQLite file."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import httpx
from click.testing import CliRunner, Result

from migrate._internal.state import PlanRow, RowState, StateStore
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
"""
HEADER = ["id", "email", "phone"]
ROWS = [
    ["u1", "user1@example.com", ""],
    ["u2", "not-an-email", ""],
    ["u3", "also bad", ""],
    ["u4", "user4@example.com", ""],
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    """A CSV export with the header and ``rows``; the mapping beside it."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    (path.parent / "map.toml").write_text(MAPPING)
    return path


def invoke(handle: SandboxHandle, *args: str) -> Result:
    """The CLI in-process with the sandbox's URL and key in the environment."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    return CliRunner().invoke(main, [*args, "--rate", "2000"], env=env, catch_exceptions=False)


def run(handle: SandboxHandle, path: Path) -> Result:
    """``clerk-migrate run`` with the mapping beside the input."""
    return invoke(handle, "run", str(path), "--mapping", str(path.parent / "map.toml"), "-q")


def summary(run_dir: Path) -> dict[str, object]:
    """summary.json of the run directory."""
    return dict(json.loads((run_dir / "summary.json").read_text()))


def read_csv(path: Path) -> list[dict[str, str]]:
    """A report's rows as dicts."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def users(handle: SandboxHandle) -> dict[str | None, tuple[str, ...]]:
    """The sandbox's users: external_id -> emails."""
    return {u.external_id: u.emails for u in handle.store}


def test_retry_input_sends_invalid_rows_once_corrected(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """An invalid row corrected in the fixed file is sent with the corrected data; one still
    invalid there stays invalid with the new reason and value in errors.csv."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    assert run(sandbox, path).exit_code == 3
    out = tmp_path / "users.clerk-migrate"
    assert summary(out)["counts"] == {"created": 2, "exists": 0, "failed": 0, "in_flight": 0,
                                      "invalid": 2, "pending": 0}  # fmt: skip
    fixed = write_csv(
        tmp_path / "fixed.csv",
        [["u3", "user3@example.com", "not a phone"], ["u2", "user2@example.com", ""]],
    )
    result = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert result.exit_code == 3, result.output
    assert "0 failed rows back in the queue." in result.output
    assert (
        "1 invalid rows now pass validation and are back in the queue; 1 are still invalid "
        "(new reasons in errors.csv)." in result.output
    )
    assert users(sandbox) == {
        "u1": ("user1@example.com",), "u4": ("user4@example.com",), "u2": ("user2@example.com",),
    }  # fmt: skip
    counts = summary(out)["counts"]
    assert isinstance(counts, dict)
    assert (counts["created"], counts["invalid"], counts["pending"]) == (3, 1, 0)
    errors = read_csv(out / "errors.csv")
    assert [(e["row"], e["key"], e["code"], e["field"], e["value"]) for e in errors] == [
        ("4", "u3", "invalid_phone", "phone_number", "not a phone"),
    ]
    assert [r["key"] for r in read_csv(out / "id_map.csv")] == ["u1", "u2", "u4"]


def test_retry_without_input_leaves_invalid_rows_alone(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Without --input the data did not change: invalid rows stay invalid and nothing is sent."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    requests = sandbox.counters()["requests"]
    result = invoke(sandbox, "retry", str(out), "-q")
    assert result.exit_code == 3
    assert "0 failed rows back in the queue." in result.output
    assert "invalid rows now pass" not in result.output
    assert sandbox.counters()["requests"] == requests
    counts = summary(out)["counts"]
    assert isinstance(counts, dict)
    assert counts["invalid"] == 2


def test_retry_input_refuses_another_mapping_or_a_changed_original(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """The fixed file is validated with the run's mapping, and the original input still guards
    the run: either one changed is refused, naming it, and no row moves."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    fixed = write_csv(tmp_path / "fixed.csv", [["u2", "user2@example.com", ""]])
    (tmp_path / "map.toml").write_text(MAPPING + "\n[options]\nskip_password_checks = true\n")
    changed = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert changed.exit_code == 1
    assert (
        f"cannot retry {out / 'state.sqlite'}: the mapping changed since the run was planned; "
        "a corrected input is validated with the run's mapping" in changed.output
    )
    (tmp_path / "map.toml").write_text(MAPPING)
    with path.open("a") as handle:
        handle.write("u5,user5@example.com,\n")
    grown = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert grown.exit_code == 1
    assert (
        f"cannot resume {out / 'state.sqlite'}: input users.csv changed since the run was planned"
        in grown.output
    )
    counts = summary(out)["counts"]
    assert isinstance(counts, dict)
    assert counts["invalid"] == 2
    assert "u2" not in users(sandbox)


def test_retry_input_without_the_original_sends_the_corrected_rows(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """With the original input moved away, the corrected rows are still sent, with a note."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    fixed = write_csv(tmp_path / "fixed.csv", [["u2", "user2@example.com", ""]])
    shutil.move(path, tmp_path / "elsewhere.csv")
    result = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert f"The original input {path} is not there" in result.output
    assert users(sandbox)["u2"] == ("user2@example.com",)


def test_rollback_puts_rows_back_and_run_creates_them_again(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """After a rollback the deleted users' rows are pending (rolled_back.csv, summary), the id
    map drops them, existing users are kept, and the same run command creates them again."""
    httpx.post(
        f"{sandbox.url}/v1/users",
        json={"external_id": "u1", "email_address": ["user1@example.com"]},
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    ).raise_for_status()
    rows = [[f"u{i}", f"user{i}@example.com", ""] for i in range(1, 5)]
    path = write_csv(tmp_path / "users.csv", rows)
    assert run(sandbox, path).exit_code == 0
    out = tmp_path / "users.clerk-migrate"
    old_ids = {r["key"]: r["clerk_user_id"] for r in read_csv(out / "id_map.csv")}
    result = invoke(sandbox, "rollback", str(out), "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 3 users; 0 were already gone; 0 refused." in result.output
    assert (
        "3 rows are pending again (rolled_back in the reports); running the same "
        "`clerk-migrate run` command again creates them again." in result.output
    )
    assert "Rows: 4 (3 pending · 1 exists)" in result.output
    assert list(users(sandbox)) == ["u1"]
    assert [r["key"] for r in read_csv(out / "id_map.csv")] == ["u1"]
    assert read_csv(out / "rolled_back.csv") == [
        {"row": str(i + 1), "key": f"u{i}", "external_id": f"u{i}",
         "deleted_clerk_user_id": old_ids[f"u{i}"]}
        for i in (2, 3, 4)
    ]  # fmt: skip
    data = summary(out)
    assert data["rolled_back"] == {
        "pending_rows": 3, "rollbacks": {"deleted": 3, "already_gone": 0, "refused": 0,
                                         "rollbacks": 1},
    }  # fmt: skip
    again = run(sandbox, path)
    assert again.exit_code == 0, again.output
    assert sorted(users(sandbox)) == ["u1", "u2", "u3", "u4"]
    new_ids = {r["key"]: r["clerk_user_id"] for r in read_csv(out / "id_map.csv")}
    assert new_ids["u1"] == old_ids["u1"]
    assert all(new_ids[k] != old_ids[k] for k in ("u2", "u3", "u4"))
    assert not (out / "rolled_back.csv").exists()
    rolled = summary(out)["rolled_back"]
    assert isinstance(rolled, dict)
    assert rolled["pending_rows"] == 0


def test_rollback_after_a_crash_midway_finishes_the_job(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """A user deleted by a rollback killed before it recorded the delete (still `created` in the
    state) is found gone (404) by the next rollback and its row moved like the others."""
    path = write_csv(tmp_path / "users.csv", [[f"u{i}", f"user{i}@example.com", ""]
                                              for i in range(1, 4)])  # fmt: skip
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    victim = read_csv(out / "id_map.csv")[1]["clerk_user_id"]
    httpx.delete(
        f"{sandbox.url}/v1/users/{victim}",
        headers={"Authorization": f"Bearer {sandbox.secret_key}"},
    ).raise_for_status()
    result = invoke(sandbox, "rollback", str(out), "--yes")
    assert result.exit_code == 0, result.output
    assert "Deleted 2 users; 1 were already gone; 0 refused." in result.output
    assert len(sandbox.store) == 0
    assert [r["deleted_clerk_user_id"] for r in read_csv(out / "rolled_back.csv")][1] == victim
    nothing = invoke(sandbox, "rollback", str(out), "--yes")
    assert nothing.exit_code == 0
    assert "Nothing to roll back: this run created no users." in nothing.output


def test_an_interrupted_retry_input_resumes_with_the_corrected_data(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """Rows an interrupted retry --input already requeued (pending, noted revalidated) are sent
    with the corrected data by the same retry command, and the file is in the run's history."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    with StateStore.open(out / "state.sqlite") as store:  # what the interrupted retry left
        store.revalidate([PlanRow(3, "u2", "u2", "user2@example.com")], "fixed.csv")
    fixed = write_csv(tmp_path / "fixed.csv", [["u2", "user2@example.com", ""]])
    result = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert "0 invalid rows now pass validation" in result.output
    assert users(sandbox)["u2"] == ("user2@example.com",)
    with StateStore.open(out / "state.sqlite") as store:
        record = store.get(3)
        assert record is not None
        assert (record.state, record.code) == (RowState.CREATED, None)
        history = store.get_meta("fixed_inputs")
    assert [(h["file"], h["revalidated"], list(h["fingerprints"])) for h in history] == [
        ("fixed.csv", 0, ["fixed.csv"]),
    ]


def test_retry_input_leaves_invalid_rows_with_a_shared_key_alone(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """An invalid row whose key another row of the run has is not sent (it could create the
    same user twice), and the command says so."""
    path = write_csv(tmp_path / "users.csv", [ROWS[0], ["u1", "second@example.com", ""]])
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    fixed = write_csv(tmp_path / "fixed.csv", [["u1", "fixed@example.com", ""]])
    result = invoke(sandbox, "retry", str(out), "--input", str(fixed), "-q")
    assert (
        "Left as invalid: 1 rows whose key other rows of the run share (sending them could "
        "create a user twice)." in result.output
    ), result.output
    assert list(users(sandbox).values()) == [("user1@example.com",)]


def test_run_refuses_to_resume_rows_waiting_for_a_corrected_file(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """`run` does not send rows an interrupted retry --input requeued (it would send the original,
    uncorrected data); it names the retry command to finish them and sends nothing."""
    path = write_csv(tmp_path / "users.csv", ROWS)
    run(sandbox, path)
    out = tmp_path / "users.clerk-migrate"
    with StateStore.open(out / "state.sqlite") as store:  # what the interrupted retry left
        store.revalidate([PlanRow(3, "u2", "u2", "user2@example.com")], "fixed.csv")
    created_before = len(users(sandbox))
    result = run(sandbox, path)
    assert result.exit_code == 1
    assert (
        "1 row(s) wait to be sent from a corrected file; finish them with the same "
        "`clerk-migrate retry RUN_DIR --input FILE` command"
    ) in result.output
    assert len(users(sandbox)) == created_before
