"""The validation rules: what makes a mapped row unacceptable to Clerk, as polars expressions.

A ``RowRule`` looks at one row (a bad-row expression over the mapped frame's columns); a
``DuplicateRule`` names a key whose later occurrences in the file are reported. ``RULES`` lists
both, in the order reasons appear in a row's ``_errors``. The rules follow Clerk's own checks
(shared/reference/clerk-api.md §2-§4) so a row that passes here is one Clerk accepts, as far as can
be known offline: instance settings (required identifiers, SMS countries…) are Clerk's to check.

Messages are fixed text (a few settings are filled in): they say what is wrong and how to fix it and
never quote a value, so no password, digest or TOTP secret can leak through a report.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import polars as pl
from phonenumbers import (
    COUNTRY_CODES_FOR_NON_GEO_REGIONS,
    SUPPORTED_REGIONS,
    NumberParseException,
    PhoneMetadata,
    is_valid_number,
)
from phonenumbers import parse as parse_phone

from migrate.hashers import DIGEST_PATTERNS, HASHERS, UNSUPPORTED

__all__ = [
    "LIST_FIELDS",
    "METADATA_FIELDS",
    "RULES",
    "STRING_FIELDS",
    "DuplicateRule",
    "RowRule",
    "RuleContext",
    "ValidationSettings",
]

STRING_FIELDS: Final = (
    "external_id",
    "first_name",
    "last_name",
    "username",
    "password",
    "password_digest",
    "password_hasher",
    "totp_secret",
    "created_at",
    "legal_accepted_at",
    "locale",
)
LIST_FIELDS: Final = ("email_address", "phone_number", "web3_wallet", "backup_codes")
METADATA_FIELDS: Final = ("public_metadata", "private_metadata", "unsafe_metadata")


@dataclass(frozen=True)
class ValidationSettings:
    """The instance-dependent limits the rules check; the defaults are Clerk's defaults."""

    min_password_length: int = 8
    # bcrypt reads at most 72 bytes; Clerk refuses longer plaintexts (form_password_size_in_bytes…)
    max_password_bytes: int = 72
    username_min_length: int = 4
    username_max_length: int = 64
    username_pattern: str = r"^[a-zA-Z0-9_-]+$"
    metadata_max_bytes: int = 8192
    max_list_items: int = 100


@dataclass(frozen=True)
class RuleContext:
    """What a bad-row expression may depend on besides the row: the clock and the settings."""

    now: datetime
    settings: ValidationSettings


@dataclass(frozen=True)
class RowRule:
    """A check on one row: ``bad(ctx)`` is true where the row breaks it (null counts as fine)."""

    reason: str
    field: str
    message: str  # may hold ``{setting_name}`` placeholders filled from ValidationSettings
    bad: Callable[[RuleContext], pl.Expr]
    # Columns without which the rule can never fire (default: its field); () = always applies.
    needs: tuple[str, ...] | None = None

    def applies(self, columns: Collection[str]) -> bool:
        """Whether the rule can fire on a mapped frame with these columns."""
        needs = (self.field,) if self.needs is None else self.needs
        return all(name in columns for name in needs)

    def render(self, settings: ValidationSettings) -> str:
        """The message with the settings filled in."""
        return self.message.format(**vars(settings))


@dataclass(frozen=True)
class DuplicateRule:
    """A value that must be unique in the file: rows after the first holding it are reported.

    ``key`` gives a hash of the normalised value (``pl.UInt64``, or a list of them for list fields),
    null where the row has none. Only the hashes are kept, so millions of rows stay cheap.
    """

    reason: str
    field: str
    message: str
    key: Callable[[], pl.Expr]

    def render(self, settings: ValidationSettings) -> str:
        """The message with the settings filled in."""
        return self.message.format(**vars(settings))


Rule = RowRule | DuplicateRule

# --- shapes (Rust-regex compatible: they run inside polars) ---------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = (
    rf"^{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]{{1,59}})$"
)
# Clerk refuses addresses on TLDs that never route (reference §2, email_address).
_NON_ROUTABLE_TLD = r"(?i)\.(?:local|localhost|invalid|test|example|arpa)$"
_E164 = r"^\+[1-9][0-9]{6,14}$"
# Clerk refuses usernames that look like a phone number: "+" and digits only.
_PHONE_LIKE = r"^\+[0-9]{2,15}$"
_WEB3 = r"^(?:0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44})$"
# RFC3339 as Go's time.RFC3339 parses it: every field in range except day-of-month vs month.
_RFC3339 = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
# Unpadded, or padded to a whole 8-character block as RFC 4648 pads it.
_BASE32 = (
    r"(?i)^[A-Z2-7]+$"
    r"|^(?:[A-Z2-7]{8})*(?:[A-Z2-7]{2}={6}|[A-Z2-7]{4}={4}|[A-Z2-7]{5}={3}|[A-Z2-7]{7}=)$"
)
_BCP47 = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$"
_SEP = "\x1f"  # joins hasher and digest; never inside a valid value

