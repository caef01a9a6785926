"""Digest builders: turn what an export holds into the ``password_digest`` Clerk expects.

Each builder exists twice, a Python function for one value and a polars expression for a column,
and the tests hold them to the same answers. Builders reshape; they do not judge, and they never
drop a value silently (docs/internals.md): a value that cannot be converted is passed on as it
came, so validation reports it (``unsupported_hash`` for a shape Clerk cannot import,
``malformed_digest`` when a hasher is known but the value is damaged, ``digest_without_hasher``
otherwise). Only a missing input gives no digest (None / null).

Converters whose target hasher depends on the value (Supabase, Keycloak, Django, ASP.NET, Devise)
return a ``Conversion``; their expressions yield a struct of the same three fields
(``CONVERSION_DTYPE``). Project-wide secrets (a Firebase signer key, a Devise pepper) become
literals in the expression: do not print a query plan built from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

import polars as pl

from migrate._internal.hashers.grammar import B64, UNSUPPORTED, unsupported_problem

__all__ = [
    "CONVERSION_DTYPE",
    "Conversion",
    "devise_digest",
    "devise_digest_expr",
    "firebase_scrypt_digest",
    "firebase_scrypt_digest_expr",
    "supabase_digest",
    "supabase_digest_expr",
]

CONVERSION_DTYPE: Final = pl.Struct({"hasher": pl.Utf8, "digest": pl.Utf8, "reason": pl.Utf8})
"""The struct a converter expression yields: ``hasher``, ``digest``, ``reason`` (null when done)."""


@dataclass(frozen=True)
class Conversion:
    """The outcome of converting one exported digest.

    Converted: ``hasher`` and ``digest`` set, ``reason`` None. No input: all None but ``reason``.
    Not convertible: ``digest`` is the input passed on (as it came; Keycloak's separate fields
    joined with ``$``) so that validation reports it, ``hasher`` the hasher it was meant for when
    the value is merely damaged, else None, and ``reason`` says why (never quoting the digest).
    The digest is left out of ``repr``.
    """

    hasher: str | None
    digest: str | None = field(repr=False)
    reason: str | None = None


def _none(reason: str) -> Conversion:
    return Conversion(None, None, reason)


def _failed(hasher: str | None, passed_on: str, reason: str) -> Conversion:
    return Conversion(hasher, passed_on, reason)


_B64_RE: Final = re.compile(f"^{B64}$")
_B64_PAT: Final = f"^{B64}$"
_NO_PASSWORD: Final = "no password in the export (a social, SSO or passwordless user)"  # noqa: S105


def _lit(value: str | None) -> pl.Expr:
    return pl.lit(value, dtype=pl.Utf8)


def _result(hasher: str | pl.Expr | None, digest: pl.Expr | None, reason: str | None) -> pl.Expr:
    return pl.struct(
        hasher=hasher if isinstance(hasher, pl.Expr) else _lit(hasher),
        digest=_lit(None) if digest is None else digest.cast(pl.Utf8),
        reason=_lit(reason),
    )


def _choose(branches: list[tuple[pl.Expr, pl.Expr]], otherwise: pl.Expr) -> pl.Expr:
    """A when/then chain over (condition, struct) pairs: the first true condition wins."""
    chain: Any = None
    for cond, value in branches:
        chain = pl.when(cond).then(value) if chain is None else chain.when(cond).then(value)
    result: pl.Expr = otherwise if chain is None else chain.otherwise(otherwise)
    return result


def _empty(value: pl.Expr) -> pl.Expr:
    return value.is_null() | (value.str.strip_chars() == "")


# --- Firebase -----------------------------------------------------------------------------------


def _std_b64(value: str) -> str:
    # The Firebase API hands out web-safe base64; its CLI converts it. Standard base64 never
    # contains '-' or '_', so mapping them back is safe either way.
    return value.strip().replace("-", "+").replace("_", "/")


def _std_b64_expr(value: pl.Expr) -> pl.Expr:
    return (
        value.str.strip_chars()
        .str.replace_all("-", "+", literal=True)
        .str.replace_all("_", "/", literal=True)
    )


def firebase_scrypt_digest(
    password_hash_b64: str | None,
    salt_b64: str | None,
    *,
    signer_key_b64: str,
    salt_separator_b64: str,
    rounds: int,
    mem_cost: int,
) -> str | None:
    """Clerk's ``scrypt_firebase`` digest from a Firebase user's hash and salt and the project's
    hash parameters: ``hash$salt$signer_key$salt_separator$rounds$mem_cost``.

    None when the user has no hash or no salt (a provider-only account).
    """
    if (
        not password_hash_b64
        or not password_hash_b64.strip()
        or not salt_b64
        or not salt_b64.strip()
    ):
        return None
    parts = (password_hash_b64, salt_b64, signer_key_b64, salt_separator_b64)
    return "$".join([*(_std_b64(p) for p in parts), str(rounds), str(mem_cost)])


def firebase_scrypt_digest_expr(
    password_hash_b64: pl.Expr,
    salt_b64: pl.Expr,
    *,
    signer_key_b64: str | pl.Expr,
    salt_separator_b64: str | pl.Expr,
    rounds: int | pl.Expr,
    mem_cost: int | pl.Expr,
) -> pl.Expr:
    """The column version of ``firebase_scrypt_digest`` (Utf8, null without hash or salt).

    The project parameters may be constants or expressions (e.g. ``pl.lit`` from a mapping).
    """
    parts = [
        _std_b64_expr(password_hash_b64),
        _std_b64_expr(salt_b64),
        _std_b64_expr(_as_expr(signer_key_b64)),
        _std_b64_expr(_as_expr(salt_separator_b64)),
        _as_expr(rounds),
        _as_expr(mem_cost),
    ]
    digest = pl.concat_str(parts, separator="$")
    return (
        pl.when(_empty(password_hash_b64) | _empty(salt_b64))
        .then(_lit(None))
        .otherwise(digest)
        .alias("password_digest")
    )


def _as_expr(value: str | int | pl.Expr) -> pl.Expr:
    return value.cast(pl.Utf8) if isinstance(value, pl.Expr) else _lit(str(value))


# --- Supabase -----------------------------------------------------------------------------------

# The shape GoTrue itself accepts for imported Firebase hashes (supabase/auth internal/crypto).
_FBSCRYPT: Final = (
    r"^\$fbscrypt\$v=(?P<v>[0-9]+),n=(?P<n>[0-9]+),r=(?P<r>[0-9]+),p=(?P<p>[0-9]+)"
    r"(?:,ss=(?P<ss>[^,]+))?(?:,sk=(?P<sk>[^$]+))?\$(?P<salt>[^$]+)\$(?P<hash>.+)$"
)
_FBSCRYPT_RE: Final = re.compile(_FBSCRYPT)
_FB_VERSION: Final = "a $fbscrypt$ digest of a version other than v=1: Clerk cannot verify it"
_FB_PARALLEL: Final = (
    "a $fbscrypt$ digest with p other than 1: Clerk's scrypt_firebase has no parallelism "
    "parameter, so it cannot verify it"
)
_FB_MISSING: Final = (
    "a $fbscrypt$ digest without ss= or sk=: scrypt_firebase needs the project's salt "
    "separator and signer key"
)
_FB_MALFORMED: Final = "a malformed $fbscrypt$ digest (expected v=,n=,r=,p=,ss=,sk=$salt$hash)"
_SUPABASE_OTHER: Final = "not a format Supabase stores (bcrypt, argon2i/argon2id, $fbscrypt$)"
# Prefix-based on purpose: a damaged bcrypt string is still forwarded as bcrypt so that
# validation reports it as a malformed bcrypt digest.
_SUPABASE_PASS: Final = (
    (r"^\$2[aby]\$", "bcrypt"),
    (r"^\$argon2id\$", "argon2id"),
    (r"^\$argon2i\$", "argon2i"),
)


def supabase_digest(encrypted_password: str | None) -> Conversion:
    """Convert a Supabase ``auth.users.encrypted_password``.

    bcrypt and argon2 pass unchanged; ``$fbscrypt$`` is re-ordered into ``scrypt_firebase``
    (``hash$salt$sk$ss$r$n``); an empty value means the user has no password. A ``$fbscrypt$``
    that cannot be re-ordered (v or p other than 1, no ss/sk) is passed on without a hasher.
    """
    if encrypted_password is None or not encrypted_password.strip():
        return _none(_NO_PASSWORD)
    value = encrypted_password
    for pattern, hasher in _SUPABASE_PASS:
        if re.match(pattern, value):
            return Conversion(hasher, value)
    match = _FBSCRYPT_RE.fullmatch(value)
    if match is None:
        if value.startswith("$fbscrypt$"):
            return _failed(None, value, _FB_MALFORMED)
        return _failed(None, value, unsupported_problem(value) or _SUPABASE_OTHER)
    g = match.groupdict()
    if g["v"] != "1":
        return _failed(None, value, _FB_VERSION)
    if g["p"] != "1":
        return _failed(None, value, _FB_PARALLEL)
    if not g["ss"] or not g["sk"]:
        return _failed(None, value, _FB_MISSING)
    digest = "$".join((g["hash"], g["salt"], g["sk"], g["ss"], g["r"], g["n"]))
    return Conversion("scrypt_firebase", digest)


def supabase_digest_expr(encrypted_password: pl.Expr) -> pl.Expr:
    """The column version of ``supabase_digest`` (a ``CONVERSION_DTYPE`` struct)."""
    value = encrypted_password
    g = value.str.extract_groups(_FBSCRYPT)
    v, p = g.struct.field("v"), g.struct.field("p")
    ss, sk = g.struct.field("ss"), g.struct.field("sk")
    fbscrypt = pl.concat_str(
        [g.struct.field(k) for k in ("hash", "salt", "sk", "ss", "r", "n")], separator="$"
    )
    matched = value.str.contains(_FBSCRYPT)
    branches = [(_empty(value), _result(None, None, _NO_PASSWORD))]
    branches += [
        (value.str.contains(pattern), _result(hasher, value, None))
        for pattern, hasher in _SUPABASE_PASS
    ]
    branches += [
        (matched & (v != "1"), _result(None, value, _FB_VERSION)),
        (matched & (p != "1"), _result(None, value, _FB_PARALLEL)),
        (matched & (_empty(ss) | _empty(sk)), _result(None, value, _FB_MISSING)),
        (matched, _result("scrypt_firebase", fbscrypt, None)),
        (value.str.starts_with("$fbscrypt$"), _result(None, value, _FB_MALFORMED)),
    ]
    return _choose(branches, _unsupported_expr(value, _SUPABASE_OTHER))


def _unsupported_expr(digest: pl.Expr, fallback: str, passed_on: pl.Expr | None = None) -> pl.Expr:
    """``passed_on`` (default ``digest``) without a hasher, with ``unsupported_problem``'s message
    for ``digest`` (or ``fallback``) as the reason."""
    kept = digest if passed_on is None else passed_on
    branches = [
        (digest.str.contains(pattern), _result(None, kept, message))
        for pattern, message in UNSUPPORTED.values()
    ]
    return _choose(branches, _result(None, kept, fallback))


# --- Devise -------------------------------------------------------------------------------------


def devise_digest(encrypted_password: str | None, pepper: str | None) -> Conversion:
    """Convert a Devise ``encrypted_password``: ``bcrypt`` as-is without a pepper, else
    ``bcrypt_peppered`` with the pepper appended (``$2a$…$<pepper>``).

    bcrypt reads only 72 bytes of password + pepper; a long pepper leaves little of the password
    in play, and how Clerk treats input past 72 bytes is unverified.
    """
    if encrypted_password is None or not encrypted_password.strip():
        return _none(_NO_PASSWORD)
    if not pepper:
        return Conversion("bcrypt", encrypted_password)
    return Conversion("bcrypt_peppered", f"{encrypted_password}${pepper}")


def devise_digest_expr(encrypted_password: pl.Expr, pepper: str | pl.Expr | None) -> pl.Expr:
    """The column version of ``devise_digest`` (a ``CONVERSION_DTYPE`` struct).

    ``pepper`` may be a constant or an expression; null or empty means no pepper.
    """
    pepper_expr = _lit(pepper) if pepper is None or isinstance(pepper, str) else pepper
    peppered = pl.concat_str([encrypted_password, _lit("$"), pepper_expr.cast(pl.Utf8)])
    return _choose(
        [
            (_empty(encrypted_password), _result(None, None, _NO_PASSWORD)),
            (
                pepper_expr.is_null() | (pepper_expr == ""),
                _result("bcrypt", encrypted_password, None),
            ),
        ],
        _result("bcrypt_peppered", peppered, None),
    )
