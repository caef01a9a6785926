"""The shapes Clerk accepts, as polars expressions (Rust-regex patterns, no per-row Python).

Each helper takes column names and returns an expression that is true where a value is bad, or a
builder of one (``Callable[[RuleContext], pl.Expr]``) when it depends on the clock or settings.
Costs matter here (millions of rows): list fields are checked on their first item as a plain
string, expensive checks run only on the rows a cheap one could not settle (the others are masked
to null, which costs nothing), and alternations replace loops of regexes.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC
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

from migrate._internal.hashers import DIGEST_PATTERNS, UNSUPPORTED
from migrate._internal.validation.model import IDENTIFICATION_STATUSES, RuleContext

__all__ = [
    "BASE32",
    "BCP47",
    "E164",
    "FITS_COLUMN",
    "PHONE_LIKE",
    "RFC3339",
    "TIMESTAMP_FIELDS",
    "UNSUPPORTED_COLUMN",
    "UNSUPPORTED_DIGEST",
    "WEB3",
    "any_item",
    "as_is",
    "bad_email",
    "bad_metadata",
    "bad_phone",
    "bad_status",
    "bad_timestamp",
    "big_metadata",
    "derived",
    "digest_fits",
    "future_timestamp",
    "has_items",
    "hashed",
    "hashed_list",
    "present",
    "primary_email",
    "status_count_mismatch",
    "too_long",
    "too_many",
    "trim_lower",
    "unsupported_any",
    "unsupported_digest",
    "username",
    "wallet_key",
]

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = (
    rf"^{_ATEXT}+(?:\.{_ATEXT}+)*@(?:{_LABEL}\.)+"
    r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9](?:[A-Za-z0-9-]{0,57}[A-Za-z0-9])?)$"
)
# Clerk refuses addresses on TLDs that never route (reference §2, email_address).
_NON_ROUTABLE_TLD = r"(?i)\.(?:local|localhost|invalid|test|example|arpa)$"
E164 = r"^\+[1-9][0-9]{6,14}$"
# Clerk refuses usernames that look like a phone number: "+" and digits only.
PHONE_LIKE = r"^\+[0-9]{2,15}$"
WEB3 = r"^(?:0x[0-9a-fA-F]{40}|[1-9A-HJ-NP-Za-km-z]{32,44})$"
# RFC3339 as Go's time.RFC3339 parses it: every field in range except day-of-month vs month.
_RFC3339 = (
    r"^[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
RFC3339: Final = _RFC3339
# RFC 4648 base32 in either case (ASCII only: a case-insensitive flag would let the long s and the
# Kelvin sign through), unpadded or padded to a whole 8-character block; a final group of 1, 3
# or 6 characters encodes no whole byte, so it is refused either way.
_B32 = "[A-Za-z2-7]"
BASE32 = (
    rf"^(?:{_B32}{{8}})*(?:{_B32}{{2}}|{_B32}{{4}}|{_B32}{{5}}|{_B32}{{7}})?$"
    rf"|^(?:{_B32}{{8}})*(?:{_B32}{{2}}={{6}}|{_B32}{{4}}={{4}}|{_B32}{{5}}={{3}}|{_B32}{{7}}=)$"
)
BCP47 = r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$"
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


def any_item(column: str, bad_item: Callable[[pl.Expr], pl.Expr]) -> pl.Expr:
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
def valid_phone_pattern() -> str:
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
        if meta is None or meta.country_code is None:
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


def bad_phone(e: pl.Expr) -> pl.Expr:
    shape = e.str.contains(E164)
    listed = e.str.contains(valid_phone_pattern())
    suspects = pl.when(shape & ~listed).then(e)
    rescued = suspects.map_batches(
        _libphonenumber_valid, return_dtype=pl.Boolean, is_elementwise=True
    )
    return ~shape | (~listed & ~rescued.fill_null(False))


def bad_email(e: pl.Expr) -> pl.Expr:
    return (
        ~e.str.contains(_EMAIL)
        | e.str.contains(_NON_ROUTABLE_TLD)
        | (e.str.len_bytes() > 254)
        | (e.str.find("@", literal=True) > 64)
    )


def status_count_mismatch(column: str) -> Callable[[RuleContext], pl.Expr]:
    """True where ``<column>_identification_status`` is given (non-empty) but does not hold one
    item per ``column`` value; an empty or missing status list means "all verified"."""

    def bad(_: RuleContext) -> pl.Expr:
        given = pl.col(f"{column}_identification_status").list.len().fill_null(0)
        return (given > 0) & (given != pl.col(column).list.len().fill_null(0))

    return bad


def bad_status(column: str) -> Callable[[RuleContext], pl.Expr]:
    """True where ``<column>_identification_status`` holds a value other than verified/reserved."""

    def bad(_: RuleContext) -> pl.Expr:
        allowed = list(IDENTIFICATION_STATUSES)
        # (A null item is not reported: the mapped frame never holds one in a list.)
        return any_item(f"{column}_identification_status", lambda e: ~e.is_in(allowed))

    return bad


def has_items(column: str) -> pl.Expr:
    return pl.col(column).list.len().fill_null(0) > 0


def too_long(column: str, limit: int) -> pl.Expr:
    """True where a string field holds more than ``limit`` characters (null is fine)."""
    return (pl.col(column).str.len_chars() > limit).fill_null(False)


def present(column: str) -> pl.Expr:
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


# Values several rules read are computed once per row as columns of their own (``derived``),
# which ``frame.with_all_fields`` adds; the rules then read the columns. Left as expressions, the
# same regex would run once per rule that uses it (polars' common-subexpression pass does not
# reach into when/then chains), which on the digest alone cost 13 passes.
UNSUPPORTED_COLUMN: Final = "_v_unsupported"
UNSUPPORTED_DIGEST: Final = "_v_unsupported_digest"
FITS_COLUMN: Final = "_v_fits"
TIMESTAMP_FIELDS: Final = ("created_at", "legal_accepted_at")


def _ts_names(column: str) -> tuple[str, str, str]:
    """Derived columns of a timestamp field: shape ok, needs a real parse, parsed microseconds."""
    return f"_v_ts_ok_{column}", f"_v_ts_np_{column}", f"_v_ts_us_{column}"


def derived(*, hasher_inferred: bool = False) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The shared columns the rules read, in two stages (the second reads the first).

    Needs a frame holding every field (``frame.with_all_fields`` adds them both). With
    ``hasher_inferred`` (the mapping infers password_hasher from the digest) the grammar check is
    skipped: inference names a hasher only when the digest matches that hasher's grammar, so
    every row with both fits (a test pins that rule of ``hashers.inference``).
    """
    digest = pl.col("password_digest")
    hasher = pl.col("password_hasher")
    fits = (
        pl.when(hasher.is_not_null() & digest.is_not_null()).then(pl.lit(True))
        if hasher_inferred
        else _digest_fits(digest)
    )
    first = [
        digest.str.contains(_UNSUPPORTED_ANY).fill_null(False).alias(UNSUPPORTED_COLUMN),
        fits.alias(FITS_COLUMN),
    ]
    second = [pl.when(pl.col(UNSUPPORTED_COLUMN)).then(digest).alias(UNSUPPORTED_DIGEST)]
    for column in TIMESTAMP_FIELDS:
        ok, needs, parsed = _ts_names(column)
        text = pl.col(column)
        first += [text.str.contains(_RFC3339).alias(ok), _needs_parse(column).alias(needs)]
        chosen = pl.when(pl.col(ok) & pl.col(needs)).then(text)
        second.append(
            chosen.str.to_datetime("%+", time_unit="us", time_zone="UTC", strict=False)
            .dt.epoch("us")
            .alias(parsed)
        )
    return first, second


