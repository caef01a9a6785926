"""The validation rules: what makes a mapped row unacceptable to Clerk.

``RULES`` lists every ``RowRule`` and ``DuplicateRule`` in the order reasons appear in a row's
``_errors`` (a rule's position is its bit in the row mask, so append new rules at the end of their
group and keep the total at 64 or fewer). The rules follow Clerk's own checks
(shared/reference/clerk-api.md §2-§4) so a row that passes here is one Clerk accepts, as far as can
be known offline: instance settings (required identifiers, SMS countries…) are Clerk's to check.

Messages are fixed text (a few settings are filled in): they say what is wrong and how to fix it and
never quote a value, so no password, digest or TOTP secret can leak through a report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import polars as pl

from migrate._internal.hashers import HASHERS, UNSUPPORTED
from migrate._internal.validation.model import (
    LIST_FIELDS,
    METADATA_FIELDS,
    STATUS_FIELDS,
    STRING_FIELDS,
    DuplicateRule,
    RowRule,
    Rule,
    RuleContext,
    ValidationSettings,
)
from migrate._internal.validation.shapes import (
    BASE32,
    BCP47,
    PHONE_LIKE,
    WEB3,
    any_item,
    as_is,
    bad_email,
    bad_metadata,
    bad_phone,
    bad_status,
    bad_timestamp,
    big_metadata,
    digest_fits,
    future_timestamp,
    has_items,
    hashed,
    hashed_list,
    present,
    status_count_mismatch,
    too_long,
    too_many,
    trim_lower,
    unsupported_any,
    unsupported_digest,
    username,
    wallet_key,
)

__all__ = [
    "LIST_FIELDS",
    "METADATA_FIELDS",
    "REASONS",
    "RULES",
    "STATUS_FIELDS",
    "STRING_FIELDS",
    "DuplicateRule",
    "RowRule",
    "RuleContext",
    "ValidationSettings",
]


def _unsupported_rules() -> tuple[RowRule, ...]:
    rules = []
    for pattern, message in UNSUPPORTED.values():
        literal = message.replace("{", "{{").replace("}", "}}")  # messages are format templates

        def bad(_: RuleContext, pattern: str = pattern) -> pl.Expr:
            # A digest its own hasher accepts is never "unsupported", whatever it resembles. The
            # digest is null except on the few unsupported rows, so the regex costs nothing.
            fits = digest_fits().fill_null(False)
            return unsupported_digest().str.contains(pattern) & ~fits

        rules.append(
            RowRule(
                "unsupported_hash",
                "password_digest",
                f"password_digest is {literal}. To import the user without a password, leave "
                "password_digest empty for this row and set skip_password_requirement = true "
                "in [options]; the user resets the password at first sign-in.",
                bad,
            )
        )
    return tuple(rules)


def _row_rules() -> tuple[RowRule, ...]:
    digest_given = present("password_digest")
    hasher_given = present("password_hasher")
    rules = (
        RowRule(
            "invalid_encoding",
            "row",
            "The row holds bytes that are not valid in the file's encoding. Re-export the file as "
            "UTF-8, or pass the encoding it was written in (--encoding latin-1 or cp1252).",
            lambda _: pl.col("_source_error") == "invalid_encoding",
            needs=("_source_error",),
        ),
        RowRule(
            "short_row",
            "row",
            "The row has fewer fields than the header. A line break inside an unquoted value "
            "splits a row in two (the next row then starts with the rest of it): quote that value "
            "or remove the line break, and give every row all its fields.",
            lambda _: pl.col("_source_error") == "short_row",
            needs=("_source_error",),
        ),
        RowRule(
            "unreadable_row",
            "row",
            "The row could not be read. Check its quoting and column count in the input file.",
            lambda _: (
                pl.col("_source_error").is_not_null()
                & ~pl.col("_source_error").is_in(["invalid_encoding", "short_row"])
            ),
            needs=("_source_error",),
        ),
        RowRule(
            "no_identifier",
            "email_address",
            "The row has no email address, phone number, username or web3 wallet; Clerk needs at "
            "least one. Map one of these columns, or fill it in for this row.",
            lambda _: (
                ~(
                    has_items("email_address")
                    | has_items("phone_number")
                    | has_items("web3_wallet")
                    | present("username")
                )
            ),
            needs=(),
        ),
        RowRule(
            "invalid_email",
            "email_address",
            "email_address is not a valid, routable email address (name@example.com; reserved "
            "domains such as .local or .test are refused). Correct it, or drop it from the row.",
            lambda _: any_item("email_address", bad_email),
        ),
        RowRule(
            "invalid_phone",
            "phone_number",
            "phone_number is not a valid phone number in E.164 form (+, country code and a "
            "number that exists in that country's numbering plan, e.g. +14155550123). Correct "
            "it, or add transform = 'e164' with a region to the mapping.",
            lambda _: any_item("phone_number", bad_phone),
        ),
        RowRule(
            "invalid_web3_wallet",
            "web3_wallet",
            "web3_wallet is not a wallet address (0x and 40 hex digits, or a base58 Solana "
            "address). Correct it, or drop it from the row.",
            lambda _: any_item("web3_wallet", lambda e: ~e.str.contains(WEB3)),
        ),
        RowRule(
            "username_invalid_length",
            "username",
            "username must be {username_min_length} to {username_max_length} characters long. "
            "Shorten or lengthen it, or leave it empty.",
            lambda ctx: (
                ~username(ctx)
                .str.len_chars()
                .is_between(ctx.settings.username_min_length, ctx.settings.username_max_length)
            ),
        ),
        RowRule(
            "username_invalid_character",
            "username",
            "username may only contain the characters allowed by {username_pattern} (by "
            "default Latin letters, digits, _ and -). Remove the other characters.",
            lambda ctx: ~username(ctx).str.contains(ctx.settings.username_pattern),
        ),
        RowRule(
            "username_needs_non_number_char",
            "username",
            "username is made only of digits; Clerk needs at least one letter or symbol. "
            "Change it, or leave it empty.",
            lambda ctx: username(ctx).str.contains(r"^[0-9]+$"),
        ),
        RowRule(
            "username_cannot_be_phone_number",
            "username",
            "username looks like a phone number, which Clerk refuses. Change it, or map the "
            "number to phone_number instead.",
            lambda ctx: username(ctx).str.contains(PHONE_LIKE),
        ),
        RowRule(
            "password_too_short",
            "password",
            "password is shorter than {min_password_length} characters. Set "
            "skip_password_checks = true in [options] to import it as it is, or leave it empty so "
            "the user sets a new one.",
            lambda ctx: (
                present("password")
                & (pl.col("password").str.len_chars() < ctx.settings.min_password_length)
                & ~pl.col("skip_password_checks").fill_null(False)
            ),
        ),
        RowRule(
            "password_too_long",
            "password",
            "password is longer than {max_password_bytes} bytes, which Clerk cannot store. "
            "Leave it empty so the user sets a new one.",
            lambda ctx: pl.col("password").str.len_bytes() > ctx.settings.max_password_bytes,
        ),
        RowRule(
            "password_and_digest",
            "password",
            "The row has both a plaintext password and a password_digest; Clerk takes one. "
            "Map only one of them.",
            lambda _: present("password") & digest_given,
            needs=("password", "password_digest"),
        ),
        RowRule(
            "digest_without_hasher",
            "password_hasher",
            "password_digest is set but password_hasher is empty (its shape matched no known "
            "hasher). Set password_hasher in the mapping to the algorithm that made the digest.",
            lambda _: digest_given & ~hasher_given & ~unsupported_any(),
            needs=("password_digest",),
        ),
        RowRule(
            "hasher_without_digest",
            "password_digest",
            "password_hasher is set but password_digest is empty. Map the digest column, or give "
            "the hasher only where a digest exists.",
            lambda _: hasher_given & ~digest_given,
            needs=("password_hasher",),
        ),
        RowRule(
            "unknown_hasher",
            "password_hasher",
            "password_hasher is not a hasher Clerk knows. Use one of: "
            + ", ".join(sorted(HASHERS))
            + ".",
            lambda _: hasher_given & ~pl.col("password_hasher").is_in(sorted(HASHERS)),
        ),
        RowRule(
            "malformed_digest",
            "password_digest",
            "password_digest does not have the shape Clerk expects for its password_hasher. "
            "Check the hasher, or convert the digest with a builder (docs/mapping.md).",
            lambda _: (
                digest_given
                & pl.col("password_hasher").is_in(sorted(HASHERS))
                & ~unsupported_any()
                & ~digest_fits()
            ),
            needs=("password_digest", "password_hasher"),
        ),
        *_unsupported_rules(),
        RowRule(
            "invalid_totp_secret",
            "totp_secret",
            "totp_secret is not base32 (A-Z and 2-7, optionally padded with =). Upper-case it or "
            "re-encode it; only 30-second, 6-digit SHA1 secrets can be imported.",
            lambda _: present("totp_secret") & ~pl.col("totp_secret").str.contains(BASE32),
        ),
        RowRule(
            "invalid_locale",
            "locale",
            "locale is not a BCP-47 language tag (e.g. en or en-US). Correct it or leave it empty.",
            lambda _: present("locale") & ~pl.col("locale").str.contains(BCP47),
        ),
    )
    for column in ("email_address", "phone_number", "web3_wallet"):
        rules += (
            RowRule(
                "too_many_items",
                column,
                f"{column} holds more than {{max_list_items}} values, more than Clerk takes. "
                "Keep the ones the user needs.",
                too_many(column),
            ),
        )
    rules += (
        RowRule(
            "invalid_organizations_limit",
            "create_organizations_limit",
            "create_organizations_limit is negative; use 0 (unlimited) or a positive number.",
            lambda _: pl.col("create_organizations_limit") < 0,
        ),
    )
    for column in ("created_at", "legal_accepted_at"):
        rules += (
            RowRule(
                "invalid_timestamp",
                column,
                f"{column} is not an RFC3339 date-time (e.g. 2021-06-01T12:00:00Z). Add "
                "parse = 'timestamp' (with a format if needed) to the field in the mapping.",
                bad_timestamp(column),
            ),
            RowRule(
                "future_timestamp",
                column,
                f"{column} is in the future, which Clerk refuses. Correct the date or its time "
                "zone in the input.",
                future_timestamp(column),
            ),
        )
    for column in METADATA_FIELDS:
        rules += (
            RowRule(
                "invalid_metadata",
                column,
                f"{column} is not a JSON object. Make the column hold an object "
                "({{...}}), or build the object from columns in the mapping.",
                bad_metadata(column),
            ),
            RowRule(
                "metadata_too_large",
                column,
                f"{column} is larger than Clerk's limit of {{metadata_max_bytes}} bytes. Move "
                "the bulk of it elsewhere and keep a reference.",
                big_metadata(column),
            ),
        )
    for column in STATUS_FIELDS:
        status = f"{column}_identification_status"
        rules += (
            RowRule(
                "identification_status_count_mismatch",
                status,
                f"{status} must hold exactly one status per {column} value (Clerk: "
                "form_param_array_length_mismatch). Give one per address in the same order, or "
                "leave it empty (every address verified).",
                status_count_mismatch(column),
            ),
            RowRule(
                "invalid_identification_status",
                status,
                f"{status} holds a value other than verified or reserved. Map the export's "
                "verified flag to these two words (docs/mapping.md).",
                bad_status(column),
            ),
        )
    rules += (
        RowRule(
            "invalid_typed_value",
            "row",
            'A value read with transform = "bool" is not a boolean (true/false, t/f, 1/0, '
            'yes/no, y/n), or one read with transform = "number" is not a number (42, -1.5). '
            "Correct it in the export, or map the column without the transform.",
            lambda _: pl.col("_value_error"),
            needs=("_value_error",),
        ),
    )
    for column in ("first_name", "last_name", "external_id"):
        rules += (
            RowRule(
                "value_too_long",
                column,
                f"{column} is longer than {{max_name_length}} characters, more than Clerk "
                "takes. Shorten it in the export, or check that the row's columns are not "
                "shifted.",
                _name_too_long(column),
            ),
        )
    rules += (
        RowRule(
            "value_too_long",
            "row",
            "A value is longer than Clerk takes: an email address over {max_email_length} "
            "characters, or a password_digest, totp_secret, backup code, phone number, wallet, "
            "locale or hasher over {max_value_length}. Shorten it in the export, or check that "
            "the row's columns are not shifted.",
            _any_too_long,
            needs=(),
        ),
    )
    return rules


def _name_too_long(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(ctx: RuleContext) -> pl.Expr:
        return too_long(column, ctx.settings.max_name_length)

    return bad


def _any_too_long(ctx: RuleContext) -> pl.Expr:
    """An email address, list item or other text field over its bound (see ``value_too_long``)."""
    email, other = ctx.settings.max_email_length, ctx.settings.max_value_length
    lists = [any_item("email_address", lambda e: e.str.len_chars() > email)] + [
        any_item(column, lambda e: e.str.len_chars() > other)
        for column in ("phone_number", "web3_wallet", "backup_codes")
    ]
    texts = [too_long(c, other) for c in ("password_digest", "totp_secret", "locale",
                                          "password_hasher")]  # fmt: skip
    return pl.any_horizontal(*lists, *texts)


def own_key() -> pl.Expr:
    """The hashed ``_key`` of rows whose key is neither their external_id nor primary email.

    The email is lower-cased only on rows whose key differs from the external_id (usually none).
    """
    differs = present("_key") & (pl.col("_key") != pl.col("external_id")).fill_null(True)
    key = pl.when(differs).then(pl.col("_key"))
    email = pl.when(differs).then(pl.col("email_address").list.first()).str.to_lowercase()
    return pl.when(key.is_not_null() & (key != email).fill_null(True)).then(key.hash())


_DUPLICATE_RULES: Final = (
    DuplicateRule(
        "duplicate_email",
        "email_address",
        "The same email address (ignoring case and spaces) appears earlier in the file; Clerk "
        "allows it on one user only. Merge the rows, or change or drop the address on this one.",
        hashed_list("email_address", trim_lower),
    ),
    DuplicateRule(
        "duplicate_phone",
        "phone_number",
        "The same phone number appears earlier in the file; Clerk allows it on one user only. "
        "Merge the rows, or drop the number from this one.",
        hashed_list("phone_number", lambda e: e.str.strip_chars()),
    ),
    DuplicateRule(
        "duplicate_web3_wallet",
        "web3_wallet",
        "The same web3 wallet appears earlier in the file; Clerk allows it on one user only. "
        "Merge the rows, or drop the wallet from this one.",
        hashed_list("web3_wallet", wallet_key),
    ),
    DuplicateRule(
        "duplicate_username",
        "username",
        "The same username (ignoring case) appears earlier in the file; Clerk allows it on one "
        "user only. Rename it on this row.",
        hashed("username", trim_lower),
    ),
    DuplicateRule(
        "duplicate_external_id",
        "external_id",
        "The same external_id appears earlier in the file; it must identify one user. Merge the "
        "rows, or give this one its own id: when the id is the row's key, `retry` cannot match "
        "the changed row, so send it as a new run (a file of its own, a new --run-dir).",
        hashed("external_id", as_is),
    ),
    DuplicateRule(
        "duplicate_key",
        "_key",
        "The same row key appears earlier in the file, so the rows cannot be told apart across "
        "runs. Choose a unique column as [source] key in the mapping (a new run), or give this "
        "row its own key and send it as a new run (a file of its own, a new --run-dir).",
        # A key that is the row's external_id or primary email is reported under that field.
        own_key,
    ),
)

RULES: Final[tuple[Rule, ...]] = (*_row_rules(), *_DUPLICATE_RULES)
REASONS: Final[Mapping[str, str]] = {r.reason: r.field for r in RULES}
