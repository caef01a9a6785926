"""Presets on exports shaped differently from the framework's defaults, through the CLI.

Each export here is written by the test (a few rows), in a layout real exports take and the
shipped samples do not: fewer columns, more columns, SQL NULLs, a join left out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from migrate.cli import main

BCRYPT = "$2y$10$" + "a" * 53


def _cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _validate(path: Path, mapping: str, *extra: str, env: dict[str, str] | None = None) -> Result:
    out = path.parent / "out"
    return _cli("validate", str(path), "--mapping", mapping, "--out", str(out), *extra, env=env)


def _previews(result: Result) -> list[dict[str, Any]]:
    data = json.loads(result.stdout)
    return [p["body"] for p in data["preview"]]


def _run(path: Path, mapping: str, *extra: str) -> tuple[Result, dict[str, Any]]:
    run_dir = path.parent / "run"
    result = _cli(
        "run", str(path), "--mapping", mapping, "--sandbox", "--run-dir", str(run_dir),
        "--rate", "1000", "--quiet", *extra,
    )  # fmt: skip
    return result, json.loads((run_dir / "summary.json").read_text("utf-8"))


def test_laravel_plain_select_validates_and_runs(tmp_path: Path) -> None:
    """SELECT id, name, email, password, created_at works with the laravel preset: the absent
    email_verified_at is a note, and every row is created."""
    path = tmp_path / "users.csv"
    path.write_text(
        "id,name,email,password,created_at\n"
        f"1,Ada Lovelace,ada@example.com,{BCRYPT},2023-01-02 03:04:05\n"
        f"2,Bo,bo@example.com,{BCRYPT},2023-01-02 03:04:05\n",
        encoding="utf-8",
    )
    result = _validate(path, "laravel", "--json", "--preview", "2")
    assert result.exit_code == 0, result.output
    assert (
        "Note: fields.email_address_identification_status: column 'email_verified_at' is not "
        "in the input; left out" in result.stderr
    )
    bodies = _previews(result)
    assert bodies[0]["first_name"] == "Ada"
    assert bodies[0]["last_name"] == "Lovelace"
    assert "email_address_identification_status" not in bodies[0]
    ran, summary = _run(path, "laravel")
    assert ran.exit_code == 0, ran.output
    assert summary["counts"]["created"] == 2


def test_laravel_table_with_first_last_phone_columns(tmp_path: Path) -> None:
    """A users table with first_name / last_name / phone maps them, and MySQL's \\N is no value."""
    path = tmp_path / "users.csv"
    path.write_text(
        "id,first_name,last_name,email,phone,password,email_verified_at\n"
        f"1,Mary Ann,van der Berg,mary@example.com,+14155550123,{BCRYPT},\\N\n"
        f"2,Bo,Li,bo@example.com,\\N,{BCRYPT},2023-01-01 00:00:00\n",
        encoding="utf-8",
    )
    result = _validate(path, "laravel", "--json", "--preview", "2")
    assert result.exit_code == 0, result.output
    first, second = _previews(result)
    assert (first["first_name"], first["last_name"]) == ("Mary Ann", "van der Berg")
    assert first["phone_number"] == ["+14155550123"]
    assert first["email_address_identification_status"] == ["reserved"]
    assert "phone_number" not in second
    assert "email_address_identification_status" not in second  # verified is the default


def test_aspnet_sql_server_null_phone_is_no_phone(tmp_path: Path) -> None:
    """PhoneNumber NULL (SQL Server export) is missing: rows are valid, no duplicate phone."""
    path = tmp_path / "AspNetUsers.csv"
    path.write_text(
        "Id,UserName,Email,EmailConfirmed,PasswordHash,PhoneNumber,PhoneNumberConfirmed\n"
        "a1,ann@example.com,ann@example.com,True,NULL,NULL,False\n"
        "b2,bob@example.com,bob@example.com,True,NULL,NULL,False\n",
        encoding="utf-8",
    )
    result = _validate(path, "aspnet-identity", "--json", "--preview", "2")
    assert result.exit_code == 0, result.output
    assert [b.get("phone_number") for b in _previews(result)] == [None, None]


def test_auth0_csv_without_the_hash_export_warns_and_runs(tmp_path: Path) -> None:
    """Auth0's CSV alone: one warning with the row count, users created without a password."""
    path = tmp_path / "tenant.csv"
    path.write_text(
        "user_id,email,email_verified\n"
        "'auth0|1,'ann@example.com,'true\n"
        "'auth0|2,'bob@example.com,'false\n",
        encoding="utf-8",
    )
    result = _validate(path, "auth0_csv")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("Warning:")]
    assert warnings == [
        "Warning: no file for join 'hashes' (Auth0's password-hash export) (--join "
        "hashes=FILE): 2 row(s) affected: users are created without a password "
        "(skip_password_requirement); they reset it or sign in another way"
    ]
    ran, summary = _run(path, "auth0_csv")
    assert ran.exit_code == 0, ran.output
    assert summary["counts"]["created"] == 2
    assert "Warning: no file for join 'hashes'" in ran.stderr


