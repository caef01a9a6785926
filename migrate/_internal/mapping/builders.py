"""Digest builders: name -> (argument slots, expression function), for ``password_digest``.

Some exports do not carry a digest in the format Clerk expects (reference/export-formats.md):
Firebase keeps hash and salt per user and the scrypt parameters per project, Keycloak splits
iterations, salt and hash, Django prefixes argon2 with ``argon2``. A builder assembles Clerk's
digest from several columns and constants as a polars expression, and says which
``password_hasher`` the result needs (used when the mapping does not set one).

Each slot is a ``column`` (a column name or a field table, like any field), a ``const`` (a literal
number or text; ``env:NAME`` also allowed), or a ``secret`` (``env:NAME`` only: a literal secret
in a mapping file is refused). A builder yields null when one of its required inputs is null.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

import polars as pl

from migrate._internal.hashers import builders as fb
from migrate._internal.hashers import converters as conv

__all__ = ["BUILDERS", "BuilderDef", "Slot"]

SlotKind = Literal["column", "const", "secret"]
BuildFn = Callable[[Mapping[str, pl.Expr]], tuple[pl.Expr, pl.Expr]]


@dataclass(frozen=True)
class Slot:
    """One argument of a builder; ``default`` (a constant) makes it optional."""

    kind: SlotKind
    default: str | int | None = None
    required: bool = True
    doc: str = ""


@dataclass(frozen=True)
class BuilderDef:
    """A registered builder: its slots and ``build(args) -> (digest expr, hasher expr)``."""

    name: str
    slots: Mapping[str, Slot]
    build: BuildFn
    summary: str


def _hasher(name: str) -> pl.Expr:
    return pl.lit(name, pl.Utf8)


def _split(conversion: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    # Converters yield a struct (hasher, digest, reason); the mapped frame keeps the first two.
    return conversion.struct.field("digest"), conversion.struct.field("hasher")


def _firebase(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    digest = fb.firebase_scrypt_digest_expr(
        a["hash"],
        a["salt"],
        signer_key_b64=a["signer_key"],
        salt_separator_b64=a["salt_separator"],
        rounds=a["rounds"],
        mem_cost=a["mem_cost"],
    )
    return digest, _hasher("scrypt_firebase")


def _supabase(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    return _split(fb.supabase_digest_expr(a["digest"]))


def _django(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    return _split(conv.django_digest_expr(a["digest"]))


def _keycloak(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    conversion = conv.keycloak_digest_expr(
        a["algorithm"],
        a["iterations"],
        a["salt"],
        a["hash"],
        argon2_type=a.get("argon2_type"),
        argon2_memory=a.get("argon2_memory"),
        argon2_parallelism=a.get("argon2_parallelism"),
        argon2_version=a.get("argon2_version"),
    )
    return _split(conversion)


def _keycloak_json(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    return _split(conv.keycloak_json_digest_expr(a["secret_data"], a["credential_data"]))


def _devise(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    return _split(fb.devise_digest_expr(a["hash"], a.get("pepper")))


def _aspnet(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    return _split(conv.aspnet_identity_digest_expr(a["hash"]))


def _cognito(a: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    parts = [pl.lit("awscognito"), a["user_pool_id"], a["client_id"], a["identifier"]]
    return pl.concat_str(parts, separator="#"), _hasher("awscognito")


def _col(doc: str) -> Slot:
    return Slot("column", doc=doc)


BUILDERS: Final[dict[str, BuilderDef]] = {
    b.name: b
    for b in (
        BuilderDef(
            "firebase_scrypt",
            {
                "hash": _col("per-user passwordHash (base64)"),
                "salt": _col("per-user salt (base64)"),
                "signer_key": Slot("secret", doc="project base64_signer_key, env:NAME"),
                "salt_separator": Slot("const", default="Bw==", doc="base64_salt_separator"),
                "rounds": Slot("const", default=8, doc="rounds"),
                "mem_cost": Slot("const", default=14, doc="mem_cost"),
            },
            _firebase,
            "Firebase modified scrypt -> scrypt_firebase",
        ),
        BuilderDef(
            "supabase",
            {"digest": _col("encrypted_password: bcrypt, argon2 or $fbscrypt$")},
            _supabase,
            "Supabase encrypted_password (bcrypt, argon2, $fbscrypt$) -> Clerk's format",
        ),
        BuilderDef(
            "django",
            {"digest": _col("auth_user.password")},
            _django,
            "Django password (pbkdf2_sha256, pbkdf2_sha1, bcrypt_sha256, argon2) -> Clerk",
        ),
        BuilderDef(
            "keycloak",
            {
                "algorithm": Slot("column", doc="pbkdf2-sha256 | pbkdf2-sha512 | pbkdf2"),
                "iterations": _col("hashIterations"),
                "salt": _col("salt (base64)"),
                "hash": _col("value (base64)"),
                "argon2_type": Slot("column", required=False, doc="argon2 type (id, i)"),
                "argon2_memory": Slot("column", required=False, doc="argon2 memory (KiB)"),
                "argon2_parallelism": Slot("column", required=False, doc="argon2 parallelism"),
                "argon2_version": Slot("column", required=False, doc="argon2 version (1.3)"),
            },
            _keycloak,
            "Keycloak pbkdf2/argon2 credential in separate columns -> Clerk's digest",
        ),
        BuilderDef(
            "keycloak_json",
            {
                "secret_data": _col("credential secretData (JSON text)"),
                "credential_data": _col("credential credentialData (JSON text)"),
            },
            _keycloak_json,
            "Keycloak credential secretData/credentialData JSON -> Clerk's digest",
        ),
        BuilderDef(
            "devise",
            {
                "hash": _col("encrypted_password (bcrypt)"),
                "pepper": Slot("secret", required=False, doc="Devise config.pepper, env:NAME"),
            },
            _devise,
            "Devise bcrypt -> bcrypt, or bcrypt_peppered with a pepper",
        ),
        BuilderDef(
            "aspnet",
            {"hash": _col("AspNetUsers.PasswordHash (base64 V2/V3)")},
            _aspnet,
            "ASP.NET Core Identity PasswordHash -> pbkdf2_* digest",
        ),
        BuilderDef(
            "cognito",
            {
                "user_pool_id": Slot("const", doc="Cognito user pool id"),
                "client_id": Slot("const", doc="public app client id"),
                "identifier": _col("what the user signs in with (username, email or sub)"),
            },
            _cognito,
            "AWS Cognito lazy migration reference -> awscognito",
        ),
    )
}
