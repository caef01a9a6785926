"""Each validation rule, on rows that break it and rows that do not."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from migrate._internal.validation import (
    RULES,
    ValidationSettings,
    duplicates,
    key_columns,
    with_all_fields,
)

BCRYPT = "$2b$04$cRNDF6i9lQEHq9UqOe0VV.N6JThovoaX4qShm12HuL4fdm5GHo7Lu"
ARGON2ID = (
    "$argon2id$v=19$m=8,t=1,p=1$I3vplhU2Cq+7mFkYHV6pzg$UQhWd2vIZZl4q23aSVILuRJU+1Cx43QKD/IpgPbUhnA"
)
EMAIL = {"email_address": ["ada@example.com"]}
Reasons = Callable[..., list[list[str]]]


def row(**fields: Any) -> dict[str, Any]:
    """A row with a valid email (so it has an identifier) plus ``fields``."""
    return {**EMAIL, **fields}


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("valid minimal row", row(), []),
    (
        "valid full row",
        row(
            external_id="u1",
            first_name="Ada",
            username="ada_l-1",
            phone_number=["+14155550123"],
            password_digest=BCRYPT,
            password_hasher="bcrypt",
            totp_secret="JBSWY3DPEHPK3PXP",
            created_at="2020-05-01T10:00:00.123Z",
            legal_accepted_at="2021-01-01T00:00:00+02:00",
            public_metadata='{"plan": "pro"}',
            private_metadata="{}",
            locale="en-US",
            web3_wallet=["0x" + "a" * 40],
        ),
        [],
    ),
    ("no identifier at all", {"first_name": "Ada"}, ["no_identifier"]),
    ("empty lists and empty username", {"email_address": [], "username": ""}, ["no_identifier"]),
    ("username alone is an identifier", {"username": "ada_lovelace"}, []),
    ("phone alone is an identifier", {"phone_number": ["+442071838750"]}, []),
    ("wallet alone is an identifier", {"web3_wallet": ["0x" + "b" * 40]}, []),
    ("email without domain", {"email_address": ["ada@"]}, ["invalid_email"]),
    ("email without tld", {"email_address": ["ada@localhost"]}, ["invalid_email"]),
    ("email with space", {"email_address": ["ada lovelace@example.com"]}, ["invalid_email"]),
    ("email with double dot", {"email_address": ["ada..l@example.com"]}, ["invalid_email"]),
    ("email on a reserved tld", {"email_address": ["ada@corp.local"]}, ["invalid_email"]),
    ("email on .test", {"email_address": ["ada@example.test"]}, ["invalid_email"]),
    ("second email invalid", {"email_address": ["ada@example.com", "nope"]}, ["invalid_email"]),
    (
        "plus, subdomain and idn tld",
        {"email_address": ["a.b+c@mail.example.co.uk", "x@example.xn--p1ai"]},
        [],
    ),
    ("email local part over 64", {"email_address": ["a" * 65 + "@example.com"]}, ["invalid_email"]),
    ("email local part of 64", {"email_address": ["a" * 64 + "@example.com"]}, []),
    (
        "email over 254",
        {"email_address": ["a@" + ".".join(["b" * 60] * 4) + ".example.com"]},
        ["invalid_email"],
    ),
    (
        "more than 100 emails",
        {"email_address": [f"u{i}@example.com" for i in range(101)]},
        ["too_many_items"],
    ),
    ("100 phones", row(phone_number=[f"+1415555{i:04d}" for i in range(100)]), []),
    (
        "negative organizations limit",
        row(create_organizations_limit=-1),
        ["invalid_organizations_limit"],
    ),
    ("zero organizations limit", row(create_organizations_limit=0), []),
    ("phone exchange that does not exist", row(phone_number=["+14151000097"]), ["invalid_phone"]),
    ("phone valid in the uk", row(phone_number=["+442071838750"]), []),
    ("uk phone with its trunk 0", row(phone_number=["+4402071838750"]), []),
    ("madagascar short form", row(phone_number=["+2612084731"]), []),
    (
        "second phone invalid",
        row(phone_number=["+442071838750", "+14151000097"]),
        ["invalid_phone"],
    ),
    ("phone not e164", row(phone_number=["(415) 555-0123"]), ["invalid_phone"]),
    ("phone with leading zero country", row(phone_number=["+0123456789"]), ["invalid_phone"]),
    ("phone too long", row(phone_number=["+1234567890123456"]), ["invalid_phone"]),
    ("wallet malformed", row(web3_wallet=["0x123"]), ["invalid_web3_wallet"]),
    ("solana wallet", row(web3_wallet=["9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"]), []),
    ("username too short", row(username="abc"), ["username_invalid_length"]),
    ("username too long", row(username="a" * 65), ["username_invalid_length"]),
    ("username 64 chars", row(username="a" * 64), []),
    ("username with a dot", row(username="ada.l"), ["username_invalid_character"]),
    ("username all digits", row(username="123456"), ["username_needs_non_number_char"]),
    (
        "username a phone number",
        row(username="+14155550123"),
        ["username_invalid_character", "username_cannot_be_phone_number"],
    ),
    ("password too short", row(password="short"), ["password_too_short"]),
    ("password 8 chars", row(password="12345678"), []),
    (
        "short password with skip_password_checks",
        row(password="short", skip_password_checks=True),
        [],
    ),
    ("password over 72 bytes", row(password="é" * 37), ["password_too_long"]),
    (
        "password and digest",
        row(password="long enough", password_digest=BCRYPT, password_hasher="bcrypt"),
        ["password_and_digest"],
    ),
    ("digest without hasher", row(password_digest=BCRYPT), ["digest_without_hasher"]),
    ("hasher without digest", row(password_hasher="bcrypt"), ["hasher_without_digest"]),
    ("unknown hasher", row(password_digest=BCRYPT, password_hasher="bcrypt2"), ["unknown_hasher"]),
    (
        "digest malformed for bcrypt",
        row(password_digest=BCRYPT[:-1], password_hasher="bcrypt"),
        ["malformed_digest"],
    ),
    (
        "argon2 digest under bcrypt",
        row(password_digest=ARGON2ID, password_hasher="bcrypt"),
        ["malformed_digest"],
    ),
    ("argon2id digest", row(password_digest=ARGON2ID, password_hasher="argon2id"), []),
    (
        "md5 digest",
        row(password_digest="5f4dcc3b5aa765d61d8327deb882cf99", password_hasher="md5"),
        [],
    ),
    (
        "wordpress 6.8 digest",
        row(password_digest="$wp" + BCRYPT, password_hasher="bcrypt"),
        ["unsupported_hash"],
    ),
    ("wordpress digest without hasher", row(password_digest="$wp" + BCRYPT), ["unsupported_hash"]),
    ("django unusable password", row(password_digest="!abcdef"), ["unsupported_hash"]),
    ("totp not base32", row(totp_secret="JBSWY3DPEHPK3PX1"), ["invalid_totp_secret"]),
    ("totp lower case", row(totp_secret="jbswy3dpehpk3pxp"), []),
    ("totp with spaces", row(totp_secret="JBSW Y3DP"), ["invalid_totp_secret"]),
    ("totp padded", row(totp_secret="JBSWY3DPEE======"), []),
    ("totp badly padded", row(totp_secret="JBSWY3DP=="), ["invalid_totp_secret"]),
    ("locale not bcp47", row(locale="english!"), ["invalid_locale"]),
    ("created_at not rfc3339", row(created_at="2020-05-01 10:00:00"), ["invalid_timestamp"]),
    ("created_at impossible date", row(created_at="2020-02-30T00:00:00Z"), ["invalid_timestamp"]),
    ("created_at epoch text", row(created_at="1588327200"), ["invalid_timestamp"]),
    ("created_at in the future", row(created_at="2026-01-01T00:00:01Z"), ["future_timestamp"]),
    ("created_at now", row(created_at="2026-01-01T00:00:00Z"), []),
    ("future by offset", row(created_at="2026-01-01T01:00:00-01:00"), ["future_timestamp"]),
    ("legal_accepted_at unparseable", row(legal_accepted_at="yesterday"), ["invalid_timestamp"]),
    (
        "legal_accepted_at future",
        row(legal_accepted_at="2030-01-01T00:00:00Z"),
        ["future_timestamp"],
    ),
    ("metadata a list", row(public_metadata="[1, 2]"), ["invalid_metadata"]),
    ("metadata not json", row(private_metadata="{plan: pro}"), ["invalid_metadata"]),
    ("metadata a string", row(unsafe_metadata='"pro"'), ["invalid_metadata"]),
    (
        "metadata too large",
        row(public_metadata='{"a": "' + "x" * 8200 + '"}'),
        ["metadata_too_large"],
    ),
    ("metadata compact under the limit", row(public_metadata='{"a":   "' + "x" * 8182 + '"}'), []),
    ("metadata at the limit", row(public_metadata='{"a": "' + "x" * 8182 + '"}'), []),
    (
        "one status per address",
        {
            "email_address": ["a@example.com", "b@example.com"],
            "email_address_identification_status": ["verified", "reserved"],
            "phone_number": ["+14155550123"],
            "phone_number_identification_status": ["reserved"],
        },
        [],
    ),
    ("empty status list means verified", row(email_address_identification_status=[]), []),
    (
        "fewer statuses than addresses",
        {
            "email_address": ["a@example.com", "b@example.com"],
            "email_address_identification_status": ["verified"],
        },
        ["identification_status_count_mismatch"],
    ),
    (
        "a status without any phone",
        row(phone_number=[], phone_number_identification_status=["verified"]),
        ["identification_status_count_mismatch"],
    ),
    (
        "a status that is not verified or reserved",
        row(email_address_identification_status=["pending"]),
        ["invalid_identification_status"],
    ),
    (
        "second phone status invalid, and one too many",
        {
            "phone_number": ["+14155550123"],
            "phone_number_identification_status": ["verified", "Verified"],
            "username": "ada_l",
        },
        ["identification_status_count_mismatch", "invalid_identification_status"],
    ),
    ("encoding error", row(_source_error="invalid_encoding"), ["invalid_encoding"]),
    ("other source error", row(_source_error="bad_quoting"), ["unreadable_row"]),
    (
        "several reasons",
        {"email_address": ["nope"], "password": "x", "created_at": "soon"},
        ["invalid_email", "password_too_short", "invalid_timestamp"],
    ),
]


@pytest.mark.parametrize(("fields", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_row_rule(reasons: Reasons, fields: dict[str, Any], expected: list[str]) -> None:
    """A row gets exactly the reasons of the rules it breaks, in rule order."""
    assert reasons([fields]) == [expected]


def test_duplicates_keep_the_first_occurrence(reasons: Reasons) -> None:
    """Later rows sharing a normalised email, phone, username or external_id are reported."""
    rows = [
        {"email_address": ["Ada@Example.com"], "external_id": "1", "username": "ada_l"},
        {"email_address": ["bob@example.com"], "phone_number": ["+14155550123"]},
        {"email_address": [" ada@example.COM "], "external_id": "2"},
        {"email_address": ["cy@example.com"], "phone_number": ["+14155550123"]},
        {"email_address": ["dee@example.com"], "external_id": "1", "username": "ADA_L"},
        {"email_address": ["ada@example.com"]},
    ]
    assert reasons(rows) == [
        [],
        [],
        ["invalid_email", "duplicate_email"],
        ["duplicate_phone"],
        ["duplicate_username", "duplicate_external_id"],
        ["duplicate_email"],
    ]


def test_duplicate_secondary_email_is_reported(reasons: Reasons) -> None:
    """An address that is a secondary email on one row and primary on a later one is a duplicate."""
    rows = [
        {"email_address": ["a@example.com", "shared@example.com"]},
        {"email_address": ["shared@example.com"]},
        {"email_address": ["b@example.com", "b@example.com"]},
    ]
    assert reasons(rows) == [[], ["duplicate_email"], ["duplicate_email"]]


def test_external_id_is_case_sensitive(reasons: Reasons) -> None:
    """external_id is compared exactly: ids differing in case are distinct."""
    rows = [row(external_id="abc"), {"email_address": ["b@example.com"], "external_id": "ABC"}]
    assert reasons(rows) == [[], []]


def test_duplicate_keys_other_than_external_id(reasons: Reasons) -> None:
    """A [source] key that repeats is reported once, and not twice when it is the external_id."""
    rows = [
        {"_key": "same", "email_address": ["a@example.com"]},
        {"_key": "same", "email_address": ["b@example.com"]},
        {"_key": "x1", "external_id": "x1", "email_address": ["c@example.com"]},
        {"_key": "x1", "external_id": "x1", "email_address": ["d@example.com"]},
    ]
    assert reasons(rows) == [[], ["duplicate_key"], [], ["duplicate_external_id"]]


def test_nulls_are_not_duplicates(reasons: Reasons) -> None:
    """Rows without an external_id or username are not duplicates of each other."""
    rows = [row(), {"email_address": ["b@example.com"], "username": None}]
    assert reasons(rows) == [[], []]


def test_settings_change_limits_and_messages(reasons: Reasons) -> None:
    """A stricter instance setting is applied, and the message names the configured limit."""
    settings = ValidationSettings(min_password_length=12, username_pattern=r"^[a-z]+$")
    assert reasons([row(password="elevenchars", username="Ada_L")], settings) == [
        ["username_invalid_character", "password_too_short"]
    ]
    rule = next(r for r in RULES if r.reason == "password_too_short")
    assert rule.render(settings).startswith("password is shorter than 12 characters.")


def test_every_reason_is_snake_case_with_a_fix() -> None:
    """Every rule has a snake_case reason, a field, and a message that says what to do."""
    for rule in RULES:
        assert rule.reason.isidentifier()
        assert rule.reason == rule.reason.lower()
        assert rule.field
        text = rule.render(ValidationSettings())
        assert text.endswith(".")
        assert len(text) > 40


def test_duplicates_name_the_first_holder(make_frame: Callable[..., pl.LazyFrame]) -> None:
    """duplicates() gives, per later row and reason, the earliest row holding the same value."""
    rows = [
        {"email_address": ["a@example.com"], "external_id": "1"},
        {"email_address": ["b@example.com", "a@example.com"], "external_id": "1"},
        {"email_address": ["B@example.com"], "external_id": "2"},
    ]
    frame = with_all_fields(make_frame(rows)).select("_row", *key_columns())
    found = duplicates(frame).collect()
    assert found.select("_row", "reason", "_first").rows() == [
        (3, "duplicate_email", 2),
        (3, "duplicate_external_id", 2),
        (4, "duplicate_email", 3),
    ]