def test_wordpress_users_with_name_columns_need_no_usermeta(tmp_path: Path) -> None:
    """wp_users with first_name / last_name columns validates without the usermeta join."""
    path = tmp_path / "wp_users.csv"
    path.write_text(
        "ID,user_login,user_pass,user_email,user_registered,first_name,last_name\n"
        "7,ann,$P$BxxxxxxxxxxxxxxxxxxxxxxxxxxxxX.,ann@example.com,2020-01-01 00:00:00,Ann,Lee\n",
        encoding="utf-8",
    )
    result = _validate(path, "wordpress", "--json", "--preview", "1")
    assert result.exit_code == 0, result.output
    (body,) = _previews(result)
    assert (body["first_name"], body["last_name"]) == ("Ann", "Lee")


def test_a_required_join_without_its_file_exits_2_naming_it(tmp_path: Path) -> None:
    """A required join with no file: exit 2, one line naming --join NAME=FILE and the file."""
    path = tmp_path / "users.csv"
    path.write_text("id,email\n1,ann@example.com\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[fields]\nexternal_id = "id"\nemail_address = "email"\nfirst_name = "names.first"\n'
        '[[join]]\nname = "names"\ndescription = "first names from the profile table"\n'
        'on = "id"\nright_on = "user_id"\n',
        encoding="utf-8",
    )
    result = _validate(path, str(mapping))
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: the mapping joins 'names' (first names from the profile table) but no file "
        "was given for it; pass --join names=FILE\n"
    )


def test_django_flags_reach_metadata_as_booleans(tmp_path: Path) -> None:
    """is_staff / is_superuser / is_active written t/f or 1/0 are JSON booleans in metadata."""
    path = tmp_path / "auth_user.tsv"
    path.write_text(
        "id\tpassword\tis_superuser\tusername\tfirst_name\tlast_name\temail\tis_staff\t"
        "is_active\tdate_joined\n"
        "7\t!unusable\t1\tana_s\tAna\tNULL\tana@example.com\t0\t1\t2021-03-04 10:11:12\n",
        encoding="utf-8",
    )
    result = _validate(path, "django", "--json", "--preview", "1")
    assert result.exit_code == 0, result.output
    (body,) = _previews(result)
    assert body["private_metadata"] == {"is_staff": False, "is_superuser": True, "is_active": True}
    assert "last_name" not in body


def _csv_rows(path: Path) -> list[list[str]]:
    """The cells of a report, which (like every CSV the tool writes) has no byte-order mark."""
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf"), f"{path.name} starts with a byte-order mark"
    return [line.split(",") for line in data.decode("utf-8").splitlines()]


def test_wordpress_logins_clerk_refuses_are_kept_with_a_warning(tmp_path: Path) -> None:
    """user_login 'jane.doe' and 'bob' become private_metadata.legacy_username with a warning
    in warnings.csv; 'admin_1' is the username; the exit code stays 0."""
    path = tmp_path / "wp_users.csv"
    phpass = "$P$BxxxxxxxxxxxxxxxxxxxxxxxxxxxxX."
    path.write_text(
        "ID,user_login,user_pass,user_email,first_name,last_name\n"
        f"1,admin_1,{phpass},admin@example.com,Site,Admin\n"
        f"2,jane.doe,{phpass},jane@example.com,Jane,Doe\n"
        f"7,bob,{phpass},bob@example.com,Bob,Builder\n",
        encoding="utf-8",
    )
    result = _validate(path, "wordpress", "--json", "--preview", "3")
    assert result.exit_code == 0, result.output
    bodies = _previews(result)
    assert [b.get("username") for b in bodies] == ["admin_1", None, None]
    assert [b.get("private_metadata") for b in bodies] == [
        None,
        {"legacy_username": "jane.doe"},
        {"legacy_username": "bob"},
    ]
    summary = json.loads(result.stdout)
    assert (summary["valid"], summary["warnings"]) == (3, 2)
    rows = _csv_rows(tmp_path / "out" / "warnings.csv")
    assert rows[0] == [
        "row", "key", "email", "stage", "field", "code", "value", "message", "hint",
    ]  # fmt: skip
    assert [r[:2] + r[4:6] for r in rows[1:]] == [
        ["3", "2", "username", "username_not_accepted"],
        ["4", "7", "username", "username_not_accepted"],
    ]
    ran, run_summary = _run(path, "wordpress")
    assert ran.exit_code == 0, ran.output
    assert run_summary["counts"]["created"] == 3
    assert len(_csv_rows(tmp_path / "run" / "warnings.csv")) == 3


