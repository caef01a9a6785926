"""The tenant tables of a mapping: ``[organizations]``, ``[memberships]`` and ``[roles]``.

``[organizations]`` reads its own input (``input``, relative to the mapping, or given on the
command line) and maps each record onto Clerk's CreateOrganization fields; ``key`` is the
organization's legacy identity. ``[memberships]`` reads its own input, or the users input
(``from_users = true``: each user row names its organization(s)), or the organizations input
(``within = "members"``: each organization record lists its members). ``[roles]`` maps legacy
role names onto Clerk role keys. Field values take the syntax of ``[fields]``
(``fields.FieldParser``). Problems are collected with their key path, as ``load.py`` does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from migrate._internal.mapping.fields import FieldParser, names, type_name
from migrate._internal.mapping.spec import FieldKind, FieldSpec
from migrate._internal.sources import SourceOptions

__all__ = [
    "DEFAULT_ROLE",
    "MEMBERSHIP_FIELDS",
    "ORGANIZATION_FIELDS",
    "READ_KEYS",
    "ROLE_KEY",
    "MembershipsSpec",
    "OrganizationsSpec",
    "RolesSpec",
    "parse_tenants",
]

# CreateOrganization fields a mapping may set (reference/clerk-bapi-openapi.yml), and their kind;
# max_allowed_memberships is read as text so validation can name a value that is no integer.
ORGANIZATION_FIELDS: Final[dict[str, FieldKind]] = {
    "name": "string",
    "slug": "string",
    "created_at": "string",
    "max_allowed_memberships": "string",
    "public_metadata": "metadata",
    "private_metadata": "metadata",
    "created_by": "string",
}
# role is a list: an export may give a member several roles (Auth0), the highest-ranked wins.
MEMBERSHIP_FIELDS: Final[dict[str, FieldKind]] = {
    "user": "string",
    "organization": "list",
    "role": "list",
}
READ_KEYS: Final = (
    "format", "has_header", "delimiter", "quote_char", "encoding", "json_key", "null_values",
    "short_rows",
)  # fmt: skip
DEFAULT_ROLE: Final = "org:member"
# Clerk role keys are "org:" and lowercase letters, digits and "_" (CreateOrganizationRole).
ROLE_KEY: Final = r"org:[a-z0-9_]+"


@dataclass(frozen=True)
class OrganizationsSpec:
    """``[organizations]``: where the records are and how each maps onto CreateOrganization.

    ``input`` is ``Path()`` when the mapping names no file (a preset: it comes from the
    command line, and without one the organizations are left out).
    """

    input: Path
    options: SourceOptions
    key: FieldSpec
    fields: tuple[tuple[str, FieldSpec], ...]

    def field_spec(self, name: str) -> FieldSpec | None:
        """The spec of one organization field, or None when the mapping does not set it."""
        return dict(self.fields).get(name)


@dataclass(frozen=True)
class MembershipsSpec:
    """``[memberships]``: one row per (user, organization, role).

    ``from_users``: the rows are the users input's (``user`` defaults to the user's key);
    ``within``: a list column of the organizations input whose items are the members
    (``organization`` defaults to the organization's key); else its own ``input``.
    ``user_by``: a column of the users input that ``user`` names a user by (a Keycloak realm
    export names members by username); empty: ``user`` is the user's key.
    """

    input: Path
    options: SourceOptions
    user: FieldSpec | None
    organization: FieldSpec | None
    role: FieldSpec | None
    from_users: bool = False
    within: str = ""
    user_by: str = ""


@dataclass(frozen=True)
class RolesSpec:
    """``[roles]``: legacy role -> Clerk role key, in the file's order (the first ranks highest
    when a member holds several); ``default`` is taken when a member's role is empty."""

    table: tuple[tuple[str, str], ...] = ()
    default: str = DEFAULT_ROLE

    def ranked(self) -> dict[str, int]:
        """Each legacy role's rank (0 = highest), for members holding several roles."""
        return {legacy: i for i, (legacy, _) in enumerate(self.table)}


@dataclass
class Tenants:
    """What ``parse_tenants`` found (each part None when the mapping leaves it out)."""

    organizations: OrganizationsSpec | None = None
    memberships: MembershipsSpec | None = None
    roles: RolesSpec = field(default_factory=RolesSpec)


def parse_tenants(
    doc: Mapping[str, Any],
    parser: FieldParser,
    read_options: Callable[[Mapping[str, Any], str], dict[str, Any]],
    base_dir: Path | None,
) -> Tenants:
    """The three tables of ``doc``; problems go to ``parser.problems``.

    ``read_options`` checks a table's reading options (``load._Loader.read_options``).
    """
    out = Tenants()
    orgs = doc.get("organizations")
    if orgs is not None:
        out.organizations = _organizations(orgs, parser, read_options, base_dir)
    members = doc.get("memberships")
    if members is not None:
        out.memberships = _memberships(
            members, parser, read_options, base_dir, has_orgs=orgs is not None
        )
    if members is not None and orgs is None:
        parser.problem(
            "memberships", "needs an [organizations] table (memberships name organizations)"
        )
    roles = doc.get("roles")
    if roles is not None:
        out.roles = _roles(roles, parser)
    if roles is not None and members is None:
        parser.problem("roles", "needs a [memberships] table (roles are a membership's)")
    return out


