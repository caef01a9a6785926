"""Hostile organization and membership files for ``validate`` and ``run``: each is refused with a
one-line message or reported line by line, never a traceback, never a record silently lost or
made into a wrong organization, never a secret in a report or the state DB."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hostile_cases import DIGEST, HEADER, TOTP, assert_no_secret, files_text, lines, run, validate

from migrate.cli import main
from migrate.sandbox import SandboxHandle

ORG_HEADER = "id,name,slug,public_metadata,private_metadata"
MEMBER_HEADER = "user_id,organization_id,role"
PRIVATE_SECRET = "sk_live_orgSECRET0123456789abcdefXYZ"


def _users(tmp_path: Path, n: int = 4, extra: tuple[str, ...] = ()) -> Path:
    path = tmp_path / "users.csv"
    path.write_text("\n".join([HEADER, *lines(n), *extra]) + "\n", encoding="utf-8")
    return path


def _write(path: Path, data: str | bytes) -> Path:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


def _tenants(tmp_path: Path, orgs: str | bytes, members: str | bytes | None = None) -> list[str]:
    args = ["--organizations", str(_write(tmp_path / "organizations.csv", orgs))]
    if members is not None:
        args += ["--memberships", str(_write(tmp_path / "memberships.csv", members))]
    return args


def _errors(users: Path) -> list[dict[str, str]]:
    path = users.parent / f"{users.stem}.validation" / "errors.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _one_line_error(result: Result, *needles: str) -> None:
    """Exit 1, one ``Error:`` line naming every needle, no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if x.startswith("Error:")]
    for needle in needles:
        assert needle in line, line


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("empty", b"", "empty"),
        ("header only", b"id,name\n", "no organization records"),
        ("blank lines", b"id,name\n\n,\n\n", "no organization records"),
        ("binary", bytes(range(256)) * 4, "binary"),
    ],
)
def test_an_organizations_file_without_records_is_refused(
    tmp_path: Path, mapping: Path, name: str, data: bytes, why: str
) -> None:
    """An empty, header-only, blank or binary organizations file is a one-line error naming it
    (exit 1), never a success with no organizations."""
    result = validate(_users(tmp_path), mapping, *_tenants(tmp_path, data))
    _one_line_error(result, "organizations.csv", why)


def test_a_memberships_file_without_records_is_refused(tmp_path: Path, mapping: Path) -> None:
    """A header-only memberships file is a one-line error naming it (exit 1)."""
    args = _tenants(tmp_path, "id,name\no1,One\n", MEMBER_HEADER + "\n")
    _one_line_error(validate(_users(tmp_path), mapping, *args), "memberships.csv", "no membership")


def test_a_json_list_of_non_objects_is_refused(tmp_path: Path) -> None:
    """An Auth0 organizations file that is a list of numbers and text is a one-line error."""
    users = tmp_path / "users.json"
    users.write_text('{"user_id": "auth0|1", "email": "a@example.com"}\n', encoding="utf-8")
    orgs = _write(tmp_path / "orgs.json", '[1, "two", 3]')
    result = CliRunner().invoke(
        main, ["validate", str(users), "--mapping", "auth0", "--organizations", str(orgs)]
    )
    _one_line_error(result, "orgs.json")


@pytest.mark.parametrize(
    ("members", "why"),
    [('"oops"', "not text"), ('{"user_id": "auth0|1"}', "not an object")],
)
def test_auth0_members_that_are_not_a_list_are_refused(
    tmp_path: Path, members: str, why: str
) -> None:
    """An Auth0 organization whose members are text or an object is a one-line error naming
    the column and the record, not a traceback."""
    users = tmp_path / "users.json"
    users.write_text('{"user_id": "auth0|1", "email": "a@example.com"}\n', encoding="utf-8")
    orgs = tmp_path / "orgs.json"
    orgs.write_text(f'[{{"id": "org_1", "name": "acme", "members": {members}}}]', "utf-8")
    result = CliRunner().invoke(
        main, ["validate", str(users), "--mapping", "auth0", "--organizations", str(orgs)]
    )
    _one_line_error(result, "orgs.json", "'members'", why, "record 1")


