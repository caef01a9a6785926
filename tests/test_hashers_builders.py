"""Digest builders: each against an independently computed value, and Python == polars."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from collections.abc import Callable, Sequence
from typing import Any

import argon2
import bcrypt
import polars as pl
import pytest
from argon2.low_level import Type, hash_secret_raw

from migrate._internal.hashers import (
    CONVERSION_DTYPE,
    Conversion,
    aspnet_identity_digest,
    aspnet_identity_digest_expr,
    devise_digest,
    devise_digest_expr,
    digest_problem,
    django_digest,
    django_digest_expr,
    firebase_scrypt_digest,
    firebase_scrypt_digest_expr,
    keycloak_digest,
    keycloak_digest_expr,
    keycloak_json_digest,
    keycloak_json_digest_expr,
    supabase_digest,
    supabase_digest_expr,
    unsupported_problem,
)
from migrate.sandbox.passwords import verify_password

PASSWORD = "correct horse"
FB_HASH = "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="
FB_SALT = "42xEC+ixf3L2lw=="
FB_KEY = "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA=="
FB_PARAMS: dict[str, Any] = {
    "signer_key_b64": FB_KEY,
    "salt_separator_b64": "Bw==",
    "rounds": 8,
    "mem_cost": 14,
}
SB_KEY = "ou9tdYTGyYm8kuR6Dt0Bp0kDuAYoXrK16mbZO4yGwAn3oLspjnN0/c41v8xZnO1n14J3MjKj1b2g6AUCAlFwMw=="
SB_HASH = "zKVTMvnWVw5BBOZNUdnsalx4c4c7y/w7IS5p6Ut2+CfEFFlz37J9huyQfov4iizN8dbjvEJlM5tQaJP84+hfTw=="
# supabase/auth internal/crypto/password_test.go, password "mytestpassword".
SB_FBSCRYPT = f"$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk={SB_KEY}$C0sHCg9ek77hsg==${SB_HASH}"
_B = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _pbkdf2(name: str, salt: bytes, rounds: int, length: int) -> bytes:
    return hashlib.pbkdf2_hmac(name, PASSWORD.encode(), salt, rounds, dklen=length)


def _rows(expr: pl.Expr, columns: dict[str, Sequence[Any]]) -> list[tuple[Any, ...]]:
    frame = pl.DataFrame(columns, strict=False).select(expr.alias("c"))
    assert frame.schema["c"] == CONVERSION_DTYPE
    return list(frame.unnest("c").iter_rows())


def _as_tuple(c: Conversion) -> tuple[str | None, str | None, str | None]:
    return (c.hasher, c.digest, c.reason)


def _assert_agree(
    func: Callable[..., Conversion], expr: pl.Expr, columns: dict[str, Sequence[Any]]
) -> None:
    rows = _rows(expr, columns)
    for i, row in enumerate(rows):
        args = [values[i] for values in columns.values()]
        assert _as_tuple(func(*args)) == row, (i, func(*args).reason, row[2])


def _assert_reported(result: Conversion, hasher: str | None, words: str) -> None:
    """A failed conversion keeps the value and is sure to be reported by validation."""
    assert result.hasher == hasher
    assert result.reason is not None
    assert words in result.reason
    assert result.digest is not None
    if hasher is None:
        return  # validation: unsupported_hash if the shape is known, else digest_without_hasher
    assert digest_problem(hasher, result.digest) is not None  # validation: malformed_digest


# --- Firebase -----------------------------------------------------------------------------------


def test_firebase_builder_matches_clerk_format_and_verifies() -> None:
    """The Firebase README user becomes hash$salt$key$sep$rounds$mem_cost and signs in."""
    digest = firebase_scrypt_digest(FB_HASH, FB_SALT, **FB_PARAMS)
    assert digest == f"{FB_HASH}${FB_SALT}${FB_KEY}$Bw==$8$14"
    assert digest_problem("scrypt_firebase", digest) is None
    assert verify_password("scrypt_firebase", digest, "user1password")


def test_firebase_builder_normalises_web_safe_base64() -> None:
    """Web-safe base64 (- and _) from the Firebase API is mapped back to standard base64."""
    web_safe = FB_HASH.replace("+", "-").replace("/", "_")
    digest = firebase_scrypt_digest(web_safe, " " + FB_SALT, **FB_PARAMS)
    assert digest == f"{FB_HASH}${FB_SALT}${FB_KEY}$Bw==$8$14"


def test_firebase_builder_polars_agrees() -> None:
    """The expression gives the function's value per row, null when hash or salt is missing."""
    hashes = [FB_HASH, FB_HASH.replace("/", "_"), None, "", FB_HASH]
    salts = [FB_SALT, FB_SALT, FB_SALT, FB_SALT, None]
    got = (
        pl.DataFrame({"h": hashes, "s": salts})
        .select(firebase_scrypt_digest_expr(pl.col("h"), pl.col("s"), **FB_PARAMS))
        .to_series()
        .to_list()
    )
    assert got == [
        firebase_scrypt_digest(h, s, **FB_PARAMS) for h, s in zip(hashes, salts, strict=True)
    ]
    assert got[2:] == [None, None, None]


