"""Talking to Clerk's Backend API: the client (``client``), its typed outcomes (``outcomes``)
and the pure classification of failures (``retry``)."""

from migrate._internal.clerk.client import ClerkClient, validate_base_url
from migrate._internal.clerk.outcomes import (
    ClerkUser,
    Counted,
    Created,
    Deleted,
    Fetched,
    PasswordChecked,
    Rejected,
    Transient,
    Users,
)
from migrate._internal.clerk.retry import Action, backoff, classify, hint_for

__all__ = [
    "Action",
    "ClerkClient",
    "ClerkUser",
    "Counted",
    "Created",
    "Deleted",
    "Fetched",
    "PasswordChecked",
    "Rejected",
    "Transient",
    "Users",
    "backoff",
    "classify",
    "hint_for",
    "validate_base_url",
]
