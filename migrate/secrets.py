"""Secret values whose ``repr`` and ``str`` are masked, so they cannot leak by accident.

Wrap the secret key, plaintext passwords, digests, TOTP secrets and backup codes in ``Secret``
as soon as they are read; call ``reveal()`` only at the one place that puts them on the wire.
Email addresses are personal data rather than secrets: reports show them unless the operator
asks for ``--redact-emails``, which masks them with ``mask_email`` / ``redact_emails``.
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


def mask_digest(digest: str) -> str:
    """Show the non-secret prefix of a digest (its scheme and cost), mask the rest.

    ``$2b$10$abc…`` becomes ``$2b$10$…(masked)``; a digest without ``$`` shows nothing.
    """
    if digest.startswith("$"):
        parts = digest.split("$")
        # "$2b$10$…": keep the algorithm and cost fields, never salt or hash.
        head = "$".join(parts[:3]) + "$" if len(parts) > 3 else "$"
        return head + MASK
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