def test_firebase_builder_takes_expressions_for_project_parameters() -> None:
    """Project parameters given as polars literals give the same digest as constants."""
    frame = pl.DataFrame({"h": [FB_HASH], "s": [FB_SALT]})
    as_exprs = {k: pl.lit(v) for k, v in FB_PARAMS.items()}
    got = frame.select(firebase_scrypt_digest_expr(pl.col("h"), pl.col("s"), **as_exprs)).item()
    assert got == firebase_scrypt_digest(FB_HASH, FB_SALT, **FB_PARAMS)


def test_devise_pepper_as_expression() -> None:
    """A pepper given as an expression behaves like the constant, null meaning no pepper."""
    values = [_B, _B, None]
    peppers = ["pep", None, "pep"]
    rows = _rows(devise_digest_expr(pl.col("e"), pl.col("p")), {"e": values, "p": peppers})
    assert rows == [_as_tuple(devise_digest(v, p)) for v, p in zip(values, peppers, strict=True)]


# --- Supabase -----------------------------------------------------------------------------------


def test_supabase_fbscrypt_is_reordered_and_verifies() -> None:
    """GoTrue's $fbscrypt$ vector becomes hash$salt$sk$ss$r$n and verifies its password."""
    result = supabase_digest(SB_FBSCRYPT)
    assert result.hasher == "scrypt_firebase"
    assert result.digest == f"{SB_HASH}$C0sHCg9ek77hsg==${SB_KEY}$Bw==$8$14"
    assert verify_password("scrypt_firebase", result.digest, "mytestpassword")


@pytest.mark.parametrize(
    ("value", "hasher"),
    [
        ("$2a$10$" + _B[7:], "bcrypt"),
        (
            "$argon2id$v=19$m=32,t=3,p=2$SFVpOWJ0eXhjRzVkdGN1RQ$RXnb8rh7LaDcn07xsssqqulZYXOM/EUCEFMVcAcyYVk",
            "argon2id",
        ),
        ("$argon2i$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g", "argon2i"),
    ],
)
def test_supabase_passes_bcrypt_and_argon2_unchanged(value: str, hasher: str) -> None:
    """bcrypt and argon2 values from auth.users pass through with their hasher."""
    assert _as_tuple(supabase_digest(value)) == (hasher, value, None)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (SB_FBSCRYPT.replace("p=1", "p=2"), "parallelism"),
        (SB_FBSCRYPT.replace("v=1", "v=2"), "version"),
        (SB_FBSCRYPT.replace(f",sk={SB_KEY}", ""), "signer key"),
        ("$fbscrypt$v=1,garbage", "malformed"),
        ("$wp$2y$10$" + _B[7:], "WordPress"),
        ("plaintext?", "not a format Supabase stores"),
    ],
)
def test_supabase_impossible_conversions_are_passed_on(value: str, words: str) -> None:
    """Values with no Clerk equivalent are passed on unchanged, without a hasher, with a reason."""
    result = supabase_digest(value)
    _assert_reported(result, None, words)
    assert result.digest == value


