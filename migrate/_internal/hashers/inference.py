"""Infer the ``password_hasher`` from a digest's shape, in Python and as a polars expression.

One ordered rule table drives both, so they agree by construction: the first rule whose anchored
regex matches decides. A rule either names a hasher, or names none and says why (ambiguous shape,
a digest that needs a builder first, a shape Clerk cannot import). Ambiguous shapes are never
resolved by guessing: they yield no hasher and the list of candidates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import polars as pl

from migrate._internal.hashers.grammar import B64, DIGEST_PATTERNS, UNSUPPORTED

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


# One regex pass classifies a digest. The digest is followed by a separator and ``_T`` tag
# characters; each run's pattern is followed by the separator and enough "any" characters to leave
# a remainder whose length codes its answer: ``_CODES[h]`` for a run naming hasher h, ``_K + 1``
# for a run naming none. Rust's leftmost-first alternation picks the first run that matches (as
# ``infer_hasher`` does); removing the match leaves the code, and ``_K - length`` is the hasher's
# slot in ``_SLOTS`` (1.._K), negative (so null) for a run naming none and for a digest that
# matched nothing (it keeps all its text). Each step reads the previous one once: polars does not
# share repeated sub-expressions inside when/then, so a when/then per hasher re-ran the regex per
# hasher, and a ``replace_strict`` lookup made the streaming engine buffer the whole input.
# A digest that itself holds the separator could let a pattern match across it; those (never
# seen in real exports) are answered by ``infer_hasher`` itself.
_SEP: Final = "\x00"
_NAMES: Final = tuple(sorted({h for _, h in _MERGED if h is not None}))
_K: Final = len(_NAMES)
_T: Final = _K + 1
_CODES: Final = {name: i for i, name in enumerate(_NAMES)}
_WIDTH: Final = max(map(len, _NAMES))
_SLOTS: Final = "".join(
    name.ljust(_WIDTH) for name in ("", *(_NAMES[_K - slot] for slot in range(1, _K + 1)))
)
_CLASSIFY: Final = "^(?:{})".format(
    "|".join(
        f"(?:{pattern[1:-1]}){re.escape(_SEP)}.{{{_T - (_K + 1 if h is None else _CODES[h])}}}"
        for pattern, h in _MERGED
    )
)


def infer_hasher_expr(digest: pl.Expr) -> pl.Expr:
    """The vectorised ``infer_hasher(...).hasher``: a Utf8 expression, null when none applies.

    Rules are applied in the same order as ``infer_hasher``; a null digest gives null.
    """
    left = pl.concat_str(digest, pl.lit(_SEP + "!" * _T)).str.replace(_CLASSIFY, "")
    slot = (_K - left.str.len_bytes().cast(pl.Int64)).cast(pl.UInt8, strict=False)
    named = pl.lit(_SLOTS).str.slice(slot.cast(pl.Int64) * _WIDTH, _WIDTH).str.strip_chars_end()
    odd = digest.str.contains(_SEP, literal=True)
    by_python = (
        pl.when(odd)
        .then(digest)
        .map_batches(_infer_each, return_dtype=pl.Utf8, is_elementwise=True)
    )
    return pl.when(odd).then(by_python).otherwise(named).alias("password_hasher")


def _infer_each(digests: pl.Series) -> pl.Series:
    """``infer_hasher(d).hasher`` per value, null for null (only digests holding ``_SEP``)."""
    answers = {d: infer_hasher(d).hasher for d in digests.drop_nulls().unique()}
    if not answers:
        return pl.Series(digests.name, dtype=pl.Utf8).extend_constant(None, len(digests))
    return digests.replace_strict(answers, default=None, return_dtype=pl.Utf8)
