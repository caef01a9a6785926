"""Django: ``auth_user`` exported with ``\\copy auth_user to 'auth_user.csv' csv header``.

Password column shapes, each made with the algorithm Django uses (hashlib / bcrypt / argon2-cffi):
``pbkdf2_sha256$<iter>$<salt>$<b64>`` with varying (small) iteration counts, ``pbkdf2_sha1`` (20-byte
key), ``argon2$argon2id$…``, ``bcrypt_sha256$$2b$…`` (bcrypt over the hex SHA-256), and unusable
passwords (``!`` + 40 chars: social-only users, imported without a password).

Deliberately bad rows (CSV line numbers, header = line 1):
- an e-mail without an @ (invalid_email);
- the same e-mail as an earlier user, upper-cased (duplicate_email);
- a ``date_joined`` in 2031 (future created_at);
- a legacy ``sha1$salt$hex`` hash, which no Clerk hasher verifies (unsupported hash).
"""

from __future__ import annotations

import binascii
import hashlib
import random

from .common import (
    FUTURE,
    Sample,
    TenantCase,
    argon2_hash,
    ascii_fold,
    b64,
    bcrypt_hash,
    make_people,
    pbkdf2,
    pg_timestamp,
    write_csv,
)

HEADER = [
    "id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
    "email", "is_staff", "is_active", "date_joined",
]
SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _salt(rng: random.Random, length: int = 22) -> str:
    return "".join(rng.choice(SALT_CHARS) for _ in range(length))


def build() -> Sample:
    rng = random.Random(0xD1)
    people = make_people(rng, 36)
    sample = Sample(
        system="django",
        title="Django",
        command="clerk-migrate validate samples/django/auth_user.csv --mapping django",
        inputs=["auth_user.csv"],
        mapping="django",
    )
    rows = []
    for p in people:
        uid = str(p.n + 100)
        pw = p.password
        kind = ["pbkdf2_sha256", "pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256"][p.n % 5]
        if p.n in (9, 24):
            kind = "unusable"
        if kind == "pbkdf2_sha256":
            salt, iterations = _salt(rng), rng.choice([1000, 2000, 3600, 5000])
            digest = f"pbkdf2_sha256${iterations}${salt}${b64(pbkdf2('sha256', pw, salt.encode(), iterations))}"
        elif kind == "pbkdf2_sha1":
            salt, iterations = _salt(rng), rng.choice([1000, 2500])
            digest = f"pbkdf2_sha1${iterations}${salt}${b64(pbkdf2('sha1', pw, salt.encode(), iterations))}"
        elif kind == "argon2":
            digest = "argon2" + argon2_hash(rng, pw.encode())
        elif kind == "bcrypt_sha256":
            inner = binascii.hexlify(hashlib.sha256(pw.encode()).digest())
            digest = "bcrypt_sha256$" + bcrypt_hash(rng, inner, cost=4)
        else:
            digest = "!" + _salt(rng, 40)
        email = p.email
        joined = p.created
        if p.n == 11:
            email = p.email.replace("@", ".")
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail without an @")
        if p.n == 20:
            email = people[4].email.upper()
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as line 6, upper-cased")
        if p.n == 29:
            joined = FUTURE
            sample.bad(p.n + 1, uid, ["future_timestamp"], "date_joined in 2031")
        if p.n == 33:
            salt = _salt(rng, 12)
            digest = f"sha1${salt}${hashlib.sha1((salt + pw).encode()).hexdigest()}"  # noqa: S324
            sample.bad(p.n + 1, uid, ["unsupported_hash"], "legacy Django sha1$ hash")
        if kind == "unusable":
            sample.no_password.append(uid)
        else:
            sample.passwords[uid] = pw
        username = f"{ascii_fold(p.first)}_{ascii_fold(p.last)[:6]}{p.n}"
        rows.append(
            [
                uid, digest,
                pg_timestamp(joined.replace(year=min(joined.year + 1, 2025))) if p.n % 4 else None,
                "t" if p.n == 1 else "f", username, p.first, p.last, email,
                "t" if p.n in (1, 2) else "f", "f" if p.n == 31 else "t", pg_timestamp(joined),
            ]
        )
    write_csv(sample.folder / "auth_user.csv", HEADER, rows)
    sample.total_rows = len(rows)
    sample.tenants.append(_teams(sample))
    return sample