# A JSON object whose values are scalars, arrays of scalars, or such objects (most metadata):
# checked by one regex pass; anything else goes to the (much slower) full JSON parser.
_J_STR = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_J_NUM = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_J_SCALAR = rf"(?:{_J_STR}|{_J_NUM}|true|false|null)"
_J_ARRAY = rf"\[\s*(?:{_J_SCALAR}(?:\s*,\s*{_J_SCALAR})*)?\s*\]"
_J_MEMBER = rf"{_J_STR}\s*:\s*(?:{_J_SCALAR}|{_J_ARRAY})"
_J_FLAT = rf"\{{\s*(?:{_J_MEMBER}(?:\s*,\s*{_J_MEMBER})*)?\s*\}}"
_J_VALUE = rf"(?:{_J_SCALAR}|{_J_ARRAY}|{_J_FLAT})"
_SIMPLE_JSON_OBJECT = (
    rf"^\s*\{{\s*(?:{_J_STR}\s*:\s*{_J_VALUE}(?:\s*,\s*{_J_STR}\s*:\s*{_J_VALUE})*)?\s*\}}\s*$"
)


def _any_item(column: str, bad_item: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
    """True where some item of a list column is bad.

    The first item is checked as a plain string; the list machinery runs only for rows with more
    than one item (one value per row is the common case, and far cheaper).
    """
    items = pl.col(column)
    first = bad_item(items.list.first()).fill_null(False)
    others = pl.when(items.list.len() > 1).then(items.list.slice(1))
    rest = others.list.eval(bad_item(pl.element())).list.any().fill_null(False)
    return first | rest


_PHONE_TYPES: Final = (
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)


@functools.cache
def _valid_phone_pattern() -> str:
    """One regex of every number libphonenumber calls valid, from its per-country metadata.

    Clerk (and the sandbox) accept a phone only when libphonenumber says it is valid; this is the
    same test as one DFA pass (``\\d`` written ``[0-9]``: Rust's ``\\d`` is any Unicode digit and
    blows the regex size limit). Built on first use: loading every country costs ~0.1 s.
    """
    by_code: dict[int, set[str]] = {}
    regions = [PhoneMetadata.metadata_for_region(r) for r in sorted(SUPPORTED_REGIONS)]
    regions += [
        PhoneMetadata.metadata_for_nongeo_region(c)
        for c in sorted(COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    for meta in regions:
        if meta is None:
            continue
        for kind in _PHONE_TYPES:
            desc = getattr(meta, kind, None)
            if desc is not None and desc.national_number_pattern:
                by_code.setdefault(meta.country_code, set()).add(desc.national_number_pattern)
    parts = [f"{code}(?:{'|'.join(sorted(p))})" for code, p in sorted(by_code.items())]
    return ("^\\+(?:" + "|".join(parts) + ")$").replace("\\d", "[0-9]")


def _libphonenumber_valid(numbers: pl.Series) -> pl.Series:
    """``is_valid_number`` per value (null stays null); for the few numbers the regex refused.

    The regex does not model national-prefix rewriting (``+44 07…``, Madagascar's ``20``), which
    libphonenumber accepts; asking it directly keeps "valid here" equal to "valid for Clerk".
    """
    verdicts: dict[str, bool] = {}
    for number in numbers.drop_nulls().unique():
        try:
            verdicts[number] = is_valid_number(parse_phone(number, None))
        except NumberParseException:
            verdicts[number] = False
    return numbers.replace_strict(verdicts, default=None, return_dtype=pl.Boolean)


def _bad_phone(e: pl.Expr) -> pl.Expr:
    shape = e.str.contains(_E164)
    listed = e.str.contains(_valid_phone_pattern())
    suspects = pl.when(shape & ~listed).then(e)
    rescued = suspects.map_batches(
        _libphonenumber_valid, return_dtype=pl.Boolean, is_elementwise=True
    )
    return ~shape | (~listed & ~rescued.fill_null(False))


def _bad_email(e: pl.Expr) -> pl.Expr:
    return (
        ~e.str.contains(_EMAIL)
        | e.str.contains(_NON_ROUTABLE_TLD)
        | (e.str.len_bytes() > 254)
        | (e.str.find("@", literal=True) > 64)
    )


def _has_items(column: str) -> pl.Expr:
    return pl.col(column).list.len().fill_null(0) > 0


def _present(column: str) -> pl.Expr:
    """A string field counts as given when it is neither null nor empty."""
    return pl.col(column).is_not_null() & (pl.col(column) != "")


def _unanchored(pattern: str) -> str:
    body = pattern.removeprefix("^").removeprefix(r"\A")
    if body.endswith(r"\z"):
        body = body[:-2]
    elif body.endswith("$") and not body.endswith(r"\$"):
        body = body[:-1]
    return body


# One alternation over every hasher's grammar: one regex pass per row, not one per hasher.
_DIGEST_SHAPES: Final = "^(?:{})$".format(
    "|".join(
        f"{re.escape(hasher)}{_SEP}(?:{_unanchored(pattern)})"
        for hasher, pattern in sorted(DIGEST_PATTERNS.items())
    )
)
# Every shape Clerk cannot import, in one pattern; which one matched is asked only of its hits.
_UNSUPPORTED_ANY: Final = "^(?:{})$".format(
    "|".join(f"(?:{_unanchored(pattern)})" for pattern, _ in UNSUPPORTED.values())
)


def _unsupported_any() -> pl.Expr:
    return pl.col("password_digest").str.contains(_UNSUPPORTED_ANY).fill_null(False)


def _needs_parse(column: str) -> pl.Expr:
    """Shape-valid timestamps that a regex cannot settle: day 29-31 (month length) or an offset."""
    text = pl.col(column)
    return (text.str.slice(8, 2) > "28") | ~text.str.ends_with("Z")


def _parsed_us(column: str) -> pl.Expr:
    """Epoch microseconds of the timestamps that need a real parse (null for the others)."""
    text = pl.col(column)
    shape_ok = text.str.contains(_RFC3339)
    chosen = pl.when(shape_ok & _needs_parse(column)).then(text)
    return chosen.str.to_datetime("%+", time_unit="us", time_zone="UTC", strict=False).dt.epoch(
        "us"
    )


def _bad_timestamp(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(_: RuleContext) -> pl.Expr:
        shape_ok = pl.col(column).str.contains(_RFC3339)
        impossible = _needs_parse(column) & _parsed_us(column).is_null()
        return _present(column) & ~(shape_ok & ~impossible)

    return bad


def _future_timestamp(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(ctx: RuleContext) -> pl.Expr:
        text = pl.col(column)
        shape_ok = text.str.contains(_RFC3339)
        # "…Z" timestamps compare as text to the second; a timestamp in the current second is
        # not reported (Clerk's clock is later still).
        now_text = ctx.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        by_text = ~_needs_parse(column) & (text.str.slice(0, 19) > now_text)
        by_parse = _parsed_us(column) > int(ctx.now.timestamp() * 1_000_000)
        return shape_ok & (by_text | by_parse.fill_null(False))

    return bad


def _bad_metadata(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(_: RuleContext) -> pl.Expr:
        text = pl.col(column)
        simple = text.str.contains(_SIMPLE_JSON_OBJECT)
        other = pl.when(~simple).then(text)
        is_object = other.str.strip_chars_start().str.starts_with("{")
        parses = other.str.json_path_match("$").is_not_null()
        return _present(column) & ~(simple | (is_object & parses))

    return bad


def _big_metadata(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(ctx: RuleContext) -> pl.Expr:
        # Measured as compact JSON, the form the request carries; compacting never lengthens
        # the text, so only texts over the limit are parsed.
        limit = ctx.settings.metadata_max_bytes
        over = pl.when(pl.col(column).str.len_bytes() > limit).then(pl.col(column))
        return over.str.json_path_match("$").str.len_bytes() > limit

    return bad


def _too_many(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(ctx: RuleContext) -> pl.Expr:
        return pl.col(column).list.len() > ctx.settings.max_list_items

    return bad


def _username(ctx: RuleContext) -> pl.Expr:
    return pl.when(_present("username")).then(pl.col("username"))


def _hashed_list(column: str, normalise: Callable[[pl.Expr], pl.Expr]) -> Callable[[], pl.Expr]:
    def key() -> pl.Expr:
        return pl.col(column).list.eval(normalise(pl.element()).hash())

    return key


def _hashed(column: str, normalise: Callable[[pl.Expr], pl.Expr]) -> Callable[[], pl.Expr]:
    def key() -> pl.Expr:
        return pl.when(_present(column)).then(normalise(pl.col(column)).hash())

    return key


def _primary_email() -> pl.Expr:
    return pl.col("email_address").list.first().str.to_lowercase()


def _trim_lower(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars().str.to_lowercase()


def _as_is(e: pl.Expr) -> pl.Expr:
    return e


def _digest_fits(digest: pl.Expr | None = None) -> pl.Expr:
    """True where the digest matches its hasher's grammar (null when either is missing)."""
    digest = pl.col("password_digest") if digest is None else digest
    pair = pl.concat_str(pl.col("password_hasher"), pl.lit(_SEP), digest)
    return pair.str.contains(_DIGEST_SHAPES)


def _unsupported_rules() -> tuple[RowRule, ...]:
    rules = []
    for pattern, message in UNSUPPORTED.values():
        literal = message.replace("{", "{{").replace("}", "}}")  # messages are format templates

        def bad(_: RuleContext, pattern: str = pattern) -> pl.Expr:
            # A digest its own hasher accepts is never "unsupported", whatever it resembles.
            hits = pl.when(_unsupported_any()).then(pl.col("password_digest"))
            fits = _digest_fits(hits).fill_null(False)
            return hits.str.contains(pattern) & ~fits

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
    digest_given = _present("password_digest")
    hasher_given = _present("password_hasher")
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
            "unreadable_row",
            "row",
            "The row could not be read. Check its quoting and column count in the input file.",
            lambda _: (
                pl.col("_source_error").is_not_null()
                & (pl.col("_source_error") != "invalid_encoding")
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
                    _has_items("email_address")
                    | _has_items("phone_number")
                    | _has_items("web3_wallet")
                    | _present("username")
                )
            ),
            needs=(),
        ),
        RowRule(
            "invalid_email",
            "email_address",
            "email_address is not a valid, routable email address (name@example.com; reserved "
            "domains such as .local or .test are refused). Correct it, or drop it from the row.",
            lambda _: _any_item("email_address", _bad_email),
        ),
        RowRule(
            "invalid_phone",
            "phone_number",
            "phone_number is not a valid phone number in E.164 form (+, country code and a "
            "number that exists in that country's numbering plan, e.g. +14155550123). Correct "
            "it, or add transform = 'e164' with a region to the mapping.",
            lambda _: _any_item("phone_number", _bad_phone),
        ),
        RowRule(
            "invalid_web3_wallet",
            "web3_wallet",
            "web3_wallet is not a wallet address (0x and 40 hex digits, or a base58 Solana "
            "address). Correct it, or drop it from the row.",
            lambda _: _any_item("web3_wallet", lambda e: ~e.str.contains(_WEB3)),
        ),
        RowRule(
            "username_invalid_length",
            "username",
            "username must be {username_min_length} to {username_max_length} characters long. "
            "Shorten or lengthen it, or leave it empty.",
            lambda ctx: (
                ~_username(ctx)
                .str.len_chars()
                .is_between(ctx.settings.username_min_length, ctx.settings.username_max_length)
            ),
        ),
        RowRule(
            "username_invalid_character",
            "username",
            "username may only contain the characters allowed by {username_pattern} (by "
            "default Latin letters, digits, _ and -). Remove the other characters.",
            lambda ctx: ~_username(ctx).str.contains(ctx.settings.username_pattern),
        ),
        RowRule(
            "username_needs_non_number_char",
            "username",
            "username is made only of digits; Clerk needs at least one letter or symbol. "
            "Change it, or leave it empty.",
            lambda ctx: _username(ctx).str.contains(r"^[0-9]+$"),
        ),
        RowRule(
            "username_cannot_be_phone_number",
            "username",
            "username looks like a phone number, which Clerk refuses. Change it, or map the "
            "number to phone_number instead.",
            lambda ctx: _username(ctx).str.contains(_PHONE_LIKE),
        ),
        RowRule(
            "password_too_short",
            "password",
            "password is shorter than {min_password_length} characters. Set "
            "skip_password_checks = true in [options] to import it as it is, or leave it empty so "
            "the user sets a new one.",
            lambda ctx: (
                _present("password")
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
            lambda _: _present("password") & digest_given,
            needs=("password", "password_digest"),
        ),
        RowRule(
            "digest_without_hasher",
            "password_hasher",
            "password_digest is set but password_hasher is empty (its shape matched no known "
            "hasher). Set password_hasher in the mapping to the algorithm that made the digest.",
            lambda _: digest_given & ~hasher_given & ~_unsupported_any(),
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
                & ~_unsupported_any()
                & ~_digest_fits()
            ),
            needs=("password_digest", "password_hasher"),
        ),
        *_unsupported_rules(),
        RowRule(
            "invalid_totp_secret",
            "totp_secret",
            "totp_secret is not base32 (A-Z and 2-7, optionally padded with =). Upper-case it or "
            "re-encode it; only 30-second, 6-digit SHA1 secrets can be imported.",
            lambda _: _present("totp_secret") & ~pl.col("totp_secret").str.contains(_BASE32),
        ),
        RowRule(
            "invalid_locale",
            "locale",
            "locale is not a BCP-47 language tag (e.g. en or en-US). Correct it or leave it empty.",
            lambda _: _present("locale") & ~pl.col("locale").str.contains(_BCP47),
        ),
    )
    for column in ("email_address", "phone_number", "web3_wallet"):
        rules += (
            RowRule(
                "too_many_items",
                column,
                f"{column} holds more than {{max_list_items}} values, more than Clerk takes. "
                "Keep the ones the user needs.",
                _too_many(column),
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
                _bad_timestamp(column),
            ),
            RowRule(
                "future_timestamp",
                column,
                f"{column} is in the future, which Clerk refuses. Correct the date or its time "
                "zone in the input.",
                _future_timestamp(column),
            ),
        )
    for column in METADATA_FIELDS:
        rules += (
            RowRule(
                "invalid_metadata",
                column,
                f"{column} is not a JSON object. Make the column hold an object "
                "({{...}}), or build the object from columns in the mapping.",
                _bad_metadata(column),
            ),
            RowRule(
                "metadata_too_large",
                column,
                f"{column} is larger than Clerk's limit of {{metadata_max_bytes}} bytes. Move "
                "the bulk of it elsewhere and keep a reference.",
                _big_metadata(column),
            ),
        )
    return rules


_DUPLICATE_RULES: Final = (
    DuplicateRule(
        "duplicate_email",
        "email_address",
        "The same email address (ignoring case and spaces) appears earlier in the file; Clerk "
        "allows it on one user only. Merge the rows, or change or drop the address on this one.",
        _hashed_list("email_address", _trim_lower),
    ),
    DuplicateRule(
        "duplicate_phone",
        "phone_number",
        "The same phone number appears earlier in the file; Clerk allows it on one user only. "
        "Merge the rows, or drop the number from this one.",
        _hashed_list("phone_number", lambda e: e.str.strip_chars()),
    ),
    DuplicateRule(
        "duplicate_web3_wallet",
        "web3_wallet",
        "The same web3 wallet appears earlier in the file; Clerk allows it on one user only. "
        "Merge the rows, or drop the wallet from this one.",
        _hashed_list("web3_wallet", _trim_lower),
    ),
    DuplicateRule(
        "duplicate_username",
        "username",
        "The same username (ignoring case) appears earlier in the file; Clerk allows it on one "
        "user only. Rename it on this row.",
        _hashed("username", _trim_lower),
    ),
    DuplicateRule(
        "duplicate_external_id",
        "external_id",
        "The same external_id appears earlier in the file; it must identify one user. Merge the "
        "rows, or fix the id on this one.",
        _hashed("external_id", _as_is),
    ),
    DuplicateRule(
        "duplicate_key",
        "_key",
        "The same row key appears earlier in the file, so the rows cannot be told apart across "
        "runs. Choose a unique column as [source] key in the mapping.",
        # A key that is the row's external_id or primary email is reported under that field.
        lambda: pl.when(
            _present("_key")
            & (pl.col("_key") != pl.col("external_id")).fill_null(True)
            & (pl.col("_key") != _primary_email()).fill_null(True)
        ).then(pl.col("_key").hash()),
    ),
)

RULES: Final[tuple[Rule, ...]] = (*_row_rules(), *_DUPLICATE_RULES)
REASONS: Final[Mapping[str, str]] = {r.reason: r.field for r in RULES}
