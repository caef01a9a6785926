"""The tenant tables of a mapping: parsing, their problems, and compiling them over tiny frames."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from migrate._internal.mapping import parse_mapping
from migrate._internal.mapping.organizations import (
    LEGACY_KEY,
    compile_memberships,
    compile_organizations,
    derive_slug,
    organization_body,
)
from migrate._internal.mapping.tenants import DEFAULT_ROLE, RolesSpec
from migrate.errors import MappingError

USERS = '[fields]\nexternal_id = "id"\n'
ORGS = '[organizations]\nkey = "id"\nname = "name"\n'
MEMBERS = '[memberships]\nuser = "user_id"\norganization = "org_id"\nrole = "role"\n'


def problems(toml: str) -> list[str]:
    with pytest.raises(MappingError) as err:
        parse_mapping(toml, {}, file="m.toml")
    return [str(p) for p in err.value.problems]


def test_tables_parse_with_inputs_relative_to_the_mapping(tmp_path: Path) -> None:
    """input paths resolve against the mapping's folder; [roles] keeps its order and default."""
    spec = parse_mapping(
        USERS
        + ORGS
        + 'input = "orgs.csv"\nslug = { column = "handle", transform = "lower" }\n'
        + MEMBERS
        + 'input = "m.csv"\n[roles]\nowner = "org:admin"\nuser = "org:member"\n'
        + 'default = "org:viewer"\n',
        {},
        base_dir=tmp_path,
    )
    assert spec.organizations is not None
    assert spec.memberships is not None
    assert spec.organizations.input == tmp_path / "orgs.csv"
    assert spec.memberships.input == tmp_path / "m.csv"
    assert spec.organizations.field_spec("slug") is not None
    assert spec.roles == RolesSpec((("owner", "org:admin"), ("user", "org:member")), "org:viewer")


def test_memberships_without_roles_get_the_default_table() -> None:
    """A mapping with [memberships] and no [roles] maps every empty role to org:member."""
    spec = parse_mapping(USERS + ORGS + MEMBERS, {})
    assert spec.roles == RolesSpec((), DEFAULT_ROLE)


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            USERS + '[organizations]\nname = "n"\ncolour = "c"\n',
            [
                "organizations.colour: unknown key; allowed: input, key, name, slug, created_at, "
                "max_allowed_memberships, public_metadata, private_metadata, created_by, format, "
                "has_header, delimiter, quote_char, encoding, json_key, null_values, short_rows",
                "organizations.key: is required",
            ],
        ),
        ('organizations = "orgs.csv"\n' + USERS, ["organizations: must be a table, not a string"]),
        (
            USERS + ORGS + '[memberships]\nuser = "u"\n',
            ["memberships.organization: is required"],
        ),
        (
            USERS + ORGS + '[memberships]\norganization = "o"\n',
            ["memberships.user: is required (from_users = true takes the user's key)"],
        ),
        (
            USERS + ORGS + MEMBERS + 'from_users = true\ninput = "m.csv"\n',
            ["memberships: takes one of input, from_users, within; found input, from_users"],
        ),
        (
            USERS + '[memberships]\nwithin = "members"\nuser = "members.name"\n',
            [
                "memberships.within: needs an [organizations] table to read members from",
                "memberships: needs an [organizations] table (memberships name organizations)",
            ],
        ),
        (
            USERS
            + ORGS
            + MEMBERS
            + '[roles]\nadmin = "administrator"\nviewer = 3\nlead = "org:Team-Lead"\n',
            [
                'roles.admin: must be a Clerk role key ("org:" and lowercase letters, digits, _) '
                "such as \"org:admin\", not 'administrator'",
                'roles.viewer: must be a Clerk role key ("org:" and lowercase letters, digits, _) '
                'such as "org:admin", not an integer',
                'roles.lead: must be a Clerk role key ("org:" and lowercase letters, digits, _) '
                "such as \"org:admin\", not 'org:Team-Lead'",
            ],
        ),
        (
            USERS + '[roles]\nadmin = "org:admin"\n',
            ["roles: needs a [memberships] table (roles are a membership's)"],
        ),
        (
            USERS + ORGS + 'max_allowed_memberships = { column = "s", transform = "e165" }\n',
            [
                "organizations.max_allowed_memberships.transform: unknown transform 'e165'; "
                "allowed: strip, lower, upper, prefix, strip_prefix, replace, null_if, split, "
                "e164, timestamp, json, bool, number, given_name, family_name"
            ],
        ),
    ],
)
def test_each_problem_is_named_with_its_key_path(toml: str, expected: list[str]) -> None:
    """A bad tenant table is a MappingError listing each problem with its key path."""
    assert problems(toml) == expected


