"""Phone and timestamp normalisation as vectorised expressions; unparseable values pass through."""

from __future__ import annotations

import polars as pl
import pytest

from migrate._internal.mapping.transforms import e164_expr, timestamp_expr


def e164(values: list[str | None], region: str | None) -> list[str | None]:
    s = pl.Series("p", values, dtype=pl.Utf8)
    return pl.DataFrame([s]).select(e164_expr(pl.col("p"), region).alias("p"))["p"].to_list()


def ts(values: list[str | None], mode: str | None = None) -> list[str | None]:
    s = pl.Series("t", values, dtype=pl.Utf8)
    return pl.DataFrame([s]).select(timestamp_expr(pl.col("t"), mode).alias("t"))["t"].to_list()


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("(415) 555-0100", "US", "+14155550100"),
        ("1-415-555-0100", "US", "+14155550100"),
        ("415.555.0100", "US", "+14155550100"),
        ("011 44 20 7946 0958", "US", "+442079460958"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("0044 20 7946 0958", "GB", "+442079460958"),
        ("030 123456", "DE", "+4930123456"),
        ("+44 (0)20 7946 0958", None, "+442079460958"),
        ("+1 415 555 0100", None, "+14155550100"),
        ("0044 20 7946 0958", None, "+442079460958"),
        ("14155550100", None, "14155550100"),
        ("415 555 0100", None, "415 555 0100"),
        ("12", "US", "12"),
        ("call me", "US", "call me"),
        ("+1 415 555 0100 ext 7", "US", "+1 415 555 0100 ext 7"),
        (None, "US", None),
    ],
)
def test_e164(value: str | None, region: str | None, expected: str | None) -> None:
    """Formatting goes, international prefixes become +, bare digits need a region; the rest
    passes through unchanged so validation can report it."""
    assert e164([value], region) == [expected]


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("447911123456", "GB", "+447911123456"),
        ("44 7911 123456", "GB", "+447911123456"),
        ("442079460958", "GB", "+442079460958"),
        ("4407911123456", "GB", "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("7911123456", "GB", "+447911123456"),
        ("14155550123", "US", "+14155550123"),
        ("4155550123", "US", "+14155550123"),
        ("4930123456", "DE", "+4930123456"),
        ("030 123456", "DE", "+4930123456"),
        ("33612345678", "FR", "+33612345678"),
        ("0612345678", "FR", "+33612345678"),
        ("612345678", "FR", "+33612345678"),
    ],
)
def test_e164_digits_that_already_carry_the_regions_country_code(
    value: str, region: str, expected: str
) -> None:
    """Bare digits that start with the region's country code keep it once when they only read as
    a national number without it (or are too long to be one), as libphonenumber parses them."""
    assert e164([value], region) == [expected]


def test_e164_country_code_rule_is_per_row() -> None:
    """In one column, national numbers and numbers already carrying the code both normalise."""
    assert (
        e164(["07911 123456", "447911123456", "+447911123456", "7911123456"], "GB")
        == ["+447911123456"] * 4
    )


def test_e164_national_number_that_starts_like_the_country_code_is_not_cut() -> None:
    """A GB number whose national digits begin with 44 is not mistaken for one carrying +44."""
    # 01144 is a Sheffield area code: "0114 496 0000" is national, not "+44 (0)1 …".
    assert e164(["0114 496 0000"], "GB") == ["+441144960000"]
    assert e164(["441144960000"], "GB") == ["+441144960000"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-01-15T10:30:00Z", "2024-01-15T10:30:00.000Z"),
        ("2024-01-15T10:30:00.902Z", "2024-01-15T10:30:00.902Z"),
        ("2024-01-15 10:30:00.123456+00", "2024-01-15T10:30:00.123Z"),
        ("2024-01-15T10:30:00+02:00", "2024-01-15T08:30:00.000Z"),
        ("2024-01-15T10:30:00-0500", "2024-01-15T15:30:00.000Z"),
        ("2024-01-15 10:30:00", "2024-01-15T10:30:00.000Z"),
        ("2024-01-15T10:30", "2024-01-15T10:30:00.000Z"),
        ("2024-01-15", "2024-01-15T00:00:00.000Z"),
        ("1508893925000", "2017-10-25T01:12:05.000Z"),
        ("1508893925", "2017-10-25T01:12:05.000Z"),
        ("1508893925.5", "2017-10-25T01:12:05.500Z"),
        ("0000-00-00 00:00:00", "0000-00-00 00:00:00"),
        ("2024-02-30T00:00:00Z", "2024-02-30T00:00:00Z"),
        ("yesterday", "yesterday"),
        (None, None),
    ],
)
def test_timestamp_auto(value: str | None, expected: str | None) -> None:
    """ISO-8601 variants and epoch seconds/milliseconds become RFC3339 UTC; the rest passes."""
    assert ts([value]) == [expected]


def test_timestamp_explicit_modes() -> None:
    """epoch_s and epoch_ms read digits in that unit; iso refuses digits."""
    assert ts(["1700000000"], "epoch_s") == ["2023-11-14T22:13:20.000Z"]
    assert ts(["1700000000"], "epoch_ms") == ["1970-01-20T16:13:20.000Z"]
    assert ts(["1700000000", "2024-01-15"], "iso") == ["1700000000", "2024-01-15T00:00:00.000Z"]


def test_timestamp_strftime_with_an_offset_is_converted_to_utc() -> None:
    """A format with %z is converted to UTC; one without is taken as UTC."""
    assert ts(["15/01/2024 10:30 +0100"], "%d/%m/%Y %H:%M %z") == ["2024-01-15T09:30:00.000Z"]
    assert ts(["15/01/2024 10:30"], "%d/%m/%Y %H:%M") == ["2024-01-15T10:30:00.000Z"]


def test_values_already_normal_mix_with_ones_that_need_work() -> None:
    """In one column, canonical values are kept as they are and the others are normalised."""
    assert ts(["2024-01-15T10:30:00.902Z", "2024-01-15 10:30:00+00", "1508893925", None]) == [
        "2024-01-15T10:30:00.902Z",
        "2024-01-15T10:30:00.000Z",
        "2017-10-25T01:12:05.000Z",
        None,
    ]
    assert e164(["+14155550100", "(415) 555-0100", "nope"], "US") == [
        "+14155550100",
        "+14155550100",
        "nope",
    ]
