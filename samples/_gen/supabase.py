"""Supabase: ``auth.users`` exported with ``\\copy auth.users to 'auth_users.csv' csv header``.

Every column of the table in its ordinal order; timestamps as Postgres renders timestamptz
(``2024-01-15 10:30:00.123456+00``), booleans ``t``/``f``, NULL as an empty cell, jsonb as text with
``": "`` spacing, phones without the ``+``. Passwords: bcrypt ``$2a$`` (GoTrue), imported argon2id
PHC strings, and Firebase users imported into Supabase as ``$fbscrypt$…`` (re-ordered by the
preset into Clerk's scrypt_firebase format); OAuth users have an empty ``encrypted_password``.

Deliberately bad rows (CSV line numbers, header = line 1):
- an e-mail with two @ (invalid_email);
- a second row with an earlier user's e-mail in different case (duplicate_email);
- a bcrypt hash with a cost field of one digit (malformed digest);
- an anonymous user (``is_anonymous = t``): no e-mail and no phone (no identifier).
"""

from __future__ import annotations

import json
import random
import uuid

from .common import Sample, argon2_hash, b64, bcrypt_hash, make_people, pg_timestamp, write_csv
from .firebase import MEM_COST, ROUNDS, SALT_SEPARATOR, firebase_scrypt

COLUMNS = [
    "instance_id", "id", "aud", "role", "email", "encrypted_password", "email_confirmed_at",
    "invited_at", "confirmation_token", "confirmation_sent_at", "recovery_token",
    "recovery_sent_at", "email_change_token_new", "email_change", "email_change_sent_at",
    "last_sign_in_at", "raw_app_meta_data", "raw_user_meta_data", "is_super_admin", "created_at",
    "updated_at", "phone", "phone_confirmed_at", "phone_change", "phone_change_token",
    "phone_change_sent_at", "confirmed_at", "email_change_token_current",
    "email_change_confirm_status", "banned_until", "reauthentication_token",
    "reauthentication_sent_at", "is_sso_user", "deleted_at", "is_anonymous",
]


def _jsonb(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def build() -> Sample:
    rng = random.Random(0x5B)
    people = make_people(rng, 34)
    sample = Sample(
        system="supabase",
        title="Supabase",
        command="clerk-migrate validate samples/supabase/auth_users.csv --mapping supabase",
        inputs=["auth_users.csv"],
        mapping="supabase",
    )
    fb_signer = rng.randbytes(64)
    rows = []
    for p in people:
        uid = str(uuid.UUID(bytes=rng.randbytes(16), version=4))
        email: str | None = p.email
        phone: str | None = p.phone.lstrip("+") if p.n % 3 == 0 else None
        oauth = p.n in (7, 19, 30)
        anonymous = p.n == 27
        secret = p.password.encode()
        if oauth:
            digest = ""
            provider = "google"
        elif p.n % 5 == 0:
            digest = argon2_hash(rng, secret)
            provider = "email"
        elif p.n % 8 == 3:
            salt = rng.randbytes(12)
            digest = (
                f"$fbscrypt$v=1,n={MEM_COST},r={ROUNDS},p=1,ss={SALT_SEPARATOR},sk={b64(fb_signer)}"
                f"${b64(salt)}${b64(firebase_scrypt(p.password, salt, fb_signer))}"
            )
            provider = "email"
        else:
            digest = bcrypt_hash(rng, secret, cost=4, tag="2a")
            provider = "email"
        if anonymous:
            email, phone, digest, provider = None, None, "", "anonymous"
            sample.bad(p.n + 1, uid, ["no_identifier"], "anonymous user: no e-mail or phone")
        if p.n == 4:
            email = p.email.replace("@", "@@")
            sample.bad(p.n + 1, uid, ["invalid_email"], "e-mail with two @")
        if p.n == 21:
            email = people[9].email.title()
            sample.bad(p.n + 1, uid, ["duplicate_email"], "same e-mail as line 11, title-cased")
        if p.n == 14:
            digest = "$2a$4$" + digest[7:]
            sample.bad(p.n + 1, uid, ["malformed_digest"], "bcrypt cost written as one digit")
        if digest and not anonymous:
            sample.passwords[uid] = p.password
        elif not anonymous:
            sample.no_password.append(uid)
        created = pg_timestamp(p.created)
        confirmed = pg_timestamp(p.created) if p.n % 6 else None
        if email and confirmed is None:
            sample.reserved_email.append(uid)
        app_meta = {"provider": provider, "providers": [provider]}
        if p.n % 10 == 0:
            app_meta["roles"] = ["editor"]  # type: ignore[assignment]
        user_meta: dict[str, object] = {} if anonymous else {"full_name": p.full_name}
        if oauth:
            user_meta.update(
                {"avatar_url": f"https://lh3.googleusercontent.com/a/{uid[:8]}", "email_verified": True}
            )
        values = {
            "instance_id": "00000000-0000-0000-0000-000000000000",
            "id": uid,
            "aud": "authenticated",
            "role": "authenticated",
            "email": email,
            "encrypted_password": digest,
            "email_confirmed_at": confirmed if email else None,
            "confirmation_token": "",
            "recovery_token": "",
            "email_change_token_new": "",
            "email_change": "",
            "last_sign_in_at": pg_timestamp(p.created.replace(year=min(p.created.year + 1, 2025))),
            "raw_app_meta_data": _jsonb(app_meta),
            "raw_user_meta_data": _jsonb(user_meta),
            "created_at": created,
            "updated_at": created,
            "phone": phone,
            "phone_confirmed_at": created if phone else None,
            "phone_change": "",
            "phone_change_token": "",
            "confirmed_at": confirmed if email else (created if phone else None),
            "email_change_token_current": "",
            "email_change_confirm_status": 0,
            "reauthentication_token": "",
            "is_sso_user": "f",
            "is_anonymous": "t" if anonymous else "f",
        }
        rows.append([values.get(c) for c in COLUMNS])
    write_csv(sample.folder / "auth_users.csv", COLUMNS, rows)
    sample.total_rows = len(rows)
    return sample