@pytest.mark.parametrize("value", [None, "", "  "])
def test_supabase_without_password(value: str | None) -> None:
    """An empty encrypted_password (OAuth, passwordless) gives no digest at all."""
    assert _as_tuple(supabase_digest(value)) == (
        None,
        None,
        "no password in the export (a social, SSO or passwordless user)",
    )


def test_supabase_polars_agrees() -> None:
    """The Supabase expression yields the function's conversion on every row."""
    values = [
        SB_FBSCRYPT,
        _B,
        None,
        "",
        SB_FBSCRYPT.replace("p=1", "p=2"),
        SB_FBSCRYPT.replace("v=1", "v=2"),
        SB_FBSCRYPT.replace(",ss=Bw==", ""),
        "$fbscrypt$x",
        "$wp$2y$10$" + _B[7:],
        "plain",
        "$argon2i$v=19$m=16,t=2,p=1$a$b",
    ]
    _assert_agree(supabase_digest, supabase_digest_expr(pl.col("p")), {"p": values})


# --- Devise -------------------------------------------------------------------------------------


def test_devise_with_pepper_becomes_bcrypt_peppered_and_verifies() -> None:
    """bcrypt(password + pepper) plus "$pepper" verifies as bcrypt_peppered."""
    pepper = "9f8e7d6c5b4a"
    encrypted = bcrypt.hashpw((PASSWORD + pepper).encode(), bcrypt.gensalt(rounds=4)).decode()
    result = devise_digest(encrypted, pepper)
    assert _as_tuple(result) == ("bcrypt_peppered", f"{encrypted}${pepper}", None)
    assert verify_password("bcrypt_peppered", f"{encrypted}${pepper}", PASSWORD)


def test_devise_without_pepper_is_plain_bcrypt() -> None:
    """No pepper configured: the value is a plain bcrypt digest."""
    assert _as_tuple(devise_digest(_B, None)) == ("bcrypt", _B, None)
    assert _as_tuple(devise_digest(_B, "")) == ("bcrypt", _B, None)


def test_devise_polars_agrees() -> None:
    """The Devise expression agrees with the function, with and without a pepper."""
    values = [_B, None, " "]
    for pepper in ("pep", None):
        rows = _rows(devise_digest_expr(pl.col("e"), pepper), {"e": values})
        assert rows == [_as_tuple(devise_digest(v, pepper)) for v in values]


# --- Keycloak -----------------------------------------------------------------------------------

KC_SALT = bytes(range(16))


def test_keycloak_pbkdf2_sha256_keeps_base64() -> None:
    """pbkdf2-sha256 keeps Keycloak's base64 salt and value and verifies (64-byte value too)."""
    for length in (32, 64):
        value = _pbkdf2("sha256", KC_SALT, 27, length)
        result = keycloak_digest("pbkdf2-sha256", 27, _b64(KC_SALT), _b64(value))
        assert result.digest == f"pbkdf2_sha256$27${_b64(KC_SALT)}${_b64(value)}"
        assert result.hasher == "pbkdf2_sha256"
        assert verify_password(result.hasher, result.digest, PASSWORD)


def test_keycloak_pbkdf2_sha512_goes_hex() -> None:
    """pbkdf2-sha512 becomes pbkdf2_sha512_hex with hex salt and hash, and verifies."""
    value = _pbkdf2("sha512", KC_SALT, 21, 64)
    result = keycloak_digest("pbkdf2-sha512", "21", _b64(KC_SALT), _b64(value))
    assert result.digest == f"pbkdf2_sha512_hex$21${KC_SALT.hex()}${value.hex()}"
    assert result.hasher is not None
    assert verify_password(result.hasher, result.digest, PASSWORD)


