"""The instance's access restrictions on a create: allowlist, blocklist, email subaddresses.

Clerk answers a refused identifier with 403 ``not_allowed_access`` (reference/clerk-api.md §3,
§8; whether Backend API creates are subject to the lists is UNVERIFIED). The sandbox applies them
to every email address and phone number of the user: a blocklisted one, or (with an allowlist)
a user none of whose identifiers is listed, or a subaddressed email when those are blocked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from migrate.sandbox.config import SandboxConfig
from migrate.sandbox.problems import Problem

__all__ = ["SUBADDRESS_CHARACTERS", "is_subaddressed", "listed", "restriction_problem"]

# Clerk's "Block email subaddresses" refuses local parts holding any of these (Dashboard text).
SUBADDRESS_CHARACTERS: Final = frozenset("+=#")


def is_subaddressed(email: str) -> bool:
    """Whether the local part of ``email`` holds a subaddress separator."""
    local = email.rsplit("@", 1)[0]
    return any(c in SUBADDRESS_CHARACTERS for c in local)


def listed(identifier: str, entries: frozenset[str]) -> bool:
    """Whether ``identifier`` is on a list: itself (case-insensitive) or its ``@domain``."""
    value = identifier.lower()
    if value in entries:
        return True
    return "@" in value and "@" + value.rsplit("@", 1)[1] in entries


def restriction_problem(
    emails: Iterable[str], phones: Iterable[str], config: SandboxConfig
) -> Problem | None:
    """The 403 a create gets from the restrictions, or None when they let it through."""
    emails, phones = tuple(emails), tuple(phones)
    identifiers = emails + phones
    allow = frozenset(e.lower() for e in config.allowlist)
    block = frozenset(e.lower() for e in config.blocklist)
    for identifier in identifiers:
        if block and listed(identifier, block):
            return _refused(identifier)
    if allow and identifiers and not any(listed(i, allow) for i in identifiers):
        return _refused(identifiers[0])
    if config.block_email_subaddresses:
        for email in emails:
            if is_subaddressed(email):
                return _refused(email)
    return None


def _refused(identifier: str) -> Problem:
    return Problem(
        "not_allowed_access",
        "not allowed to access",
        f"{identifier} is not allowed to access this application.",
    )
