"""Keycloak realm exports name organization members by username: the preset finds their users."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import migrate
from migrate._internal.api.validating import read_tenants
from migrate._internal.prepare import prepare_input
from migrate.errors import MappingError, SourceError

# tests/fixtures/keycloak_orgs/README.md says where this shape comes from
REALM = Path(__file__).resolve().parents[1] / "fixtures" / "keycloak_orgs" / "realm-export.json"
ALICE, BOB, CAROL = (
    "0b5e7c1a-3f2d-4e8b-9c6a-1d2e3f4a5b6c",
    "7a9d2e4f-6b1c-4d3e-8f5a-2b3c4d5e6f70",
    "c3e1f2a4-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
)
ACME, GLOBEX = "e8f0a1b2-c3d4-4e5f-9a6b-7c8d9e0f1a2b", "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def plan(path: Path) -> list[tuple[str, str, str, bool]]:
    """(user, organization, role, valid) of each membership the keycloak_realm preset reads."""
    prepared = prepare_input(path, "keycloak_realm", {}, ())
    tenants = read_tenants(prepared, path, path, None)
    frame = tenants.membership_plan().select("user", "organization", "role", "valid")
    return [tuple(r) for r in frame.rows()]  # type: ignore[misc]


def test_export_members_are_matched_to_users_by_username() -> None:
    """Members that carry only a username (kc.sh export) become memberships of the users' ids;
    a username no user has stays, invalid."""
    assert plan(REALM) == [
        (ALICE, ACME, "org:member", True),
        (BOB, ACME, "org:member", True),
        ("dave", ACME, "org:member", False),
        (CAROL, GLOBEX, "org:member", True),
        (ALICE, GLOBEX, "org:member", True),
    ]


def test_validate_reports_the_member_without_a_user(tmp_path: Path) -> None:
    """validate with the preset: one unknown_user line naming the username; exact counts."""
    result = migrate.validate(REALM, "keycloak_realm", out_dir=tmp_path, organizations=REALM)
    with result.errors_csv.open(encoding="utf-8", newline="") as handle:
        lines = [r for r in csv.DictReader(handle) if r["field"].startswith("membership")]
    assert [(r["row"], r["key"], r["code"]) for r in lines] == [
        ("1", f"{ACME}/dave", "unknown_user")
    ]
    assert result.summary["organizations"] == {"read": 2, "valid": 2, "invalid": 0}
    assert result.summary["memberships"] == {"read": 5, "valid": 4, "invalid": 1}


def test_admin_api_members_give_the_same_memberships(tmp_path: Path) -> None:
    """Members as the Admin REST API lists them (id, email, ... besides the username) map alike."""
    realm = json.loads(REALM.read_text(encoding="utf-8"))
    users = {u["username"]: u for u in realm["users"]}
    for org in realm["organizations"]:
        for member in org["members"]:
            user = users.get(member["username"], {"id": "9f8e7d6c", "email": "dave@x.example"})
            member |= {"id": user["id"], "email": user["email"], "enabled": True}
    path = tmp_path / "admin-shaped.json"
    path.write_text(json.dumps(realm), encoding="utf-8")
    assert plan(path) == plan(REALM)


def write_generic(tmp_path: Path, memberships: str) -> Path:
    """users.csv (id, login), organizations.csv, a mapping with ``memberships`` as its table."""
    (tmp_path / "users.csv").write_text("id,login\nu1,ada\nu2,bob\n", encoding="utf-8")
    (tmp_path / "organizations.csv").write_text("id,name\nacme,Acme\n", encoding="utf-8")
    (tmp_path / "memberships.csv").write_text("login,org\nada,acme\n", encoding="utf-8")
    (tmp_path / "map.toml").write_text(
        '[source]\nkey = "id"\n[fields]\nexternal_id = "id"\nusername = "login"\n'
        '[organizations]\ninput = "organizations.csv"\nkey = "id"\nname = "name"\n' + memberships,
        encoding="utf-8",
    )
    return tmp_path / "users.csv"


def test_user_by_must_name_a_users_column(tmp_path: Path) -> None:
    """user_by naming a column the users input lacks is a SourceError naming it."""
    path = write_generic(
        tmp_path,
        '[memberships]\ninput = "memberships.csv"\nuser = "login"\norganization = "org"\n'
        'user_by = "handle"\n',
    )
    with pytest.raises(SourceError, match=r"no column 'handle' \(memberships.user_by\)"):
        migrate.validate(path, tmp_path / "map.toml", out_dir=tmp_path / "out")


def test_user_by_is_refused_with_from_users(tmp_path: Path) -> None:
    """user_by names members of another input: with from_users it is a mapping error."""
    path = write_generic(
        tmp_path, '[memberships]\nfrom_users = true\norganization = "id"\nuser_by = "login"\n'
    )
    with pytest.raises(MappingError, match=r"memberships\.user_by"):
        migrate.validate(path, tmp_path / "map.toml", out_dir=tmp_path / "out")