def test_keycloak_pbkdf2_sha1_carries_key_length() -> None:
    """pbkdf2 (SHA-1) becomes pbkdf2_sha1 with hex fields and the value's length in bytes."""
    value = _pbkdf2("sha1", KC_SALT, 13, 64)
    result = keycloak_digest("pbkdf2", 13, _b64(KC_SALT), _b64(value))
    assert result.digest == f"pbkdf2_sha1$13${KC_SALT.hex()}${value.hex()}$64"
    assert result.hasher is not None
    assert verify_password(result.hasher, result.digest, PASSWORD)


def test_keycloak_argon2_becomes_phc_and_verifies() -> None:
    """An argon2 credential becomes a PHC string that argon2-cffi itself verifies."""
    raw = hash_secret_raw(
        PASSWORD.encode(),
        KC_SALT,
        time_cost=2,
        memory_cost=16,
        parallelism=1,
        hash_len=32,
        type=Type.ID,
    )
    result = keycloak_digest(
        "argon2",
        2,
        _b64(KC_SALT),
        _b64(raw),
        argon2_type="id",
        argon2_memory="16",
        argon2_parallelism=1,
        argon2_version="1.3",
    )
    assert result.hasher == "argon2id"
    assert result.digest is not None
    assert argon2.PasswordHasher().verify(result.digest, PASSWORD)
    assert verify_password("argon2id", result.digest, PASSWORD)


def test_keycloak_argon2_defaults() -> None:
    """Missing argon2 parameters take Keycloak's defaults (id, 1.3, 7168 KiB, 1 lane)."""
    result = keycloak_digest("argon2", 5, "c2FsdHNhbHQ=", "aGFzaGhhc2g=")
    assert result.digest == "$argon2id$v=19$m=7168,t=5,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"


@pytest.mark.parametrize(
    ("args", "kwargs", "hasher", "words"),
    [
        (("argon2", 5, "c2FsdA==", "aGFzaA=="), {"argon2_type": "d"}, None, "type d"),
        (("argon2", 5, "c2FsdA==", "aGFzaA=="), {"argon2_type": "x"}, None, "no Clerk hasher"),
        (("argon2", 5, "c2FsdA==", "aGFzaA=="), {"argon2_version": "2.0"}, "argon2id", "version"),
        (("bcrypt", 5, "c2FsdA==", "aGFzaA=="), {}, None, "no Clerk hasher"),
        (("pbkdf2-sha512", 5, "abcdef", "aGFzaA=="), {}, "pbkdf2_sha512_hex", "not base64"),
        (("pbkdf2", 5, "c2FsdA==", "not base64"), {}, "pbkdf2_sha1", "not base64"),
    ],
)
def test_keycloak_impossible_conversions_are_passed_on(
    args: tuple[Any, ...], kwargs: dict[str, Any], hasher: str | None, words: str
) -> None:
    """Credentials with no Clerk equivalent keep a value validation is sure to report."""
    _assert_reported(keycloak_digest(*args, **kwargs), hasher, words)


def test_keycloak_argon2d_is_reported_as_unsupported() -> None:
    """An argon2d credential becomes a $argon2d$ string, which matches an unsupported shape."""
    result = keycloak_digest("argon2", 5, "c2FsdA==", "aGFzaA==", argon2_type="d")
    assert result.digest == "$argon2d$v=19$m=7168,t=5,p=1$c2FsdA$aGFzaA"
    assert unsupported_problem(result.digest) is not None


@pytest.mark.parametrize(
    "args",
    [
        (None, 5, "c2FsdA==", "aGFzaA=="),
        ("pbkdf2", None, "c2FsdA==", "aGFzaA=="),
        ("pbkdf2", 5, "", "aGFzaA=="),
        (" ", 5, "c2FsdA==", "aGFzaA=="),
    ],
)
def test_keycloak_missing_fields_give_no_digest(args: tuple[Any, ...]) -> None:
    """A credential with a missing field gives no digest and says so."""
    result = keycloak_digest(*args)
    assert (result.hasher, result.digest) == (None, None)
    assert result.reason is not None
    assert "missing" in result.reason