def test_a_wrong_delimiter_names_the_file_and_its_columns(tmp_path: Path, mapping: Path) -> None:
    """A semicolon-separated organizations file is refused naming that file and the single
    column it was read as, so the delimiter shows."""
    args = _tenants(tmp_path, "id;name\no1;One\n")
    result = validate(_users(tmp_path), mapping, *args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "organizations.csv" in result.output
    assert "column 'id' is not in the input; columns: id;name" in result.output


def test_a_duplicate_column_is_refused_naming_it(tmp_path: Path, mapping: Path) -> None:
    """An organizations header naming ``id`` twice is a one-line error naming the column."""
    args = _tenants(tmp_path, "id,name,id\no1,One,o2\n")
    _one_line_error(validate(_users(tmp_path), mapping, *args), "organizations.csv", "'id'")


def test_a_missing_name_column_is_refused_naming_it(tmp_path: Path, mapping: Path) -> None:
    """An organizations file without the name column is refused naming the column and file."""
    result = validate(_users(tmp_path), mapping, *_tenants(tmp_path, "id,title\no1,One\n"))
    assert result.exit_code == 1, result.output
    assert "organizations.name: column 'name' is not in the input" in result.output
    assert "organizations.csv" in result.output


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(lambda t: ("\ufeff" + t).encode(), id="bom"),
        pytest.param(lambda t: t.replace("\n", "\r\n").encode(), id="crlf"),
        pytest.param(lambda t: t.replace("\n", "\r").encode(), id="cr"),
    ],
)
def test_bom_and_line_ends_read_every_record(
    tmp_path: Path, mapping: Path, encoded: Callable[[str], bytes]
) -> None:
    """A BOM, CRLF or bare-CR organizations and memberships file yields every record."""
    orgs = "id,name\no1,One\no2,Two\no3,Three\n"
    members = MEMBER_HEADER + "\nu1,o1,admin\nu2,o2,member\nu3,o3,\n"
    users = _users(tmp_path)
    result = validate(users, mapping, *_tenants(tmp_path, encoded(orgs), encoded(members)))
    assert result.exit_code == 0, result.output
    assert "organizations             3   3 valid, 0 invalid" in result.output
    assert "memberships               3   3 valid, 0 invalid" in result.output


@pytest.mark.parametrize("brk", ["\n", "\r"])
def test_a_split_organization_record_is_reported_not_made_two(
    tmp_path: Path, mapping: Path, brk: str
) -> None:
    """A line break inside an unquoted value splits a record: both parts are short_row lines
    with key and value hidden (the tail held a digest), and neither becomes an organization."""
    orgs = f"{ORG_HEADER}\no1,One,one,,\no2,Two{brk}{DIGEST},two,,\no3,Three,three,,\n"
    users = _users(tmp_path)
    result = validate(users, mapping, *_tenants(tmp_path, orgs))
    assert result.exit_code == 3, result.output
    assert "organizations             4   2 valid, 2 invalid" in result.output
    errors = _errors(users)
    assert [(e["row"], e["key"], e["code"], e["value"]) for e in errors] == [
        ("3", "[hidden]", "short_row", "[hidden]"),
        ("4", "[hidden]", "short_row", "[hidden]"),
    ]
    assert_no_secret(result.output, files_text(users.parent / "users.validation"))


def test_a_split_membership_record_is_reported_not_made_two(tmp_path: Path, mapping: Path) -> None:
    """A membership record split by a line break gives two short_row lines, no membership."""
    members = f"{MEMBER_HEADER}\nu1,o1,admin\nu2,o\n1,member\n"
    users = _users(tmp_path)
    result = validate(users, mapping, *_tenants(tmp_path, "id,name\no1,One\n", members))
    assert result.exit_code == 3, result.output
    assert "memberships               3   1 valid, 2 invalid" in result.output
    assert [(e["row"], e["field"], e["code"]) for e in _errors(users)] == [
        ("3", "membership.row", "short_row"),
        ("4", "membership.row", "short_row"),
    ]


def test_bad_metadata_is_reported_and_private_metadata_never_shown(
    tmp_path: Path, mapping: Path
) -> None:
    """Invalid JSON, non-object JSON and metadata over 8 KB are a line each with row, key and
    field; a private metadata value is shown as [hidden], so its secret is in no report."""
    big = json.dumps({"blob": "x" * 9000}).replace('"', '""')
    orgs = "\n".join(
        [
            ORG_HEADER,
            f'o1,One,one,{{bad json,"{{""api_key"": ""{PRIVATE_SECRET}"""',
            'o2,Two,two,"[1, 2]","""text"""',
            f'o3,Three,three,"{big}",',
            f'o4,Four,four,,"{big}"',
            f'o5,Five,five,"{{""ok"": 1}}","{{""api_key"": ""{PRIVATE_SECRET}""}}"',
        ]
    )
    users = _users(tmp_path)
    result = validate(users, mapping, *_tenants(tmp_path, orgs + "\n"))
    assert result.exit_code == 3, result.output
    assert "organizations             5   1 valid, 4 invalid" in result.output
    got = [(e["row"], e["key"], e["field"], e["code"], e["value"]) for e in _errors(users)]
    assert got == [
        ("2", "o1", "organization.public_metadata", "invalid_metadata", "{bad json"),
        ("2", "o1", "organization.private_metadata", "invalid_metadata", "[hidden]"),
        ("3", "o2", "organization.public_metadata", "invalid_metadata", "[1, 2]"),
        ("3", "o2", "organization.private_metadata", "invalid_metadata", "[hidden]"),
        ("4", "o3", "organization.public_metadata", "metadata_too_large", ""),
        ("5", "o4", "organization.private_metadata", "metadata_too_large", "[hidden]"),
    ]
    assert PRIVATE_SECRET not in files_text(users.parent / "users.validation")


