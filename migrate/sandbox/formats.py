"""Value formats Clerk checks on CreateUser: emails, E.164 phones, wallets, usernames, times.

Pure functions: each returns ``None`` when the value is fine, else the ``Problem`` Clerk answers
with. Where Clerk's exact rule is not published, the rule here is the documented one or the one
Clerk's own migration CLI mirrors (see docs/sandbox.md, "Assumptions").
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

import phonenumbers

from migrate.sandbox.problems import Problem, form_problem

__all__ = [
    "email_problem",
    "locale_problem",
    "parse_rfc3339_ms",
    "phone_problem",
    "totp_problem",
    "username_problem",
    "wallet_problem",
]

_EMAIL: Final = re.compile(
    r"(?P<local>[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64})"
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
# Clerk's CLI notes that clerk_go refuses non-routable special-use TLDs (RFC 2606 / 6761).
_RESERVED_TLDS: Final = frozenset({"test", "example", "invalid", "localhost", "local", "arpa"})
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")
_E164_LIKE: Final = re.compile(r"\+[0-9]{2,15}")
_ETH_WALLET: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_SOLANA_WALLET: Final = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
_USERNAME_CHARS: Final = re.compile(r"[A-Za-z0-9_-]+")
_BCP47: Final = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)


def email_problem(param: str, email: str) -> Problem | None:
    """``form_param_format_invalid`` unless ``email`` is a routable address."""
    m = _EMAIL.fullmatch(email)
    ok = (
        m is not None
        and len(email) <= 254
        and not m["local"].startswith(".")
        and not m["local"].endswith(".")
        and ".." not in m["local"]
        and m["domain"].rsplit(".", 1)[1].lower() not in _RESERVED_TLDS
    )
    if ok:
        return None
    return form_problem(
        "form_param_format_invalid", param, f"{param} must be a valid email address."
    )


def phone_problem(param: str, phone: str) -> Problem | None:
    """``form_param_format_invalid`` unless ``phone`` is a valid number in E.164 form."""
    if _E164.fullmatch(phone):
        try:
            parsed = phonenumbers.parse(phone, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is not None and phonenumbers.is_valid_number(parsed):
            return None
    return form_problem(
        "form_param_format_invalid",
        param,
        f"{param} must be a valid phone number according to E.164 international standard.",
    )


def wallet_problem(param: str, wallet: str) -> Problem | None:
    """``form_param_format_invalid`` unless ``wallet`` is an EVM (0x + 40 hex) or Solana address."""
    if _ETH_WALLET.fullmatch(wallet) or _SOLANA_WALLET.fullmatch(wallet):
        return None
    return form_problem(
        "form_param_format_invalid", param, f"{param} must be a valid web3 wallet address."
    )


def username_problem(username: str, min_length: int, max_length: int) -> Problem | None:
    """The first username rule ``username`` breaks, in the order Clerk applies them."""
    if _E164_LIKE.fullmatch(username):
        return form_problem(
            "form_username_cannot_be_phone_number",
            "username",
            "username cannot be a phone number. Please choose a different username.",
        )
    if not min_length <= len(username) <= max_length:
        return form_problem(
            "form_username_invalid_length",
            "username",
            f"Username must be between {min_length} and {max_length} characters long.",
        )
    if not _USERNAME_CHARS.fullmatch(username):
        return form_problem(
            "form_username_invalid_character",
            "username",
            "Username can only contain letters, numbers and '_' or '-'.",
        )
    if username.isdigit():
        return form_problem(
            "form_username_needs_non_number_char",
            "username",
            "Username must contain at least one non-numeric character.",
        )
    return None


def locale_problem(locale: str) -> Problem | None:
    """``form_param_format_invalid`` unless ``locale`` looks like a BCP-47 tag."""
    if _BCP47.fullmatch(locale):
        return None
    return form_problem(
        "form_param_format_invalid", "locale", "locale must be a valid BCP-47 language tag."
    )


def totp_problem(secret: str) -> Problem | None:
    """``invalid_totp_secret_code`` unless ``secret`` decodes as base32."""
    text = secret.replace(" ", "").upper()
    try:
        ok = bool(text) and len(base64.b32decode(text + "=" * (-len(text) % 8))) > 0
    except (binascii.Error, ValueError):
        ok = False
    if ok:
        return None
    return Problem(
        "invalid_totp_secret_code",
        "invalid TOTP secret",
        "The TOTP secret is invalid, please provide a valid one base32 encoded",
        "totp_secret",
    )


def parse_rfc3339_ms(value: str) -> int | None:
    """Epoch milliseconds of an RFC3339 timestamp (``2022-10-20T10:00:27.645Z``), or None."""
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m[7], m[8]
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        if zone == "Z":
            tz = UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            if int(zone[4:6]) > 59:
                return None
            tz = timezone(sign * offset)
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    except ValueError:
        return None
    return int(moment.timestamp() * 1000)
