"""Devise (Rails): the ``users`` table exported to CSV, with a pepper configured.

``encrypted_password`` = bcrypt (``$2a$``) of ``password + pepper`` (``config.pepper``); the preset
builds Clerk's ``bcrypt_peppered`` digest ``<bcrypt>$<pepper>`` with the pepper from DEVISE_PEPPER.

Deliberately bad rows (CSV line numbers, header = line 1):
- an e-mail without a local part (invalid_email);
- the same e-mail as an earlier user (duplicate_email);
- an empty ``encrypted_password`` cut short by a broken export (malformed digest);
- a ``created_at`` in 2031 (future created_at).
"""

from __future__ import annotations

import random

from .common import FUTURE, Sample, bcrypt_hash, make_people, pg_timestamp, write_csv

HEADER = [
    "id", "email", "encrypted_password", "reset_password_token", "reset_password_sent_at",
    "remember_created_at", "sign_in_count", "current_sign_in_at", "last_sign_in_at",
    "current_sign_in_ip", "last_sign_in_ip", "confirmation_token", "confirmed_at",
    "confirmation_sent_at", "unconfirmed_email", "created_at", "updated_at",
]


def build() -> Sample:
    rng = random.Random(0xDE)
    pepper = rng.randbytes(16).hex()
    people = make_people(rng, 26)
    sample = Sample(
        system="devise",
        title="Devise (Rails)",
        command="clerk-migrate validate samples/devise/users.csv --mapping devise",
        inputs=["users.csv"],
        mapping="devise",
        env={"DEVISE_PEPPER": pepper},
    )
    rows = []
    for p in people:
        uid = str(p.n)
        digest = bcrypt_hash(rng, (p.password + pepper).encode(), cost=4, tag="2a")
        email, created = p.email, p.created
        if p.n == 2:
            email = "@" + p.email.split("@")[1]
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail without a local part")
        if p.n == 13:
            email = people[4].email
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as line 6")
        if p.n == 18:
            digest = digest[:29]
            sample.bad(p.n + 1, uid, ["malformed_digest"], "encrypted_password cut short")
        if p.n == 22:
            created = FUTURE
            sample.bad(p.n + 1, uid, ["future_timestamp"], "created_at in 2031")
        sample.passwords[uid] = p.password
        ip = f"203.0.113.{rng.randint(1, 254)}"
        signed_in = pg_timestamp(created.replace(year=min(created.year + 1, 2025)))
        rows.append(
            [
                uid, email, digest, None, None, None, rng.randint(1, 80), signed_in, signed_in,
                ip, ip, None, pg_timestamp(created), pg_timestamp(created), None,
                pg_timestamp(created), pg_timestamp(created),
            ]
        )
    write_csv(sample.folder / "users.csv", HEADER, rows)
    sample.total_rows = len(rows)
    sample.notes.append("The sample's pepper (DEVISE_PEPPER) is in expected.json; a sample, not a secret.")
    return sample