def unsupported_any() -> pl.Expr:
    """True where the digest has a shape Clerk cannot import (reads a derived column)."""
    return pl.col(UNSUPPORTED_COLUMN)


def unsupported_digest() -> pl.Expr:
    """The digest where ``unsupported_any``, else null (reads a derived column)."""
    return pl.col(UNSUPPORTED_DIGEST)


def _needs_parse(column: str) -> pl.Expr:
    """Shape-valid timestamps that a regex cannot settle: day 29-31 (month length) or an offset."""
    text = pl.col(column)
    return (text.str.slice(8, 2) > "28") | ~text.str.ends_with("Z")


def bad_timestamp(column: str) -> Callable[[RuleContext], pl.Expr]:
    ok, needs, parsed = _ts_names(column)

    def bad(_: RuleContext) -> pl.Expr:
        impossible = pl.col(needs) & pl.col(parsed).is_null()
        return present(column) & ~(pl.col(ok) & ~impossible)

    return bad


def future_timestamp(column: str) -> Callable[[RuleContext], pl.Expr]:
    ok, needs, parsed = _ts_names(column)

    def bad(ctx: RuleContext) -> pl.Expr:
        text = pl.col(column)
        # "…Z" timestamps compare as text to the second; a timestamp in the current second is
        # not reported (Clerk's clock is later still).
        now_text = ctx.now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        by_text = ~pl.col(needs) & (text.str.slice(0, 19) > now_text)
        by_parse = pl.col(parsed) > int(ctx.now.timestamp() * 1_000_000)
        return pl.col(ok) & (by_text | by_parse.fill_null(False))

    return bad