def test_unicode_and_slash_keys_get_their_own_slugs_or_a_line(
    tmp_path: Path, mapping: Path
) -> None:
    """Keys with accents, '/' or no ASCII letter derive distinct slugs, or an invalid_slug
    line; a slug given in capitals or with accents is an invalid_slug line."""
    orgs = "id,name,slug\nCafé Crème,A,\nsales/emea,B,\n日本,C,\nd,D,Dévé\n"
    users = _users(tmp_path)
    result = validate(users, mapping, *_tenants(tmp_path, orgs))
    assert result.exit_code == 3, result.output
    assert [(e["row"], e["code"], e["value"]) for e in _errors(users)] == [
        ("4", "invalid_slug", "日本"),
        ("5", "invalid_slug", "Dévé"),
    ]


def test_a_membership_named_twice_in_another_case_is_not_merged(
    tmp_path: Path, mapping: Path
) -> None:
    """Keys are case-sensitive: the same membership in another case names an unknown user and
    organization (reported), and the same pair twice is a duplicate naming the first row."""
    members = f"{MEMBER_HEADER}\nu1,o1,admin\nU1,O1,admin\nu1,o1,member\n"
    users = _users(tmp_path)
    result = validate(users, mapping, *_tenants(tmp_path, "id,name\no1,One\n", members))
    assert result.exit_code == 3, result.output
    assert [(e["row"], e["key"], e["code"]) for e in _errors(users)] == [
        ("3", "O1/U1", "unknown_user"),
        ("3", "O1/U1", "unknown_organization"),
        ("4", "o1/u1", "duplicate_membership"),
    ]


def test_a_run_creates_every_good_tenant_record_and_keeps_no_secret(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle
) -> None:
    """run --sandbox with a split organization record, bad metadata and a split membership:
    the good organizations and memberships are created once, every other record is in
    errors.csv, and no digest, TOTP secret or private metadata secret is in the run directory
    or the state DB."""
    orgs = "\n".join(
        [
            ORG_HEADER,
            f'o1,One,one,,"{{""api_key"": ""{PRIVATE_SECRET}""}}"',
            f"o2,Two\n{DIGEST},two,,",
            'o3,Three,three,"[1]",',
            "o4,Four,four,,",
        ]
    )
    members = f"{MEMBER_HEADER}\nu1,o1,admin\nu2,o4,member\nu3,o\n4,member\nu4,o2,\n"
    run_dir = tmp_path / "run"
    args = _tenants(tmp_path, orgs + "\n", members)
    result = run(sandbox, _users(tmp_path), mapping, "--run-dir", str(run_dir), *args)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert sorted(o.slug for o in sandbox.store.orgs) == ["four", "one"]
    assert sandbox.store.orgs.memberships() == 2
    with (run_dir / "errors.csv").open(encoding="utf-8", newline="") as handle:
        tenant = [
            (e["row"], e["field"], e["code"])
            for e in csv.DictReader(handle)
            if e["field"].startswith(("organization.", "membership."))
        ]
    assert sorted(tenant) == sorted(
        [
            ("3", "organization.row", "short_row"),
            ("4", "organization.row", "short_row"),
            ("5", "organization.public_metadata", "invalid_metadata"),
            ("4", "membership.row", "short_row"),
            ("5", "membership.row", "short_row"),
            ("6", "membership.organization", "organization_not_created"),
        ]
    )
    dump = files_text(run_dir)
    with closing(sqlite3.connect(run_dir / "state.sqlite")) as db:
        dump += "\n".join(str(r) for r in db.execute("SELECT * FROM organizations"))
        dump += "\n".join(str(r) for r in db.execute("SELECT * FROM memberships"))
    assert_no_secret(dump, result.output)
    assert PRIVATE_SECRET not in dump


def test_memberships_whose_keys_hold_slashes_never_share_a_key(
    tmp_path: Path, mapping: Path, sandbox: SandboxHandle
) -> None:
    """Organization ``a/b`` with user ``u1`` and organization ``a`` with user ``b/u1`` are two
    memberships with two keys: a run creates both and rollback deletes both, row by row."""
    extra = (f"b/u1,bu1@example.com,B,{DIGEST},{TOTP}",)
    users = _users(tmp_path, 1, extra)
    members = f"{MEMBER_HEADER}\nu1,a/b,admin\nb/u1,a,member\n"
    args = _tenants(tmp_path, "id,name,slug\na/b,AB,ab\na,A,a\n", members)
    run_dir = tmp_path / "run"
    result = run(sandbox, users, mapping, "--run-dir", str(run_dir), *args)
    assert result.exit_code == 0, result.output
    assert sandbox.store.orgs.memberships() == 2
    with closing(sqlite3.connect(run_dir / "state.sqlite")) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM memberships ORDER BY row")]
    assert keys == ["a/b/u1", "a/b%2Fu1"]
    env = {"CLERK_SECRET_KEY": sandbox.secret_key, "CLERK_API_URL": sandbox.url}
    back = CliRunner().invoke(main, ["rollback", str(run_dir), "--yes", "--rate", "2000"], env=env)
    assert back.exit_code == 0, back.output
    assert sandbox.store.orgs.memberships() == 0
    with closing(sqlite3.connect(run_dir / "state.sqlite")) as db:
        states = [s for (s,) in db.execute("SELECT state FROM memberships ORDER BY row")]
    assert states == ["pending", "pending"]
