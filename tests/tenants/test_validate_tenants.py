"""``clerk-migrate validate`` with organizations and memberships: reports, counts, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from click.testing import CliRunner, Result

import migrate
from migrate.cli import main

USERS = """\
id,email
u1,ada@example.com
u2,bob@example.com
u3,nope
u4,cy@example.com
"""
ORGS = """\
id,name,slug,seats,owner
acme,Acme Inc,,2,u1
globex,Globex,Globex Corp,,u9
"""
MEMBERS = """\
user_id,org_id,role
u1,acme,admin
u2,acme,
u4,acme,member
u3,acme,member
u2,hooli,member
u2,acme,member
"""
MAPPING = """\
[source]
key = "id"

[fields]
external_id = "id"
email_address = "email"

[organizations]
input = "organizations.csv"
key = "id"
name = "name"
slug = "slug"
max_allowed_memberships = "seats"
created_by = "owner"

[memberships]
input = "memberships.csv"
user = "user_id"
organization = "org_id"
role = "role"

[roles]
admin = "org:admin"
member = "org:member"
"""
HINT = "fix the value in the input (see message), then validate it again"


def _files(
    tmp_path: Path, orgs: str = ORGS, members: str = MEMBERS, mapping: str = MAPPING
) -> Path:
    (tmp_path / "users.csv").write_text(USERS, encoding="utf-8")
    (tmp_path / "organizations.csv").write_text(orgs, encoding="utf-8")
    (tmp_path / "memberships.csv").write_text(members, encoding="utf-8")
    (tmp_path / "map.toml").write_text(mapping, encoding="utf-8")
    return tmp_path


def _run(tmp_path: Path, *extra: str) -> Result:
    args = ["validate", str(tmp_path / "users.csv"), "-m", str(tmp_path / "map.toml")]
    args += ["--out", str(tmp_path / "out"), *extra]
    return CliRunner().invoke(main, args, catch_exceptions=False)


def _errors(tmp_path: Path) -> list[dict[str, str]]:
    with (tmp_path / "out" / "errors.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_bad_tenant_rows_are_reported_with_row_key_field_and_why(tmp_path: Path) -> None:
    """Each bad organization and membership is one errors.csv line (row of its own file, key,
    field naming the table, code, value, message), and validate exits 3."""
    result = _run(_files(tmp_path))
    assert result.exit_code == 3, result.output
    lines = [
        (e["row"], e["key"], e["stage"], e["field"], e["code"], e["value"], e["hint"])
        for e in _errors(tmp_path)
    ]
    assert lines == [
        ("4", "u3", "validation", "email_address", "invalid_email", "nope", HINT),
        ("3", "globex", "validation", "organization.slug", "invalid_slug", "Globex Corp", HINT),
        ("3", "globex", "validation", "organization.created_by", "unknown_user", "u9", HINT),
        (
            "4",
            "acme/u4",
            "validation",
            "membership.organization",
            "membership_limit_reached",
            "acme",
            HINT,
        ),
        ("5", "acme/u3", "validation", "membership.user", "user_not_created", "u3", HINT),
        (
            "6",
            "hooli/u2",
            "validation",
            "membership.organization",
            "unknown_organization",
            "hooli",
            HINT,
        ),
        ("7", "acme/u2", "validation", "membership.user", "duplicate_membership", "u2", HINT),
    ]
    assert _errors(tmp_path)[-1]["message"] == (
        "The user is already a member of this organization. Row 3 has it first."
    )


def test_counts_per_kind_go_to_summary_json_and_the_printed_summary(tmp_path: Path) -> None:
    """summary.json and the printed summary count organizations and memberships apart."""
    result = _run(_files(tmp_path))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["organizations"] == {"read": 2, "valid": 1, "invalid": 1}
    assert summary["memberships"] == {"read": 6, "valid": 2, "invalid": 4}
    assert (summary["read"], summary["invalid"]) == (4, 1)
    assert "  organizations             2   1 valid, 1 invalid" in result.stdout.splitlines()
    assert "  memberships               6   2 valid, 4 invalid" in result.stdout.splitlines()


def test_clean_tenants_exit_0(tmp_path: Path) -> None:
    """Valid users, organizations and memberships: exit 0 and an errors.csv with its header only."""
    _files(
        tmp_path,
        orgs="id,name,slug,seats,owner\nacme,Acme Inc,,,u1\n",
        members="user_id,org_id,role\nu1,acme,admin\nu2,acme,\n",
    )
    (tmp_path / "users.csv").write_text(USERS.replace("nope", "d@example.com"), encoding="utf-8")
    result = _run(tmp_path)
    assert result.exit_code == 0, result.output
    assert _errors(tmp_path) == []


def test_invalid_tenants_alone_make_exit_3() -> None:
    """Valid users but an invalid organization still exit 3 (the library's result says so)."""
    result = migrate.ValidateResult(
        {"invalid": 0, "organizations": {"read": 1, "valid": 0, "invalid": 1}},
        Path("e"),
        Path("s"),
        (),
        0.0,
    )
    assert (result.invalid_tenants, int(result.exit_code)) == (1, 3)


def test_the_command_line_file_overrides_the_mapping_input(tmp_path: Path) -> None:
    """--organizations FILE is read instead of the mapping's input."""
    _files(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text("id,name,slug,seats,owner\nacme,Acme,,,\n", encoding="utf-8")
    _run(tmp_path, "--organizations", str(other))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["organizations"] == {"read": 1, "valid": 1, "invalid": 0}


def test_no_file_for_the_organizations_leaves_them_out_with_a_notice(tmp_path: Path) -> None:
    """A mapping naming no organizations file (a preset) validates users and says what it left
    out."""
    mapping = MAPPING.replace('input = "organizations.csv"\n', "").replace(
        'input = "memberships.csv"\n', ""
    )
    result = _run(_files(tmp_path, mapping=mapping))
    assert result.exit_code == 3
    assert (
        "Note: the mapping has [organizations] but no file was given for them "
        "(--organizations FILE): organizations and memberships are left out"
    ) in result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert "organizations" not in summary


def test_a_tenant_file_the_mapping_has_no_table_for_is_a_usage_error(tmp_path: Path) -> None:
    """--memberships with a mapping without [memberships] exits 2 before anything is written."""
    mapping = MAPPING.split("[memberships]", maxsplit=1)[0]
    result = _run(_files(tmp_path, mapping=mapping), "--memberships", str(tmp_path / "m.csv"))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: --memberships was given but the mapping has no [memberships]"
    )
    assert not (tmp_path / "out").exists()


def test_a_tenant_file_without_rows_is_never_success(tmp_path: Path) -> None:
    """An organizations file holding only its header stops validate with exit 1."""
    result = _run(_files(tmp_path, orgs="id,name,slug,seats,owner\n"))
    assert result.exit_code == 1
    assert "organizations.csv: no organization records" in result.stderr


def test_a_column_the_organizations_file_lacks_is_one_mapping_line(tmp_path: Path) -> None:
    """organizations.name naming an absent column is a mapping error with the key path."""
    result = _run(_files(tmp_path, orgs="id,title,slug,seats,owner\nacme,A,,,\n"))
    assert result.exit_code == 1
    assert (
        "organizations.name: column 'name' is not in the input; columns: id, title, slug, "
        "seats, owner"
    ) in result.stderr
    assert "Traceback" not in result.output
