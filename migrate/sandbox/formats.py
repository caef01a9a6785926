"""Value formats Clerk checks on CreateUser: emails, E.164 phones, wallets, usernames, times.

Pure functions: each returns ``None`` when the value is fine, else the ``Problem`` Clerk answers
with. Where Clerk's exact rule is not published, the rule here is the documented one or the one
Clerk's own migration CLI mirrors (see docs/sandbox.md, "Assumptions").
"""

from __future__ import annotations

import re
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
    r"@(?P<domain>(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    # A letters-only TLD, or an IDN TLD in its ASCII (punycode) form such as xn--p1ai: Clerk
    # takes any TLD on the public-suffix list, and the IDN ones there are all "xn--" labels.
    r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9](?:[A-Za-z0-9-]{0,57}[A-Za-z0-9])?))"
)
# Clerk's CLI notes that clerk_go refuses non-routable special-use TLDs (RFC 2606 / 6761).
_RESERVED_TLDS: Final = frozenset({"test", "example", "invalid", "localhost", "local", "arpa"})
_E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")
_E164_LIKE: Final = re.compile(r"\+[0-9]{2,15}")
_ETH_WALLET: Final = re.compile(r"0x[0-9a-fA-F]{40}")
_SOLANA_WALLET: Final = re.compile(r"[1-9A-HJ-NP-Za-km-z]{32,44}")
_USERNAME_CHARS: Final = re.compile(r"[A-Za-z0-9_-]+")
# RFC 4648 base32, any case: unpadded, or padded to a whole block of 8. Unpadded lengths of 1, 3
# or 6 (mod 8) encode no whole number of bytes, so no decoder accepts them.
_BASE32: Final = re.compile(
    r"(?:[A-Z2-7]{8})*(?:[A-Z2-7]{2}(?:={6})?|[A-Z2-7]{4}(?:={4})?|[A-Z2-7]{5}(?:={3})?"
    r"|[A-Z2-7]{7}=?)?",
    re.IGNORECASE | re.ASCII,
)
_BCP47: Final = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")
_RFC3339: Final = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})",
    re.ASCII,  # \d is 0-9 only: int() would happily read Arabic-Indic or full-width digits
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
    """``invalid_totp_secret_code`` unless ``secret`` is base32 (RFC 4648, any case).

    Nothing is stripped: spaces (as authenticator apps display secrets) are not base32, and
    Clerk asks for "a valid one base32 encoded"; the offline validator refuses them too.
    """
    if secret and _BASE32.fullmatch(secret):
        return None
    return Problem(
        "invalid_totp_secret_code",
        "invalid TOTP secret",
        "The TOTP secret is invalid, please provide a valid one base32 encoded",
        "totp_secret",
    )


def parse_rfc3339_ms(value: str) -> int | None:
    """Epoch milliseconds of an RFC3339 timestamp (``2022-10-20T10:00:27.645Z``), or None.

    Every field must be in range (as Go's ``time.Parse`` checks: no hour 24, no second 60, the
    day within its month); years 0000-9999 are all valid, which ``datetime`` cannot represent,
    so the arithmetic is done here.
    """
    m = _RFC3339.fullmatch(value)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m[7], m[8]
    if not (1 <= month <= 12 and 1 <= day <= _month_days(year, month)):
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset_minutes = 0
    if zone != "Z":
        zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:6])
        if zone_hours > 23 or zone_minutes > 59:
            return None
        offset_minutes = (1 if zone[0] == "+" else -1) * (zone_hours * 60 + zone_minutes)
    seconds = (
        _days_from_civil(year, month, day) * 86400
        + hour * 3600
        + (minute - offset_minutes) * 60
        + second
    )
    return seconds * 1000 + int((fraction or "0")[:3].ljust(3, "0"))


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
