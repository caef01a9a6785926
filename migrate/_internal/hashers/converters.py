"""Converters for exports whose digests need re-encoding: Keycloak, Django, ASP.NET Identity.

Each follows reference/export-formats.md (§5 Django, §8 Keycloak, §9 ASP.NET) and exists as a
Python function returning a ``Conversion`` and a polars expression yielding the same three fields.
Re-encoding (base64 to hex, a binary blob to fields) is only attempted on values that are strictly
well-formed, so the Python and polars versions cannot disagree on a half-decodable input.
"""

from __future__ import annotations

import base64
import json
import re
import struct
from typing import Final

import polars as pl

from migrate._internal.hashers.builders import (
    _B64_PAT,
    _B64_RE,
    _NO_PASSWORD,
    Conversion,
    _choose,
    _empty,
    _failed,
    _lit,
    _none,
    _result,
    _unsupported_expr,
)
from migrate._internal.hashers.grammar import unsupported_problem

__all__ = [
    "aspnet_identity_digest",
    "aspnet_identity_digest_expr",
    "django_digest",
    "django_digest_expr",
    "keycloak_digest",
    "keycloak_digest_expr",
    "keycloak_json_digest",
    "keycloak_json_digest_expr",
]


def _hex_of_b64(value: str) -> str:
    return base64.b64decode(value, validate=True).hex()


def _b64_to_hex_expr(value: pl.Expr) -> pl.Expr:
    return value.str.decode("base64", strict=False).bin.encode("hex")


def _is_b64(value: pl.Expr) -> pl.Expr:
    return value.str.contains(_B64_PAT)


# --- Keycloak -----------------------------------------------------------------------------------

_KC_MISSING: Final = (
    "no password credential (algorithm, iterations, salt or hash missing or unreadable)"
)
_KC_NOT_B64: Final = "the Keycloak salt or hash is not base64"
_KC_UNKNOWN: Final = (
    "the Keycloak algorithm has no Clerk hasher (supported: pbkdf2-sha256, pbkdf2-sha512, "
    "pbkdf2, argon2 of type id or i)"
)
_KC_ARGON2D: Final = "a Keycloak argon2 credential of type d: Clerk accepts only argon2i/argon2id"
_KC_ARGON2_VERSION: Final = "a Keycloak argon2 credential of a version other than 1.0 or 1.3"
# Keycloak's Argon2 provider defaults, used when credentialData leaves a parameter out.
_KC_ARGON2_DEFAULTS: Final = {"type": "id", "version": "1.3", "memory": "7168", "parallelism": "1"}
_ARGON2_VERSIONS: Final = {"1.3": "19", "1.0": "16"}
_KC_HEX_TARGETS: Final = {"pbkdf2-sha512": "pbkdf2_sha512_hex", "pbkdf2": "pbkdf2_sha1"}