ORG_HEADER = [
    "id", "name", "slug", "max_allowed_memberships", "created_at", "created_by",
    "public_metadata", "private_metadata",
]


def _teams(sample: Sample) -> TenantCase:
    """A Django app's teams in the generic tenant shape (docs/mapping.md): ``organizations.csv``
    and ``memberships.csv``, read beside the django preset (any preset takes this shape)."""
    case = TenantCase(
        title="Teams in the generic shape",
        command=(
            "clerk-migrate validate samples/django/auth_user.csv --mapping django "
            "--organizations samples/django/organizations.csv "
            "--memberships samples/django/memberships.csv"
        ),
        input="auth_user.csv",
        mapping="django",
        organizations="organizations.csv",
        memberships="memberships.csv",
        source="the generic shape this tool documents (docs/mapping.md, Organizations and memberships)",
    )
    orgs = [
        ["t1", "Northwind Traders", "", "", "2021-03-04T05:06:07Z", "101", '{"plan":"pro"}', ""],
        ["t2", "Contoso", "contoso", "", "2022-07-08 09:10:11", "102", "", '{"crm_id":"C-2"}'],
        ["t3", "", "", "", "", "", "", ""],
        ["t4", "Fabrikam", "Fabrikam Inc", "", "", "", "", ""],
        ["t5", "Tailspin Toys", "", "", "last tuesday", "", "", ""],
        ["t6", "Litware", "", "2", "", "", "", ""],
        ["t2", "Contoso (copy)", "", "", "", "", "", ""],
        ["t8", "Woodgrove", "", "", "", "999", "", ""],
    ]
    case.bad_line("organization", 4, "t3", ["missing_name"], "no name")
    case.bad_line("organization", 5, "t4", ["invalid_slug"], "a slug with capitals and a space")
    case.bad_line("organization", 6, "t5", ["invalid_timestamp"], "a created_at no parser reads")
    case.bad_line("organization", 8, "t2", ["duplicate_key"], "id t2 again")
    case.bad_line("organization", 9, "t8", ["unknown_user"], "created_by names no user")
    write_csv(sample.folder / "organizations.csv", ORG_HEADER, orgs)
    bad_users = {int(b.key): b.why for b in sample.bad_rows}
    members: list[list[str]] = []
    for uid in range(101, 112):
        members.append([str(uid), "t1", "admin" if uid == 101 else "" if uid == 105 else "member"])
    members += [[str(uid), "t2", "admin" if uid == 112 else "member"] for uid in range(112, 116)]
    members += [
        ["116", "t3", "member"],
        ["117", "t6", "admin"],
        ["118", "t6", "member"],
        ["119", "t6", "member"],
        ["121", "t9", "member"],
        ["122", "t1", "owner"],
        ["123", "t2", "org:member"],
        ["123", "t2", "admin"],
        ["137", "t1", "member"],
        ["", "t1", "member"],
        ["120", "t5", "member"],
    ]
    why = {
        ("116", "t3"): (["organization_not_created"], "team t3 is invalid (no name)"),
        ("119", "t6"): (["membership_limit_reached"], "Litware allows 2 members"),
        ("121", "t9"): (["unknown_organization"], "no team t9"),
        ("122", "t1"): (["unknown_role"], "role owner is not mapped"),
        ("137", "t1"): (["unknown_user"], "no user 137"),
        ("", "t1"): (["missing_user"], "an empty user_id"),
        ("120", "t5"): (
            ["organization_not_created", "user_not_created"],
            f"team t5 is invalid and user 120's row too ({bad_users[120]})",
        ),
    }
    for row, (uid, org, _role) in enumerate(members, start=2):
        key = f"{org}/{uid}"
        if (uid, org) in why:
            reasons, text = why[(uid, org)]
            case.bad_line("membership", row, key, reasons, text)
        elif uid and int(uid) in bad_users:
            case.bad_line("membership", row, key, ["user_not_created"],
                          f"user {uid}'s row is invalid ({bad_users[int(uid)]})")
        if row == 24:  # the second 123/t2
            case.bad_line("membership", row, key, ["duplicate_membership"], "user 123 in t2 twice")
    write_csv(sample.folder / "memberships.csv", ["user_id", "organization_id", "role"], members)
    case.count("organizations", len(orgs))
    case.count("memberships", len(members))
    return case