def bad_metadata(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(_: RuleContext) -> pl.Expr:
        text = pl.col(column)
        simple = text.str.contains(_SIMPLE_JSON_OBJECT)
        other = pl.when(~simple).then(text)
        is_object = other.str.strip_chars_start().str.starts_with("{")
        parses = other.str.json_path_match("$").is_not_null()
        # JSON null is "no metadata": the body leaves the field out (mapping.payload).
        given = present(column) & (text.str.strip_chars() != "null")
        return given & ~(simple | (is_object & parses))

    return bad


def big_metadata(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(ctx: RuleContext) -> pl.Expr:
        # Measured as compact JSON, the form the request carries; compacting never lengthens
        # the text, so only texts over the limit are parsed.
        limit = ctx.settings.metadata_max_bytes
        over = pl.when(pl.col(column).str.len_bytes() > limit).then(pl.col(column))
        return over.str.json_path_match("$").str.len_bytes() > limit

    return bad


def too_many(column: str) -> Callable[[RuleContext], pl.Expr]:
    def bad(ctx: RuleContext) -> pl.Expr:
        return pl.col(column).list.len() > ctx.settings.max_list_items

    return bad


def username(ctx: RuleContext) -> pl.Expr:
    return pl.when(present("username")).then(pl.col("username"))


def hashed_list(column: str, normalise: Callable[[pl.Expr], pl.Expr]) -> Callable[[], pl.Expr]:
    def key() -> pl.Expr:
        return pl.col(column).list.eval(normalise(pl.element()).hash())

    return key


def hashed(column: str, normalise: Callable[[pl.Expr], pl.Expr]) -> Callable[[], pl.Expr]:
    def key() -> pl.Expr:
        return pl.when(present(column)).then(normalise(pl.col(column)).hash())

    return key


def primary_email() -> pl.Expr:
    return pl.col("email_address").list.first().str.to_lowercase()


def trim_lower(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars().str.to_lowercase()


def wallet_key(e: pl.Expr) -> pl.Expr:
    """Ethereum addresses (0x…) compare without case; base58 (Solana) is case-sensitive."""
    wallet = e.str.strip_chars()
    return pl.when(wallet.str.starts_with("0x")).then(wallet.str.to_lowercase()).otherwise(wallet)


def as_is(e: pl.Expr) -> pl.Expr:
    return e


def digest_fits() -> pl.Expr:
    """True where the digest matches its hasher's grammar, null when either is missing (reads a
    derived column)."""
    return pl.col(FITS_COLUMN)


def _digest_fits(digest: pl.Expr) -> pl.Expr:
    # The separator argument, not a pl.lit between the two: a literal in concat_str makes the
    # streaming engine split the plan and buffer the whole input (5 M rows: +0.9 GB).
    pair = pl.concat_str([pl.col("password_hasher"), digest], separator=_SEP)
    return pair.str.contains(_DIGEST_SHAPES)
