"""The transform registry: named steps that turn one text value into another, as polars expressions.

Every transform is a function ``(expr, arg) -> expr`` over a ``pl.Utf8`` expression that works both
on a column and on ``pl.element()`` (so a chain applies to each item of a list field). None of them
runs Python per row. A transform that cannot normalise a value (a phone that does not parse, a
timestamp in no known shape) passes the original text through, so validation reports the value
instead of the field silently disappearing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final, Literal

import phonenumbers
import polars as pl

__all__ = [
    "FALSE_WORDS",
    "RFC3339",
    "RFC3339_LOCAL",
    "TIMESTAMP_MODES",
    "TRANSFORMS",
    "TRUE_WORDS",
    "TransformDef",
    "bool_text",
    "e164_expr",
    "number_text",
    "region_problem",
    "timestamp_expr",
]

ArgKind = Literal["none", "text", "texts", "pair", "region", "timestamp"]
TransformFn = Callable[[pl.Expr, object], pl.Expr]

RFC3339: Final = "%Y-%m-%dT%H:%M:%S%.3fZ"
RFC3339_LOCAL: Final = "%Y-%m-%dT%H:%M:%S%.3f"
TIMESTAMP_MODES: Final = ("auto", "iso", "epoch_s", "epoch_ms")
_E164: Final = r"^\+[1-9][0-9]{6,14}$"
_E164_GROUP: Final = r"^(\+[1-9][0-9]{6,14})$"
_PHONE_FORMATTING: Final = " \t()-./\u00a0"
# Epoch numbers at or above 1e11 are milliseconds: 1e11 seconds is the year 5138, 1e11 ms is 1973.
_MS_THRESHOLD: Final = 100_000_000_000
_EPOCH: Final = r"^-?[0-9]{1,16}(?:\.[0-9]+)?$"
_CANONICAL: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
_OFFSET: Final = r"(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$"


@dataclass(frozen=True)
class TransformDef:
    """A registered transform: what argument it takes and the expression it builds."""

    name: str
    arg: ArgKind
    fn: TransformFn
    summary: str
    makes_list: bool = False


def _text(arg: object) -> str:
    assert isinstance(arg, str)
    return arg


def _texts(arg: object) -> list[str]:
    assert isinstance(arg, tuple)
    return [str(a) for a in arg]


def _null_if(e: pl.Expr, arg: object) -> pl.Expr:
    return pl.when(e.is_in(_texts(arg))).then(pl.lit(None, pl.Utf8)).otherwise(e)


def _replace(e: pl.Expr, arg: object) -> pl.Expr:
    old, new = _texts(arg)
    return e.str.replace_all(old, new, literal=True)


def _split(e: pl.Expr, arg: object) -> pl.Expr:
    parts = e.str.split(_text(arg)).list.eval(pl.element().str.strip_chars())
    return parts.list.eval(pl.element().filter(pl.element() != ""))


def _given_name(e: pl.Expr, _arg: object) -> pl.Expr:
    return e.str.strip_chars().str.splitn(" ", 2).struct.field("field_0")


def _family_name(e: pl.Expr, _arg: object) -> pl.Expr:
    words = e.str.strip_chars().str.splitn(" ", 2)
    rest = words.struct.field("field_1").str.strip_chars()
    return pl.when(rest == "").then(pl.lit(None, pl.Utf8)).otherwise(rest)


def e164_expr(e: pl.Expr, region: str | None) -> pl.Expr:
    """Normalise a phone to E.164 (``+`` and 7-15 digits), else pass the original text through.

    Formatting (spaces, dots, dashes, brackets, slashes) is removed. ``+…`` keeps its country
    code; a number in the region's international format (``00…``, ``011…``) becomes ``+…``; bare
    digits are a national number of ``region`` (its trunk prefix such as ``0`` dropped, its country
    code added), unless they already start with the region's country code and read as a national
    number only without it (see ``_with_country_code``). Without a region bare digits are never
    given a country code.
    """
    # Literal multi-pattern removal and prefix tests: several times cheaper than regex rewrites.
    # "(0)" is the trunk prefix written inside an international number: +44 (0)20 …
    patterns = ["(0)", *_PHONE_FORMATTING]
    # Numbers already in E.164 skip the rewriting: masked to null, they cost nothing below.
    done = e.str.contains(_E164)
    rest = pl.when(done).then(pl.lit(None, pl.Utf8)).otherwise(e)
    digits = rest.str.replace_many(patterns, [""] * len(patterns), leftmost=True)
    meta = None
    intl_prefix = "00"
    if region is not None:
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
        if meta is None:
            raise ValueError(region_problem(region))
        if meta.international_prefix and meta.international_prefix.isdigit():
            intl_prefix = meta.international_prefix
    plus = (
        pl.when(digits.str.starts_with(intl_prefix))
        .then(pl.lit("+") + digits.str.slice(len(intl_prefix)))
        .otherwise(digits)
    )
    if meta is not None:
        # The country-code rules look at the digits many times; run on a materialised batch,
        # each look is a column reference instead of a recomputation of everything above.
        plus = plus.map_batches(
            partial(_with_country_code, meta), return_dtype=pl.Utf8, is_elementwise=True
        )
    return pl.when(done).then(e).otherwise(pl.coalesce(plus.str.extract(_E164_GROUP), e))


def _with_country_code(meta: phonenumbers.PhoneMetadata, batch: pl.Series) -> pl.Series:
    """A batch of ``+…`` numbers and bare digits: the bare digits get ``meta``'s country code.

    The rules libphonenumber's parser follows, as expressions over the batch: digits that start
    with the region's country code (``447911123456`` in GB, ``14155550123`` in US) drop it when
    the whole does not read as a national number but the rest does, or when the whole is too
    long for the region; otherwise the trunk prefix (``0`` in GB) is dropped when what is left
    still has a possible length. Each step is materialised so later steps read a column instead
    of recomputing it; rows a step does not concern are null there, which costs nothing.
    """
    rules = _NationalRules(meta)
    code = str(meta.country_code)
    d, bare, with_code, after = pl.col("d"), pl.col("bare"), pl.col("with_code"), pl.col("after")
    frame = (
        batch.to_frame("d")
        .with_columns(bare=pl.when(~d.str.starts_with("+")).then(d))
        .with_columns(with_code=pl.when(bare.str.starts_with(code)).then(bare))
        .with_columns(after=rules.strip_trunk(with_code.str.slice(len(code)), check_length=False))
        .with_columns(
            take=(~rules.viable(with_code) & rules.viable(after))
            | (with_code.str.len_chars() > rules.longest)
        )
    )
    national = (
        pl.when(pl.col("take"))
        .then(rules.strip_trunk(after, check_length=True))
        .otherwise(rules.strip_trunk(bare, check_length=True))
    )
    out = pl.when(bare.is_null()).then(d).otherwise(pl.lit(f"+{code}") + national)
    return frame.select(out.alias("d")).to_series()


class _NationalRules:
    """libphonenumber's national-number tests for one region, as expressions."""

    def __init__(self, meta: phonenumbers.PhoneMetadata) -> None:
        self.meta = meta
        desc = meta.general_desc
        raw = desc.national_number_pattern if desc is not None else None
        # ASCII classes: the input is digits only here, and [0-9] is cheaper than Unicode \d.
        self.pattern = f"^(?:{raw.replace(chr(92) + 'd', '[0-9]')})$" if raw else None
        self.lengths = [n for n in (desc.possible_length if desc is not None else ()) if n > 0]
        self.longest = max(self.lengths) if self.lengths else 17

    def viable(self, x: pl.Expr) -> pl.Expr:
        """The digits read as a national number of the region."""
        return x.str.contains(self.pattern) if self.pattern else x.is_not_null()

    def strip_trunk(self, x: pl.Expr, *, check_length: bool) -> pl.Expr:
        """Drop the trunk prefix unless that spoils a number that read as national with it."""
        meta = self.meta
        prefix = meta.national_prefix_for_parsing
        if meta.national_prefix_transform_rule is not None or not prefix:
            # Regions that rewrite rather than strip (AR, MX…): drop the plain trunk prefix only.
            trunk = meta.national_prefix
            return x.str.strip_prefix(trunk) if trunk else x
        # Only rows that start with the prefix pay for the checks: the others are masked to null.
        if prefix.isdigit():
            has = pl.when(x.str.starts_with(prefix)).then(x)
            stripped = has.str.slice(len(prefix))
        else:
            has = pl.when(x.str.contains(f"^(?:{prefix})")).then(x)
            stripped = has.str.replace(f"^(?:{prefix})", "")
        keep = self.viable(has) & ~self.viable(stripped)
        if check_length and self.lengths:
            size = stripped.str.len_chars()
            keep = keep | ~(size.is_in(self.lengths) | (size > self.longest))
        return pl.when(stripped.is_null() | keep).then(x).otherwise(stripped)


