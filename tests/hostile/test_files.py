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
from hostile_cases import DIGEST, HEADER, TOTP, run, validate

from migrate.reports.cells import safe_cell, safe_frame
from migrate.sandbox import SandboxHandle
from migrate.state import StateStore
from migrate.state.model import Fingerprints

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
