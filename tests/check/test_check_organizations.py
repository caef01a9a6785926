"""``check`` with organizations: organizations and slugs on, role keys there, membership limits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import migrate
from migrate import CheckReport, Connection
from migrate._internal.secrets import Secret
from migrate.cli import main
from migrate.errors import CheckFailedError
from migrate.sandbox import SandboxConfig, SandboxHandle

USERS = "id,email\nu1,ada@example.com\nu2,bob@example.com\nu3,cy@example.com\n"
ORGS = "id,name,seats\nacme,Acme Inc,\nglobex,Globex,5\n"
MEMBERS = "user_id,org_id,role\nu1,acme,admin\nu2,acme,member\nu3,acme,owner\nu1,globex,member\n"
MAPPING = """\
[source]
key = "id"

[fields]
external_id = "id"
email_address = "email"

[organizations]
key = "id"
name = "name"
max_allowed_memberships = "seats"

[memberships]
user = "user_id"
organization = "org_id"
role = "role"

[roles]
admin = "org:admin"
member = "org:member"
owner = "org:owner"
"""


def export(tmp_path: Path, members: str = MEMBERS) -> Path:
    """users.csv, organizations.csv, memberships.csv and map.toml; the users file's path."""
    (tmp_path / "organizations.csv").write_text(ORGS, encoding="utf-8")
    (tmp_path / "memberships.csv").write_text(members, encoding="utf-8")
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "users.csv"
    path.write_text(USERS, encoding="utf-8")
    return path


def check(handle: SandboxHandle, path: Path, *, lookups: bool = True) -> CheckReport:
    """``migrate.check`` with the tenant files, the sandbox's publishable and secret keys."""
    connection = Connection(api_url=handle.url, secret_key=Secret(handle.secret_key))
    return migrate.check(
        path,
        path.parent / "map.toml",
        publishable_key=handle.publishable_key,
        connection=connection if lookups else None,
        rate=5000,
        organizations=path.parent / "organizations.csv",
        memberships=path.parent / "memberships.csv",
    )


def levels(report: CheckReport) -> dict[str, str]:
    """Finding code -> level, but for a development instance's headroom (always there)."""
    return {f.code: f.level for f in report.findings if f.code != "development_headroom"}


ROLES = ("org:admin", "org:member", "org:owner")


