"""Infer the ``password_hasher`` from a digest's shape, in Python and as a polars expression.

One ordered rule table drives both, so they agree by construction: the first rule whose anchored
regex matches decides. A rule either names a hasher, or names none and says why (ambiguous shape,
a digest that needs a builder first, a shape Clerk cannot import). Ambiguous shapes are never
resolved by guessing: they yield no hasher and the list of candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

import polars as pl

from migrate.hashers.grammar import B64, DIGEST_PATTERNS, UNSUPPORTED

__all__ = ["Inference", "infer_hasher", "infer_hasher_expr"]


@dataclass(frozen=True)
class Inference:
    """What a digest's shape says about its hasher.

    ``hasher`` is set only when the shape points to exactly one hasher Clerk accepts as-is;
    ``candidates`` lists every hasher that could apply (possibly after a builder converts the
    digest); ``reason`` explains the decision in words that never quote the digest.
    """

    hasher: str | None
    candidates: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class _Rule:
    pattern: str  # anchored, Rust-regex compatible
    hasher: str | None
    candidates: tuple[str, ...]
    reason: str


def _exact(hasher: str, reason: str) -> _Rule:
    return _Rule(DIGEST_PATTERNS[hasher], hasher, (hasher,), reason)


_ITER: Final = r"[1-9][0-9]*"

_RULES: Final[tuple[_Rule, ...]] = (
    _Rule(r"^$", None, (), "the digest is empty"),
    # Django strings that need a conversion before Clerk can take them (builders.django_digest).
    _Rule(
        r"^argon2\$argon2id\$.*$",
        None,
        ("argon2id",),
        "a Django argon2 digest: strip the leading 'argon2' (the django builder does) to get "
        "an argon2id PHC string",
    ),
    _Rule(
        r"^argon2\$argon2i\$.*$",
        None,
        ("argon2i",),
        "a Django argon2 digest: strip the leading 'argon2' (the django builder does) to get "
        "an argon2i PHC string",
    ),
    _Rule(
        r"^bcrypt\$\$2[aby]\$.*$",
        None,
        ("bcrypt",),
        "a Django bcrypt digest: strip the leading 'bcrypt$' (the django builder does)",
    ),
    _Rule(
        r"^md5\$\$[0-9a-fA-F]{32}$",
        None,
        ("md5",),
        "a Django unsalted MD5 digest: strip the leading 'md5$$' (the django builder does)",
    ),
    _Rule(
        rf"^pbkdf2_sha1\${_ITER}\$[^$]+\$[A-Za-z0-9+/]{{27}}=$",
        None,
        ("pbkdf2_sha1",),
        "a Django pbkdf2_sha1 digest (base64 hash): Clerk wants hex salt, hex hash and key "
        "length 20 (the django builder converts it)",
    ),
    _Rule(
        r"^\$fbscrypt\$.*$",
        None,
        ("scrypt_firebase",),
        "a Supabase $fbscrypt$ digest: re-order it into scrypt_firebase (the supabase builder)",
    ),
    # ASP.NET Identity: base64 of a version byte 0x01 then the PRF as a big-endian u32
    # (0 SHA1, 1 SHA256, 2 SHA512), or a V2 blob of 0x00 + 16 salt + 32 subkey bytes.
    _Rule(
        r"^AQAAAAA[A-Za-z0-9+/]+={0,2}$",
        None,
        ("pbkdf2_sha1",),
        "an ASP.NET Identity V3 hash (HMAC-SHA1): convert it with the aspnet builder",
    ),
    _Rule(
        r"^AQAAAAE[A-Za-z0-9+/]+={0,2}$",
        None,
        ("pbkdf2_sha256",),
        "an ASP.NET Identity V3 hash (HMAC-SHA256): convert it with the aspnet builder",
    ),
    _Rule(
        r"^AQAAAAI[A-Za-z0-9+/]+={0,2}$",
        None,
        ("pbkdf2_sha512_hex",),
        "an ASP.NET Identity V3 hash (HMAC-SHA512): convert it with the aspnet builder",
    ),
    _Rule(
        r"^A[A-P][A-Za-z0-9+/]{64}==$",
        None,
        ("pbkdf2_sha1",),
        "an ASP.NET Identity V2 hash: convert it with the aspnet builder",
    ),
    _exact("bcrypt", "a bcrypt string ($2a$/$2b$/$2y$)"),
    _exact("bcrypt_peppered", "a bcrypt string followed by $ and a pepper (Devise)"),
    _exact("bcrypt_sha256_django", "Django's bcrypt_sha256$ prefix"),
    _exact("argon2id", "an $argon2id$ PHC string"),
    _exact("argon2i", "an $argon2i$ PHC string"),
    _exact("phpass", "a phpass portable hash ($P$, WordPress before 6.8)"),
    _exact("md5_phpass", "a phpass hash under phpBB's $H$ tag"),
    # pbkdf2_sha256$ is shared by two hashers that read the salt differently. A salt made only of
    # letters and digits whose length is a multiple of 4 decodes as base64 and is also a plausible
    # Django salt (Django before 3.2 made 12-character ones): ambiguous, reported as such.
    _Rule(
        rf"^pbkdf2_sha256\${_ITER}\$(?:[A-Za-z0-9]{{4}})+\${B64}$",
        None,
        ("pbkdf2_sha256_django", "pbkdf2_sha256"),
        "pbkdf2_sha256$ with an alphanumeric salt whose length is a multiple of 4: Django's "
        "raw salt (pbkdf2_sha256_django) or a base64 salt (pbkdf2_sha256); set the hasher",
    ),
    _exact(
        "pbkdf2_sha256",
        "pbkdf2_sha256$ with a padded base64 salt (it contains +, / or =): read as base64",
    ),
    _exact(
        "pbkdf2_sha256_django",
        "pbkdf2_sha256$ with a salt that is not valid base64: Django's raw salt",
    ),
    _exact("pbkdf2_sha1", "pbkdf2_sha1$ with a hex hash (Clerk's format)"),
    _exact("pbkdf2_sha512_hex", "pbkdf2_sha512_hex$ with hex salt and hash"),
    _exact("pbkdf2_sha512", "pbkdf2_sha512$ with a literal salt and a hex hash"),
    _Rule(
        rf"^pbkdf2_sha512\${_ITER}\$.*$",
        None,
        ("pbkdf2_sha512",),
        "pbkdf2_sha512$ with 420000 iterations or more, or a non-hex hash: Clerk's "
        "pbkdf2_sha512 refuses it",
    ),
    _exact("sha512_symfony", "Clerk's sha512_symfony$ prefix"),
    _exact("hmac_sha256_utf16_b64", "Clerk's hmac_sha256_utf16_b64$ prefix"),
    _exact("scrypt_werkzeug", "Werkzeug's scrypt:N:r:p$ prefix"),
    _exact("ldap_ssha", "an LDAP {SSHA} digest"),
    _exact("awscognito", "an awscognito# lazy-migration reference"),
    _exact("scrypt_firebase", "four base64 fields and two integers (Firebase scrypt)"),
    _exact("md5", "32 hexadecimal characters: an unsalted MD5"),
    _exact("sha256", "64 hexadecimal characters: an unsalted SHA-256"),
    _exact("md5_salted", "salt$ and 32 hexadecimal characters: a salted MD5"),
    _exact("sha256_salted", "salt$ and 64 hexadecimal characters: a salted SHA-256"),
    _Rule(
        r"^[0-9a-fA-F]{64}\$[^$]+$",
        None,
        ("sha256_salted",),
        "64 hexadecimal characters then $salt: a salted SHA-256 in hash$salt order; Clerk's "
        "current docs want salt$hash, so swap the two fields",
    ),
    *(_Rule(pattern, None, (), message) for pattern, message in UNSUPPORTED.values()),
)

_COMPILED: Final = tuple((re.compile(rule.pattern), rule) for rule in _RULES)
_UNKNOWN: Final = Inference(None, (), "the digest matches no shape Clerk accepts")


def infer_hasher(digest: str) -> Inference:
    """Infer the hasher of one digest from its shape.

    Returns an ``Inference`` whose ``hasher`` is None when the shape is ambiguous, needs a
    builder first, is unsupported by Clerk, or is unknown; ``reason`` says which.
    """
    for regex, rule in _COMPILED:
        if regex.fullmatch(digest):
            return Inference(rule.hasher, rule.candidates, rule.reason)
    return _UNKNOWN


def _merged_runs() -> tuple[tuple[str, str | None], ...]:
    """The rules as (pattern, hasher) with each run of neighbours that share an answer merged
    into one alternation, and the trailing no-hasher run dropped (it cannot change the result).

    First-match semantics only depend on which answer comes first, so this is the same function
    with about half the regex passes over the column.
    """
    runs: list[tuple[list[str], str | None]] = []
    for rule in _RULES:
        body = rule.pattern[1:-1]  # every rule pattern is anchored ^…$
        if runs and runs[-1][1] == rule.hasher:
            runs[-1][0].append(body)
        else:
            runs.append(([body], rule.hasher))
    while runs and runs[-1][1] is None:
        runs.pop()
    return tuple(("^(?:" + "|".join(f"(?:{b})" for b in bodies) + ")$", h) for bodies, h in runs)


_MERGED: Final = _merged_runs()


# One regex pass classifies a digest (measured: about half the CPU of one pass per rule run on a
# million bcrypt digests). Each run's pattern is followed by the separator and as many "any"
# characters as its position, and the digest by the separator and a row of tag characters; the
# regex's leftmost-first alternation picks the first run that matches (as ``infer_hasher`` does),
# and removing the match leaves ``len(_MERGED) - i`` tag characters for run ``i`` (a digest that
# matched nothing keeps all its text, which is longer). A digest that itself holds the separator
# could let a pattern match across it, so those (never seen in real exports) take the
# rule-by-rule chain instead. Only elementwise steps are used: a ``replace_strict`` lookup here
# made polars' streaming engine buffer the whole input (5 M rows: +0.9 GB).
_SEP: Final = "\x00"
_TAGS: Final = "!" * len(_MERGED)
_CLASSIFY: Final = "^(?:{})".format(
    "|".join(
        f"(?:{pattern[1:-1]}){re.escape(_SEP)}{'.' * i}" for i, (pattern, _) in enumerate(_MERGED)
    )
)


def infer_hasher_expr(digest: pl.Expr) -> pl.Expr:
    """The vectorised ``infer_hasher(...).hasher``: a Utf8 expression, null when none applies.

    Rules are applied in the same order as ``infer_hasher``; a null digest gives null.
    """
    left = pl.concat_str(digest, pl.lit(_SEP + _TAGS)).str.replace(_CLASSIFY, "").str.len_bytes()
    run = len(_MERGED) - left.cast(pl.Int64)
    chain: Any = pl.when(digest.str.contains(_SEP, literal=True)).then(
        _chain(pl.when(digest.str.contains(_SEP, literal=True)).then(digest))
    )
    for i, (_, hasher) in enumerate(_MERGED):
        if hasher is not None:
            chain = chain.when(run == i).then(_lit(hasher))
    result: pl.Expr = chain.otherwise(_lit(None))
    return result.alias("password_hasher")


def _chain(digest: pl.Expr) -> pl.Expr:
    """``infer_hasher_expr`` as one regex pass per run of rules (for digests holding ``_SEP``)."""
    (pattern, hasher), *rest = _MERGED
    chain: Any = pl.when(digest.str.contains(pattern)).then(_lit(hasher))
    for pattern, hasher in rest:
        chain = chain.when(digest.str.contains(pattern)).then(_lit(hasher))
    result: pl.Expr = chain.otherwise(_lit(None))
    return result


def _lit(value: str | None) -> pl.Expr:
    return pl.lit(value, dtype=pl.Utf8)
