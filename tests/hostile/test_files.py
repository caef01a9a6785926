"""The run directory is the owner's alone, and CSV reports cannot run formulas in a spreadsheet."""

from __future__ import annotations

import csv
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hostile_cases import (
    DIGEST,
    HEADER,
    MAPPING,
    SECRET_KEY,
    TOTP,
    assert_no_secret,
    files_text,
    lines,
    run,
    validate,
)

from migrate._internal.reports.cells import safe_cell, safe_frame
from migrate._internal.secrets import MASK
from migrate._internal.state import StateStore
from migrate._internal.state.model import Fingerprints
from migrate.cli import main
from migrate.sandbox import SandboxHandle

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")


@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under a loose umask; the old one comes back after it."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


FORMULAS = ["=1+1", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def _hostile_rows() -> str:
    """Rows whose key, e-mail and name start like formulas; two are invalid (bad e-mail)."""
    rows = [HEADER]
    for i, start in enumerate(FORMULAS, start=1):
        key = f"{start}{i}".replace("\r", "\\r").replace("\t", "\\t") if i > 4 else f"{start}{i}"
        rows.append(
            f'"{key}",{"=bad" if i <= 2 else f"user{i}@example.com"},{start}N,{DIGEST},{TOTP}'
        )
    return "\n".join(rows) + "\n"


def test_every_file_of_a_run_directory_is_private(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle, umask: int
) -> None:
    """Under umask 022 or 000 the run directory is 0700 and state.sqlite, -wal, reports 0600."""
    path = tmp_path / "u.csv"
    path.write_text(_hostile_rows(), encoding="utf-8")
    run_dir = tmp_path / "run"
    result = run(sandbox, path, mapping, "--run-dir", str(run_dir))
    assert result.exit_code == 3, result.output
    assert _mode(run_dir) == 0o700
    files = list(run_dir.iterdir())
    assert {"state.sqlite", "errors.csv", "id_map.csv", "failed_rows.csv"} <= {
        p.name for p in files
    }
    for file in files:
        assert _mode(file) == 0o600, file.name


def test_the_state_db_and_its_wal_are_private_while_open(tmp_path: Path, umask: int) -> None:
    """A state DB created under a loose umask is 0600 with its -wal and -shm, its folder 0700."""
    (tmp_path / "run").mkdir()
    store = StateStore.create(tmp_path / "run" / "state.sqlite", Fingerprints({"input": "x"}, "m"))
    try:
        assert _mode(tmp_path / "run") == 0o700
        for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
            if (tmp_path / "run" / name).exists():
                assert _mode(tmp_path / "run" / name) == 0o600, name
    finally:
        store.close()


def test_an_older_loose_run_directory_is_tightened_when_opened(tmp_path: Path) -> None:
    """Opening a 0755/0644 run directory of an earlier version makes it 0700/0600."""
    db = tmp_path / "run" / "state.sqlite"
    db.parent.mkdir()
    StateStore.create(db, Fingerprints({"input": "x"}, "m")).close()
    (tmp_path / "run").chmod(0o755)
    db.chmod(0o644)
    StateStore.open(db).close()
    assert _mode(tmp_path / "run") == 0o700
    assert _mode(db) == 0o600


@pytest.mark.parametrize("value", FORMULAS)
def test_formula_cells_get_a_leading_quote(value: str) -> None:
    """Each formula start (= + - @ tab CR) is neutralised; plain text and numbers are not."""
    assert safe_cell(value) == "'" + value
    frame = safe_frame(pl.DataFrame({"a": [value, "plain", None], "n": [-1, 2, 3]}))
    assert frame.to_dict(as_series=False) == {"a": ["'" + value, "plain", None], "n": [-1, 2, 3]}
    assert safe_cell("a=b") == "a=b"
    assert safe_cell(-5) == -5


_SECRET_CELLS = [
    (DIGEST, "$2b$04$" + MASK),
    ("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA", "$argon2id$" + MASK),
    ("pbkdf2_sha256$600000$salt$hashvalue", MASK),
    (TOTP, MASK),
    ("see " + SECRET_KEY, "see sk_live_" + MASK),
]
_ORDINARY_IDS = [
    "auth0|5f7c8ec7c33c6c004bbafe82",
    "8Ym0Z1G5kKXq7r3xT2nB9wP4aLs2",  # a Firebase uid
    "01ARZ3NDEKTSV4RRFFQ69G5FAV",  # a ULID
    "550e8400-e29b-41d4-a716-446655440000",
    "ABCDEFGHIJKLMNOPQRST",
    "costs $5 $100",
]


@pytest.mark.parametrize(("value", "shown"), _SECRET_CELLS)
def test_secret_shaped_cells_are_masked_in_python_and_polars(value: str, shown: str) -> None:
    """A digest, TOTP secret or key that a shifted row put in a key cell is masked, alike in
    ``safe_cell`` and ``safe_frame``; ordinary ids are not touched."""
    assert safe_cell(value) == shown
    frame = safe_frame(pl.DataFrame({"key": [value, *_ORDINARY_IDS]}))
    assert frame["key"].to_list() == [shown, *_ORDINARY_IDS]
    assert [safe_cell(v) for v in _ORDINARY_IDS] == _ORDINARY_IDS


# A line end inside or before the digest splits the row: its rest starts the next row (hypothesis
# found both, CI's long profile: a bare CR before the digest, then one inside it).
_SPLIT_ROWS = [
    pytest.param(f"u1,user1@example.com,,\r{DIGEST},{TOTP}\n", id="cr-before-digest"),
    pytest.param(f"u1,user1@example.com,,{DIGEST[:4]}\r{DIGEST[4:]},{TOTP}\n", id="cr-in-digest"),
    pytest.param(f"u1,user1@example.com,,{DIGEST[:9]}\n{DIGEST[9:]},{TOTP}\n", id="lf-in-digest"),
    pytest.param(f"u1,user1@example.com,Ann\r\n,{DIGEST},{TOTP}\r\n", id="crlf-in-name"),
]


@pytest.mark.parametrize("body", _SPLIT_ROWS)
def test_split_row_is_reported_short_with_no_cell_shown(tmp_path: Path, body: str) -> None:
    """A row split by a line end is two rows short of fields: each is invalid (``short_row``,
    row number given) and errors.csv shows none of their cells, so no part of a secret."""
    (tmp_path / "u.csv").write_text(HEADER + "\n" + body, newline="")
    (tmp_path / "map.toml").write_text(MAPPING)
    out = tmp_path / "out"
    args = ["validate", str(tmp_path / "u.csv"), "-m", str(tmp_path / "map.toml")]
    result = CliRunner().invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 3, result.output
    with (out / "errors.csv").open(encoding="utf-8", newline="") as handle:
        reported = list(csv.DictReader(handle))
    codes = [(line["row"], line["code"]) for line in reported]
    assert codes == [("2", "short_row"), ("3", "short_row")]
    assert {line["key"] for line in reported} == {"[hidden]"}
    assert_no_secret(result.output, files_text(out))
    for secret in (DIGEST[9:], DIGEST[4:], TOTP):
        assert secret not in files_text(out)


def test_split_row_leaves_no_secret_in_a_run_directory(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """``run`` on a split row: the state DB, reports and fingerprints hold no part of the digest
    or TOTP secret (failed_rows, a faithful copy of the input rows, aside), and the other rows
    are created."""
    body = f"u1,user1@example.com,,{DIGEST[:4]}\r{DIGEST[4:]},{TOTP}\n" + "\n".join(lines(2, 2))
    (tmp_path / "u.csv").write_text(HEADER + "\n" + body + "\n", newline="")
    (tmp_path / "map.toml").write_text(MAPPING)
    run_dir = tmp_path / "run"
    result = run(sandbox, tmp_path / "u.csv", tmp_path / "map.toml", "--run-dir", str(run_dir))
    assert result.exit_code == 3, result.output
    assert "2 created" in result.output
    (run_dir / "failed_rows.csv").unlink()
    everything = files_text(run_dir)
    for secret in (DIGEST[4:], TOTP):
        assert secret not in everything
    assert_no_secret(result.output)


def _cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [cell for row in list(csv.reader(handle))[1:] for cell in row]


def test_run_csv_reports_hold_no_live_formula_but_failed_rows_is_faithful(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle
) -> None:
    """errors.csv starts no cell with a formula; id_map, errors.jsonl, failed_rows stay exact."""
    path = tmp_path / "u.csv"
    path.write_text(_hostile_rows(), encoding="utf-8")
    run_dir = tmp_path / "run"
    assert run(sandbox, path, mapping, "--run-dir", str(run_dir)).exit_code == 3
    cells = _cells(run_dir / "errors.csv")
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'=1+11" in cells
    assert "-2+33" in _cells(run_dir / "id_map.csv")
    assert "=1+11" in _cells(run_dir / "failed_rows.csv")
    jsonl = [json.loads(line) for line in (run_dir / "errors.jsonl").read_text().splitlines()]
    assert "=1+11" in {line["key"] for line in jsonl}


def test_validation_errors_csv_holds_no_live_formula(tmp_path: Path, mapping: Path) -> None:
    """``validate``'s errors.csv neutralises a formula-looking key."""
    path = tmp_path / "u.csv"
    path.write_text(_hostile_rows(), encoding="utf-8")
    out = tmp_path / "out"
    assert validate(path, mapping, "--out", str(out)).exit_code == 3
    cells = _cells(out / "errors.csv")
    assert "'=1+11" in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_split_row_in_a_newer_export_is_hidden_and_not_taken_for_gone(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    """``sync`` with a newer export whose row u2 is split: both halves are invalid and shown
    ``[hidden]`` in sync_plan.csv, u2 is not reported gone, and nothing in the run directory
    holds the rest of the digest."""
    (tmp_path / "map.toml").write_text(MAPPING)
    (tmp_path / "v1.csv").write_text("\n".join([HEADER, *lines(2)]) + "\n")
    run_dir = tmp_path / "run"
    first = run(sandbox, tmp_path / "v1.csv", tmp_path / "map.toml", "--run-dir", str(run_dir))
    assert first.exit_code == 0, first.output
    split = f"u2,user2@example.com,B,{DIGEST[:4]}\r{DIGEST[4:]},{TOTP}"
    newer = "\n".join([HEADER, *lines(1), split, *lines(1, 3)]) + "\n"
    (tmp_path / "v2.csv").write_text(newer, newline="")
    env = {"CLERK_SECRET_KEY": sandbox.secret_key, "CLERK_API_URL": sandbox.url}
    args = ["sync", str(tmp_path / "v2.csv"), "-m", str(tmp_path / "map.toml")]
    result = CliRunner().invoke(main, [*args, "--run-dir", str(run_dir)], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    with (run_dir / "sync_plan.csv").open(encoding="utf-8", newline="") as handle:
        plan = [(r["row"], r["key"], r["action"]) for r in csv.DictReader(handle)]
    assert plan == [("3", "[hidden]", "invalid"), ("4", "[hidden]", "invalid"), ("5", "u3", "new")]
    everything = files_text(run_dir)
    for secret in (DIGEST[4:], TOTP):
        assert secret not in everything
    assert_no_secret(result.output)


@pytest.mark.parametrize(("short_rows", "valid"), [("invalid", 1), ("pad", 2)])
def test_short_rows_pad_reads_missing_last_fields_as_empty(
    tmp_path: Path, short_rows: str, valid: int
) -> None:
    """``[source] short_rows = "pad"`` (exporters that leave out trailing empty fields) reads a
    short row's missing fields as empty; by default the row is invalid (``short_row``)."""
    mapping = MAPPING.replace('key = "id"', f'key = "id"\nshort_rows = "{short_rows}"')
    (tmp_path / "map.toml").write_text(mapping)
    body = f"u1,user1@example.com\nu2,user2@example.com,Bo,{DIGEST},{TOTP}\n"
    (tmp_path / "u.csv").write_text(HEADER + "\n" + body)
    args = ["validate", str(tmp_path / "u.csv"), "-m", str(tmp_path / "map.toml"), "--json"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])
    summary = json.loads(result.output)
    assert (summary["read"], summary["valid"]) == (2, valid)
    codes = {r["reason"] for r in summary["reasons"]}
    assert codes == (set() if short_rows == "pad" else {"short_row"})


def test_short_rows_accepts_only_its_two_values(tmp_path: Path) -> None:
    """A ``short_rows`` value other than invalid/pad is a mapping error naming the key."""
    (tmp_path / "map.toml").write_text(MAPPING.replace('key = "id"', 'key = "id"\nshort_rows = 1'))
    (tmp_path / "u.csv").write_text(HEADER + "\n" + lines(1)[0] + "\n")
    args = ["validate", str(tmp_path / "u.csv"), "-m", str(tmp_path / "map.toml")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "source.short_rows" in result.output
    assert "Traceback" not in result.output
