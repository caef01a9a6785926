"""Keycloak: a realm export (``kc.sh export --realm acme --users realm_file``) and the SQL CSV.

Files (samples/keycloak/):
- ``acme-realm.json``: ``{"realm": "acme", "users": [...]}`` as Jackson pretty-prints it, each
  password credential with ``secretData`` / ``credentialData`` as JSON strings.
- ``users.csv``: the same users from the database (query in docs/presets.md): ``user_entity``
  columns plus the password credential's ``secret_data`` and ``credential_data``.

Credentials: ``pbkdf2-sha256`` (27 500 iterations, Keycloak <= 23's default, 32-byte value) and
``pbkdf2-sha512`` (10 000 iterations here to keep tests quick, 64-byte value), salts 16 random bytes.
Users without a credential (identity-provider logins) are valid and have no password.

Deliberately bad rows (users.csv line numbers, header = line 1; realm ``users`` index = line - 1):
- an e-mail with a trailing ``@`` and nothing after (invalid_email);
- the same e-mail as an earlier user (duplicate_email);
- an ``argon2`` credential of type ``d`` (argon2d: no Clerk hasher; reported as unsupported);
- a ``createdTimestamp`` in 2031 (future created_at).
"""

from __future__ import annotations

import json
import random
import uuid

from argon2.low_level import Type, hash_secret_raw

from .common import (
    FUTURE,
    Sample,
    TenantCase,
    ascii_fold,
    b64,
    epoch_ms,
    make_people,
    pbkdf2,
    write_csv,
)

CSV_HEADER = [
    "id", "username", "email", "email_verified", "enabled", "first_name", "last_name",
    "created_timestamp", "realm_id", "secret_data", "credential_data",
]


def _jackson(value: object) -> str:
    """Jackson's default pretty printer: 2-space indent and ``" : "`` separators."""
    return json.dumps(value, indent=2, ensure_ascii=False).replace('": ', '" : ')


