"""CreateUser request validation: a JSON body in, a ``UserRecord`` or Clerk's form errors out.

Stages, each stopping the request if it finds anything (as Clerk's body parser does before its
form validation): unknown or disabled parameters (``form_param_unknown``), then JSON types
(``form_param_value_invalid``); then every field rule, collected together; then the instance's
requirements (``form_data_missing``). Uniqueness and the user cap need the store and are checked
by the endpoint afterwards. Pure apart from ``digest_plaintext``, which the store supplies.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import Any, Final

from migrate._internal.hashers.grammar import HASHERS, digest_problem
from migrate.sandbox import store as flags
from migrate.sandbox.config import IDENTIFIERS, SandboxConfig
from migrate.sandbox.formats import (
    email_problem,
    locale_problem,
    parse_rfc3339_ms,
    phone_problem,
    totp_problem,
    username_problem,
    wallet_problem,
)
from migrate.sandbox.problems import (
    Problem,
    data_missing,
    form_problem,
    type_invalid,
    unknown_param,
)
from migrate.sandbox.store import PLAINTEXT_HASHER, UserRecord, wallet_key

__all__ = ["PWNED_PASSWORDS", "validate_create"]

_STRINGS: Final = frozenset(
    {
        "external_id",
        "first_name",
        "last_name",
        "locale",
        "username",
        "password",
        "password_digest",
        "password_hasher",
        "totp_secret",
        "created_at",
        "legal_accepted_at",
    }
)
_ARRAYS: Final = frozenset(
    {
        "email_address",
        "email_address_identification_status",
        "phone_number",
        "phone_number_identification_status",
        "web3_wallet",
        "backup_codes",
    }
)
_OBJECTS: Final = frozenset({"public_metadata", "private_metadata", "unsafe_metadata"})
_BOOLS: Final = frozenset(
    {
        "skip_password_checks",
        "skip_password_requirement",
        "skip_legal_checks",
        "skip_user_requirement",
        "delete_self_enabled",
        "create_organization_enabled",
        "bypass_client_trust",
        "banned",
        "locked",
    }
)
_INTS: Final = frozenset({"create_organizations_limit"})
_KNOWN: Final = _STRINGS | _ARRAYS | _OBJECTS | _BOOLS | _INTS
_PHONE_KEYS: Final = ("phone_number", "phone_number_identification_status")
_EMAIL_KEYS: Final = ("email_address", "email_address_identification_status")

# Clerk checks plaintext passwords against HaveIBeenPwned; offline we keep a few notorious ones.
PWNED_PASSWORDS: Final = frozenset(
    {
        "password",
        "password1",
        "password12",
        "password123",
        "passw0rd",
        "12345678",
        "123456789",
        "1234567890",
        "11111111",
        "87654321",
        "qwertyuiop",
        "qwerty123",
        "qwerty12",
        "1q2w3e4r",
        "zaq12wsx",
        "iloveyou",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "superman",
        "trustno1",
        "welcome1",
        "letmein1",
        "admin123",
        "abc12345",
        "monkey123",
        "dragon123",
    }
)
_MAX_ITEMS: Final = 100  # per identifier array; Clerk's exact limit is unpublished
_METADATA_MAX_BYTES: Final = 8 * 1024
_PASSWORD_MAX_BYTES: Final = 72  # bcrypt's limit, which Clerk enforces
_FLAG_FIELDS: Final = (
    ("banned", flags.BANNED),
    ("locked", flags.LOCKED),
    ("delete_self_enabled", flags.DELETE_SELF),
    ("create_organization_enabled", flags.CREATE_ORG),
    ("bypass_client_trust", flags.BYPASS_CLIENT_TRUST),
)


def validate_create(
    body: Mapping[str, Any],
    config: SandboxConfig,
    now_ms: int,
    digest_plaintext: Callable[[str], str],
) -> tuple[UserRecord | None, list[Problem]]:
    """Check a CreateUser body against Clerk's rules and this instance's settings.

    Returns ``(record, [])`` for a valid body (the record not yet stored) or ``(None, problems)``.
    """
    problems = _unknown_params(body, config)
    if problems:
        return None, problems
    problems = _type_problems(body)
    if problems:
        return None, problems
    # Empty strings mean "not given", as for Clerk's optional string params.
    v: dict[str, Any] = {k: val for k, val in body.items() if val is not None and val != ""}
    rec = UserRecord()
    problems = []
    _identifiers(v, config, rec, problems)
    _password(v, config, rec, problems, now_ms=now_ms, digest_plaintext=digest_plaintext)
    _times_and_misc(v, rec, problems, now_ms)
    if problems:
        return None, problems
    missing = _missing_requirements(v, config)
    if missing is not None:
        return None, [missing]
    return rec, []


def _unknown_params(body: Mapping[str, Any], config: SandboxConfig) -> list[Problem]:
    problems = [unknown_param(k) for k in body if k not in _KNOWN]
    for keys, enabled, what in (
        (_EMAIL_KEYS, config.email_enabled, "Email addresses are"),
        (_PHONE_KEYS, config.phone_enabled, "Phone numbers are"),
        (("web3_wallet",), config.web3_enabled, "Web3 wallets are"),
        (("totp_secret",), config.totp_enabled, "Authenticator apps are"),
        (("backup_codes",), config.backup_codes_enabled, "Backup codes are"),
    ):
        if not enabled:
            resolution = f" {what} disabled for this instance."
            problems += [unknown_param(k, resolution) for k in keys if body.get(k)]
    return problems


def _type_problems(body: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    for key, value in body.items():
        if value is None:
            continue
        if key in _STRINGS and not isinstance(value, str):
            problems.append(type_invalid(key, value, "string"))
        elif key in _BOOLS and not isinstance(value, bool):
            problems.append(type_invalid(key, value, "bool"))
        elif key in _INTS and (isinstance(value, bool) or not isinstance(value, int)):
            problems.append(type_invalid(key, value, "integer"))
        elif key in _OBJECTS and not isinstance(value, dict):
            problems.append(type_invalid(key, value, "object"))
        elif key in _ARRAYS and (
            not isinstance(value, list) or not all(isinstance(i, str) for i in value)
        ):
            problems.append(type_invalid(key, value, "array of strings"))
    return problems


def _array(
    v: dict[str, Any],
    param: str,
    check: Callable[[str, str], Problem | None],
    key: Callable[[str], str],
    problems: list[Problem],
) -> tuple[str, ...]:
    items: list[str] = v.get(param) or []
    if len(items) > _MAX_ITEMS:
        problems.append(
            form_problem(
                "form_param_array_size_exceeded",
                param,
                f"{param} should not exceed {_MAX_ITEMS} items.",
                "exceeds maximum size",
            )
        )
        return ()
    bad = [p for p in (check(param, item) for item in items) if p is not None]
    if bad:
        problems.append(bad[0])
    elif len({key(i) for i in items}) != len(items):
        problems.append(
            form_problem(
                "form_param_duplicate", param, f"{param} contains duplicate values", "is duplicate"
            )
        )
    return tuple(items)


def _statuses(
    v: dict[str, Any], param: str, count: int, problems: list[Problem]
) -> tuple[str, ...] | None:
    status_param = f"{param}_identification_status"
    statuses: list[str] = v.get(status_param) or []
    if not statuses:
        return None
    if len(statuses) != count:
        problems.append(
            form_problem(
                "form_param_array_length_mismatch",
                status_param,
                f"{status_param} must contain exactly one item for each item in {param}.",
            )
        )
        return None
    for s in statuses:
        if s not in ("verified", "reserved"):
            problems.append(
                form_problem(
                    "form_param_value_invalid",
                    status_param,
                    f"{s} does not match one of the allowed values for parameter {status_param}",
                )
            )
            return None
    return None if all(s == "verified" for s in statuses) else tuple(statuses)


def _identifiers(
    v: dict[str, Any], config: SandboxConfig, rec: UserRecord, problems: list[Problem]
) -> None:
    rec.emails = _array(v, "email_address", email_problem, str.lower, problems)
    rec.email_status = _statuses(v, "email_address", len(rec.emails), problems)
    rec.phones = _array(v, "phone_number", phone_problem, str, problems)
    rec.phone_status = _statuses(v, "phone_number", len(rec.phones), problems)
    rec.wallets = _array(v, "web3_wallet", wallet_problem, wallet_key, problems)
    username = v.get("username")
    if username is not None:
        # With usernames disabled Clerk still stores one that meets the default rules
        # (per Clerk's migration CLI; UNVERIFIED), so only the length settings fall back.
        lo, hi = (
            (config.username_min_length, config.username_max_length)
            if config.username_enabled
            else (4, 64)
        )
        problem = username_problem(username, lo, hi)
        if problem is not None:
            problems.append(problem)
        rec.username = username
    external_id = v.get("external_id")
    rec.external_id = external_id


def _password(
    v: dict[str, Any],
    config: SandboxConfig,
    rec: UserRecord,
    problems: list[Problem],
    *,
    now_ms: int,
    digest_plaintext: Callable[[str], str],
) -> None:
    password: str | None = v.get("password")
    digest: str | None = v.get("password_digest")
    hasher: str | None = v.get("password_hasher")
    if password is not None and digest is not None:
        # UNVERIFIED code: the documented "isn't allowed when ... is present" error.
        problems.append(
            form_problem(
                "form_conditional_param_disallowed",
                "password_digest",
                "`password_digest` isn't allowed when `password` is present.",
                "is not allowed",
            )
        )
        return
    if digest is not None or hasher is not None:
        if hasher is None:
            # UNVERIFIED code: the documented "is required when ... is present" error.
            problems.append(_conditional_missing("password_hasher", "password_digest"))
        elif hasher not in HASHERS:
            problems.append(
                form_problem(
                    "form_param_value_invalid",
                    "password_hasher",
                    f"{hasher} does not match one of the allowed values for parameter "
                    "password_hasher",
                )
            )
        elif digest is None:
            problems.append(_conditional_missing("password_digest", "password_hasher"))
        elif digest_problem(hasher, digest) is not None:
            problems.append(
                form_problem(
                    "form_password_digest_invalid_code",
                    "password_digest",
                    "The provided password_digest is not valid for the provided password_hasher.",
                )
            )
        else:
            # One shared string per hasher name instead of one per user.
            rec.hasher, rec.digest = sys.intern(hasher), digest
            rec.password_updated_at = now_ms
        return
    if password is None:
        return
    problem = _plaintext_problem(password, config, bool(v.get("skip_password_checks")))
    if problem is not None:
        problems.append(problem)
        return
    rec.hasher, rec.digest = PLAINTEXT_HASHER, digest_plaintext(password)
    rec.password_updated_at = now_ms


def _plaintext_problem(password: str, config: SandboxConfig, skip_checks: bool) -> Problem | None:
    if len(password.encode()) > _PASSWORD_MAX_BYTES:
        text = "Your password is too long. Please use a shorter one."
        return form_problem("form_password_size_in_bytes_exceeded", "password", text, text)
    if skip_checks:
        return None
    if len(password) < config.password_min_length:
        return form_problem(
            "form_password_length_too_short",
            "password",
            f"Passwords must be {config.password_min_length} characters or more.",
        )
    if password in PWNED_PASSWORDS:
        text = (
            "Password has been found in an online data breach. For account safety, "
            "please use a different password."
        )
        return form_problem("form_password_pwned", "password", text, text)
    return None


def _conditional_missing(missing: str, present: str) -> Problem:
    return form_problem(
        "form_conditional_param_missing",
        missing,
        f"`{missing}` is required when `{present}` is present.",
        "is missing",
    )


def _times_and_misc(
    v: dict[str, Any], rec: UserRecord, problems: list[Problem], now_ms: int
) -> None:
    rec.created_at = now_ms
    rec.updated_at = now_ms
    for param in ("created_at", "legal_accepted_at"):
        text = v.get(param)
        if text is None:
            continue
        ms = parse_rfc3339_ms(text)
        if ms is None:
            problems.append(
                form_problem(
                    "form_param_invalid_time",
                    param,
                    f"{param} must contain a datetime specified in RFC3339 format "
                    "(e.g. `2022-10-20T10:00:27.645Z`).",
                    "invalid format",
                )
            )
        elif ms > now_ms:
            # UNVERIFIED mapping: Clerk documents this code for future dates.
            text = "Date values must not be in the future."
            problems.append(form_problem("form_disallow_future_date", param, text, text))
        elif param == "created_at":
            rec.created_at = ms
        else:
            rec.legal_accepted_at = ms
    for param in ("public_metadata", "private_metadata", "unsafe_metadata"):
        metadata = v.get(param)
        if not metadata:
            continue
        text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False)
        if len(text.encode()) > _METADATA_MAX_BYTES:
            # UNVERIFIED code: Clerk documents the 8 KB limit but not its error.
            problems.append(
                form_problem(
                    "form_param_exceeds_allowed_size",
                    param,
                    f"{param} exceeds the maximum allowed size of 8KB.",
                )
            )
        setattr(rec, param, text)  # kept as JSON text: a third of a dict's memory
    locale = v.get("locale")
    if locale is not None:
        problem = locale_problem(locale)
        if problem is not None:
            problems.append(problem)
        rec.locale = locale
    rec.first_name = v.get("first_name")
    rec.last_name = v.get("last_name")
    totp = v.get("totp_secret")
    if totp is not None:
        problem = totp_problem(totp)
        if problem is not None:
            problems.append(problem)
        rec.flags |= flags.TOTP
    if v.get("backup_codes"):
        rec.flags |= flags.BACKUP_CODES
    limit = v.get("create_organizations_limit")
    if limit is not None:
        if limit < 0:
            problems.append(
                form_problem(
                    "form_param_value_invalid",
                    "create_organizations_limit",
                    "create_organizations_limit must be 0 (unlimited) or greater.",
                )
            )
        rec.org_limit = limit
    for param, bit in _FLAG_FIELDS:
        if param in v:
            rec.flags = rec.flags | bit if v[param] else rec.flags & ~bit


def _missing_requirements(v: dict[str, Any], config: SandboxConfig) -> Problem | None:
    required = config.required
    if v.get("skip_user_requirement"):
        enabled = [i for i in IDENTIFIERS if config.enabled(i)]
        if not any(v.get(i) for i in enabled):
            return Problem(
                "form_param_missing",
                "at least one parameter must be provided",
                f"at least one of `{', '.join(enabled)}` must be provided",
                None,
                {"param_names": enabled},
            )
        required = required - set(IDENTIFIERS)
    missing = [f for f in sorted(required) if f != "password" and not v.get(f)]
    if (
        "password" in required
        and not v.get("password")
        and not v.get("password_digest")
        and not v.get("skip_password_requirement")
    ):
        missing.append("password")
    return data_missing(missing) if missing else None
