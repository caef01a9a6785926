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

from .common import FUTURE, Sample, ascii_fold, b64, epoch_ms, make_people, pbkdf2, write_csv

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
    (sample.folder / "acme-realm.json").write_text(
        _jackson({"realm": "acme", "users": users}) + "\n", encoding="utf-8"
    )
    write_csv(sample.folder / "users.csv", CSV_HEADER, rows)
    sample.total_rows = len(rows)
    return sample