def keycloak_digest(
    algorithm: str | None,
    iterations: int | str | None,
    salt_b64: str | None,
    hash_b64: str | None,
    *,
    argon2_type: str | None = None,
    argon2_memory: int | str | None = None,
    argon2_parallelism: int | str | None = None,
    argon2_version: str | None = None,
) -> Conversion:
    """Convert a Keycloak password credential (``credentialData`` + ``secretData``).

    ``pbkdf2-sha256`` -> ``pbkdf2_sha256`` (base64 kept); ``pbkdf2-sha512`` ->
    ``pbkdf2_sha512_hex`` (Keycloak's salt is random bytes, which ``pbkdf2_sha512``'s literal
    salt cannot carry); ``pbkdf2`` (SHA-1) -> ``pbkdf2_sha1`` with hex fields and the key length;
    ``argon2`` -> a PHC string (type d has no Clerk hasher).
    """
    if not algorithm or not algorithm.strip() or iterations is None or not str(iterations).strip():
        return _none(_KC_MISSING)
    if not salt_b64 or not salt_b64.strip() or not hash_b64 or not hash_b64.strip():
        return _none(_KC_MISSING)
    alg, rounds = algorithm.strip().lower(), str(iterations).strip()
    salt, hashed = salt_b64.strip(), hash_b64.strip()
    # What is passed on when no conversion applies: Keycloak's own fields, which fit no
    # Clerk grammar, so validation reports the row instead of importing it without a password.
    raw = f"{alg}${rounds}${salt}${hashed}"
    if alg == "pbkdf2-sha256":
        return Conversion("pbkdf2_sha256", f"pbkdf2_sha256${rounds}${salt}${hashed}")
    if alg in _KC_HEX_TARGETS:
        target = _KC_HEX_TARGETS[alg]
        if not (_B64_RE.fullmatch(salt) and _B64_RE.fullmatch(hashed)):
            return _failed(target, raw, _KC_NOT_B64)
        salt_hex, hash_hex = _hex_of_b64(salt), _hex_of_b64(hashed)
        if alg == "pbkdf2":
            key_length = len(hash_hex) // 2
            return Conversion(target, f"pbkdf2_sha1${rounds}${salt_hex}${hash_hex}${key_length}")
        return Conversion(target, f"pbkdf2_sha512_hex${rounds}${salt_hex}${hash_hex}")
    if alg != "argon2":
        return _failed(None, raw, _KC_UNKNOWN)
    kind = _text_or(argon2_type, "type").lower()
    version_text = _text_or(argon2_version, "version")
    version = _ARGON2_VERSIONS.get(version_text)
    memory = _text_or(argon2_memory, "memory")
    lanes = _text_or(argon2_parallelism, "parallelism")
    # PHC strings carry unpadded base64.
    digest = (
        f"$argon2{kind}$v={version or version_text}$m={memory},t={rounds},p={lanes}"
        f"${salt.rstrip('=')}${hashed.rstrip('=')}"
    )
    if kind == "d":
        return _failed(None, digest, _KC_ARGON2D)
    if kind not in {"id", "i"}:
        return _failed(None, digest, _KC_UNKNOWN)
    if version is None:
        return _failed(f"argon2{kind}", digest, _KC_ARGON2_VERSION)
    return Conversion(f"argon2{kind}", digest)


def _text_or(value: int | str | None, parameter: str) -> str:
    text = "" if value is None else str(value).strip()
    return text or _KC_ARGON2_DEFAULTS[parameter]


def _or_default(value: pl.Expr | None, default: str) -> pl.Expr:
    if value is None:
        return _lit(default)
    text = value.cast(pl.Utf8).str.strip_chars()
    return pl.when(_empty(text)).then(_lit(default)).otherwise(text)


