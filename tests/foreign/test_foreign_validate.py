"""`validate` on each foreign export gives exactly the verdicts its expected JSON states."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from corpus import Fixture, params

from migrate.cli import main


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("fx", params("validate"))
def test_validate_gives_the_documented_verdicts(fx: Fixture, tmp_path: Path) -> None:
    """Invalid rows and reasons, skipped rows and reasons, per-row warnings: exactly these."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["validate", *fx.cli_args(), "--out", str(out)], env=fx.env, catch_exceptions=False
    )
    invalid = {r["row"]: r["reasons"] for r in fx.rows("invalid")}
    assert result.exit_code == (3 if invalid else 0), result.output
    found: dict[int, set[str]] = {}
    for row in _read_csv(out / "errors.csv"):
        found.setdefault(int(row["row"]), set()).add(row["code"])
    assert {row: sorted(reasons) for row, reasons in found.items()} == invalid
    skipped = {int(r["row"]): r["reason"] for r in _read_csv(out / "skipped.csv")}
    assert skipped == {r["row"]: r["reason"] for r in fx.rows("skipped")}
    warnings = {(int(w["row"]), w["field"], w["code"]) for w in _read_csv(out / "warnings.csv")}
    assert warnings == {(w["row"], w["field"], w["reason"]) for w in fx.data["warnings"]}
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["valid"] == len(fx.rows("valid"))
    assert summary["invalid"] == len(invalid)
