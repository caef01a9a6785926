"""The digest grammar of every ``password_hasher`` Clerk accepts, and shapes it cannot import.

Facts come from reference/clerk-api.md §4 and reference/export-formats.md §0.1. Each pattern is
anchored (``^…$``) and uses only syntax shared by Python ``re`` and Rust's ``regex`` crate
(no lookarounds, no backreferences, ``[0-9]`` rather than ``\\d``), so the same string is a full
match in ``re.fullmatch`` and in polars ``str.contains`` (use ``fullmatch`` in Python: its ``$``
also matches before a final newline). A regex cannot see byte lengths or
cross-field rules (a key length equal to the hash length); those are left to the verifier.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = [
    "B64",
    "DIGEST_PATTERNS",
    "DIGEST_SHAPES",
    "HASHERS",
    "UNSUPPORTED",
    "digest_problem",
    "unsupported_problem",
]

# Strict, padded standard base64 (what Go's StdEncoding and Python's b64decode accept), non-empty.
B64: Final = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)"
# Unpadded base64 as the PHC string format writes it (argon2).
_B64_NOPAD: Final = r"[A-Za-z0-9+/]+"
_HEX: Final = r"(?:[0-9a-fA-F]{2})+"
_ITER: Final = r"[1-9][0-9]*"
# 1..419999: Clerk's pbkdf2_sha512 refuses 420000 iterations or more (clerk-api.md §4, PYOLD).
_ITER_SHA512: Final = r"(?:[1-9][0-9]{0,4}|[1-3][0-9]{5}|4[01][0-9]{4})"
_FIELD: Final = r"[^$]+"
# bcrypt: version tag, two-digit cost 04..31, 22 salt + 31 hash chars of bcrypt's own base64.
_BCRYPT: Final = r"\$2[aby]\$(?:0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}"
# phpass portable hashes: the count character is itoa64[7..30] ('5'..'S'), 8 salt, 22 hash.
_PHPASS_BODY: Final = r"[5-9A-S][./0-9A-Za-z]{30}"
_ARGON2_PARAMS: Final = r"(?:v=(?:16|19)\$)?m=[1-9][0-9]*,t=[1-9][0-9]*,p=[1-9][0-9]*"


def _anchored(body: str) -> str:
    return f"^(?:{body})$"


_PATTERNS: Final[dict[str, tuple[str, str]]] = {
    # hasher: (pattern body, human description of the expected shape)
    "bcrypt": (_BCRYPT, "$2a$/$2b$/$2y$, a two-digit cost, then 53 characters (60 in all)"),
    "bcrypt_sha256_django": (
        r"bcrypt_sha256\$" + _BCRYPT,
        "bcrypt_sha256$ followed by a full bcrypt string ($2b$12$…), as Django stores it",
    ),
    # The pepper is whatever follows the bcrypt string; Clerk documents no alphabet for it.
    "bcrypt_peppered": (_BCRYPT + r"\$.+", "a full bcrypt string, then $ and the pepper"),
    "md5": (r"[0-9a-fA-F]{32}", "32 hexadecimal characters"),
    "md5_salted": (_FIELD + r"\$[0-9a-fA-F]{32}", "salt$hash with a 32-hex hash"),
    # Undocumented by Clerk. The phpass algorithm is the plausible reading of the name: phpBB's
    # "$H$" tag, and also "$P$" (the same MD5 construction), since Clerk's migration tool lists
    # md5_phpass but not phpass and so must send WordPress digests under this name.
    "md5_phpass": (
        r"\$[HP]\$" + _PHPASS_BODY,
        "$H$ or $P$, a rounds character, 8 salt and 22 hash chars",
    ),
    "phpass": (r"\$P\$" + _PHPASS_BODY, "$P$, a rounds character, 8 salt and 22 hash chars"),
    # Two documented forms: salt (hex or raw) with a 32-byte hex hash (Clerk's default key
    # length), or hex salt, hex hash and an explicit key length.
    "pbkdf2_sha1": (
        rf"pbkdf2_sha1\${_ITER}\${_FIELD}\$[0-9a-fA-F]{{64}}"
        rf"|pbkdf2_sha1\${_ITER}\${_HEX}\${_HEX}\$[1-9][0-9]*",
        "pbkdf2_sha1$<iterations>$<salt>$<64-hex hash> or "
        "pbkdf2_sha1$<iterations>$<hex salt>$<hex hash>$<key length>",
    ),
    "pbkdf2_sha256": (
        rf"pbkdf2_sha256\${_ITER}\${B64}\${B64}",
        "pbkdf2_sha256$<iterations>$<base64 salt>$<base64 hash>",
    ),
    "pbkdf2_sha256_django": (
        rf"pbkdf2_sha256\${_ITER}\${_FIELD}\${B64}",
        "pbkdf2_sha256$<iterations>$<salt>$<base64 hash>, as Django stores it",
    ),
    "pbkdf2_sha512": (
        rf"pbkdf2_sha512\${_ITER_SHA512}\${_FIELD}\${_HEX}",
        "pbkdf2_sha512$<iterations below 420000>$<literal salt>$<hex hash>",
    ),
    "pbkdf2_sha512_hex": (
        rf"pbkdf2_sha512_hex\${_ITER}\${_HEX}\${_HEX}",
        "pbkdf2_sha512_hex$<iterations>$<hex salt>$<hex hash>",
    ),
    "scrypt_firebase": (
        rf"{B64}\${B64}\${B64}\${B64}\$[1-9][0-9]*\$[1-9][0-9]*",
        "<hash>$<salt>$<signer key>$<salt separator>$<rounds>$<memory cost>, "
        "the first four in standard base64",
    ),
    # Clerk's docs describe "$<args>$<salt>$<base64 hash>", Clerk's CLI checks Werkzeug's native
    # "scrypt:N:r:p$salt$hex" (clerk-api.md §4, UNVERIFIED): we accept the native string, which is
    # what a Werkzeug export contains.
    "scrypt_werkzeug": (
        r"scrypt:[1-9][0-9]*:[1-9][0-9]*:[1-9][0-9]*\$" + _FIELD + r"\$" + _HEX,
        "scrypt:<N>:<r>:<p>$<salt>$<hex hash>, as Werkzeug stores it",
    ),
    "sha256": (r"[0-9a-fA-F]{64}", "64 hexadecimal characters"),
    # Current docs say salt$hash; a 2024 spec said hash$salt (UNVERIFIED): we follow the docs.
    "sha256_salted": (_FIELD + r"\$[0-9a-fA-F]{64}", "salt$hash with a 64-hex hash"),
    "sha512_symfony": (
        rf"sha512_symfony\${_ITER}\${_FIELD}\${B64}",
        "sha512_symfony$<iterations>$<salt>$<base64 hash>",
    ),
    # Only in an older Clerk spec: "hmac_sha256_utf16_b64$<hash>$<key>"; the hash is read as
    # base64 (the name says so), the key as any text.
    "hmac_sha256_utf16_b64": (
        rf"hmac_sha256_utf16_b64\${B64}\${_FIELD}",
        "hmac_sha256_utf16_b64$<base64 hash>$<key>",
    ),
    "argon2i": (
        rf"\$argon2i\${_ARGON2_PARAMS}\${_B64_NOPAD}\${_B64_NOPAD}",
        "a PHC string: $argon2i$v=19$m=…,t=…,p=…$<salt>$<hash>",
    ),
    "argon2id": (
        rf"\$argon2id\${_ARGON2_PARAMS}\${_B64_NOPAD}\${_B64_NOPAD}",
        "a PHC string: $argon2id$v=19$m=…,t=…,p=…$<salt>$<hash>",
    ),
    # Undocumented by Clerk (the spec links the OpenLDAP FAQ): RFC 2307 "{SSHA}" + base64 of
    # SHA-1 digest (20 bytes) + salt, so at least 28 base64 characters.
    "ldap_ssha": (
        r"\{[Ss][Ss][Hh][Aa]\}(?:[A-Za-z0-9+/]{4}){6}" + B64,
        "{SSHA} followed by base64 of a SHA-1 digest and its salt",
    ),
    "awscognito": (
        r"awscognito#[a-z0-9-]+_[A-Za-z0-9]+#[A-Za-z0-9]+#[^#]+",
        "awscognito#<user pool id>#<app client id>#<identifier>",
    ),
}

HASHERS: Final[frozenset[str]] = frozenset(_PATTERNS)
"""Every ``password_hasher`` value Clerk accepts (union of its docs, spec and migration tool)."""

DIGEST_PATTERNS: Final[Mapping[str, str]] = MappingProxyType(
    {name: _anchored(body) for name, (body, _) in _PATTERNS.items()}
)
"""Hasher -> anchored regex that a valid digest matches in full (Python ``re`` and polars)."""

DIGEST_SHAPES: Final[Mapping[str, str]] = MappingProxyType(
    {name: shape for name, (_, shape) in _PATTERNS.items()}
)
"""Hasher -> the expected digest shape in words, for messages."""

_UNSUPPORTED: Final[dict[str, tuple[str, str]]] = {
    "wordpress_bcrypt": (
        r"\$wp\$.*",
        "a WordPress 6.8+ digest ($wp$…): bcrypt over an HMAC-SHA384 of the password, which no "
        "Clerk hasher can verify; import the user without a password "
        "(skip_password_requirement) and have them reset it",
    ),
    "django_unusable": (
        r"!.*",
        "a Django unusable password (starts with !): the user has no password; import them "
        "without one (skip_password_requirement)",
    ),
    "django_sha1": (
        r"sha1\$[^$]*\$[0-9a-fA-F]{40}",
        "a Django salted SHA-1 digest (sha1$…): no Clerk hasher matches; import without a "
        "password and have the user reset it",
    ),
    "django_md5_salted": (
        r"md5\$[^$]+\$[0-9a-fA-F]{32}",
        "a Django salted MD5 digest (md5$salt$hash): Clerk's md5_salted concatenation order is "
        "undocumented, so it is not converted; import without a password",
    ),
    "django_scrypt": (
        r"scrypt\$.*",
        "a Django scrypt digest (scrypt$…): no Clerk hasher matches; import without a password",
    ),
    "django_crypt": (
        r"crypt\$.*",
        "a Django crypt digest (crypt$…): no Clerk hasher matches; import without a password",
    ),
    "supabase_fbscrypt": (
        r"\$fbscrypt\$.*",
        "a Supabase $fbscrypt$ digest: Clerk takes it only re-ordered into scrypt_firebase by "
        "the supabase builder, which needs v=1, p=1 and both ss= and sk=",
    ),
    "argon2d": (
        r"\$argon2d\$.*",
        "an argon2d digest: Clerk accepts only argon2i and argon2id; import without a password",
    ),
    "bcrypt_2x": (
        r"\$2x\$.*",
        "a $2x$ bcrypt digest (made by a buggy pre-2011 crypt_blowfish): Clerk cannot verify "
        "it; import without a password",
    ),
    "unix_crypt": (
        r"\$(?:1|5|6|md5|sha1|y|gy|7)\$.*",
        "a Unix crypt digest ($1$ md5-crypt, $5$/$6$ sha-crypt, $y$ yescrypt…): no Clerk "
        "hasher matches; import without a password",
    ),
    "ldap_unsalted_or_other": (
        r"\{(?:SHA|MD5|SMD5|CRYPT|SSHA256|SSHA384|SSHA512|SHA256|SHA512|PBKDF2[^}]*)\}.*",
        "an LDAP digest other than {SSHA}: Clerk's only LDAP hasher is ldap_ssha; import "
        "without a password",
    ),
    "sha1_hex": (
        r"[0-9a-fA-F]{40}",
        "40 hex characters (an unsalted SHA-1): no Clerk hasher matches; import without a password",
    ),
    "sha512_hex": (
        r"[0-9a-fA-F]{128}",
        "128 hex characters (an unsalted SHA-512): no Clerk hasher matches; import without a "
        "password",
    ),
}

UNSUPPORTED: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {name: (_anchored(body), message) for name, (body, message) in _UNSUPPORTED.items()}
)
"""Digest shapes Clerk cannot import: name -> (anchored regex, message saying what to do)."""

_COMPILED: Final = {name: re.compile(p) for name, p in DIGEST_PATTERNS.items()}
_COMPILED_UNSUPPORTED: Final = {name: re.compile(p) for name, (p, _) in UNSUPPORTED.items()}


def unsupported_problem(digest: str) -> str | None:
    """The message for a digest whose shape Clerk cannot import at all, else None."""
    for name, regex in _COMPILED_UNSUPPORTED.items():
        if regex.fullmatch(digest):
            return UNSUPPORTED[name][1]
    return None


def digest_problem(hasher: str, digest: str) -> str | None:
    """Say why ``digest`` is not a valid ``password_digest`` for ``hasher``, or None if it is.

    The answer is exactly "does ``DIGEST_PATTERNS[hasher]`` match", so a polars
    ``str.contains`` over the same pattern agrees with it row by row. The message names the
    hasher and the expected shape and never quotes the digest (it is a secret).
    """
    regex = _COMPILED.get(hasher)
    if regex is None:
        return f"unknown password_hasher {hasher!r}; allowed: {', '.join(sorted(HASHERS))}"
    if regex.fullmatch(digest):
        return None
    message = f"password_digest is not a valid {hasher} digest: expected {DIGEST_SHAPES[hasher]}"
    why = unsupported_problem(digest)
    if why is not None:
        message += f"; it looks like {why}"
    return message
