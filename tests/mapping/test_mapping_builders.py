"""Digest builders in a mapping: each gives the digest and hasher of hashers' converters,
from digests made by the real libraries, with secrets taken from the environment only."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

import bcrypt
import polars as pl
from argon2 import PasswordHasher

from migrate._internal.hashers import builders as fb
from migrate._internal.hashers import converters as conv
from migrate._internal.mapping import compile_mapping, parse_mapping


def digests(
    toml: str, data: dict[str, list[Any]], env: dict[str, str] | None = None
) -> pl.DataFrame:
    spec = parse_mapping(toml, env or {}, file="m.toml")
    frame = pl.DataFrame(data).with_row_index("_row", offset=1).lazy()
    return compile_mapping(spec, frame).collect().select("password_digest", "password_hasher")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_firebase_scrypt_builds_clerks_six_field_digest() -> None:
    """Six $-joined fields with hasher scrypt_firebase; a user without a hash gets none."""
    toml = """
    [fields.password_digest]
    builder = "firebase_scrypt"
    hash = "passwordHash"
    salt = "salt"
    signer_key = "env:FIREBASE_SIGNER_KEY"
    rounds = 8
    mem_cost = 14
    """
    pw_hash = (
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
    )
    data = {"passwordHash": [pw_hash, None], "salt": ["42xEC+ixf3L2lw==", None]}
    key = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
    df = digests(toml, data, {"FIREBASE_SIGNER_KEY": key})
    expected = fb.firebase_scrypt_digest(
        data["passwordHash"][0],
        data["salt"][0],
        signer_key_b64=key,
        salt_separator_b64="Bw==",
        rounds=8,
        mem_cost=14,
    )
    assert df.rows() == [(expected, "scrypt_firebase"), (None, None)]


def test_devise_with_and_without_a_pepper() -> None:
    """With a pepper from the environment: bcrypt_peppered and digest$pepper; without: bcrypt."""
    hashed = bcrypt.hashpw(b"password" + b"pepper", bcrypt.gensalt(4)).decode()
    data = {"encrypted_password": [hashed]}
    peppered = digests(
        '[fields]\npassword_digest = { builder = "devise", hash = "encrypted_password", '
        'pepper = "env:DEVISE_PEPPER" }\n',
        data,
        {"DEVISE_PEPPER": "pepper"},
    )
    assert peppered.rows() == [(f"{hashed}$pepper", "bcrypt_peppered")]
    plain = digests(
        '[fields]\npassword_digest = { builder = "devise", hash = "encrypted_password" }\n', data
    )
    assert plain.rows() == [(hashed, "bcrypt")]


def test_supabase_passes_bcrypt_and_argon2_and_reorders_fbscrypt() -> None:
    """Supabase's encrypted_password: each row gets the converter's digest and hasher."""
    argon = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("pw")
    fbscrypt = "$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=c2lnbmVy$c2FsdA==$aGFzaA=="
    values = [bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode(), argon, fbscrypt, "", None]
    df = digests(
        '[fields]\npassword_digest = { builder = "supabase", digest = "pw" }\n', {"pw": values}
    )
    expected = [(c.digest, c.hasher) for c in map(fb.supabase_digest, values)]
    assert df.rows() == expected
    assert [h for _, h in expected[:3]] == ["bcrypt", "argon2id", "scrypt_firebase"]


def test_django_converts_each_password_format() -> None:
    """pbkdf2_sha256, pbkdf2_sha1 (hex re-encoded) and argon2$ (prefix dropped) as converted."""
    salt = "abcdefghijklmnopqrstuv"
    sha256 = b64(hashlib.pbkdf2_hmac("sha256", b"pw", salt.encode(), 1000))
    sha1 = b64(hashlib.pbkdf2_hmac("sha1", b"pw", salt.encode(), 1000))
    argon = "argon2" + PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash("pw")
    values = [f"pbkdf2_sha256$1000${salt}${sha256}", f"pbkdf2_sha1$1000${salt}${sha1}", argon, "!x"]
    df = digests(
        '[fields]\npassword_digest = { builder = "django", digest = "password" }\n',
        {"password": values},
    )
    expected = [(c.digest, c.hasher) for c in map(conv.django_digest, values)]
    assert df.rows() == expected
    assert [h for _, h in expected] == ["pbkdf2_sha256_django", "pbkdf2_sha1", "argon2id", None]


def test_keycloak_from_separate_columns_and_from_credential_json() -> None:
    """Keycloak pbkdf2 credentials become pbkdf2_sha256 / pbkdf2_sha512_hex digests, both ways."""
    salt = b"0123456789abcdef"
    h256 = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 27500)
    h512 = hashlib.pbkdf2_hmac("sha512", b"pw", salt, 210000, 64)
    rows = [
        ("pbkdf2-sha256", "27500", b64(salt), b64(h256)),
        ("pbkdf2-sha512", "210000", b64(salt), b64(h512)),
    ]
    data = {k: [r[i] for r in rows] for i, k in enumerate(("alg", "it", "salt", "value"))}
    toml = (
        '[fields]\npassword_digest = { builder = "keycloak", algorithm = "alg", '
        'iterations = "it", salt = "salt", hash = "value" }\n'
    )
    expected = [(c.digest, c.hasher) for c in (conv.keycloak_digest(*r) for r in rows)]
    assert digests(toml, data).rows() == expected
    assert [h for _, h in expected] == ["pbkdf2_sha256", "pbkdf2_sha512_hex"]
    secret = [json.dumps({"value": r[3], "salt": r[2], "additionalParameters": {}}) for r in rows]
    cred = [
        json.dumps({"hashIterations": int(r[1]), "algorithm": r[0], "additionalParameters": {}})
        for r in rows
    ]
    json_toml = (
        '[fields]\npassword_digest = { builder = "keycloak_json", secret_data = "secretData", '
        'credential_data = "credentialData" }\n'
    )
    assert digests(json_toml, {"secretData": secret, "credentialData": cred}).rows() == expected


def test_aspnet_identity_v3_hash() -> None:
    """An ASP.NET Core Identity V3 (HMAC-SHA256) PasswordHash becomes a pbkdf2_sha256 digest."""
    salt = bytes(range(16))
    subkey = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 10000, 32)
    blob = b"\x01" + struct.pack(">III", 1, 10000, 16) + salt + subkey
    value = b64(blob)
    df = digests(
        '[fields]\npassword_digest = { builder = "aspnet", hash = "PasswordHash" }\n',
        {"PasswordHash": [value]},
    )
    c = conv.aspnet_identity_digest(value)
    assert df.rows() == [(c.digest, c.hasher)]
    assert c.hasher == "pbkdf2_sha256"


def test_cognito_reference_from_environment_ids_and_a_column() -> None:
    """awscognito#<pool>#<client>#<identifier> with the ids from the environment."""
    toml = (
        '[fields]\npassword_digest = { builder = "cognito", user_pool_id = "env:POOL", '
        'client_id = "env:CLIENT", identifier = "email" }\n'
    )
    df = digests(toml, {"email": ["a@x.io", None]}, {"POOL": "eu-west-1_abc", "CLIENT": "123"})
    assert df.rows() == [("awscognito#eu-west-1_abc#123#a@x.io", "awscognito"), (None, None)]


