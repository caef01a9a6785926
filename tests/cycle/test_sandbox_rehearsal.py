"""A ``--sandbox`` run directory keeps its sandbox's users, so ``verify``, ``rollback``,
``retry`` and ``run`` with ``--sandbox`` on it all meet the same instance."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cycle_cli import write_csv

from migrate.cli import main
from migrate.errors import SandboxError
from migrate.sandbox.persist import load_store, save_store
from migrate.sandbox.store import UserRecord, UserStore


def invoke(*args: str) -> Result:
    """The CLI in-process, with no Clerk settings in the environment."""
    env = {"CLERK_SECRET_KEY": "", "CLERK_API_URL": ""}
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def run(path: Path) -> Result:
    """``clerk-migrate run --sandbox`` with the mapping beside the input."""
    return invoke("run", str(path), "--mapping", str(path.parent / "map.toml"), "-q", "--sandbox")


def counts(run_dir: Path) -> dict[str, int]:
    """Rows per state in summary.json."""
    return dict(json.loads((run_dir / "summary.json").read_text())["counts"])


def test_the_whole_rehearsal_meets_one_sandbox(tmp_path: Path) -> None:
    """run -> verify -> retry --input -> rollback -> run with --sandbox see the same users:
    verify finds every user, the retry adds the corrected row beside them, rollback deletes
    all it created, and the last run creates them again."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"], ["u2", "bad"],
                                              ["u3", "c@example.com"]])  # fmt: skip
    out = tmp_path / "users.sandbox.clerk-migrate"
    assert run(path).exit_code == 3
    verified = invoke("verify", str(out), "--sandbox")
    assert verified.exit_code == 0, verified.output
    assert "Checked 2 users: 0 problems." in verified.output
    fixed = write_csv(tmp_path / "fixed.csv", [["u2", "b@example.com"]])
    retried = invoke("retry", str(out), "--input", str(fixed), "--sandbox", "-q")
    assert retried.exit_code == 0, retried.output
    assert "Checked 3 users: 0 problems." in invoke("verify", str(out), "--sandbox").output
    rolled = invoke("rollback", str(out), "--sandbox", "--yes")
    assert rolled.exit_code == 0, rolled.output
    assert "Deleted 3 users; 0 were already gone; 0 refused." in rolled.output
    again = invoke("retry", str(out), "--input", str(fixed), "--sandbox", "-q")
    assert again.exit_code == 0, again.output
    assert counts(out)["created"] == 3
    assert "Checked 3 users: 0 problems." in invoke("verify", str(out), "--sandbox").output


def test_the_sandbox_state_file_is_private(tmp_path: Path) -> None:
    """The sandbox's users (digests included, as Clerk keeps them) sit in a file of the run
    directory that only its owner can read."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"]])
    assert run(path).exit_code == 0
    files = [p for p in (tmp_path / "users.sandbox.clerk-migrate").iterdir()
             if p.name.startswith("sandbox")]  # fmt: skip
    assert [p.name for p in files] == ["sandbox.json"]
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600


def test_a_saved_sandbox_comes_back_with_the_same_ids(tmp_path: Path) -> None:
    """A saved store loads with the same users under the same ids, its uniqueness indexes
    rebuilt, and new users get ids no deleted user ever had."""
    store = UserStore(seed=7)
    ids = []
    for n in range(3):
        rec = UserRecord()
        rec.external_id, rec.emails = f"u{n}", (f"u{n}@example.com",)
        ids.append(store.add(rec))
    store.delete(1)
    save_store(store, tmp_path / "sandbox.json")
    back = load_store(tmp_path / "sandbox.json")
    assert [(r.external_id, back.user_id(r.seq)) for r in back] == [("u0", ids[0]),
                                                                   ("u2", ids[2])]  # fmt: skip
    clash = UserRecord()
    clash.emails = ("U2@example.com",)
    assert back.conflicts(clash) == ["email_address"]
    fresh = UserRecord()
    assert back.add(fresh) not in ids


def test_a_damaged_sandbox_file_is_named(tmp_path: Path) -> None:
    """A sandbox file that is not a saved store stops the command with its path and a way out."""
    (tmp_path / "sandbox.json").write_text('{"users": []}')
    with pytest.raises(SandboxError) as caught:
        load_store(tmp_path / "sandbox.json")
    assert str(caught.value).startswith(
        f"cannot read the sandbox's users from {tmp_path / 'sandbox.json'}"
    )
    assert "move the file away" in str(caught.value)


def test_banner_help_and_runbook_describe_one_sandbox(tmp_path: Path) -> None:
    """The --sandbox banner, --help and the runbook agree on the sandbox's key type and pace."""
    path = write_csv(tmp_path / "users.csv", [["u1", "a@example.com"]])
    result = run(path)
    kind = "a development key with production's rate limit, 1000 requests per 10 s, and no user cap"
    assert f"({kind}) · rate 90/s" in result.output, result.output
    assert kind in " ".join(invoke("run", "--help").output.split())
    runbook = " ".join((Path(__file__).parents[2] / "docs" / "runbook.md").read_text().split())
    assert "a development key with production's rate limit (1,000 requests per 10 s)" in runbook
