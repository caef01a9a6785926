"""What an outcome means for the row and the run: one table, backoff with jitter, hints (pure).

Every failed call is classified from ONE table, ``RULES``, keyed on ``(status, code)``. Either
part may be a wildcard: ``ANY``, the families ``"4xx"`` / ``"5xx"``, or ``None`` for a transport
failure (no HTTP status at all). ``rule_for`` tries, in order:

1. ``(status, code)``            an exact pair
2. ``(status, ANY)``             statuses that decide alone: 401, 408, 415, 429, transport (None)
3. ``("5xx", ANY)``              every 5xx is a server fault, whatever its code
4. ``(ANY, code)``               a Clerk code, whatever its status
5. ``(status, DEFAULT)``         a status's default for codes not in the table (402, 403)
6. ``("4xx", ANY)``              any other 4xx fails the row
7. ``(ANY, ANY)``                anything else (status 0, a 3xx) fails the row

Actions (reference/clerk-api.md §3, "Policy" column):

- ``RETRY``: 429, 408, 5xx, timeouts, dropped connections, garbled replies. A create whose
  ``Transient.ambiguous`` is True may have succeeded: reconcile (look the row up by
  ``external_id=+<id>``) before sending it again.
- ``RECONCILE``: ``form_identifier_exists``. Look the row up; the same external_id means the user
  is ours (``exists``), otherwise the row fails as a conflict naming the identifier. An
  organization's taken ``slug`` is looked up by slug (ours when its private metadata holds the
  legacy key); ``already_a_member_in_organization`` means the membership exists (its role is
  read back from the organization's memberships).
- ``FAIL_ROW``: the payload is wrong for this instance; the operator fixes the data (P).
- ``ABORT``: every row would fail the same way (bad key, quota, API version, wrong content type;
  the C codes that do not depend on the row). The run stops; the state stays resumable.

Codes marked C-or-P in §3 (``form_data_missing``, ``form_param_unknown``, ``form_param_missing``,
``feature_not_enabled``, ``unsupported_subscription_plan_features``, ``not_allowed_access``, any
other 402/403) depend on the row as well as the instance: a plan-gated ``locked: true`` or a phone
on a phone-less instance dooms only the rows that carry it. They fail the row and are flagged
``config_suspect``; ``ConfigStreak`` turns a streak of them into an abort, so a setting that
dooms *every* row stops the run after a handful of rows, not after a million.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Final

from migrate._internal.clerk.outcomes import Rejected, Transient

__all__ = [
    "ANY",
    "DEFAULT",
    "DEFAULT_429_WAIT",
    "RULES",
    "Action",
    "ConfigStreak",
    "Rule",
    "backoff",
    "classify",
    "config_suspect",
    "hint_for",
    "parse_retry_after",
    "rule_for",
]

ANY: Final = "*"
DEFAULT: Final = "(default)"
# Clerk's official tools wait 10 s on a 429 without Retry-After (clerk-api.md §5).
DEFAULT_429_WAIT: Final = 10.0


class Action(StrEnum):
    """What to do after a call that did not succeed."""

    RETRY = "retry"
    RECONCILE = "reconcile"
    FAIL_ROW = "fail_row"
    ABORT = "abort"


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the table: the action, and whether the code may mean a setting, not the row."""

    action: Action
    config_suspect: bool = False


_RETRY = Rule(Action.RETRY)
_FAIL = Rule(Action.FAIL_ROW)
_SUSPECT = Rule(Action.FAIL_ROW, config_suspect=True)
_ABORT = Rule(Action.ABORT)

StatusKey = int | str | None

