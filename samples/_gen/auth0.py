"""Auth0: the bulk user export (NDJSON and CSV) plus the password-hash export from support.

Files (samples/auth0/):
- ``acme-prod.json``: the users-exports job output (NDJSON despite the ``.json`` name, as Auth0
  names it after the tenant), with whole ``user_metadata`` / ``app_metadata`` objects.
- ``acme-prod.csv``: the same users as the CSV job output, with Auth0's CSV-injection escaping
  (every string cell is ``"'value"``; booleans and numbers bare) and metadata leaves as columns.
- ``password-hashes.json``: the password-hash export (NDJSON, Mongo-style ``_id.$oid``), joined on
  ``user_id == "auth0|" + (alt_id or _id.$oid)``.

Deliberately bad rows (acme-prod.json record numbers; the CSV has the same users, row = record + 1):
- an e-mail without a domain (invalid_email);
- an e-mail that differs from an earlier user's only by case (duplicate_email);
- a sign-up date in 2031 (future created_at);
- a password hash truncated in the hash export (no hasher can be inferred from it).
Social (google-oauth2) and passwordless (sms) users are valid and have no password.
"""

from __future__ import annotations

import json
import random

from .common import (
    FUTURE,
    Sample,
    TenantCase,
    bcrypt_hash,
    iso_ms,
    make_people,
    write_ndjson,
)

TENANT = "acme-prod"
CSV_FIELDS = [
    "user_id", "email", "email_verified", "given_name", "family_name", "name", "nickname",
    "phone_number", "created_at", "last_login", "logins_count", "blocked",
    "user_metadata.plan", "user_metadata.locale", "app_metadata.roles",
]