def test_supabase_soft_deleted_users_are_skipped_not_created(tmp_path: Path) -> None:
    """A deleted_at user is listed in skipped.csv and counted as skipped by validate and run;
    it is not created and the exit code stays 0."""
    path = tmp_path / "auth_users.csv"
    path.write_text(
        "id,email,encrypted_password,email_confirmed_at,created_at,deleted_at\n"
        "u1,live@example.com,,2023-01-01 00:00:00+00,2023-01-01 00:00:00+00,\n"
        "u2,gone@example.com,,2023-01-01 00:00:00+00,2023-01-01 00:00:00+00,"
        "2024-02-02 00:00:00+00\n",
        encoding="utf-8",
    )
    result = _validate(path, "supabase", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["read"], summary["valid"], summary["invalid"], summary["skipped"]) == (
        2, 1, 0, 1,
    )  # fmt: skip
    assert _csv_rows(tmp_path / "out" / "skipped.csv") == [
        ["row", "key", "reason"],
        ["3", "u2", "deleted_in_source"],
    ]
    ran, run_summary = _run(path, "supabase")
    assert ran.exit_code == 0, ran.output
    assert (run_summary["counts"]["created"], run_summary["counts"]["skipped"]) == (1, 1)
    assert _csv_rows(tmp_path / "run" / "skipped.csv")[1] == ["3", "u2", "deleted_in_source"]


def test_keycloak_disabled_users_are_banned_or_skipped(tmp_path: Path) -> None:
    """enabled = f is created banned by default; with [options] disabled = "skip" it is skipped
    as disabled_in_source."""
    path = tmp_path / "users.csv"
    path.write_text(
        "id,username,email,email_verified,enabled,first_name,last_name,secret_data,"
        "credential_data\n"
        "k1,on_user,on@example.com,t,t,On,User,,\n"
        "k2,off_user,off@example.com,t,f,Off,User,,\n",
        encoding="utf-8",
    )
    result = _validate(path, "keycloak", "--json", "--preview", "2")
    assert result.exit_code == 0, result.output
    assert [b.get("banned") for b in _previews(result)] == [None, True]
    ran, summary = _run(path, "keycloak")
    assert ran.exit_code == 0, ran.output
    assert summary["counts"]["created"] == 2
    preset = (Path(__file__).parents[2] / "migrate" / "mappings" / "keycloak.toml").read_text()
    skipping = tmp_path / "keycloak_skip.toml"
    skipping.write_text(preset.replace("[options]\n", '[options]\ndisabled = "skip"\n'), "utf-8")
    result = _validate(path, str(skipping), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["skipped"] == 1
    assert _csv_rows(tmp_path / "out" / "skipped.csv")[1] == ["3", "k2", "disabled_in_source"]


def test_aspnet_lockout_until_9999_is_banned_a_temporary_one_is_not(tmp_path: Path) -> None:
    """LockoutEnd in the year 9999 disables the account (banned); one in 2024 is ignored."""
    path = tmp_path / "AspNetUsers.csv"
    path.write_text(
        "Id,UserName,Email,EmailConfirmed,PasswordHash,LockoutEnd,FirstName,LastName\n"
        "a1,ann,ann@example.com,True,NULL,9999-12-31 23:59:59.9999999 +00:00,Ann,Lee\n"
        "b2,bob,bob@example.com,True,NULL,2024-05-01 10:00:00.0000000 +00:00,Bob,Ray\n",
        encoding="utf-8",
    )
    result = _validate(path, "aspnet-identity", "--json", "--preview", "2")
    assert result.exit_code == 0, result.output
    bodies = _previews(result)
    assert [b.get("banned") for b in bodies] == [True, None]
    assert [b["first_name"] for b in bodies] == ["Ann", "Bob"]


def test_skipped_and_warnings_reports_neutralise_formula_keys(tmp_path: Path) -> None:
    """A key a spreadsheet would run (=1+1, @x) gets a leading ' in skipped.csv/warnings.csv."""
    path = tmp_path / "users.csv"
    path.write_text(
        "id,email,login,deleted_at\n=1+1,a@example.com,ok_user,2024-01-01\n@x,b@example.com,b.b,\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[source]\nkey = "id"\n[fields]\nemail_address = "email"\n'
        'username = { column = "login", if_invalid = "legacy_username" }\n'
        '[status]\ndeleted = "deleted_at"\n',
        encoding="utf-8",
    )
    result = _validate(path, str(mapping))
    assert result.exit_code == 0, result.output
    assert _csv_rows(tmp_path / "out" / "skipped.csv")[1] == ["2", "'=1+1", "deleted_in_source"]
    assert _csv_rows(tmp_path / "out" / "warnings.csv")[1][:2] == ["3", "'@x"]