def test_slugs_derive_from_keys_the_same_way_every_time() -> None:
    """Accents drop, case lowers, other runs become one '-', none at the ends; no letter: empty."""
    keys = pl.Series(["Café Crème", "org_9ybsU1dN", "  ACME  Inc. ", "__", "a--b"])
    assert pl.select(derive_slug(pl.lit(keys))).to_series().to_list() == [
        "cafe-creme",
        "org-9ybsu1dn",
        "acme-inc",
        "",
        "a-b",
    ]


def _orgs(toml: str, data: dict[str, list[object]]) -> pl.DataFrame:
    spec = parse_mapping(USERS + toml, {})
    assert spec.organizations is not None
    frame = pl.LazyFrame({"_row": list(range(2, 2 + len(next(iter(data.values()))))), **data})
    return compile_organizations(spec.organizations, frame, file="m.toml").collect()


def test_organizations_compile_with_their_slug_and_body() -> None:
    """A mapped slug is kept; else it is derived; the body carries the key in private metadata."""
    orgs = _orgs(
        ORGS
        + 'slug = "handle"\nmax_allowed_memberships = "seats"\n'
        + 'public_metadata = { plan = "plan" }\n'
        + 'created_at = { column = "at", parse = "timestamp" }\n',
        {
            "id": ["Acme Inc", "g1"],
            "name": ["Acme", "Globex"],
            "handle": [None, "globex"],
            "seats": ["5", None],
            "plan": ["pro", None],
            "at": ["2021-02-03 04:05:06", None],
        },
    )
    assert orgs["slug"].to_list() == ["acme-inc", "globex"]
    assert orgs["slug_given"].to_list() == [False, True]
    bodies = [organization_body(r) for r in orgs.iter_rows(named=True)]
    assert bodies == [
        {
            "name": "Acme",
            "slug": "acme-inc",
            "created_at": "2021-02-03T04:05:06.000Z",
            "max_allowed_memberships": 5,
            "public_metadata": {"plan": "pro"},
            "private_metadata": {LEGACY_KEY: "Acme Inc"},
        },
        {"name": "Globex", "slug": "globex", "private_metadata": {LEGACY_KEY: "g1"}},
    ]


def test_a_column_the_input_lacks_is_a_mapping_error() -> None:
    """organizations.name naming a column the organizations input lacks stops before any row."""
    with pytest.raises(MappingError) as err:
        _orgs(ORGS, {"id": ["a"], "title": ["A"]})
    assert [str(p) for p in err.value.problems] == [
        "organizations.name: column 'name' is not in the input; columns: id, title"
    ]


def _members(toml: str, data: dict[str, list[object]]) -> pl.DataFrame:
    spec = parse_mapping(USERS + ORGS + toml, {})
    assert spec.memberships is not None
    assert spec.roles is not None
    frame = pl.LazyFrame({"_row": list(range(2, 2 + len(next(iter(data.values()))))), **data})
    return compile_memberships(spec.memberships, spec.roles, frame, file="m.toml").collect()


def test_roles_map_rank_and_default() -> None:
    """Roles map through [roles]; of several the first-listed wins; empty takes the default;
    a Clerk key passes as is; an unmapped role is named, not defaulted."""
    members = _members(
        MEMBERS + '[roles]\nadmin = "org:admin"\nmember = "org:member"\n',
        {
            "user_id": ["u1", "u2", "u3", "u4", "u5", "u6"],
            "org_id": ["o", "o", "o", "o", "o", "o"],
            "role": [["member", "admin"], [], ["org:billing"], ["boss"], None, ["org:Team-Lead"]],
        },
    )
    assert members["role"].to_list() == [
        "org:admin",
        "org:member",
        "org:billing",
        None,
        "org:member",
        None,
    ]
    assert members["role_unknown"].to_list() == [None, None, None, "boss", None, "org:Team-Lead"]


def test_a_list_of_organizations_gives_one_membership_each() -> None:
    """from_users: a user's list of groups is one membership per group; none is no membership."""
    spec = parse_mapping(
        USERS + ORGS + '[memberships]\nfrom_users = true\norganization = "groups"\n', {}
    )
    assert spec.memberships is not None
    assert spec.roles is not None
    frame = pl.LazyFrame(
        {"_row": [2, 3, 4], "_user_key": ["u1", "u2", "u3"], "groups": [["a", "b"], [], ["c"]]}
    )
    members = compile_memberships(
        spec.memberships, spec.roles, frame, file="m.toml", user_column="_user_key"
    ).collect()
    assert members.select("_row", "user", "organization", "role").rows() == [
        (2, "u1", "a", "org:member"),
        (2, "u1", "b", "org:member"),
        (4, "u3", "c", "org:member"),
    ]


def test_a_membership_file_row_without_organization_is_kept_to_be_reported() -> None:
    """In a memberships file an empty organization cell stays a row (validation names it)."""
    members = _members(MEMBERS, {"user_id": ["u1", " "], "org_id": [None, "o"], "role": ["", ""]})
    assert members.select("user", "organization").rows() == [("u1", None), (None, "o")]