def test_an_instance_that_takes_the_organizations_is_clean(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """Organizations and slugs on, every role there: no finding, and the tenant counts shown."""
    handle = make_sandbox(SandboxConfig.for_tests(org_roles=ROLES))
    report = check(handle, export(tmp_path))
    assert levels(report) == {}
    assert report.clean
    assert report.to_dict()["tenants"] == {
        "organizations": {"read": 2, "valid": 2, "invalid": 0},
        "memberships": {"read": 4, "valid": 4, "invalid": 0},
    }


@pytest.mark.parametrize(
    ("config", "code", "says"),
    [
        (
            {"organizations_enabled": False},
            "organizations_disabled",
            "the instance has Organizations turned off",
        ),
        (
            {"org_slugs_disabled": True, "org_roles": ROLES},
            "organization_slugs_disabled",
            'PATCH /v1/instance/organization_settings {"slug_disabled": false}',
        ),
        ({}, "organization_role_missing", "the instance has no organization role org:owner"),
    ],
    ids=["no-organizations", "no-org-slugs", "missing-role"],
)
def test_what_stops_the_organizations_blocks(
    *,
    make_sandbox: Callable[..., SandboxHandle],
    tmp_path: Path,
    config: dict[str, object],
    code: str,
    says: str,
) -> None:
    """Organizations off, slugs off or a role the instance lacks: one blocking finding each."""
    handle = make_sandbox(SandboxConfig.for_tests(**config))  # type: ignore[arg-type]
    report = check(handle, export(tmp_path))
    (finding,) = report.blocking
    assert finding.code == code
    assert says in finding.message
    assert report.exit_code == 3


def test_organizations_off_is_learnt_with_the_secret_key_alone(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """Without a publishable key the role list's refusal still says organizations are off."""
    handle = make_sandbox(SandboxConfig.for_tests(organizations_enabled=False))
    path = export(tmp_path)
    report = migrate.check(
        path,
        tmp_path / "map.toml",
        connection=Connection(api_url=handle.url, secret_key=Secret(handle.secret_key)),
        organizations=tmp_path / "organizations.csv",
        memberships=tmp_path / "memberships.csv",
    )
    assert [f.code for f in report.blocking] == ["organizations_disabled"]


def test_slugs_off_is_learnt_with_the_secret_key_alone(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """Without a publishable key the instance's organization settings still say slugs are off."""
    handle = make_sandbox(SandboxConfig.for_tests(org_roles=ROLES, org_slugs_disabled=True))
    report = migrate.check(
        export(tmp_path),
        tmp_path / "map.toml",
        connection=Connection(api_url=handle.url, secret_key=Secret(handle.secret_key)),
        organizations=tmp_path / "organizations.csv",
        memberships=tmp_path / "memberships.csv",
    )
    assert [f.code for f in report.blocking] == ["organization_slugs_disabled"]


def test_without_the_secret_key_the_roles_are_said_to_be_unchecked(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """Settings only (no secret key): the roles the mapping needs are named, as information."""
    handle = make_sandbox(SandboxConfig.for_tests())
    report = check(handle, export(tmp_path), lookups=False)
    assert levels(report) == {"organization_roles_unknown": "info"}
    (finding,) = report.findings
    assert "org:admin, org:member, org:owner" in finding.message


def test_the_default_membership_limit_counts_only_organizations_without_their_own(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """acme (3 members, no limit of its own) over the instance's default of 2 warns; globex's 5
    seats keep it out of the count."""
    handle = make_sandbox(SandboxConfig.for_tests(org_roles=ROLES, org_max_memberships=2))
    report = check(handle, export(tmp_path))
    (finding,) = [f for f in report.findings if f.code.startswith("organization")]
    assert (finding.code, finding.level) == ("organization_membership_limit", "warn")
    assert finding.details == {"largest": 3, "limit": 2}
    # globex's three members are within its own 5 seats: no warning for it
    globex = "user_id,org_id,role\nu1,globex,admin\nu2,globex,member\nu3,globex,member\n"
    assert levels(check(handle, export(tmp_path, globex))) == {}


def test_invalid_tenant_records_keep_check_from_being_clean(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """A membership naming an unknown organization is counted invalid and check exits 3."""
    handle = make_sandbox(SandboxConfig.for_tests(org_roles=ROLES))
    report = check(handle, export(tmp_path, MEMBERS + "u2,hooli,member\n"))
    assert levels(report) == {}
    assert report.tenants["memberships"].invalid == 1
    assert report.exit_code == 3


def invoke(*args: str, env: dict[str, str]) -> Result:
    """The CLI in-process with only the given Clerk variables."""
    base = {"CLERK_SECRET_KEY": "", "CLERK_PUBLISHABLE_KEY": "", "CLERK_FRONTEND_API_URL": "",
            "CLERK_API_URL": ""}  # fmt: skip
    return CliRunner().invoke(main, list(args), env={**base, **env})


def test_cli_check_takes_the_tenant_files(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """check --organizations/--memberships: slugs off is one [block] line, exit 3; --json too."""
    handle = make_sandbox(SandboxConfig.for_tests(org_roles=ROLES, org_slugs_disabled=True))
    path = export(tmp_path)
    env = {"CLERK_PUBLISHABLE_KEY": handle.publishable_key, "CLERK_SECRET_KEY": handle.secret_key,
           "CLERK_API_URL": handle.url}  # fmt: skip
    args = ("check", str(path), "-m", str(tmp_path / "map.toml"),
            "--organizations", str(tmp_path / "organizations.csv"),
            "--memberships", str(tmp_path / "memberships.csv"))  # fmt: skip
    result = invoke(*args, env=env)
    assert result.exit_code == 3, result.output
    blocks = [line for line in result.output.splitlines() if "[block]" in line]
    assert len(blocks) == 1
    assert "organization slugs turned off" in blocks[0]
    assert "  organizations             2   2 valid, 0 invalid" in result.output
    data = json.loads(invoke(*args, "--json", env=env).output)
    assert [f["code"] for f in data["findings"] if f["level"] == "block"] == [
        "organization_slugs_disabled"
    ]
    assert data["tenants"]["memberships"]["valid"] == 4


def run_cli(handle: SandboxHandle, path: Path, *extra: str, publishable: bool = False) -> Result:
    """``clerk-migrate run`` of the export with its tenant files against ``handle``."""
    env = {"CLERK_SECRET_KEY": handle.secret_key, "CLERK_API_URL": handle.url}
    if publishable:
        env["CLERK_PUBLISHABLE_KEY"] = handle.publishable_key
    args = ("run", str(path), "-m", str(path.parent / "map.toml"),
            "--run-dir", str(path.parent / "run"), "--rate", "2000", "-q",
            "--organizations", str(path.parent / "organizations.csv"),
            "--memberships", str(path.parent / "memberships.csv"), *extra)  # fmt: skip
    return invoke(*args, env=env)


@pytest.mark.parametrize(
    ("config", "code", "publishable"),
    [
        ({"organizations_enabled": False}, "organizations_disabled", False),
        ({"org_slugs_disabled": True, "org_roles": ROLES}, "organization_slugs_disabled", False),
        ({"org_slugs_disabled": True, "org_roles": ROLES}, "organization_slugs_disabled", True),
        ({}, "organization_role_missing", False),
    ],
    ids=["no-organizations", "no-org-slugs", "no-org-slugs-publishable", "missing-role"],
)
def test_run_refuses_before_anything_is_created(
    *,
    make_sandbox: Callable[..., SandboxHandle],
    tmp_path: Path,
    config: dict[str, object],
    code: str,
    publishable: bool,
) -> None:
    """run stops on the instance's organization settings with one [block] line and exit 1: no
    user, organization or membership reaches the instance."""
    handle = make_sandbox(SandboxConfig.for_tests(**config))  # type: ignore[arg-type]
    result = run_cli(handle, export(tmp_path), publishable=publishable)
    assert result.exit_code == 1, result.output
    assert sum("[block]" in line for line in result.output.splitlines()) == 1
    assert f"whole-file problem(s) ({code}); nothing was sent" in result.output
    assert len(handle.store) == 0
    assert list(handle.store.orgs) == []


def test_run_goes_on_when_the_instance_takes_the_organizations(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """With organizations, slugs and every role there, the same run creates all three kinds."""
    handle = make_sandbox(SandboxConfig.for_tests(org_roles=ROLES))
    result = run_cli(handle, export(tmp_path), publishable=True)
    assert result.exit_code == 0, result.output
    assert len(handle.store) == 3
    assert sorted(o.slug for o in handle.store.orgs) == ["acme", "globex"]
    assert sum(len(o.members) for o in handle.store.orgs) == 4


def test_the_library_run_passes_the_tenant_files_to_its_checks(
    make_sandbox: Callable[..., SandboxHandle], tmp_path: Path
) -> None:
    """migrate.run with organizations= / memberships= raises CheckFailedError on a missing role."""
    handle = make_sandbox(SandboxConfig.for_tests())
    path = export(tmp_path)
    with pytest.raises(CheckFailedError, match=r"\(organization_role_missing\)"):
        migrate.run(
            path,
            tmp_path / "map.toml",
            connection=Connection(api_url=handle.url, secret_key=Secret(handle.secret_key)),
            run_dir=tmp_path / "run",
            rate=2000,
            organizations=tmp_path / "organizations.csv",
            memberships=tmp_path / "memberships.csv",
        )
    assert len(handle.store) == 0