def build() -> Sample:
    rng = random.Random(0x4C)
    people = make_people(rng, 30)
    sample = Sample(
        system="keycloak",
        title="Keycloak",
        command="clerk-migrate validate samples/keycloak/users.csv --mapping keycloak",
        inputs=["users.csv"],
        mapping="keycloak",
        variants=[{"inputs": ["acme-realm.json"], "mapping": "keycloak_realm", "row_offset": -1}],
    )
    users: list[dict[str, object]] = []
    rows = []
    for p in people:
        uid = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
        created_ms = epoch_ms(p.created)
        email = p.email
        secret: dict[str, object] | None = None
        cred: dict[str, object] | None = None
        if p.n not in (6, 20):  # identity-provider users have no password credential
            salt = rng.randbytes(16)
            if p.n == 17:
                value = hash_secret_raw(
                    p.password.encode(), salt, time_cost=5, memory_cost=7168, parallelism=1,
                    hash_len=32, type=Type.D,
                )
                cred = {
                    "hashIterations": 5,
                    "algorithm": "argon2",
                    "additionalParameters": {
                        "hashLength": ["32"], "memory": ["7168"], "type": ["d"],
                        "version": ["1.3"], "parallelism": ["1"],
                    },
                }
                sample.bad(p.n + 1, uid, ["unsupported_hash"], "argon2d credential")
            elif p.n % 3 == 0:
                value = pbkdf2("sha512", p.password, salt, 10000, 64)
                cred = {"hashIterations": 10000, "algorithm": "pbkdf2-sha512", "additionalParameters": {}}
            else:
                value = pbkdf2("sha256", p.password, salt, 27500, 32)
                cred = {"hashIterations": 27500, "algorithm": "pbkdf2-sha256", "additionalParameters": {}}
            secret = {"value": b64(value), "salt": b64(salt), "additionalParameters": {}}
            sample.passwords[uid] = p.password
        else:
            sample.no_password.append(uid)
        if p.n == 9:
            email = p.email.split("@")[0] + "@"
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail with nothing after the @")
        if p.n == 24:
            email = people[10].email
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as user 11")
        if p.n == 27:
            created_ms = epoch_ms(FUTURE)
            sample.bad(p.n + 1, uid, ["future_timestamp"], "createdTimestamp in 2031")
        username = f"{ascii_fold(p.first)}.{ascii_fold(p.last)}"
        secret_text = json.dumps(secret, separators=(",", ":")) if secret else None
        cred_text = json.dumps(cred, separators=(",", ":")) if cred else None
        user: dict[str, object] = {
            "id": uid,
            "createdTimestamp": created_ms,
            "username": username,
            "enabled": True,
            "totp": False,
            "emailVerified": p.n % 5 != 0,  # unverified ones are created "reserved"
            "firstName": p.first,
            "lastName": p.last,
            "email": email,
            "attributes": {"department": [rng.choice(["sales", "support", "engineering"])]},
            "credentials": (
                [
                    {
                        "id": str(uuid.UUID(bytes=rng.randbytes(16), version=4)),
                        "type": "password",
                        "userLabel": "My password",
                        "createdDate": created_ms,
                        "secretData": secret_text,
                        "credentialData": cred_text,
                    }
                ]
                if secret
                else []
            ),
            "disableableCredentialTypes": [],
            "requiredActions": [],
            "realmRoles": ["default-roles-acme"] + (["admin"] if p.n == 1 else []),
            "notBefore": 0,
            "groups": [],
        }
        users.append(user)
        if email and not user["emailVerified"]:
            sample.reserved_email.append(uid)
        rows.append(
            [
                uid, username, email, "t" if user["emailVerified"] else "f", "t", p.first, p.last,
                created_ms, "acme", secret_text, cred_text,
            ]
        )
    organizations, groups = _tenants(sample, users)
    realm = {"realm": "acme", "users": users, "groups": groups, "organizations": organizations}
    (sample.folder / "acme-realm.json").write_text(_jackson(realm) + "\n", encoding="utf-8")
    write_csv(sample.folder / "users.csv", CSV_HEADER, rows)
    sample.total_rows = len(rows)
    return sample


REALM_SOURCE = (
    "Keycloak 26 realm export (kc.sh export): \"organizations\" as OrganizationRepresentation "
    "(id, name, alias, enabled, description, redirectUrl, attributes, domains, identityProviders) "
    "whose \"members\" hold only a username and a membershipType (MANAGED or UNMANAGED), as "
    "Keycloak's exporter writes them and its importer reads them back by username "
    "(keycloak/keycloak: DefaultExportImportManager.importOrganizations and "
    "OrganizationExportImportUtilsTest; tests/fixtures/keycloak_orgs/README.md), \"groups\" as "
    "GroupRepresentation (id, name, path, subGroups) and each user's \"groups\" as group paths"
)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(bytes=rng.randbytes(16), version=4))