RULES: Final[dict[tuple[StatusKey, str], Rule]] = {
    # Statuses that decide alone.
    (None, ANY): _RETRY,  # timeout, connection dropped, unreadable reply
    (429, ANY): _RETRY,  # honour Retry-After; every worker pauses
    (408, ANY): _RETRY,
    (401, ANY): _ABORT,  # whatever the code, the key does not authenticate
    (415, ANY): _ABORT,  # unsupported_content_type: every request is built the same way
    ("5xx", ANY): _RETRY,  # internal_clerk_error, gateways; creates reconcile first
    # Reconciliation.
    (ANY, "form_identifier_exists"): Rule(Action.RECONCILE),
    (ANY, "already_a_member_in_organization"): Rule(Action.RECONCILE),
    # Configuration that dooms every row: stop at once.
    (ANY, "clerk_key_invalid"): _ABORT,
    (ANY, "authentication_invalid"): _ABORT,
    (ANY, "authorization_header_format_invalid"): _ABORT,
    (ANY, "could_not_authenticate_request"): _ABORT,
    (ANY, "authorization_invalid"): _ABORT,
    (ANY, "user_quota_exceeded"): _ABORT,
    (ANY, "quota_exceeded"): _ABORT,
    (ANY, "api_version_invalid"): _ABORT,
    (ANY, "operation_deprecated"): _ABORT,
    (ANY, "unsupported_content_type"): _ABORT,
    (ANY, "tls_certificate_invalid"): _ABORT,  # ours: no request can reach Clerk this way
    (ANY, "organization_not_enabled_in_instance"): _ABORT,
    (ANY, "organization_slugs_disabled"): _ABORT,  # every organization is created with a slug
    (ANY, "organization_quota_exceeded"): _ABORT,
    (ANY, "too_many_requests"): _RETRY,
    (ANY, "internal_clerk_error"): _RETRY,
    # Configuration or data: fail the row, abort on a streak (ConfigStreak).
    (ANY, "form_data_missing"): _SUSPECT,
    (ANY, "form_param_unknown"): _SUSPECT,
    (ANY, "form_param_missing"): _SUSPECT,
    (ANY, "feature_not_enabled"): _SUSPECT,
    (ANY, "unsupported_subscription_plan_features"): _SUSPECT,
    (ANY, "not_allowed_access"): _SUSPECT,
    (ANY, "request_body_invalid"): _SUSPECT,  # our JSON is refused: a bug if it repeats
    (ANY, "malformed_request_parameters"): _SUSPECT,
    # A 403 that depends on the row's data, not the instance.
    (ANY, "unsupported_country_code"): _FAIL,  # drop the phone for this row
    (ANY, "organization_membership_quota_exceeded"): _FAIL,  # that organization is full
    (402, DEFAULT): _SUSPECT,  # payment / plan: probably the instance, not the row
    (403, DEFAULT): _SUSPECT,
    # Everything else a 4xx says is about this row's data.
    ("4xx", ANY): _FAIL,
    (ANY, ANY): _FAIL,
}


def rule_for(status: int | None, code: str | None) -> Rule:
    """Look ``(status, code)`` up in ``RULES`` in the documented order."""
    code_key = code if code is not None else ANY
    candidates: list[tuple[StatusKey, str]] = [(status, code_key), (status, ANY)]
    if status is not None and 500 <= status <= 599:
        candidates.append(("5xx", ANY))
    candidates += [(ANY, code_key), (status, DEFAULT)]
    if status is not None and 400 <= status <= 499:
        candidates.append(("4xx", ANY))
    for key in candidates:
        rule = RULES.get(key)
        if rule is not None:
            return rule
    return RULES[(ANY, ANY)]


def classify(outcome: Rejected | Transient) -> Action:
    """The action for an outcome that is not a success. Every ``Transient`` retries."""
    if isinstance(outcome, Transient):
        return Action.RETRY
    return rule_for(outcome.status, outcome.code).action


def config_suspect(outcome: Rejected | Transient) -> bool:
    """Whether a row failure may really be an instance setting (see ``ConfigStreak``)."""
    if isinstance(outcome, Transient):
        return False
    return rule_for(outcome.status, outcome.code).config_suspect


class ConfigStreak:
    """Turn N consecutive row failures with the same config-suspect code into an abort.

    Feed it every finished row: ``observe(code)`` with the failure's code when the row failed
    with a config-suspect code, ``observe(None)`` for anything else (created, exists, another
    failure). It returns True once ``threshold`` rows in a row failed with the same code.
    Pure: no clock, so "consecutive" means in completion order.
    """

    def __init__(self, threshold: int = 25) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.threshold = threshold
        self.code: str | None = None
        self.count = 0

    def observe(self, code: str | None) -> bool:
        """Record one finished row; True when the streak reached the threshold."""
        if code is None:
            self.code, self.count = None, 0
            return False
        if code == self.code:
            self.count += 1
        else:
            self.code, self.count = code, 1
        return self.count >= self.threshold


def backoff(attempt: int, rng: random.Random, base: float = 0.5, cap: float = 30.0) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = first retry): full jitter.

    Uniform in ``[0, min(cap, base * 2 ** (attempt - 1))]``, so concurrent workers that failed
    together do not retry together.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, 62))
    return rng.uniform(0.0, ceiling)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Parse a ``Retry-After`` header: delay-seconds or an HTTP-date, relative to ``now``.

    Returns seconds (never negative), or None when the header is absent or unreadable.
    ``now`` must be timezone-aware.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds):
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