def test_keycloak_polars_agrees() -> None:
    """The Keycloak expression agrees with the function across algorithms and failures."""
    v256 = _b64(_pbkdf2("sha256", KC_SALT, 3, 32))
    salt = _b64(KC_SALT)
    columns: dict[str, Sequence[Any]] = {
        "a": [
            "pbkdf2-sha256",
            "PBKDF2-SHA512",
            "pbkdf2",
            "argon2",
            "argon2",
            "argon2",
            "argon2",
            "md5",
            None,
            "pbkdf2",
        ],
        "i": [3, 3, 3, 2, 2, 2, 2, 1, 1, None],
        "s": [salt, salt, salt, salt, salt, salt, salt, salt, salt, salt],
        "h": [v256, v256, v256, v256, v256, v256, v256, v256, v256, v256],
        "t": [None, None, None, "i", "d", None, "x", None, None, None],
        "m": [None, None, None, 64, None, None, None, None, None, None],
        "p": [None, None, None, 2, None, None, None, None, None, None],
        "v": [None, None, None, "1.0", None, "9", None, None, None, None],
    }
    columns["s"] = [*columns["s"][:2], "bad salt!", *columns["s"][3:]]
    expr = keycloak_digest_expr(
        pl.col("a"),
        pl.col("i"),
        pl.col("s"),
        pl.col("h"),
        argon2_type=pl.col("t"),
        argon2_memory=pl.col("m"),
        argon2_parallelism=pl.col("p"),
        argon2_version=pl.col("v"),
    )
    rows = _rows(expr, columns)
    for i, row in enumerate(rows):
        a, it, s, h, t, m, p, v = (columns[k][i] for k in "aishtmpv")
        want = keycloak_digest(
            a, it, s, h, argon2_type=t, argon2_memory=m, argon2_parallelism=p, argon2_version=v
        )
        assert _as_tuple(want) == row, i
    assert rows[3][0] == "argon2i"


def _kc_json(
    algorithm: str, rounds: int, salt: bytes, value: bytes, **extra: list[str]
) -> tuple[str, str]:
    # Shaped like a realm export: secretData / credentialData are JSON texts inside the JSON.
    secret = json.dumps({"value": _b64(value), "salt": _b64(salt), "additionalParameters": {}})
    credential = json.dumps(
        {"hashIterations": rounds, "algorithm": algorithm, "additionalParameters": extra}
    )
    return secret, credential


def test_keycloak_json_reads_an_export_credential() -> None:
    """secretData + credentialData from a realm export convert and verify like the columns do."""
    value = _pbkdf2("sha512", KC_SALT, 9, 64)
    secret, credential = _kc_json("pbkdf2-sha512", 9, KC_SALT, value)
    result = keycloak_json_digest(secret, credential)
    assert result == keycloak_digest("pbkdf2-sha512", 9, _b64(KC_SALT), _b64(value))
    assert result.hasher is not None
    assert result.digest is not None
    assert verify_password(result.hasher, result.digest, PASSWORD)


def test_keycloak_json_argon2_parameters_come_from_lists() -> None:
    """argon2 parameters are read from additionalParameters' one-element lists."""
    raw = hash_secret_raw(
        PASSWORD.encode(), KC_SALT, time_cost=2, memory_cost=16, parallelism=2, hash_len=32,
        type=Type.I,
    )  # fmt: skip
    secret, credential = _kc_json(
        "argon2", 2, KC_SALT, raw, type=["i"], memory=["16"], parallelism=["2"], version=["1.3"]
    )
    result = keycloak_json_digest(secret, credential)
    assert result.hasher == "argon2i"
    assert result.digest is not None
    assert verify_password("argon2i", result.digest, PASSWORD)


