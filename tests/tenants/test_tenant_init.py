"""``mapping init`` recognises organizations and memberships files and says how to pass them."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from migrate._internal.mapping.load import presets_dir
from migrate._internal.mapping_init import init_mapping
from migrate.cli import main

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_auth0_organizations_are_recognised_for_the_auth0_preset() -> None:
    """The Auth0 organizations file is named as such and sent to --organizations of auth0."""
    result = init_mapping(SAMPLES / "auth0" / "organizations.json")
    assert result.recognition is not None
    assert (result.recognition.preset, result.recognition.tenant) == ("auth0", True)
    assert result.summary.splitlines() == [
        "Recognised: Auth0 organizations file (Management API organizations with their "
        "members); it holds no users.",
        "It holds organizations, not users: validate the users export with --mapping auth0 and "
        "pass this file as --organizations.",
    ]
    assert result.text.endswith((presets_dir() / "auth0.toml").read_text("utf-8"))


def test_generic_files_are_recognised_with_the_tables_that_read_them() -> None:
    """organizations.csv and memberships.csv in the generic shape get the generic tables."""
    generic = (presets_dir() / "_tenants.toml").read_text("utf-8")
    for name, flag in (
        ("organizations.csv", "--organizations"),
        ("memberships.csv", "--memberships"),
    ):
        result = init_mapping(SAMPLES / "django" / name)
        assert result.recognition is not None
        assert (result.recognition.preset, result.recognition.tenant) == ("_tenants", True)
        assert f"Pass it as {flag} FILE" in result.summary
        assert result.text.endswith(generic)


def test_the_generic_tables_are_no_preset() -> None:
    """_tenants is not offered as a preset, and --mapping _tenants is refused."""
    result = CliRunner().invoke(main, ["validate", "x.csv", "--mapping", "_tenants"])
    assert result.exit_code == 1
    assert "no mapping file or preset named '_tenants'" in result.stderr
    assert "_tenants" not in result.stderr.split("presets:", 1)[1]


def test_a_realm_export_mentions_its_organizations() -> None:
    """A Keycloak realm export's hint says its organizations come with --organizations."""
    result = init_mapping(SAMPLES / "keycloak" / "acme-realm.json")
    assert result.recognition is not None
    assert result.recognition.preset == "keycloak_realm"
    assert "pass the same file as --organizations" in result.summary
