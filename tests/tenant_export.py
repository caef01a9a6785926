"""A deterministic tenant export for tests and benches: Django users plus the generic tenant shape.

``build_export(directory, organizations=200, users=5000, second=2000)`` writes
``auth_user.csv`` (the ``django`` preset's export), ``organizations.csv`` and
``memberships.csv`` (the generic shape, docs/mapping.md) and returns a ``TenantExport``: the
files and what a correct migration of them gives, worked out here from how the rows were made
(not by running the tool): the valid organizations (key -> slug), the valid memberships
((organization key, user key) -> Clerk role), and every bad row as ``(field, code, key)``.

Every user has one membership, the first ``second`` users a second one elsewhere, so there are
``users + second`` memberships. With ``bad=True`` (the default) the export holds one bad row of
each kind the tenant tables can have:

- user ``3`` has an invalid email and two memberships (``user_not_created`` for both);
- the last organization has no name (``missing_name``; its memberships
  ``organization_not_created``), the one before it repeats organization 10's slug
  (``duplicate_slug``, the same for its memberships);
- the third from last allows three members fewer than it is given
  (``membership_limit_reached`` for the last three, in file order);
- one membership names user ``99999``, who is not in the users file (``unknown_user``), and
  one has the role ``owner``, which ``[roles]`` does not map (``unknown_role``).

Users have unusable Django passwords (``!…``: imported without one), so the sandbox creates
them without hashing.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ROLES", "TenantExport", "build_export"]

ROLES = {"admin": "org:admin", "member": "org:member", "": "org:member", "org:admin": "org:admin"}
USER_HEADER = [
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined",
]  # fmt: skip
ORG_HEADER = ["id", "name", "slug", "max_allowed_memberships", "created_at", "public_metadata"]
BAD_USER = "3"
UNKNOWN_USER = "99999"


@dataclass
class TenantExport:
    """The written files and what a correct migration of them gives."""

    users_csv: Path
    organizations_csv: Path
    memberships_csv: Path
    users: set[str] = field(default_factory=set)  # keys of the valid users
    organizations: dict[str, str] = field(default_factory=dict)  # valid: key -> slug
    memberships: dict[tuple[str, str], str] = field(default_factory=dict)  # valid: role
    errors: set[tuple[str, str, str]] = field(default_factory=set)  # (field, code, key)
    read: dict[str, int] = field(default_factory=dict)  # kind -> rows read

    def invalid(self, kind: str) -> int:
        """How many rows of ``kind`` (users, organizations, memberships) are invalid."""
        prefix = {"organizations": "organization.", "memberships": "membership."}.get(kind)
        keys = {
            key
            for name, _, key in self.errors
            if (name.startswith(prefix) if prefix else "." not in name)
        }
        return len(keys)


def _org_key(j: int) -> str:
    return f"t{j:03d}"


def build_export(
    directory: Path,
    *,
    organizations: int = 200,
    users: int = 5000,
    second: int = 2000,
    bad: bool = True,
) -> TenantExport:
    """Write the three files into ``directory``; ``organizations`` >= 20, ``second`` <= users."""
    if organizations < 20 or not 10 <= second <= users:
        raise ValueError("need at least 20 organizations and 10 <= second <= users")
    directory.mkdir(parents=True, exist_ok=True)
    export = TenantExport(
        directory / "auth_user.csv",
        directory / "organizations.csv",
        directory / "memberships.csv",
    )
    bad_user = BAD_USER if bad else None
    _write_users(export, users, bad_user)

    nameless, dup_slug, limited = organizations, organizations - 1, organizations - 2
    orgs: list[list[str]] = []
    for j in range(1, organizations + 1):
        slug = f"tenant-{j}" if j % 10 == 0 else ""
        name = f"Tenant {j}"
        if bad and j == nameless:
            name = ""
            export.errors.add(("organization.name", "missing_name", _org_key(j)))
        elif bad and j == dup_slug:
            slug = "tenant-10"
            export.errors.add(("organization.slug", "duplicate_slug", _org_key(j)))
        else:
            export.organizations[_org_key(j)] = slug or _org_key(j)
        plan = '{"plan":"pro"}' if j % 3 == 0 else ""
        orgs.append([_org_key(j), name, slug, "", f"2022-01-{1 + j % 28:02d}T10:00:00Z", plan])

    members: list[tuple[str, str, str]] = []  # user, organization, role cell
    for i in range(1, users + 1):
        role = "admin" if i % 20 == 1 else "" if i % 7 == 0 else "member"
        members.append((str(i), _org_key((i - 1) % organizations + 1), role))
    for i in range(1, second + 1):
        org = _org_key((i - 1 + organizations // 2) % organizations + 1)
        members.append((str(i), org, "org:admin" if i % 50 == 0 else "member"))
    if bad:
        _, org, role = members[users + 4]  # user 5's second membership
        members[users + 4] = (UNKNOWN_USER, org, role)
        user, org, _ = members[7]  # user 8's first
        members[7] = (user, org, "owner")

    in_limited = 0
    for user, org, role in members:
        key = f"{org}/{user}"
        problems = []
        if user == UNKNOWN_USER:
            problems.append(("membership.user", "unknown_user", key))
        elif user == bad_user:
            problems.append(("membership.user", "user_not_created", key))
        if org not in export.organizations:
            problems.append(("membership.organization", "organization_not_created", key))
        if role not in ROLES:
            problems.append(("membership.role", "unknown_role", key))
        export.errors.update(problems)
        if not problems:
            export.memberships[(org, user)] = ROLES[role]
            in_limited += org == _org_key(limited)
    if bad:  # the limited organization keeps its first members, in file order
        limit = in_limited - 3
        orgs[limited - 1][3] = str(limit)
        place = 0
        for user, org, _ in members:
            if org == _org_key(limited) and (org, user) in export.memberships:
                place += 1
                if place > limit:
                    del export.memberships[(org, user)]
                    key = f"{org}/{user}"
                    export.errors.add(("membership.organization", "membership_limit_reached", key))

    _write(export.organizations_csv, ORG_HEADER, orgs)
    _write(export.memberships_csv, ["user_id", "organization_id", "role"], members)
    export.read = {"users": users, "organizations": organizations, "memberships": len(members)}
    return export


def _write_users(export: TenantExport, users: int, bad_user: str | None) -> None:
    rows = []
    for i in range(1, users + 1):
        key = str(i)
        email = f"member{i}@example.com"
        if key == bad_user:
            email = "not-an-email"
            export.errors.add(("email_address", "invalid_email", key))
        else:
            export.users.add(key)
        rows.append([
            key, f"!unusable{i:05d}", "", "f", f"member_{i:05d}", f"First{i}", f"Last{i}",
            email, "f", "t", "2023-05-06 07:08:09+00",
        ])  # fmt: skip
    _write(export.users_csv, USER_HEADER, rows)


def _write(path: Path, header: list[str], rows: list[list[str]] | list[tuple[str, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