def test_keycloak_json_polars_agrees() -> None:
    """The JSON expression agrees with the function, including unreadable and missing JSON."""
    good = _kc_json("pbkdf2-sha256", 3, KC_SALT, bytes(32))
    argon = _kc_json("argon2", 2, KC_SALT, bytes(32), type=["d"])
    argon_ok = _kc_json("argon2", 2, KC_SALT, bytes(32), memory=["64"], parallelism=["2"])
    secrets = [good[0], argon[0], argon_ok[0], "not json", None, good[0], "[1, 2]"]
    credentials = [good[1], argon[1], argon_ok[1], good[1], good[1], "{}", good[1]]
    _assert_agree(
        keycloak_json_digest,
        keycloak_json_digest_expr(pl.col("s"), pl.col("c")),
        {"s": secrets, "c": credentials},
    )


# --- Django -------------------------------------------------------------------------------------

# Made by Django 5.2.19 with the password "correct horse".
DJ_PBKDF2_SHA1 = "pbkdf2_sha1$1000$mOg67n00XwNVvulI6b1OW3$YD3gB6I0SnsD01mV0OGdKgLVJZA="
DJ_BCRYPT = "bcrypt$$2b$04$sGyxx/v/zmxDL7dioSxa1OT8vowhLD57IVld/MTlej5kaOzZuuq6q"
DJ_ARGON2 = (
    "argon2$argon2id$v=19$m=8,t=1,p=1$eGVySm5RZ3c3dFBJMDBycVZIM01JMA"
    "$jLyo2wqM8UOwhFlnkWfPE9lJyLh3ERAxvfER1jHM1P0"
)
DJ_PBKDF2_SHA256 = (
    "pbkdf2_sha256$1000$O2CwTwbPYwAsWyOToX7klA$d/SZVAC6UPWHrFLX5LmcRFJOkcZ8za6JVOUZF63IUC0="
)
DJ_BCRYPT_SHA256 = "bcrypt_sha256$$2b$04$28Wzqop.e.kle7qQzxlhkekccUg4numF60AKhsl5/MUEepLvU3Lvq"
DJ_MD5_SALTED = "md5$seasalt$b614725f4cc025a51ab6a354d12890ab"
DJ_UNUSABLE = "!jWZyCvGtPcFdzUYYJktcOkrmhMkyj4fpWlKn4N9i"


@pytest.mark.parametrize(
    ("value", "hasher", "digest"),
    [
        (DJ_PBKDF2_SHA256, "pbkdf2_sha256_django", DJ_PBKDF2_SHA256),
        (DJ_BCRYPT_SHA256, "bcrypt_sha256_django", DJ_BCRYPT_SHA256),
        (DJ_ARGON2, "argon2id", DJ_ARGON2.removeprefix("argon2")),
        (DJ_BCRYPT, "bcrypt", DJ_BCRYPT.removeprefix("bcrypt$")),
        (
            DJ_PBKDF2_SHA1,
            "pbkdf2_sha1",
            "pbkdf2_sha1$1000$"
            + b"mOg67n00XwNVvulI6b1OW3".hex()
            + "$"
            + base64.b64decode("YD3gB6I0SnsD01mV0OGdKgLVJZA=").hex()
            + "$20",
        ),
    ],
)
def test_django_real_digests_convert_and_verify(value: str, hasher: str, digest: str) -> None:
    """Django's own digests convert to Clerk's format and still verify their password."""
    assert _as_tuple(django_digest(value)) == (hasher, digest, None)
    assert verify_password(hasher, digest, PASSWORD)
    assert not verify_password(hasher, digest, PASSWORD + "!")