_HINTS: Final[dict[str, str]] = {
    "form_identifier_exists": (
        "another Clerk user already has this {param}; if it is the same person, set the same "
        "external_id or remove the duplicate from the input"
    ),
    "form_password_pwned": (
        "the plaintext password is in a breach list; set skip_password_checks = true in "
        "[options] or import the digest instead"
    ),
    "form_password_length_too_short": "set skip_password_checks = true, or import the digest",
    "form_password_length_too_long": "the password exceeds the instance's maximum length",
    "form_password_size_in_bytes_exceeded": (
        "the password is longer than 72 bytes (bcrypt's limit); the user must reset it"
    ),
    "form_password_not_strong_enough": "set skip_password_checks = true, or import the digest",
    "form_password_digest_invalid_code": (
        "the password_digest does not parse for its password_hasher; check the hasher name and "
        "the digest format (docs/mapping.md, hashers)"
    ),
    "form_param_format_invalid": "fix the {param} value's format in the input",
    "form_param_value_invalid": "fix the {param} value in the input",
    "form_param_invalid_time": '{param} must be an RFC3339 timestamp; use parse = "timestamp"',
    "form_disallow_future_date": "{param} is in the future; fix the source timestamp",
    "form_param_duplicate": "{param} lists the same value twice; de-duplicate it",
    "form_param_max_length_exceeded": "{param} is too long for Clerk",
    "form_param_min_length_exceeded": "{param} is too short for Clerk",
    "form_param_unknown": (
        "the instance does not accept {param}: enable that feature in the Clerk Dashboard or "
        "stop mapping the field"
    ),
    "form_param_missing": (
        "the instance requires {param}: map it, or set skip_user_requirement = true in [options]"
    ),
    "form_data_missing": (
        "the instance requires fields this row lacks ({param}): map them, relax the Dashboard "
        "requirements, or set skip_user_requirement = true in [options]"
    ),
    "form_username_invalid_length": (
        "usernames must be 4-64 characters unless the instance allows otherwise"
    ),
    "form_username_invalid_character": "the username has characters the instance does not allow",
    "form_username_needs_non_number_char": "an all-digit username is refused; change or drop it",
    "form_username_cannot_be_phone_number": "a username shaped like a phone number is refused",
    "invalid_totp_secret_code": "totp_secret must be base32 (period 30 s, 6 digits, SHA1)",
    "unsupported_country_code": (
        "the instance does not support this phone's country; drop the phone"
    ),
    "not_allowed_access": "the instance's allowlist/blocklist refuses this identifier",
    "feature_not_enabled": (
        "a field needs a feature that is off for this instance (e.g. user lockout)"
    ),
    "unsupported_subscription_plan_features": "a field needs a Clerk plan this instance lacks",
    "user_quota_exceeded": (
        "development instances hold at most 100 users; migrate into a production instance"
    ),
    "clerk_key_invalid": "check CLERK_SECRET_KEY: it is wrong, revoked or for another instance",
    "authentication_invalid": "check CLERK_SECRET_KEY",
    "api_version_invalid": "this clerk-migrate sends an API version Clerk refuses; upgrade it",
    "request_body_too_large": "the row is too big (metadata?); shrink it",
    "form_param_exceeds_allowed_size": "metadata is limited to 8 KB; shrink {param}",
    "too_many_requests": "Clerk rate-limited the run; lower --rate if this repeats",
    "internal_clerk_error": "Clerk had an internal error; run `clerk-migrate retry` later",
    "resource_not_found": "the user no longer exists in Clerk",
    "user_managed_by_scim": "the user is managed by a directory (SCIM) and cannot be deleted here",
    "organization_not_enabled_in_instance": (
        "turn Organizations on in the Clerk Dashboard (Configure → Organizations)"
    ),
    "organization_slugs_disabled": "turn organization slugs on in the Clerk Dashboard",
    "organization_quota_exceeded": "the instance holds no more organizations; raise its plan",
    "organization_membership_quota_exceeded": (
        "the organization is full: raise its max_allowed_memberships"
    ),
    "already_a_member_in_organization": "the user is a member of the organization already",
    "organization_creator_not_found": "created_by names a user Clerk does not have",
}
# A 404 names what is missing through its param (a membership create: user_id or role).
_NOT_FOUND_HINTS: Final = {
    "role": "the instance has no such organization role; create it or map the role to another",
    "user_id": "the user does not exist in Clerk (not migrated, or deleted)",
}


def hint_for(code: str | None, param: str | None = None) -> str:
    """What the operator should do about an error code ("" when there is no advice)."""
    if code is None:
        return ""
    template = _HINTS.get(code)
    if code == "resource_not_found" and param in _NOT_FOUND_HINTS:
        template = _NOT_FOUND_HINTS[param]
    if template is None:
        return ""
    return template.format(param=param or "the field")