def region_problem(region: str) -> str | None:
    """Why a default region code is unusable for ``e164``, or None."""
    if region.upper() in phonenumbers.SUPPORTED_REGIONS:
        return None
    return f"unknown region {region!r}; use a two-letter ISO 3166 code such as 'US', 'GB', 'DE'"


def _e164(e: pl.Expr, arg: object) -> pl.Expr:
    return e164_expr(e, arg if isinstance(arg, str) else None)


def _iso(t: pl.Expr) -> pl.Expr:
    # One exact chrono parse (each costs as much as the rest together): a space may stand for the
    # "T", a date alone or a time without seconds is padded, a time without an offset gets "Z".
    # "%#z" reads Z, +00, +0200 and +02:00; "%.f" makes the fraction optional.
    t = t.str.replace(" ", "T", literal=True)
    size = t.str.len_bytes()
    padded = pl.when(size == 10).then(t + "T00:00:00").when(size == 16).then(t + ":00").otherwise(t)
    zoned = pl.when(padded.str.contains(_OFFSET)).then(padded).otherwise(padded + "Z")
    aware = zoned.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", time_unit="us", strict=False)
    return aware.dt.replace_time_zone(None)


def _epoch(t: pl.Expr, unit: Literal["auto", "s", "ms"]) -> pl.Expr:
    number = pl.when(t.str.contains(_EPOCH)).then(t).cast(pl.Float64, strict=False)
    if unit == "s":
        ms = number * 1000
    elif unit == "ms":
        ms = number
    else:
        ms = pl.when(number.abs() >= _MS_THRESHOLD).then(number).otherwise(number * 1000)
    return pl.from_epoch(ms.round(0).cast(pl.Int64, strict=False), time_unit="ms")


