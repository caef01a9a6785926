"""Each sample's organizations export, read with its preset: every deliberately bad organization
and membership is reported with its row, key and reasons, and the counts are exact."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

import migrate
from migrate._internal.mapping import load_mapping

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CASES = [
    (system.parent.name, case)
    for system in sorted(SAMPLES.glob("*/expected.json"))
    for case in json.loads(system.read_text("utf-8")).get("tenants", [])
]


def test_samples_hold_tenant_exports() -> None:
    """The Auth0, Keycloak (organizations and groups) and generic shapes each have a sample."""
    assert {case["mapping"] for _, case in CASES} >= {"auth0", "keycloak_realm", "django"}


@pytest.mark.parametrize(("system", "case"), CASES, ids=[f"{s}:{c['mapping']}" for s, c in CASES])
def test_sample_tenants_are_reported_exactly(
    system: str, case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """validate on a sample's tenants reports exactly the bad rows its expected.json lists."""
    folder = SAMPLES / system
    manifest = json.loads((folder / "expected.json").read_text("utf-8"))
    for name, value in manifest["env"].items():
        monkeypatch.setenv(name, value)
    result = migrate.validate(
        folder / case["input"],
        case["mapping"],
        out_dir=tmp_path,
        joins=[folder / j for j in case["joins"]],
        organizations=folder / case["organizations"],
        memberships=folder / case["memberships"] if case["memberships"] else None,
    )
    found: dict[tuple[str, int, str], list[str]] = {}
    with result.errors_csv.open(encoding="utf-8", newline="") as handle:
        for line in csv.DictReader(handle):
            table = line["field"].split(".", 1)[0]
            if table in ("organization", "membership"):
                found.setdefault((table, int(line["row"]), line["key"]), []).append(line["code"])
    expected = {(b["table"], b["row"], b["key"]): sorted(b["reasons"]) for b in case["bad"]}
    assert {k: sorted(v) for k, v in found.items()} == expected
    for table, counts in case["counts"].items():
        assert result.summary[table] == counts, table


def test_the_groups_preset_maps_users_as_the_realm_preset_does() -> None:
    """keycloak_realm_groups differs from keycloak_realm only in its tenant tables, so the users
    tests of keycloak_realm cover its users."""
    groups, realm = load_mapping("keycloak_realm_groups", {}), load_mapping("keycloak_realm", {})
    assert (groups.source, groups.fields, groups.options, groups.status, groups.joins) == (
        realm.source,
        realm.fields,
        realm.options,
        realm.status,
        realm.joins,
    )
    assert groups.organizations != realm.organizations