def test_an_explicit_hasher_wins_over_the_builders() -> None:
    """When the mapping sets password_hasher, the builder's hasher is not used."""
    toml = (
        '[fields]\npassword_digest = { builder = "cognito", user_pool_id = "p", client_id = "c", '
        'identifier = "email" }\npassword_hasher = { value = "bcrypt" }\n'
    )
    assert digests(toml, {"email": ["a@x.io"]}).rows() == [("awscognito#p#c#a@x.io", "bcrypt")]


def test_builder_column_arguments_take_field_specs() -> None:
    """A builder's column slot accepts a table with transforms (here strip)."""
    toml = (
        '[fields]\npassword_digest = { builder = "cognito", user_pool_id = "p", client_id = "c", '
        'identifier = { column = "email", transform = ["strip", "lower"] } }\n'
    )
    assert digests(toml, {"email": ["  A@X.io "]}).rows() == [
        ("awscognito#p#c#a@x.io", "awscognito")
    ]


def test_secrets_never_appear_in_the_spec_repr() -> None:
    """The signer key read from the environment is masked in the spec's repr."""
    toml = (
        '[fields]\npassword_digest = { builder = "firebase_scrypt", hash = "h", salt = "s", '
        'signer_key = "env:KEY" }\n'
    )
    spec = parse_mapping(toml, {"KEY": "very-secret-signer-key"})
    assert "very-secret-signer-key" not in repr(spec)