def _input(table: Mapping[str, Any], path: str, parser: FieldParser, base: Path | None) -> Path:
    file = table.get("input")
    if file is None:
        return Path()
    if not isinstance(file, str) or not file:
        parser.problem(f"{path}.input", "must be a file path")
        return Path()
    resolved = Path(file)
    if base is not None and not resolved.is_absolute():
        resolved = base / resolved
    return resolved


def _organizations(
    table: Any,
    parser: FieldParser,
    read_options: Callable[[Mapping[str, Any], str], dict[str, Any]],
    base: Path | None,
) -> OrganizationsSpec | None:
    if not isinstance(table, dict):
        parser.problem("organizations", f"must be a table, not {type_name(table)}")
        return None
    parser.unknown_keys(table, ("input", "key", *ORGANIZATION_FIELDS, *READ_KEYS), "organizations")
    for required in ("key", "name"):
        if required not in table:
            parser.problem(f"organizations.{required}", "is required")
    options = SourceOptions(**read_options(table, "organizations"))
    key = parser.field("organizations.key", table["key"], "string") if "key" in table else None
    fields: list[tuple[str, FieldSpec]] = []
    for name, kind in ORGANIZATION_FIELDS.items():
        if name in table:
            spec = parser.field(f"organizations.{name}", table[name], kind)
            if spec is not None:
                fields.append((name, spec))
    if key is None:
        return None
    return OrganizationsSpec(
        _input(table, "organizations", parser, base), options, key, tuple(fields)
    )


def _memberships(
    table: Any,
    parser: FieldParser,
    read_options: Callable[[Mapping[str, Any], str], dict[str, Any]],
    base: Path | None,
    *,
    has_orgs: bool,
) -> MembershipsSpec | None:
    path = "memberships"
    if not isinstance(table, dict):
        parser.problem(path, f"must be a table, not {type_name(table)}")
        return None
    parser.unknown_keys(
        table, ("input", "from_users", "within", "user_by", *MEMBERSHIP_FIELDS, *READ_KEYS), path
    )
    from_users = table.get("from_users", False)
    within = table.get("within", "")
    user_by = table.get("user_by", "")
    if not isinstance(user_by, str):
        parser.problem(f"{path}.user_by", "must name a column of the users input")
        user_by = ""
    if not isinstance(from_users, bool):
        parser.problem(f"{path}.from_users", f"must be true or false, not {type_name(from_users)}")
        from_users = False
    if not isinstance(within, str):
        parser.problem(f"{path}.within", "must name a list column of the organizations input")
        within = ""
    if user_by and from_users:
        parser.problem(f"{path}.user_by", "is for members named in another input, not from_users")
    sources = [k for k in ("input", "from_users", "within") if table.get(k)]
    if len(sources) > 1:
        parser.problem(path, f"takes one of input, from_users, within; found {names(sources)}")
    if within and not has_orgs:
        parser.problem(f"{path}.within", "needs an [organizations] table to read members from")
    if (from_users or within) and any(k in table for k in READ_KEYS):
        found = names(k for k in READ_KEYS if k in table)
        parser.problem(path, f"reads another table's input; reading options ({found}) apply there")
    if "organization" not in table and not within:
        parser.problem(f"{path}.organization", "is required")
    if "user" not in table and not from_users:
        parser.problem(f"{path}.user", "is required (from_users = true takes the user's key)")
    options = SourceOptions(**read_options(table, path))
    specs: dict[str, FieldSpec | None] = {}
    for name, kind in MEMBERSHIP_FIELDS.items():
        specs[name] = parser.field(f"{path}.{name}", table[name], kind) if name in table else None
    return MembershipsSpec(
        _input(table, path, parser, base),
        options,
        specs["user"],
        specs["organization"],
        specs["role"],
        from_users,
        within,
        user_by,
    )


def _roles(table: Any, parser: FieldParser) -> RolesSpec:
    if not isinstance(table, dict):
        parser.problem("roles", f"must be a table, not {type_name(table)}")
        return RolesSpec()
    pairs: list[tuple[str, str]] = []
    default = DEFAULT_ROLE
    for legacy, clerk in table.items():
        where = f"roles.{legacy}"
        if not isinstance(clerk, str) or not re.fullmatch(ROLE_KEY, clerk):
            parser.problem(
                where,
                'must be a Clerk role key ("org:" and lowercase letters, digits, _) such as '
                f'"org:admin", not {_shown(clerk)}',
            )
        elif legacy == "default":
            default = clerk
        else:
            pairs.append((legacy, clerk))
    return RolesSpec(tuple(pairs), default)


def _shown(value: object) -> str:
    return repr(value) if isinstance(value, str) else type_name(value)
