"""`validate` on every sample, with its preset, reports exactly the deliberately bad rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from preset_cases import SAMPLES, SYSTEMS, Case, case_params, cases, manifest

from migrate._internal.mapping.load import load_mapping, preset_names, presets_dir
from migrate.cli import main


@pytest.mark.parametrize("case", case_params())
def test_validate_command_reports_exactly_the_bad_rows(case: Case, tmp_path: Path) -> None:
    """validate exits 3; errors.csv names each deliberately bad row, its reasons, and no other."""
    spec = load_mapping(case.mapping, case.env)
    args = ["validate", str(case.inputs[0]), "--mapping", case.mapping, "--out", str(tmp_path)]
    for join, path in case.joins([j.name for j in spec.joins]).items():
        args += ["--join", f"{join}={path}"]
    result = CliRunner().invoke(main, args, env=case.env, catch_exceptions=False)
    assert result.exit_code == 3, result.output
    with (tmp_path / "errors.csv").open(encoding="utf-8-sig", newline="") as fh:
        found: dict[int, set[str]] = {}
        for row in csv.DictReader(fh):
            found.setdefault(int(row["row"]), set()).add(row["code"])
    assert {row: sorted(reasons) for row, reasons in found.items()} == case.bad
    summary = json.loads((tmp_path / "summary.json").read_text("utf-8"))
    assert summary["invalid"] == len(case.bad)
    assert summary["valid"] == case.total - len(case.bad)


@pytest.mark.parametrize("case", case_params())
def test_valid_rows_carry_identity_and_password(case: Case) -> None:
    """Valid bodies carry the legacy id, and a digest exactly when the user had a password."""
    prepared = case.prepared()
    plan = prepared.plan()
    valid = plan.filter(plan["_errors"].list.len() == 0)
    assert valid.height == case.total - len(case.bad)
    m = manifest(case.system)
    with_password = set(m["created_with_password"])
    bodies = list(prepared.payloads(valid["_row"].to_list()))
    assert {b.body["external_id"] for b in bodies} == with_password | set(
        m["created_without_password"]
    )
    for payload in bodies:
        has_digest = "password_digest" in payload.body
        assert has_digest == (payload.body["external_id"] in with_password), payload.key
        assert has_digest == ("password_hasher" in payload.body), payload.key


def test_every_preset_is_exercised_by_a_sample() -> None:
    """Each shipped preset is the mapping of at least one sample case (users, or a sample's
    organizations export: tests/tenants), so none goes untested."""
    used = {c.mapping for c in cases()}
    used |= {t["mapping"] for s in SYSTEMS for t in manifest(s).get("tenants", [])}
    assert set(preset_names()) <= used


def test_every_sample_has_a_preset() -> None:
    """Each sample case names a preset that exists."""
    assert {c.mapping for c in cases()} <= set(preset_names())


def test_presets_keep_secrets_out_of_the_files() -> None:
    """The samples' signer key and pepper come from env:NAME, never from a preset file."""
    for system in (p.parent.name for p in SAMPLES.glob("*/expected.json")):
        secrets = [v for k, v in manifest(system)["env"].items() if k.endswith(("_KEY", "PEPPER"))]
        for value in secrets:
            for preset in presets_dir().iterdir():
                assert value not in preset.read_text("utf-8"), (system, preset.name)