def _tenants(
    sample: Sample, users: list[dict[str, object]]
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The realm's organizations (members inside) and groups (users name theirs by path); two
    tenant cases: organizations with preset keycloak_realm, groups with keycloak_realm_groups.
    Realm user n is record n (the bad users' CSV line numbers minus one)."""
    rng = random.Random(0x4D)
    bad_users = {b.row - 1: b.why for b in sample.bad_rows}
    ids = [str(u["id"]) for u in users]
    orgs_case = TenantCase(
        title="Keycloak organizations",
        command=(
            "clerk-migrate validate samples/keycloak/acme-realm.json --mapping keycloak_realm "
            "--organizations samples/keycloak/acme-realm.json"
        ),
        input="acme-realm.json",
        mapping="keycloak_realm",
        organizations="acme-realm.json",
        source=REALM_SOURCE,
    )
    _uuid(rng)  # drawn so the organizations' ids stay as they were
    ghost = "former.employee"  # a member whose user is not in the export
    plan = [
        ("Acme Corporation", "acme", range(1, 9)),
        ("Globex", "Globex_EU", range(9, 13)),  # "_" and capitals: not a Clerk slug
        ("Initech", "initech", range(13, 21)),
        ("Umbrella", "umbrella", range(0)),
    ]
    organizations: list[dict[str, object]] = []
    members_read = 0
    for row, (name, alias, numbers) in enumerate(plan, start=1):
        org_id = _uuid(rng)
        members: list[dict[str, object]] = []
        for n in numbers:
            user = users[n - 1]
            # what kc.sh export writes per member: the username and the membership type
            members.append({"username": user["username"], "membershipType": "UNMANAGED"})
            reasons, why = [], []
            if n in bad_users:
                reasons.append("user_not_created")
                why.append(f"user {n}'s row is invalid ({bad_users[n]})")
            if alias == "Globex_EU":
                reasons.append("organization_not_created")
                why.append("its organization's alias is no slug")
            if reasons:
                orgs_case.bad_line("membership", row, f"{org_id}/{ids[n - 1]}", reasons, "; ".join(why))
        if alias == "acme":
            members.append({"username": ghost, "membershipType": "MANAGED"})
            orgs_case.bad_line("membership", row, f"{org_id}/{ghost}", ["unknown_user"],
                               "a member whose user is not in the export")
        if alias == "Globex_EU":
            orgs_case.bad_line("organization", row, org_id, ["invalid_slug"],
                               "alias Globex_EU has capitals and _")
        members_read += len(members)
        organizations.append(
            {
                "id": org_id, "name": name, "alias": alias, "enabled": True,
                "description": f"{name} staff", "redirectUrl": "",
                "attributes": {"region": [rng.choice(["eu-west", "us-east"])]},
                "domains": [{"name": f"{alias.lower().replace('_', '-')}.example.com", "verified": True}],
                "members": members, "identityProviders": [],
            }
        )
    orgs_case.count("organizations", len(organizations))
    orgs_case.count("memberships", members_read)

    groups_case = TenantCase(
        title="Keycloak groups as organizations",
        command=(
            "clerk-migrate validate samples/keycloak/acme-realm.json --mapping keycloak_realm_groups "
            "--organizations samples/keycloak/acme-realm.json"
        ),
        input="acme-realm.json",
        mapping="keycloak_realm_groups",
        organizations="acme-realm.json",
        source=REALM_SOURCE,
    )
    names = ["engineering", "sales", "support"]
    groups: list[dict[str, object]] = []
    for name in names:
        sub = (
            [{"id": _uuid(rng), "name": "admins", "path": f"/{name}/admins", "subGroups": [],
              "attributes": {}, "realmRoles": [], "clientRoles": {}}]
            if name == "engineering"
            else []
        )
        groups.append(
            {"id": _uuid(rng), "name": name, "path": f"/{name}", "subGroups": sub,
             "attributes": {}, "realmRoles": [], "clientRoles": {}}
        )
    memberships = 0
    for n, user in enumerate(users, start=1):
        paths = ["/engineering"] if n <= 10 else ["/sales"] if n <= 15 else []
        if n == 3:
            paths = ["/engineering", "/engineering/admins"]
        if n == 16:
            paths = ["/sales", "/support"]
        if n in (17, 24):
            paths = ["/support"]
        user["groups"] = paths
        memberships += len(paths)
        for path in paths:
            if path == "/engineering/admins":
                groups_case.bad_line("membership", n, f"{path}/{ids[n - 1]}", ["unknown_organization"],
                                     "a subgroup: only top-level groups become organizations")
            elif n in bad_users:
                groups_case.bad_line("membership", n, f"{path}/{ids[n - 1]}", ["user_not_created"],
                                     f"user {n}'s row is invalid ({bad_users[n]})")
    groups_case.count("organizations", len(groups))
    groups_case.count("memberships", memberships)
    sample.tenants += [orgs_case, groups_case]
    return organizations, groups
