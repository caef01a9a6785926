"""Firebase Auth: ``firebase auth:export`` as JSON and as header-less CSV, plus the hash config.

Files (samples/firebase/):
- ``users.json``: ``{"users": [...]}``, each user pretty-printed as firebase-tools does, epoch-ms
  timestamps as strings, ``customAttributes`` as a JSON string, standard base64 hash and salt.
- ``users.csv``: the same users in the 28-column header-less CSV (plus the trailing comma).
- ``hash_config.txt``: the project's password hash parameters as the console shows them; the preset
  reads them from FIREBASE_SIGNER_KEY, FIREBASE_SALT_SEPARATOR, FIREBASE_ROUNDS, FIREBASE_MEM_COST.

Hashes are real Firebase modified-scrypt (scrypt -> AES-256-CTR of the signer key) with Firebase's
default parameters (rounds 8, mem_cost 14).

Deliberately bad rows (users.json record numbers = users.csv line numbers):
- an e-mail with a space in it (invalid_email);
- the same e-mail as an earlier user (duplicate_email);
- a ``createdAt`` in 2031 (future created_at);
- a ``passwordHash`` that is not base64 (malformed scrypt_firebase digest).
Google-only users (providerUserInfo, no hash) are valid and have no password.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .common import FUTURE, Sample, b64, epoch_ms, make_people

ROUNDS = 8
MEM_COST = 14
SALT_SEPARATOR = "Bw=="


def firebase_scrypt(password: str, salt: bytes, signer_key: bytes) -> bytes:
    """Firebase's modified scrypt (checked against supabase/auth's published vector)."""
    derived = hashlib.scrypt(
        password.encode(),
        salt=salt + base64.b64decode(SALT_SEPARATOR),
        n=2**MEM_COST,
        r=ROUNDS,
        p=1,
        dklen=64,
        maxmem=64 * 1024 * 1024,
    )
    encryptor = Cipher(algorithms.AES(derived[:32]), modes.CTR(b"\0" * 16)).encryptor()
    return encryptor.update(signer_key) + encryptor.finalize()


def _csv_cell(value: str | None) -> str:
    return value or ""


def build() -> Sample:
    rng = random.Random(0xF1)
    signer_key = b64(rng.randbytes(64))
    sample = Sample(
        system="firebase",
        title="Firebase Auth",
        command="clerk-migrate validate samples/firebase/users.json --mapping firebase",
        inputs=["users.json"],
        mapping="firebase",
        variants=[{"inputs": ["users.csv"], "mapping": "firebase_csv", "row_offset": 0}],
        env={
            "FIREBASE_SIGNER_KEY": signer_key,
            "FIREBASE_SALT_SEPARATOR": SALT_SEPARATOR,
            "FIREBASE_ROUNDS": str(ROUNDS),
            "FIREBASE_MEM_COST": str(MEM_COST),
        },
    )
    people = make_people(rng, 30)
    users: list[dict[str, object]] = []
    csv_lines: list[str] = []
    for p in people:
        local_id = base64.b32encode(rng.randbytes(17)).decode().rstrip("=")[:28]
        local_id = "".join(c if rng.random() < 0.5 else c.lower() for c in local_id)
        google = p.n in (4, 13, 25)
        email = p.email
        created = p.created
        password_hash: str | None = None
        salt: str | None = None
        if not google:
            salt_bytes = rng.randbytes(12)
            salt = b64(salt_bytes)
            password_hash = b64(firebase_scrypt(p.password, salt_bytes, base64.b64decode(signer_key)))
            sample.passwords[local_id] = p.password
        else:
            sample.no_password.append(local_id)
        if p.n == 6:
            email = p.email.replace("@", " @")
            sample.bad(p.n, local_id, ["invalid_email"], "e-mail with a space before the @")
        if p.n == 16:
            email = people[1].email
            sample.bad(p.n, local_id, ["duplicate_email"], "same e-mail as user 2")
        if p.n == 22:
            created = FUTURE
            sample.bad(p.n, local_id, ["future_timestamp"], "createdAt in 2031")
        if p.n == 28:
            password_hash = "not base64!" + (password_hash or "")[11:]
            sample.bad(p.n, local_id, ["malformed_digest"], "passwordHash is not base64")
        claims = (
            json.dumps({"role": "admin", "org": "acme"})
            if p.n % 9 == 0
            else (json.dumps({"tier": "gold"}) if p.n % 5 == 0 else None)
        )
        display = f"{p.first} {p.last}" if p.n % 10 != 3 else f"{p.last}, {p.first}"
        user: dict[str, object] = {
            "localId": local_id,
            "email": email,
            "emailVerified": p.n % 6 != 0,
            "passwordHash": password_hash,
            "salt": salt,
            "displayName": display,
            "photoUrl": f"https://lh3.googleusercontent.com/a/{local_id[:10]}" if google else None,
            "lastSignedInAt": str(epoch_ms(created) + rng.randint(10**6, 10**9)),
            "createdAt": str(epoch_ms(created)),
            "phoneNumber": p.phone if p.n % 4 == 0 else None,
            "disabled": False,
            "customAttributes": claims,
        }
        if email and not user["emailVerified"]:
            sample.reserved_email.append(local_id)
        if google:
            user["providerUserInfo"] = [
                {
                    "providerId": "google.com",
                    "rawId": str(rng.randint(10**20, 10**21 - 1)),
                    "email": email,
                    "displayName": display,
                    "photoUrl": user["photoUrl"],
                }
            ]
        users.append({k: v for k, v in user.items() if v is not None})
        # 28 values + trailing comma; displayName quoted only when it holds a comma (no escaping)
        name_cell = f'"{display}"' if "," in display else display
        google_cells = (
            [user["providerUserInfo"][0]["rawId"], email, name_cell, str(user["photoUrl"])]  # type: ignore[index]
            if google
            else ["", "", "", ""]
        )
        cells = [
            local_id,
            _csv_cell(email),
            "true" if user["emailVerified"] else "false",
            _csv_cell(password_hash),
            _csv_cell(salt),
            name_cell,
            _csv_cell(user.get("photoUrl")),  # type: ignore[arg-type]
            *google_cells,
            *([""] * 12),
            str(user["createdAt"]),
            str(user["lastSignedInAt"]),
            _csv_cell(user.get("phoneNumber")),  # type: ignore[arg-type]
            "false",
            '"' + claims.replace('"', '""') + '"' if claims else "",
        ]
        assert len(cells) == 28
        csv_lines.append(",".join(cells) + ",\n")
    text = '{"users": [\n' + ",\n".join(json.dumps(u, indent=2) for u in users) + "\n]}"
    (sample.folder / "users.json").write_text(text, encoding="utf-8")
    (sample.folder / "users.csv").write_text("".join(csv_lines), encoding="utf-8")
    (sample.folder / "hash_config.txt").write_text(
        "hash_config {\n"
        "  algorithm: SCRYPT,\n"
        f"  base64_signer_key: {signer_key},\n"
        f"  base64_salt_separator: {SALT_SEPARATOR},\n"
        f"  rounds: {ROUNDS},\n"
        f"  mem_cost: {MEM_COST},\n"
        "}\n",
        encoding="utf-8",
    )
    sample.total_rows = len(users)
    sample.notes.append(
        "hash_config.txt is the sample project's hash parameters (a sample, so not a secret; export them as the env vars above)."
    )
    return sample