def _esc(value: object) -> str:
    """Auth0's CSV escaping: a string becomes ``"'value"`` (inner quotes doubled); others bare."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return '"\'' + str(value).replace('"', '""') + '"'


def build() -> Sample:
    rng = random.Random(0xA0)
    people = make_people(rng, 32)
    sample = Sample(
        system="auth0",
        title="Auth0",
        command=(
            "clerk-migrate validate samples/auth0/acme-prod.json --mapping auth0 "
            "--join samples/auth0/password-hashes.json"
        ),
        inputs=["acme-prod.json", "password-hashes.json"],
        mapping="auth0",
        variants=[
            {"inputs": ["acme-prod.csv", "password-hashes.json"], "mapping": "auth0_csv", "row_offset": 1}
        ],
    )
    users: list[dict[str, object]] = []
    hashes: list[dict[str, object]] = []
    for p in people:
        kind = "auth0"
        if p.n in (5, 17, 26):
            kind = "google-oauth2"
        elif p.n == 12:
            kind = "sms"
        oid = rng.randbytes(12).hex()
        alt_id = f"legacy-{1000 + p.n}" if p.n in (9, 21) else None
        if kind == "auth0":
            user_id = f"auth0|{alt_id or oid}"
        elif kind == "google-oauth2":
            user_id = f"google-oauth2|{rng.randint(10**20, 10**21 - 1)}"
        else:
            user_id = f"sms|{oid}"
        email: str | None = p.email
        created = p.created
        if p.n == 8:
            email = p.email.split("@")[0] + "@"
            sample.bad(p.n, user_id, ["invalid_email"], "e-mail without a domain")
        if p.n == 15:
            email = people[2].email.upper()
            sample.bad(p.n, user_id, ["duplicate_email"], "same e-mail as user 3, upper-cased")
        if p.n == 23:
            created = FUTURE
            sample.bad(p.n, user_id, ["future_timestamp"], "created_at in 2031")
        if kind == "sms":
            email = None
        user: dict[str, object] = {
            "user_id": user_id,
            "email": email,
            "email_verified": p.n % 4 != 0,
            "given_name": p.first,
            "family_name": p.last,
            "name": p.full_name,
            "nickname": p.first.lower(),
            "phone_number": p.phone if kind == "sms" or p.n % 5 == 0 else None,
            "created_at": iso_ms(created),
            "last_login": iso_ms(created.replace(year=min(created.year + 1, 2025))),
            "logins_count": rng.randint(1, 400),
            "blocked": False,
            "identities": [
                {
                    "connection": {
                        "auth0": "Username-Password-Authentication",
                        "google-oauth2": "google-oauth2",
                        "sms": "sms",
                    }[kind],
                    "provider": kind,
                    "user_id": user_id.split("|", 1)[1],
                    "isSocial": kind == "google-oauth2",
                }
            ],
            "user_metadata": {"plan": rng.choice(["free", "pro", "team"]), "locale": "en-US"},
            "app_metadata": {"roles": rng.choice([["member"], ["member", "billing"], ["admin"]])},
        }
        users.append({k: v for k, v in user.items() if v is not None})
        if email and not user["email_verified"]:
            sample.reserved_email.append(user_id)
        if kind == "auth0":
            digest = bcrypt_hash(rng, p.password.encode(), cost=4, tag="2b" if p.n % 3 else "2a")
            if p.n == 19:
                digest = digest[:-9]
                sample.bad(
                    p.n, user_id, ["digest_without_hasher"],
                    "bcrypt hash cut short: its shape matches no hasher, so none is inferred",
                )
            record: dict[str, object] = {
                "_id": {"$oid": oid},
                "email_verified": bool(user["email_verified"]),
                "email": email,
                "passwordHash": digest,
                "password_set_date": {"$date": iso_ms(created)},
                "tenant": TENANT,
                "connection": "Username-Password-Authentication",
                "_tmp_is_unique": True,
            }
            if alt_id:
                record["alt_id"] = alt_id
            hashes.append({k: v for k, v in record.items() if v is not None})
            sample.passwords[user_id] = p.password
        else:
            sample.no_password.append(user_id)
    write_ndjson(sample.folder / f"{TENANT}.json", users)
    write_ndjson(sample.folder / "password-hashes.json", hashes)
    rows = []
    for u in users:
        meta_user = u.get("user_metadata", {})
        meta_app = u.get("app_metadata", {})
        assert isinstance(meta_user, dict) and isinstance(meta_app, dict)
        values = [u.get(f) for f in CSV_FIELDS[:12]] + [
            meta_user.get("plan"),
            meta_user.get("locale"),
            json.dumps(meta_app.get("roles")),
        ]
        rows.append(",".join(_esc(v) for v in values))
    header = ",".join(f'"{f}"' for f in CSV_FIELDS)
    (sample.folder / f"{TENANT}.csv").write_text(
        header + "\n" + "".join(r + "\n" for r in rows), encoding="utf-8"
    )
    sample.total_rows = len(users)
    sample.tenants.append(_organizations(sample, [str(u["user_id"]) for u in users]))
    return sample


def _org_id(rng: random.Random) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "org_" + "".join(rng.choice(alphabet) for _ in range(16))


def _role(rng: random.Random, name: str) -> dict[str, str]:
    return {"id": "rol_" + rng.randbytes(8).hex(), "name": name}


def _organizations(sample: Sample, user_ids: list[str]) -> TenantCase:
    """``organizations.json``: GET /api/v2/organizations, each organization with its ``members``
    as GET /api/v2/organizations/{id}/members?fields=user_id,email,roles&include_fields=true
    returns them. Users are numbered from 1 as in ``acme-prod.json``."""
    rng = random.Random(0xA1)
    case = TenantCase(
        title="Auth0 Organizations",
        command=(
            "clerk-migrate validate samples/auth0/acme-prod.json --mapping auth0 "
            "--join samples/auth0/password-hashes.json --organizations samples/auth0/organizations.json"
        ),
        input=f"{TENANT}.json",
        mapping="auth0",
        organizations="organizations.json",
        joins=["password-hashes.json"],
        source=(
            "Auth0 Management API v2: GET /api/v2/organizations (id, name, display_name, branding, "
            "metadata) and GET /api/v2/organizations/{id}/members with fields=user_id,email,roles "
            "(user_id, email, roles: [{id, name}]), https://auth0.com/docs/api/management/v2/"
            "organizations/get-organization-members; the members of each organization are kept in "
            "its record under \"members\""
        ),
    )
    admin, member, billing = (_role(rng, n) for n in ("admin", "member", "billing"))
    ghost = "auth0|" + rng.randbytes(12).hex()  # a user deleted before the users export
    plan = [
        ("acme", "Acme Corporation", {"tier": "enterprise"}, range(1, 9)),
        ("globex", "Globex", {"tier": "team"}, range(9, 17)),
        ("acme_labs", "Acme Labs", {}, range(17, 21)),
        ("acme-labs", "Acme Labs (EU)", {"tier": "team"}, range(21, 23)),
        ("initech", None, {}, range(23, 27)),
    ]
    bad_users = {b.row: b.why for b in sample.bad_rows}  # record number = user number
    orgs: list[dict[str, object]] = []
    members_read = 0
    for row, (name, display, metadata, numbers) in enumerate(plan, start=1):
        org_id = _org_id(rng)
        members: list[dict[str, object]] = []
        for n in numbers:
            roles = [admin] if n in (1, 9) else [member]
            if n == 3:
                roles = [member, admin]  # several roles: [roles]' first-listed (admin) wins
            members.append({"user_id": user_ids[n - 1], "email": f"user{n}@example.com", "roles": roles})
            reasons, why = [], []
            if n in bad_users:
                reasons.append("user_not_created")
                why.append(f"user {n}'s row is invalid ({bad_users[n]})")
            if name == "acme-labs":
                reasons.append("organization_not_created")
                why.append("its organization is invalid")
            if reasons:
                case.bad_line("membership", row, f"{org_id}/{user_ids[n - 1]}", reasons, "; ".join(why))
        record: dict[str, object] = {
            "id": org_id,
            "name": name,
            "display_name": display,
            "branding": {"colors": {"primary": "#0059d6", "page_background": "#ffffff"}},
            "metadata": metadata,
            "members": members,
        }
        if name == "globex":
            members.append({"user_id": user_ids[30], "email": "user31@example.com", "roles": [billing]})
            case.bad_line("membership", row, f"{org_id}/{user_ids[30]}", ["unknown_role"],
                          "role billing is not in the preset's [roles]")
            members.append({"user_id": ghost, "email": "gone@example.com", "roles": [member]})
            case.bad_line("membership", row, f"{org_id}/{ghost}", ["unknown_user"],
                          "a member whose user is not in the users export")
        if name == "acme-labs":
            case.bad_line("organization", row, org_id, ["duplicate_slug"],
                          "acme_labs and acme-labs make the same slug")
        if name == "initech":
            del record["display_name"]  # no display name: the name is used
            members.append({"user_id": user_ids[23], "email": "user24@example.com", "roles": [member]})
            case.bad_line("membership", row, f"{org_id}/{user_ids[23]}", ["duplicate_membership"],
                          "user 24 listed twice")
        members_read += len(members)
        orgs.append(record)
    (sample.folder / "organizations.json").write_text(
        json.dumps(orgs, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    case.count("organizations", len(orgs))
    case.count("memberships", members_read)
    return case
