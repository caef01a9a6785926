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
    return sample