def timestamp_expr(e: pl.Expr, mode: str | None) -> pl.Expr:
    """Parse text to RFC3339 UTC (``2012-10-20T07:15:20.902Z``), else pass the original through.

    ``mode``: ``auto`` (default: digits are epoch seconds, or milliseconds from 1e11 up, anything
    else ISO-8601), ``iso``, ``epoch_s``, ``epoch_ms``, or a strftime format such as
    ``%d/%m/%Y %H:%M``. A time without an offset is taken as UTC.
    """
    # No implicit strip: it costs as much as the parse; chain "strip" when needed.
    t = e
    if mode in (None, "auto", "iso"):
        # Values already in the output's shape skip the parse: masking them to null makes every
        # later step cheap on them (validation still parses them when it checks the date).
        done = e.str.contains(_CANONICAL)
        t = pl.when(done).then(pl.lit(None, pl.Utf8)).otherwise(e)
        parsed = pl.coalesce(_epoch(t, "auto"), _iso(t)) if mode != "iso" else _iso(t)
        out = pl.coalesce(parsed.dt.strftime(RFC3339_LOCAL) + "Z", e)
        return pl.when(done).then(e).otherwise(out)
    if mode == "epoch_s":
        parsed = _epoch(t, "s")
    elif mode == "epoch_ms":
        parsed = _epoch(t, "ms")
    else:
        assert mode is not None
        parsed = t.str.to_datetime(mode, time_unit="us", strict=False)
        if "%z" in mode or "%Z" in mode or "%:z" in mode:
            parsed = parsed.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    # strftime with a trailing literal takes a slow path; appending the "Z" is cheaper.
    return pl.coalesce(parsed.dt.strftime(RFC3339_LOCAL) + "Z", e)


def _timestamp(e: pl.Expr, arg: object) -> pl.Expr:
    return timestamp_expr(e, arg if isinstance(arg, str) else None)


TRUE_WORDS: Final = ("true", "t", "yes", "y", "1")
FALSE_WORDS: Final = ("false", "f", "no", "n", "0")
# JSON's number grammar (no leading zeros, no "+"), so the text can be written into JSON as is.
_JSON_NUMBER: Final = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$"


def bool_text(e: pl.Expr) -> pl.Expr:
    """``"true"``/``"false"`` for a boolean word (any case, trimmed); null for anything else."""
    t = e.str.strip_chars().str.to_lowercase()
    return (
        pl.when(t.is_in(TRUE_WORDS))
        .then(pl.lit("true"))
        .when(t.is_in(FALSE_WORDS))
        .then(pl.lit("false"))
    )


def number_text(e: pl.Expr) -> pl.Expr:
    """The trimmed text when it is a JSON number (``73``, ``-1.5``, ``2e3``); null otherwise."""
    t = e.str.strip_chars()
    return pl.when(t.str.contains(_JSON_NUMBER)).then(t)


def _defs(*defs: TransformDef) -> dict[str, TransformDef]:
    return {d.name: d for d in defs}


TRANSFORMS: Final[dict[str, TransformDef]] = _defs(
    TransformDef("strip", "none", lambda e, _: e.str.strip_chars(), "trim surrounding whitespace"),
    TransformDef("lower", "none", lambda e, _: e.str.to_lowercase(), "lower-case"),
    TransformDef("upper", "none", lambda e, _: e.str.to_uppercase(), "upper-case"),
    TransformDef(
        "prefix", "text", lambda e, a: pl.lit(_text(a)) + e, "put a text before the value"
    ),
    TransformDef(
        "strip_prefix",
        "text",
        lambda e, a: e.str.strip_prefix(_text(a)),
        "remove a leading text when present (Auth0 CSV's leading ')",
    ),
    TransformDef("replace", "pair", _replace, "replace every [old, new] occurrence"),
    TransformDef("null_if", "texts", _null_if, "no value when the text is one of these"),
    TransformDef("split", "text", _split, "split into a list on a separator", makes_list=True),
    TransformDef("e164", "region", _e164, "phone to E.164; bare digits use a default region"),
    TransformDef("timestamp", "timestamp", _timestamp, "to RFC3339 UTC from ISO/epoch/strftime"),
    TransformDef("json", "none", lambda e, _: e, "the value is JSON text (structs are encoded)"),
    TransformDef("bool", "none", lambda e, _: bool_text(e), "a boolean (t/f, 1/0, yes/no…)"),
    TransformDef("number", "none", lambda e, _: number_text(e), "a number (int or decimal)"),
    TransformDef("given_name", "none", _given_name, "the first word of a display name"),
    TransformDef("family_name", "none", _family_name, "the words after the first"),
)
