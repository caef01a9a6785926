"""ASP.NET Core Identity: ``AspNetUsers`` exported to CSV (SQL Server / Postgres query to CSV).

``PasswordHash`` is base64 of the Identity blob: V3 ``0x01 | prf | iter | saltLen | salt | subkey``
(HMAC-SHA256 with 10 000 iterations, Core <= 6; HMAC-SHA512 with 10 000 iterations here for quick
tests, .NET 7+ uses 100 000) and a few V2 ``0x00 | salt(16) | subkey(32)`` (PBKDF2-HMAC-SHA1, 1000
iterations). There is no creation-date column.

Deliberately bad rows (CSV line numbers, header = line 1):
- an e-mail with a space (invalid_email);
- the same e-mail as an earlier user (duplicate_email);
- a ``PasswordHash`` truncated to 20 base64 characters (malformed blob);
- a phone number too short for any country (invalid_phone).
"""

from __future__ import annotations

import random
import struct
import uuid

from .common import Sample, b64, make_people, pbkdf2, write_csv

HEADER = [
    "Id", "UserName", "NormalizedUserName", "Email", "NormalizedEmail", "EmailConfirmed",
    "PasswordHash", "SecurityStamp", "ConcurrencyStamp", "PhoneNumber", "PhoneNumberConfirmed",
    "TwoFactorEnabled", "LockoutEnd", "LockoutEnabled", "AccessFailedCount",
]


def v3_blob(password: str, salt: bytes, prf: int, iterations: int) -> bytes:
    name = {1: "sha256", 2: "sha512"}[prf]
    subkey = pbkdf2(name, password, salt, iterations, 32)
    return b"\x01" + struct.pack(">III", prf, iterations, len(salt)) + salt + subkey


def v2_blob(password: str, salt: bytes) -> bytes:
    return b"\x00" + salt + pbkdf2("sha1", password, salt, 1000, 32)


def build() -> Sample:
    rng = random.Random(0xA5)
    people = make_people(rng, 28)
    sample = Sample(
        system="aspnet-identity",
        title="ASP.NET Core Identity",
        command="clerk-migrate validate samples/aspnet-identity/AspNetUsers.csv --mapping aspnet-identity",
        inputs=["AspNetUsers.csv"],
        mapping="aspnet-identity",
    )
    rows = []
    for p in people:
        uid = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
        salt = rng.randbytes(16)
        if p.n % 7 == 0:
            blob = v2_blob(p.password, salt)
        elif p.n % 3 == 0:
            blob = v3_blob(p.password, salt, 2, 10000)
        else:
            blob = v3_blob(p.password, salt, 1, 10000)
        digest = b64(blob)
        email = p.email
        phone = p.phone if p.n % 4 == 0 else None
        if p.n == 5:
            email = p.email.replace("@", " @ ")
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail with spaces around the @")
        if p.n == 16:
            email = people[3].email
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as line 5")
        if p.n == 10:
            digest = digest[:20]
            sample.bad(p.n + 1, uid, ["malformed_digest"], "PasswordHash truncated")
        if p.n == 24:
            phone = "+1555"
            sample.bad(p.n + 1, uid, ["invalid_phone"], "phone number too short")
        sample.passwords[uid] = p.password
        if p.n % 5 == 0:
            sample.reserved_email.append(uid)  # EmailConfirmed False
        rows.append(
            [
                uid, email, email.upper(), email, email.upper(), "True" if p.n % 5 else "False",
                digest, b64(rng.randbytes(20)).upper()[:32], str(uuid.UUID(bytes=rng.randbytes(16))),
                phone, "True" if phone else "False", "False", None, "True", 0,
            ]
        )
    write_csv(sample.folder / "AspNetUsers.csv", HEADER, rows)
    sample.total_rows = len(rows)
    return sample
