"""`clerk-migrate run --sandbox` with a preset creates every valid sample row, reports the rest."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from preset_cases import Case, case_params

from migrate._internal.mapping.load import presets_dir
from migrate.cli import main


def _mapping_with_join_paths(case: Case, tmp_path: Path) -> str:
    """The preset itself, or (when it joins files) a copy whose [[join]] tables name the files.

    ``run`` takes join files from the mapping's ``path`` (it has no ``--join`` option), so a
    copy with absolute paths stands in for an operator's edited preset.
    """
    if len(case.inputs) == 1:
        return case.mapping
    extra = iter(case.inputs[1:])
    lines, in_join = [], False
    for line in (presets_dir() / f"{case.mapping}.toml").read_text("utf-8").splitlines():
        lines.append(line)
        if line.startswith("["):
            in_join = line.strip() == "[[join]]"
        elif in_join and line.startswith("name ="):
            lines.append(f"path = {json.dumps(str(next(extra)))}")
    copy = tmp_path / f"{case.mapping}.toml"
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(copy)


@pytest.mark.parametrize("case", case_params(variants=False))
def test_run_in_the_sandbox_creates_every_valid_row(case: Case, tmp_path: Path) -> None:
    """run --sandbox exits 3, creates every row but the bad ones, and maps each to a Clerk id."""
    run_dir = tmp_path / "run"
    mapping = _mapping_with_join_paths(case, tmp_path)
    args = [
        "run", str(case.inputs[0]), "--mapping", mapping, "--sandbox",
        "--run-dir", str(run_dir), "--rate", "1000", "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(main, args, env=case.env, catch_exceptions=False)
    assert result.exit_code == 3, result.output
    summary = json.loads((run_dir / "summary.json").read_text("utf-8"))
    assert summary["counts"]["created"] == case.total - len(case.bad)
    assert summary["counts"]["invalid"] == len(case.bad)
    assert summary["counts"]["failed"] == 0
    with (run_dir / "id_map.csv").open(encoding="utf-8-sig", newline="") as fh:
        mapped = list(csv.DictReader(fh))
    assert len(mapped) == case.total - len(case.bad)
    assert all(row["clerk_user_id"].startswith("user_") for row in mapped)