def test_django_unsalted_md5_forms() -> None:
    """Unsalted MD5 (md5$$hex or bare hex) becomes Clerk's md5."""
    hexed = hashlib.md5(PASSWORD.encode()).hexdigest()  # noqa: S324
    assert _as_tuple(django_digest("md5$$" + hexed)) == ("md5", hexed, None)
    assert _as_tuple(django_digest(hexed)) == ("md5", hexed, None)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (DJ_MD5_SALTED, "Django salted MD5"),
        ("sha1$abc$" + "a" * 40, "salted SHA-1"),
        ("scrypt$16384$abc$8$5$aGFzaA==", "Django scrypt"),
        ("argon2$argon2d$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA", "argon2d"),
        ("crypt$$abc", "crypt"),
    ],
)
def test_django_unsupported_formats_are_passed_on(value: str, words: str) -> None:
    """Django formats Clerk cannot import are passed on without a hasher, as unsupported shapes."""
    result = django_digest(value)
    _assert_reported(result, None, words)
    assert result.digest is not None
    assert unsupported_problem(result.digest) is not None


def test_django_unknown_format_is_passed_on() -> None:
    """A value in no Django format is passed on unchanged, without a hasher."""
    result = django_digest("something else")
    _assert_reported(result, None, "not a Django password format")
    assert result.digest == "something else"


def test_django_damaged_pbkdf2_sha1_stays_pbkdf2_sha1() -> None:
    """A pbkdf2_sha1 value not in Django's shape keeps its hasher, so validation reports it."""
    value = "pbkdf2_sha1$10$salt$not base64"
    assert _as_tuple(django_digest(value)) == ("pbkdf2_sha1", value, None)
    assert digest_problem("pbkdf2_sha1", value) is not None


@pytest.mark.parametrize("value", [DJ_UNUSABLE, "!", "", None])
def test_django_without_password(value: str | None) -> None:
    """Unusable (!) and empty passwords give no digest at all."""
    result = django_digest(value)
    assert (result.hasher, result.digest) == (None, None)
    assert result.reason is not None


def test_django_polars_agrees() -> None:
    """The Django expression agrees with the function on every format."""
    values = [
        DJ_PBKDF2_SHA256,
        DJ_BCRYPT_SHA256,
        DJ_ARGON2,
        DJ_BCRYPT,
        DJ_PBKDF2_SHA1,
        "argon2$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA",
        "md5$$" + "a" * 32,
        "b" * 32,
        DJ_UNUSABLE,
        DJ_MD5_SALTED,
        "sha1$a$" + "a" * 40,
        "scrypt$1$a$8$5$aA==",
        "argon2$argon2d$x",
        "",
        None,
        "other",
        "pbkdf2_sha1$10$salt$not base64",
    ]
    _assert_agree(django_digest, django_digest_expr(pl.col("p")), {"p": values})


# --- ASP.NET Identity ---------------------------------------------------------------------------


def _v3(prf: int, rounds: int, salt: bytes, subkey: bytes) -> str:
    return _b64(b"\x01" + struct.pack(">III", prf, rounds, len(salt)) + salt + subkey)


def test_aspnet_v3_sha256_and_sha512_and_sha1_convert_and_verify() -> None:
    """V3 blobs for each PRF convert to the matching Clerk pbkdf2 format and verify."""
    salt = os.urandom(16)
    cases: list[tuple[int, str, Callable[[bytes], str]]] = [
        (1, "sha256", lambda k: f"pbkdf2_sha256$12${_b64(salt)}${_b64(k)}"),
        (2, "sha512", lambda k: f"pbkdf2_sha512_hex$12${salt.hex()}${k.hex()}"),
        (0, "sha1", lambda k: f"pbkdf2_sha1$12${salt.hex()}${k.hex()}$32"),
    ]
    for prf, name, expected in cases:
        subkey = _pbkdf2(name, salt, 12, 32)
        result = aspnet_identity_digest(_v3(prf, 12, salt, subkey))
        assert result.digest == expected(subkey)
        assert result.hasher is not None
        assert verify_password(result.hasher, result.digest, PASSWORD)


