"""Clerk: the dashboard's user export (Users -> Export), for instance-to-instance moves.

Columns as the dashboard writes them; several addresses in one cell are separated by ``|`` (as
third-party importers of this export read it; Clerk does not document it). Password digests are
Clerk's own (bcrypt) with their ``password_hasher``; ``totp_secret`` is base32.

Deliberately bad rows (CSV line numbers, header = line 1):
- a primary e-mail whose domain is just ``.com`` (invalid_email);
- the same primary e-mail as an earlier user (duplicate_email);
- a TOTP secret that is not base32 (invalid_totp_secret).
"""

from __future__ import annotations

import base64
import random

from .common import Sample, ascii_fold, bcrypt_hash, make_people, write_csv

HEADER = [
    "id", "first_name", "last_name", "username", "primary_email_address", "primary_phone_number",
    "verified_email_addresses", "unverified_email_addresses", "verified_phone_numbers",
    "unverified_phone_numbers", "totp_secret", "password_digest", "password_hasher",
]
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def build() -> Sample:
    rng = random.Random(0xC1)
    people = make_people(rng, 30)
    sample = Sample(
        system="clerk",
        title="Clerk (another instance)",
        command="clerk-migrate validate samples/clerk/users.csv --mapping clerk",
        inputs=["users.csv"],
        mapping="clerk",
    )
    rows = []
    for p in people:
        uid = "user_2" + "".join(rng.choice(ID_CHARS) for _ in range(26))
        email = p.email
        phone = p.phone if p.n % 4 == 0 else ""
        second = f"{ascii_fold(p.first)}@work-{ascii_fold(p.last)[:5]}.com" if p.n % 5 == 0 else ""
        totp = base64.b32encode(rng.randbytes(20)).decode() if p.n % 6 == 0 else ""
        has_password = p.n % 8 != 0
        digest = bcrypt_hash(rng, p.password.encode(), cost=4) if has_password else ""
        if p.n == 7:
            email = p.email.split("@")[0] + "@.com"
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail with an empty domain label")
        if p.n == 19:
            email = people[8].email
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as line 10")
        if p.n == 24:
            totp = "NOT-BASE32-1890"
            sample.bad(p.n + 1, uid, ["invalid_totp_secret"], "totp_secret with - and 1/8/9/0")
        if has_password:
            sample.passwords[uid] = p.password
        else:
            sample.no_password.append(uid)
        # Some second e-mails and phones were never verified: they arrive "reserved".
        unverified = second if p.n % 10 == 5 else ""
        verified = "|".join(e for e in (email, second) if e and e != unverified)
        unverified_phone = phone if p.n % 12 == 0 else ""
        verified_phone = "" if unverified_phone else phone
        if unverified:
            sample.reserved_email.append(uid)
        if unverified_phone:
            sample.reserved_phone.append(uid)
        rows.append(
            [
                uid, p.first, p.last, "", email, phone, verified, unverified, verified_phone,
                unverified_phone, totp, digest, "bcrypt" if has_password else "",
            ]
        )
    write_csv(sample.folder / "users.csv", HEADER, rows)
    sample.total_rows = len(rows)
    return sample