def keycloak_digest_expr(
    algorithm: pl.Expr,
    iterations: pl.Expr,
    salt_b64: pl.Expr,
    hash_b64: pl.Expr,
    *,
    argon2_type: pl.Expr | None = None,
    argon2_memory: pl.Expr | None = None,
    argon2_parallelism: pl.Expr | None = None,
    argon2_version: pl.Expr | None = None,
) -> pl.Expr:
    """The column version of ``keycloak_digest`` (a ``CONVERSION_DTYPE`` struct)."""
    alg = algorithm.str.strip_chars().str.to_lowercase()
    rounds = iterations.cast(pl.Utf8).str.strip_chars()
    salt, hashed = salt_b64.str.strip_chars(), hash_b64.str.strip_chars()
    salt_hex, hash_hex = _b64_to_hex_expr(salt), _b64_to_hex_expr(hashed)
    both_b64 = _is_b64(salt) & _is_b64(hashed)
    kind = _or_default(argon2_type, _KC_ARGON2_DEFAULTS["type"]).str.to_lowercase()
    version_text = _or_default(argon2_version, _KC_ARGON2_DEFAULTS["version"])
    version = version_text.replace_strict(_ARGON2_VERSIONS, default=None, return_dtype=pl.Utf8)
    memory = _or_default(argon2_memory, _KC_ARGON2_DEFAULTS["memory"])
    lanes = _or_default(argon2_parallelism, _KC_ARGON2_DEFAULTS["parallelism"])

    def cat(*parts: pl.Expr | str) -> pl.Expr:
        return pl.concat_str([_lit(p) if isinstance(p, str) else p for p in parts])

    argon2 = cat(
        "$argon2", kind, "$v=", pl.coalesce(version, version_text), "$m=", memory, ",t=", rounds,
        ",p=", lanes, "$", salt.str.strip_chars_end("="), "$", hashed.str.strip_chars_end("="),
    )  # fmt: skip
    raw = cat(alg, "$", rounds, "$", salt, "$", hashed)
    is_argon2 = alg == "argon2"
    pbkdf2_sha1 = cat(
        "pbkdf2_sha1$", rounds, "$", salt_hex, "$", hash_hex, "$",
        (hash_hex.str.len_chars() // 2).cast(pl.Utf8),
    )  # fmt: skip
    pbkdf2_sha512_hex = cat("pbkdf2_sha512_hex$", rounds, "$", salt_hex, "$", hash_hex)
    pbkdf2_sha256 = cat("pbkdf2_sha256$", rounds, "$", salt, "$", hashed)
    branches = [
        (
            _empty(algorithm) | _empty(rounds) | _empty(salt_b64) | _empty(hash_b64),
            _result(None, None, _KC_MISSING),
        ),
        (alg == "pbkdf2-sha256", _result("pbkdf2_sha256", pbkdf2_sha256, None)),
        *(
            ((alg == name) & ~both_b64, _result(target, raw, _KC_NOT_B64))
            for name, target in _KC_HEX_TARGETS.items()
        ),
        (alg == "pbkdf2", _result("pbkdf2_sha1", pbkdf2_sha1, None)),
        (alg == "pbkdf2-sha512", _result("pbkdf2_sha512_hex", pbkdf2_sha512_hex, None)),
        (~is_argon2, _result(None, raw, _KC_UNKNOWN)),
        (kind == "d", _result(None, argon2, _KC_ARGON2D)),
        (~kind.is_in(["id", "i"]), _result(None, argon2, _KC_UNKNOWN)),
        ((kind == "id") & version.is_null(), _result("argon2id", argon2, _KC_ARGON2_VERSION)),
        ((kind == "i") & version.is_null(), _result("argon2i", argon2, _KC_ARGON2_VERSION)),
        (kind == "id", _result("argon2id", argon2, None)),
    ]
    return _choose(branches, _result("argon2i", argon2, None))


_KC_ARGON2_PARAMETERS: Final = ("type", "memory", "parallelism", "version")


def _json_object(text: str | None) -> dict[str, object]:
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _json_text(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None


def keycloak_json_digest(secret_data: str | None, credential_data: str | None) -> Conversion:
    """``keycloak_digest`` over a credential's ``secretData`` and ``credentialData`` JSON texts.

    Reads ``value`` and ``salt`` from the first, ``algorithm``, ``hashIterations`` and the argon2
    ``additionalParameters`` (lists of strings) from the second. Unreadable JSON counts as
    missing fields.
    """
    secret, credential = _json_object(secret_data), _json_object(credential_data)
    extra = credential.get("additionalParameters")
    params = extra if isinstance(extra, dict) else {}
    argon2 = {name: _json_text(params.get(name)) for name in _KC_ARGON2_PARAMETERS}
    return keycloak_digest(
        _json_text(credential.get("algorithm")),
        _json_text(credential.get("hashIterations")),
        _json_text(secret.get("salt")),
        _json_text(secret.get("value")),
        argon2_type=argon2["type"],
        argon2_memory=argon2["memory"],
        argon2_parallelism=argon2["parallelism"],
        argon2_version=argon2["version"],
    )


def keycloak_json_digest_expr(secret_data: pl.Expr, credential_data: pl.Expr) -> pl.Expr:
    """The column version of ``keycloak_json_digest`` (a ``CONVERSION_DTYPE`` struct)."""

    def param(name: str) -> pl.Expr:
        return credential_data.str.json_path_match(f"$.additionalParameters.{name}[0]")

    return keycloak_digest_expr(
        credential_data.str.json_path_match("$.algorithm"),
        credential_data.str.json_path_match("$.hashIterations"),
        secret_data.str.json_path_match("$.salt"),
        secret_data.str.json_path_match("$.value"),
        argon2_type=param("type"),
        argon2_memory=param("memory"),
        argon2_parallelism=param("parallelism"),
        argon2_version=param("version"),
    )


# --- Django -------------------------------------------------------------------------------------

_DJ_UNUSABLE: Final = (
    "a Django unusable password (starts with !): the user has no password; import them "
    "without one (skip_password_requirement)"
)
_DJ_OTHER: Final = "not a Django password format Clerk can import"
# Django's pbkdf2_sha1: iterations, a salt without '$', a base64 hash.
_DJ_PBKDF2_SHA1: Final = rf"^pbkdf2_sha1\$([0-9]+)\$([^$]+)\$({_B64_PAT[1:-1]})$"
_DJ_PBKDF2_SHA1_RE: Final = re.compile(_DJ_PBKDF2_SHA1)
# (prefix regex, Clerk hasher, characters to strip from the front); first match wins.
_DJ_PASS: Final = (
    (r"^pbkdf2_sha256\$", "pbkdf2_sha256_django", 0),
    (r"^bcrypt_sha256\$", "bcrypt_sha256_django", 0),
    (r"^bcrypt\$\$", "bcrypt", len("bcrypt$")),
    (r"^argon2\$argon2id\$", "argon2id", len("argon2")),
    (r"^argon2\$argon2i\$", "argon2i", len("argon2")),
    (r"^md5\$\$[0-9a-fA-F]{32}$", "md5", len("md5$$")),
    (r"^[0-9a-fA-F]{32}$", "md5", 0),
    # Not Django's own pbkdf2_sha1 shape (checked first): pass it on, already converted or damaged.
    (r"^pbkdf2_sha1\$", "pbkdf2_sha1", 0),
)


def django_digest(password: str | None) -> Conversion:
    """Convert Django's ``auth_user.password``.

    ``pbkdf2_sha256$`` -> ``pbkdf2_sha256_django`` and ``bcrypt_sha256$`` ->
    ``bcrypt_sha256_django`` unchanged; ``argon2$argon2id$…`` loses its ``argon2`` prefix;
    ``bcrypt$`` and unsalted MD5 (``md5$$…`` or bare hex) lose theirs; ``pbkdf2_sha1$`` is
    re-encoded to hex salt and hash with key length 20. ``!…`` (unusable) means no password.
    ``sha1$``, salted ``md5$``, ``scrypt$``, ``crypt$`` and argon2d have no Clerk equivalent and
    are passed on without a hasher (validation reports them as unsupported).
    """
    if password is None or not password.strip():
        return _none(_NO_PASSWORD)
    if password.startswith("!"):
        return _none(_DJ_UNUSABLE)
    match = _DJ_PBKDF2_SHA1_RE.fullmatch(password)
    if match is not None:
        rounds, salt, hashed = match.groups()
        hash_hex = _hex_of_b64(hashed)
        digest = (
            f"pbkdf2_sha1${rounds}${salt.encode('utf-8').hex()}${hash_hex}${len(hash_hex) // 2}"
        )
        return Conversion("pbkdf2_sha1", digest)
    for pattern, hasher, strip in _DJ_PASS:
        if re.match(pattern, password):
            return Conversion(hasher, password[strip:])
    stripped = password.removeprefix("argon2")
    return _failed(None, stripped, unsupported_problem(stripped) or _DJ_OTHER)


def django_digest_expr(password: pl.Expr) -> pl.Expr:
    """The column version of ``django_digest`` (a ``CONVERSION_DTYPE`` struct)."""
    parts = password.str.extract_groups(_DJ_PBKDF2_SHA1)
    salt_hex = parts.struct.field("2").str.encode("hex")
    hash_hex = _b64_to_hex_expr(parts.struct.field("3"))
    pbkdf2_sha1 = pl.concat_str(
        [
            _lit("pbkdf2_sha1$"), parts.struct.field("1"), _lit("$"), salt_hex, _lit("$"),
            hash_hex, _lit("$"), (hash_hex.str.len_chars() // 2).cast(pl.Utf8),
        ]
    )  # fmt: skip
    branches = [
        (_empty(password), _result(None, None, _NO_PASSWORD)),
        (password.str.starts_with("!"), _result(None, None, _DJ_UNUSABLE)),
    ]
    branches.append(
        (password.str.contains(_DJ_PBKDF2_SHA1), _result("pbkdf2_sha1", pbkdf2_sha1, None))
    )
    branches += [
        (password.str.contains(pattern), _result(hasher, password.str.slice(strip), None))
        for pattern, hasher, strip in _DJ_PASS
    ]
    stripped = password.str.strip_prefix("argon2")
    return _choose(branches, _unsupported_expr(stripped, _DJ_OTHER))


# --- ASP.NET Core Identity ----------------------------------------------------------------------

_ASP_NOT_B64: Final = "not an ASP.NET Identity hash (PasswordHash is not base64)"
_ASP_FORMAT: Final = "not an ASP.NET Identity V2 or V3 hash (unknown version byte or length)"
_ASP_PRF: Final = "an ASP.NET Identity V3 hash with an unknown PRF (expected SHA1, SHA256, SHA512)"
_V2_ITERATIONS: Final = 1000  # fixed by the V2 format
_ASP_TARGETS: Final = {0: "pbkdf2_sha1", 1: "pbkdf2_sha256", 2: "pbkdf2_sha512_hex"}
_V3_HEADER: Final = 13  # version byte + three big-endian u32: PRF, iterations, salt length


def aspnet_identity_digest(password_hash: str | None) -> Conversion:
    """Convert an ASP.NET Core Identity ``PasswordHash`` (base64 of a V2 or V3 blob).

    V2 (PBKDF2-HMAC-SHA1, 1000 rounds) and V3 with HMAC-SHA1 -> ``pbkdf2_sha1`` with hex fields
    and key length; V3 HMAC-SHA256 -> ``pbkdf2_sha256`` (base64); V3 HMAC-SHA512 ->
    ``pbkdf2_sha512_hex``. A damaged or unknown blob is passed on as it came.
    """
    if password_hash is None or not password_hash.strip():
        return _none(_NO_PASSWORD)
    text = password_hash.strip()
    if not _B64_RE.fullmatch(text):
        return _failed(None, text, _ASP_NOT_B64)
    blob = base64.b64decode(text)
    if blob[0] == 0 and len(blob) == 49:
        salt, subkey = blob[1:17], blob[17:]
        return Conversion(
            "pbkdf2_sha1", f"pbkdf2_sha1${_V2_ITERATIONS}${salt.hex()}${subkey.hex()}$32"
        )
    # A damaged blob is passed on under the hasher its header points to (when it says), so
    # validation reports it as a malformed digest of that hasher.
    head = int.from_bytes(blob[1:5], "big") if len(blob) >= 5 else -1
    target = "pbkdf2_sha1" if blob[0] == 0 else _ASP_TARGETS.get(head) if blob[0] == 1 else None
    if blob[0] != 1 or len(blob) < _V3_HEADER:
        return _failed(target, text, _ASP_FORMAT)
    prf, rounds, salt_length = struct.unpack(">III", blob[1:_V3_HEADER])
    if salt_length < 1 or len(blob) <= _V3_HEADER + salt_length:
        return _failed(target, text, _ASP_FORMAT)
    salt = blob[_V3_HEADER : _V3_HEADER + salt_length]
    subkey = blob[_V3_HEADER + salt_length :]
    if prf == 0:
        digest = f"pbkdf2_sha1${rounds}${salt.hex()}${subkey.hex()}${len(subkey)}"
        return Conversion("pbkdf2_sha1", digest)
    if prf == 1:
        b64 = base64.b64encode
        digest = f"pbkdf2_sha256${rounds}${b64(salt).decode()}${b64(subkey).decode()}"
        return Conversion("pbkdf2_sha256", digest)
    if prf == 2:
        return Conversion(
            "pbkdf2_sha512_hex", f"pbkdf2_sha512_hex${rounds}${salt.hex()}${subkey.hex()}"
        )
    return _failed(None, text, _ASP_PRF)


def aspnet_identity_digest_expr(password_hash: pl.Expr) -> pl.Expr:
    """The column version of ``aspnet_identity_digest`` (a ``CONVERSION_DTYPE`` struct)."""
    text = password_hash.str.strip_chars()
    blob = _b64_to_hex_expr(text)  # hex text: two characters per byte
    size = blob.str.len_chars() // 2

    def u32(offset: int) -> pl.Expr:
        return blob.str.slice(2 * offset, 8).str.to_integer(base=16, strict=False)

    prf, rounds, salt_length = u32(1), u32(5), u32(9)
    salt_hex = blob.str.slice(2 * _V3_HEADER, 2 * salt_length)
    subkey_hex = blob.str.slice(2 * _V3_HEADER + 2 * salt_length)
    rounds_text = rounds.cast(pl.Utf8)

    def cat(*parts: pl.Expr | str) -> pl.Expr:
        return pl.concat_str([_lit(p) if isinstance(p, str) else p for p in parts])

    def to_b64(hex_text: pl.Expr) -> pl.Expr:
        return hex_text.str.decode("hex").bin.encode("base64")

    version = blob.str.slice(0, 2)
    v3_ok = (
        (version == "01")
        & (size >= _V3_HEADER)
        & (salt_length >= 1)
        & (size > _V3_HEADER + salt_length)
    ).fill_null(value=False)
    v2 = cat(
        f"pbkdf2_sha1${_V2_ITERATIONS}$", blob.str.slice(2, 32), "$", blob.str.slice(34), "$32"
    )
    subkey_bytes = (subkey_hex.str.len_chars() // 2).cast(pl.Utf8)
    targets = {str(k): v for k, v in _ASP_TARGETS.items()}
    target = (
        pl.when(version == "00")
        .then(_lit("pbkdf2_sha1"))
        .when((version == "01") & (size >= 5))
        .then(prf.cast(pl.Utf8).replace_strict(targets, default=None, return_dtype=pl.Utf8))
    )
    branches = [
        (_empty(password_hash), _result(None, None, _NO_PASSWORD)),
        (~_is_b64(text), _result(None, text, _ASP_NOT_B64)),
        ((version == "00") & (size == 49), _result("pbkdf2_sha1", v2, None)),
        (~v3_ok, _result(target, text, _ASP_FORMAT)),
        (
            prf == 0,
            _result(
                "pbkdf2_sha1",
                cat("pbkdf2_sha1$", rounds_text, "$", salt_hex, "$", subkey_hex, "$", subkey_bytes),
                None,
            ),
        ),
        (
            prf == 1,
            _result(
                "pbkdf2_sha256",
                cat("pbkdf2_sha256$", rounds_text, "$", to_b64(salt_hex), "$", to_b64(subkey_hex)),
                None,
            ),
        ),
        (
            prf == 2,
            _result(
                "pbkdf2_sha512_hex",
                cat("pbkdf2_sha512_hex$", rounds_text, "$", salt_hex, "$", subkey_hex),
                None,
            ),
        ),
    ]
    return _choose(branches, _result(None, text, _ASP_PRF))
