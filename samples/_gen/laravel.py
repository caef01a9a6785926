"""Laravel: the ``users`` table (``php artisan`` default migration) exported to CSV.

``password`` is PHP ``password_hash`` bcrypt (``$2y$``, identical to ``$2b$``); a few users were
hashed after switching the app to Argon2id (``$argon2id$``). ``name`` is one field: the preset
keeps it whole in ``first_name`` only when there is no space, otherwise it splits on the first
space (see the preset).

Deliberately bad rows (CSV line numbers, header = line 1):
- an e-mail with a space (invalid_email);
- the same e-mail as an earlier user (duplicate_email);
- a ``created_at`` in 2031 (future created_at);
- a password column holding an app-specific ``sha256:`` string: its shape matches no Clerk hasher (digest_without_hasher).
"""

from __future__ import annotations

import hashlib
import random

from .common import FUTURE, Sample, argon2_hash, bcrypt_hash, make_people, write_csv

HEADER = [
    "id", "name", "email", "email_verified_at", "password", "remember_token", "created_at",
    "updated_at",
]


def _mysql(ts: object) -> str:
    from datetime import datetime

    assert isinstance(ts, datetime)
    return ts.strftime("%Y-%m-%d %H:%M:%S")


def build() -> Sample:
    rng = random.Random(0x1A)
    people = make_people(rng, 28)
    sample = Sample(
        system="laravel",
        title="Laravel",
        command="clerk-migrate validate samples/laravel/users.csv --mapping laravel",
        inputs=["users.csv"],
        mapping="laravel",
    )
    rows = []
    for p in people:
        uid = str(p.n)
        if p.n % 6 == 0:
            digest = argon2_hash(rng, p.password.encode())
        else:
            digest = bcrypt_hash(rng, p.password.encode(), cost=4, tag="2y")
        email, created = p.email, p.created
        if p.n == 3:
            email = p.email.replace("@", " at @")
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail with spaces")
        if p.n == 14:
            email = people[7].email
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as line 9")
        if p.n == 20:
            created = FUTURE
            sample.bad(p.n + 1, uid, ["future_timestamp"], "created_at in 2031")
        if p.n == 25:
            digest = "sha256:" + hashlib.sha256(p.password.encode()).hexdigest()
            sample.bad(p.n + 1, uid, ["digest_without_hasher"], "app-specific sha256: string, no Clerk hasher")
        sample.passwords[uid] = p.password
        if p.n % 4 == 0:
            sample.reserved_email.append(uid)  # email_verified_at is null
        rows.append(
            [
                uid, p.full_name, email, _mysql(created) if p.n % 4 else None, digest,
                rng.randbytes(30).hex()[:60] if p.n % 3 == 0 else None,
                _mysql(created), _mysql(created),
            ]
        )
    write_csv(sample.folder / "users.csv", HEADER, rows)
    sample.total_rows = len(rows)
    return sample
