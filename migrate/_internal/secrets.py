"""Secret values whose ``repr`` and ``str`` are masked, so they cannot leak by accident.

Wrap the secret key, plaintext passwords, digests, TOTP secrets and backup codes in ``Secret``
as soon as they are read; call ``reveal()`` only at the one place that puts them on the wire.
Email addresses are personal data rather than secrets: reports show them unless the operator
asks for ``--redact-emails``, which masks them with ``mask_email`` / ``redact_emails``.

``redact(text)`` is the one redaction every message that may quote input passes through (every
``MigrateError``, every CLI error): it masks secret keys, digest-, password- and secret-shaped
values and bounds the length of each line.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "EMAIL_LOCAL_PATTERN",
    "EMAIL_LOCAL_REPLACEMENT",
    "MASK",
    "Secret",
    "mask_digest",
    "mask_email",
    "redact",
    "redact_emails",
]

MASK: Final = "…(masked)"
# Scheme prefixes that carry no secret; anything else before the first "$" may be a hash or salt.
_SAFE_SCHEME: Final = re.compile(
    r"(pbkdf2_\w+|bcrypt_sha256|sha512_symfony|scrypt:[\d:]+|awscognito)"
)

# The local part of an email address inside free text (group 1: its first character). The same
# pattern runs in Python's re and in polars (Rust regex), with the replacement in each syntax.
EMAIL_LOCAL_PATTERN: Final = r"([^\s@,;:\"'<>()\[\]])[^\s@,;:\"'<>()\[\]]*@"
EMAIL_LOCAL_REPLACEMENT: Final = "${1}…@"  # polars
_EMAIL_LOCAL: Final = re.compile(EMAIL_LOCAL_PATTERN)


class Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret itself; only for the request body or header that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('…(masked)')"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


_CRYPT_HEAD: Final = re.compile(
    r"\$[A-Za-z0-9-]{1,20}\$(?:(?:[0-9]{1,3}|rounds=[0-9]{1,9}|v=[0-9]{1,3})\$)?"
)


def mask_digest(digest: str) -> str:
    """Show the non-secret prefix of a digest (its scheme and cost), mask the rest.

    ``$2b$10$abc…`` becomes ``$2b$10$…(masked)``; a digest without ``$`` shows nothing.
    """
    if digest.startswith("$"):
        # "$2b$10$…", "$6$rounds=5000$…", "$argon2id$v=19$…": the scheme and a cost or a
        # version; never a salt ("$6$salt$…").
        head = _CRYPT_HEAD.match(digest)
        return (head.group(0) if head else "$") + MASK
    scheme = digest.split("$", 1)[0]
    if "$" in digest and _SAFE_SCHEME.fullmatch(scheme):
        return scheme + "$" + MASK
    return MASK


def mask_email(value: str) -> str:
    """An email-address field with its local part masked: ``p…@outlook.com``.

    The first character and the domain stay (enough to tell addresses apart when fixing rows,
    and to see domain-wide problems); a value without ``@`` keeps only its first character.
    """
    local, at, domain = value.rpartition("@")
    if not at:
        return value[:1] + "…" if len(value) > 1 else value
    return f"{local[:1]}…@{domain}" if local else value


def redact_emails(text: str) -> str:
    """``text`` with the local part of every email address in it masked as ``mask_email`` does."""
    return _EMAIL_LOCAL.sub(r"\1…@", text)


# Longest line a message keeps: a parser quoting a 50 MB line must not print 50 MB.
LINE_LIMIT: Final = 1000
_SECRET_KEY: Final = re.compile(r"(sk_(?:live|test)_)[A-Za-z0-9_-]+")
_URL_USERINFO: Final = re.compile(r"(\b[a-zA-Z][\w+.-]*://)[^/\s@'\"]+@")
# Modular crypt ($2b$10$…, $argon2id$v=19$…, $6$…) and "scheme$…" digests (pbkdf2_sha256$…,
# scrypt:32768:8:1$…, sha1$salt$hash): the scheme shows, the rest is masked.
_CRYPT: Final = re.compile(r"\$[A-Za-z0-9-]{1,20}\$[^\s,;\"'`]+")
_SCHEME_DIGEST: Final = re.compile(r"(?<![\w$])[A-Za-z][\w:-]{1,30}\$[^\s,;\"'`]{6,}")
# name=value / "name": "value" where the name says password, secret, token, hash, salt, key…
_NAMED: Final = re.compile(
    r"(\b(?:password|passwd|pwd|secret|secret_key|token|salt|totp|totp_secret|backup_codes?|"
    r"api_key|private_key)[\"']?\s*[:=]\s*[\"']?)([^\s,;\"'`]+)",
    re.IGNORECASE,
)
# Opaque tokens: 32+ hex digits, or 20+ base64 characters mixing upper, lower and digits
# (bcrypt/scrypt/Firebase hashes, salts, TOTP secrets). A token glued to a word (user_2ab…)
# or a path component (/Users/…) is not one.
_HEX: Final = re.compile(r"(?<![\w/.-])[0-9a-fA-F]{32,}(?![\w/-])")
_TOKEN: Final = re.compile(r"(?<![\w/.$-])[A-Za-z0-9+][A-Za-z0-9+/]{19,}={0,2}(?![\w/.-])")
_BASE32: Final = re.compile(r"(?<![\w/.-])[A-Z2-7]{16,}={0,6}(?![\w/.-])")


def redact(text: str, *, limit: int = LINE_LIMIT) -> str:
    """``text`` with secret-shaped values masked and each line cut to ``limit`` characters.

    Masks ``sk_live_``/``sk_test_`` keys, credentials in URLs (``https://user:pw@``), digests
    (their scheme and cost stay), values named password/secret/token/salt/…, and opaque
    tokens (long hex, base64 or base32 runs).
    Ordinary words, numbers, paths, e-mail addresses and ids like ``user_2abc…`` stay.
    """
    return "\n".join(_redact_line(line, limit) for line in text.split("\n"))


def _redact_line(line: str, limit: int) -> str:
    if len(line) > 4 * limit:
        line = line[: 4 * limit]  # masking first keeps a cut from leaving half a secret
    line = _SECRET_KEY.sub(r"\1" + MASK, line)
    line = _URL_USERINFO.sub(r"\1" + MASK + "@", line)
    line = _CRYPT.sub(lambda m: mask_digest(m.group(0)), line)
    line = _SCHEME_DIGEST.sub(lambda m: mask_digest(m.group(0)), line)
    line = _NAMED.sub(lambda m: m.group(1) + MASK, line)
    line = _HEX.sub(MASK, line)
    line = _TOKEN.sub(lambda m: MASK if _mixed(m.group(0)) else m.group(0), line)
    line = _BASE32.sub(lambda m: MASK if any(c.isdigit() for c in m.group(0)) else m.group(0),
                       line)  # fmt: skip
    if len(line) > limit:
        line = line[: limit - 1] + "…"
    return line


def _mixed(token: str) -> bool:
    return (
        any(c.isupper() for c in token)
        and any(c.islower() for c in token)
        and any(c.isdigit() for c in token)
    )
