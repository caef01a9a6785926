"""AWS Cognito: the user-pool CSV (``get-csv-header`` columns plus ``custom:`` attributes).

Cognito never exports password hashes, so the preset uses Clerk's lazy ``awscognito`` hasher: the
digest ``awscognito#<pool id>#<client id>#<username>`` makes Clerk check the password against
Cognito at first sign-in. Pool and client ids come from COGNITO_USER_POOL_ID and COGNITO_CLIENT_ID.
No creation date exists in this format.

Deliberately bad rows (CSV line numbers, header = line 1):
- an e-mail whose domain has no top-level domain (invalid_email);
- the same e-mail as an earlier user (duplicate_email);
- a phone number that is not E.164 (a US number written with brackets and no country code).
"""

from __future__ import annotations

import random
import uuid

from .common import Sample, make_people, write_csv

HEADER = [
    "cognito:username", "name", "given_name", "family_name", "middle_name", "nickname",
    "preferred_username", "profile", "picture", "website", "email", "email_verified", "gender",
    "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address",
    "updated_at", "cognito:mfa_enabled", "custom:tenant_id", "custom:plan",
]
POOL_ID = "eu-west-1_Ab12Cd34E"
CLIENT_ID = "5t7kqh3k0e2n4n1d9gq6l1m8o2"


def build() -> Sample:
    rng = random.Random(0xC0)
    people = make_people(rng, 26)
    sample = Sample(
        system="cognito",
        title="AWS Cognito",
        command="clerk-migrate validate samples/cognito/user-pool.csv --mapping cognito",
        inputs=["user-pool.csv"],
        mapping="cognito",
        verifiable=False,
        env={"COGNITO_USER_POOL_ID": POOL_ID, "COGNITO_CLIENT_ID": CLIENT_ID},
    )
    rows = []
    for p in people:
        sub = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
        email = p.email
        phone = p.phone if p.n % 3 == 0 else ""
        if p.n == 5:
            email = p.email.split("@")[0] + "@gmail"
            sample.bad(p.n + 1, sub, ["invalid_email"], "e-mail domain without a top-level domain")
        if p.n == 18:
            email = people[6].email
            sample.bad(p.n + 1, sub, ["duplicate_email"], "same e-mail as line 8")
        if p.n == 12:
            phone = "(415) 555-0134"
            sample.bad(p.n + 1, sub, ["invalid_phone"], "phone without a country code")
        sample.passwords[sub] = p.password  # verified by Cognito at first sign-in, not offline
        email_verified = p.n % 7 != 0
        phone_verified = bool(phone) and p.n % 2 == 0
        if not email_verified:
            sample.reserved_email.append(sub)
        if phone and not phone_verified:
            sample.reserved_phone.append(sub)
        rows.append(
            [
                sub, p.full_name, p.first, p.last, "", p.first.lower(), "", "", "", "",
                email, "true" if email_verified else "false", "", "", "",
                rng.choice(["en-US", "en-GB", "de-DE", "pt-BR"]),
                phone, "true" if phone_verified else "false", "",
                int(p.created.timestamp()), "false",
                f"t-{rng.randint(100, 999)}", rng.choice(["free", "pro", "enterprise"]),
            ]
        )
    write_csv(sample.folder / "user-pool.csv", HEADER, rows)
    sample.total_rows = len(rows)
    sample.notes.append(
        "Cognito passwords cannot be checked offline: the sandbox's verify_password returns False "
        "for awscognito digests, so the sign-in test only checks the digest shape."
    )
    return sample
