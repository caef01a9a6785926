"""The tenant export builder agrees with ``validate``: its bad rows are the ones it reports."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tenant_export import TenantExport, build_export

from migrate.cli import main


def _validate(export: TenantExport, out: Path) -> int:
    args = ["validate", str(export.users_csv), "--mapping", "django", "--out", str(out)]
    args += ["--organizations", str(export.organizations_csv)]
    args += ["--memberships", str(export.memberships_csv)]
    return CliRunner().invoke(main, args, catch_exceptions=False).exit_code


@pytest.mark.parametrize(("orgs", "users", "second"), [(200, 5000, 2000), (20, 300, 100)])
def test_the_bad_rows_the_builder_lists_are_the_ones_validate_reports(
    tmp_path: Path, orgs: int, users: int, second: int
) -> None:
    """validate's errors.csv holds exactly the builder's (field, code, key) lines and its
    summary.json the builder's counts per kind."""
    export = build_export(tmp_path, organizations=orgs, users=users, second=second)
    assert export.read == {"users": users, "organizations": orgs, "memberships": users + second}
    assert _validate(export, tmp_path / "out") == 3
    with (tmp_path / "out" / "errors.csv").open(encoding="utf-8", newline="") as handle:
        lines = [(e["field"], e["code"], e["key"]) for e in csv.DictReader(handle)]
    assert len(lines) == len(set(lines))
    assert set(lines) == export.errors
    assert {code for _, code, _ in lines} == {
        "invalid_email", "missing_name", "duplicate_slug", "membership_limit_reached",
        "user_not_created", "organization_not_created", "unknown_user", "unknown_role",
    }  # fmt: skip
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    for kind in ("organizations", "memberships"):
        valid = export.read[kind] - export.invalid(kind)
        assert summary[kind] == {
            "read": export.read[kind], "valid": valid, "invalid": export.invalid(kind)
        }  # fmt: skip
    assert len(export.organizations) == orgs - 2
    assert len(export.memberships) == summary["memberships"]["valid"]
    assert (summary["read"], summary["invalid"]) == (users, 1)


def test_a_clean_export_validates_with_exit_0(tmp_path: Path) -> None:
    """``bad=False`` gives an export with no bad row: validate exits 0 and every row is valid."""
    export = build_export(tmp_path, organizations=20, users=100, second=40, bad=False)
    assert export.errors == set()
    assert _validate(export, tmp_path / "out") == 0
    assert len(export.memberships) == 140
    assert len(export.users) == 100
