"""Resuming a run is refused when a tenant table of the mapping or a tenant file changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate._internal.api.validating import read_tenants
from migrate._internal.mapping import load_mapping
from migrate._internal.mapping.fingerprint import mapping_fingerprint
from migrate._internal.prepare import prepare_input
from migrate._internal.runner.session import open_run
from migrate._internal.state import Fingerprints
from migrate.errors import ResumeMismatchError

USERS = "id,email\nu1,ada@example.com\nu2,bob@example.com\n"
ORGS = "id,name\nacme,Acme Inc\nglobex,Globex\n"
MEMBERS = "user_id,org_id,role\nu1,acme,admin\nu2,globex,member\n"
USERS_ONLY = """\
[source]
key = "id"

[fields]
external_id = "id"
email_address = "email"
"""
TENANTS = """
[organizations]
input = "organizations.csv"
key = "id"
name = "name"

[memberships]
input = "memberships.csv"
user = "user_id"
organization = "org_id"
role = "role"

[roles]
admin = "org:admin"
member = "org:member"
"""


def fingerprint(tmp_path: Path, text: str) -> str:
    """The mapping fingerprint of ``text`` written as a mapping file."""
    path = tmp_path / "fp.toml"
    path.write_text(text, encoding="utf-8")
    return mapping_fingerprint(load_mapping(path, {}))


def changes(before: str, after: str) -> list[str]:
    """The mapping parts that differ between two fingerprints."""
    return Fingerprints({}, before).mapping_changes(Fingerprints({}, after))


def test_a_mapping_without_tenant_tables_has_no_tenant_parts(tmp_path: Path) -> None:
    """A users-only mapping's fingerprint has the parts it had before tenant tables existed."""
    parts = json.loads(fingerprint(tmp_path, USERS_ONLY).removeprefix("spec1:"))
    assert set(parts) == {"[source]", "[options]", "fields.external_id", "fields.email_address"}


def test_each_tenant_table_is_named_when_it_changes(tmp_path: Path) -> None:
    """A change to [organizations], [memberships] or [roles] is named; where a table's input
    file is (its contents are fingerprinted as an input) is not part of the mapping's."""
    base = fingerprint(tmp_path, USERS_ONLY + TENANTS)
    parts = json.loads(base.removeprefix("spec1:"))
    assert {"[organizations]", "[memberships]", "[roles]"} <= set(parts)
    edits = {
        'name = "name"': ('name = "title"', "[organizations]"),
        'role = "role"': ('role = "level"', "[memberships]"),
        'admin = "org:admin"': ('admin = "org:owner"', "[roles]"),
    }
    for old, (new, part) in edits.items():
        assert changes(base, fingerprint(tmp_path, USERS_ONLY + TENANTS.replace(old, new))) == [
            part
        ]
    moved = TENANTS.replace('input = "organizations.csv"', 'input = "exports/organizations.csv"')
    assert fingerprint(tmp_path, USERS_ONLY + moved) == base


def test_tenant_fingerprints_survive_the_meta_table() -> None:
    """Fingerprints with tenant files round-trip through JSON; an older record has none."""
    fp = Fingerprints({"users.csv": "a" * 64}, "spec1:{}", {"organizations:o.csv": "b" * 64})
    assert Fingerprints.from_json(fp.to_json()) == fp
    old = json.dumps({"inputs": {"users.csv": "a" * 64}, "mapping": "spec1:{}"})
    assert Fingerprints.from_json(old).tenants is None
    assert Fingerprints.from_json(old).tenant_changes(fp) == ["organizations file o.csv was added"]
    assert fp.tenant_changes(Fingerprints({}, "")) == []  # a command reading users only


def export(tmp_path: Path) -> Path:
    """users.csv, organizations.csv, memberships.csv and map.toml; the users file's path."""
    (tmp_path / "organizations.csv").write_text(ORGS, encoding="utf-8")
    (tmp_path / "memberships.csv").write_text(MEMBERS, encoding="utf-8")
    (tmp_path / "map.toml").write_text(USERS_ONLY + TENANTS, encoding="utf-8")
    path = tmp_path / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    return path


def reopen(path: Path, *, members: Path | None = None) -> None:
    """Plan or resume the run directory of ``path`` with its tenant files, then close it."""
    mapping = path.parent / "map.toml"
    prepared = prepare_input(path, mapping, {}, ())
    tenants = read_tenants(prepared, path, None, members)
    plan = open_run(path.parent / "run", path, str(mapping), {}, prepared, tenants=tenants)
    plan.store.close()


def test_resuming_with_a_changed_tenant_file_is_refused(tmp_path: Path) -> None:
    """The same files resume; an edited organizations file, or another memberships file, is
    refused with ResumeMismatchError naming it."""
    path = export(tmp_path)
    reopen(path)
    reopen(path)
    (tmp_path / "organizations.csv").write_text(ORGS + "initech,Initech\n", encoding="utf-8")
    with pytest.raises(ResumeMismatchError, match=r"organizations file organizations\.csv changed"):
        reopen(path)
    (tmp_path / "organizations.csv").write_text(ORGS, encoding="utf-8")
    other = tmp_path / "members2.csv"
    other.write_text(MEMBERS, encoding="utf-8")
    with pytest.raises(ResumeMismatchError) as info:
        reopen(path, members=other)
    assert "memberships file members2.csv was added" in str(info.value)
    assert "memberships file memberships.csv is no longer given" in str(info.value)


def test_resuming_with_a_changed_tenant_table_is_refused(tmp_path: Path) -> None:
    """Another role mapping on resume: ResumeMismatchError names [roles]."""
    path = export(tmp_path)
    reopen(path)
    mapping = tmp_path / "map.toml"
    mapping.write_text(mapping.read_text().replace('"org:member"', '"org:viewer"'))
    with pytest.raises(ResumeMismatchError, match=r"the mapping changed \(\[roles\]\)"):
        reopen(path)