def test_aspnet_v2_converts_to_pbkdf2_sha1() -> None:
    """A V2 blob (0x00, 16-byte salt, 32-byte subkey, 1000 rounds) becomes pbkdf2_sha1."""
    salt = os.urandom(16)
    subkey = _pbkdf2("sha1", salt, 1000, 32)
    result = aspnet_identity_digest(_b64(b"\x00" + salt + subkey))
    assert _as_tuple(result) == (
        "pbkdf2_sha1",
        f"pbkdf2_sha1$1000${salt.hex()}${subkey.hex()}$32",
        None,
    )
    assert verify_password(
        "pbkdf2_sha1", f"pbkdf2_sha1$1000${salt.hex()}${subkey.hex()}$32", PASSWORD
    )


def test_aspnet_public_sample_parses() -> None:
    """A real V3 hash from a public seed migration reads as SHA256, 10000 rounds, 16+32 bytes."""
    sample = "AQAAAAEAACcQAAAAEFViYAG3NfZJLagzkgZwli4R6ec1ZjcFZ+aW2Nw5PmftqYGms0N+asV5SZVpeqWLug=="
    result = aspnet_identity_digest(sample)
    assert result.hasher == "pbkdf2_sha256"
    assert result.digest is not None
    _, rounds, salt, subkey = result.digest.split("$")
    assert rounds == "10000"
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(subkey)) == 32


@pytest.mark.parametrize(
    ("value", "hasher", "words"),
    [
        ("not base64!", None, "not base64"),
        (_b64(b"\x02" + bytes(60)), None, "V2 or V3"),
        (_b64(b"\x01" + struct.pack(">III", 1, 10, 40) + bytes(20)), "pbkdf2_sha256", "V2 or V3"),
        (_b64(b"\x01" + struct.pack(">III", 2, 10, 40) + bytes(20)), "pbkdf2_sha512_hex", "V2"),
        (_b64(b"\x00" + bytes(30)), "pbkdf2_sha1", "V2 or V3"),
        (_b64(b"\x01\x00\x00"), None, "V2 or V3"),
        (_b64(b"\x01" + struct.pack(">III", 7, 10, 4) + bytes(8)), None, "unknown PRF"),
    ],
)
def test_aspnet_damaged_blobs_are_passed_on(value: str, hasher: str | None, words: str) -> None:
    """Truncated or unknown blobs are passed on, under the hasher their header names if any."""
    result = aspnet_identity_digest(value)
    _assert_reported(result, hasher, words)
    assert result.digest == value.strip()


def test_aspnet_polars_agrees() -> None:
    """The ASP.NET expression agrees with the function on good and bad blobs."""
    salt = bytes(range(16))
    values = [
        _v3(1, 10000, salt, bytes(32)),
        _v3(2, 100000, salt, bytes(32)),
        _v3(0, 5, salt[:8], bytes(20)),
        _b64(b"\x00" + salt + bytes(32)),
        None,
        "",
        "@@",
        _b64(b"\x02" + bytes(60)),
        _b64(b"\x01" + struct.pack(">III", 1, 10, 40) + bytes(20)),
        _b64(b"\x01\x00\x00"),
        _b64(b"\x01" + struct.pack(">III", 7, 10, 4) + bytes(8)),
        _b64(b"\x01" + struct.pack(">III", 1, 10, 0) + bytes(8)),
        _b64(b"\x00" + bytes(30)),
        _b64(b"\x01" + struct.pack(">III", 2, 10, 40) + bytes(20)),
        _b64(b"\x01\x00\x00\x00\x02"),
    ]
    _assert_agree(aspnet_identity_digest, aspnet_identity_digest_expr(pl.col("p")), {"p": values})


def test_conversion_repr_hides_the_digest() -> None:
    """A Conversion's repr shows the hasher and reason, never the digest."""
    result = django_digest(DJ_PBKDF2_SHA256)
    assert "d/SZVAC6" not in repr(result)
    assert "pbkdf2_sha256_django" in repr(result)
